"""Inviting partners by e-mail: the link signs them up into the program, once."""

from __future__ import annotations

import re
from datetime import timedelta

from django.core import mail
from django.utils import timezone

from partners.models import PartnerInvitation, PartnerProfile
from prm.models import Tenant, User
from prm.tenancy import tenant_scope
from rewards.models import PartnerGroup
from tests.factories import PartnerFactory, UserFactory
from tests.programs.factories import ProgramFactory

PASSWORD = "a-long-passphrase-1"


def invite(client, emails: str, program=None):  # type: ignore[no-untyped-def]
    data = {"emails": emails}
    if program is not None:
        data["program"] = str(program.pk)
    return client.post("/manage/partners/invite/", data)


def sent_link(email: str) -> str:
    message = next(m for m in mail.outbox if m.to == [email])
    match = re.search(r"http://acme\.localhost(/join/invite/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_staff_invite_many_at_once(
    client_for, acme, owner, run_jobs, django_capture_on_commit_callbacks
):
    program = ProgramFactory(tenant=acme, name="Pro")
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(client_for(owner), "a@x.test, b@x.test\nA@x.test", program)
    assert response.status_code == 302
    run_jobs()
    assert sorted(m.to[0] for m in mail.outbox) == ["a@x.test", "b@x.test"]
    assert "Pro" in mail.outbox[0].body


def test_a_bad_address_refuses_the_whole_list(client_for, acme, owner):
    response = invite(client_for(owner), "a@x.test\nnot-an-address")
    assert response.status_code == 200
    assert "not-an-address" in str(response.context["form"].errors["emails"])
    with tenant_scope(acme):
        assert not PartnerInvitation.objects.exists()


def test_existing_partners_and_pending_invitations_are_skipped(client_for, acme, owner):
    PartnerFactory(tenant=acme, user=UserFactory(email="old@x.test"))
    client = client_for(owner)
    invite(client, "new@x.test")
    invite(client, "old@x.test new@x.test other@x.test")
    with tenant_scope(acme):
        assert sorted(PartnerInvitation.objects.values_list("email", flat=True)) == [
            "new@x.test",
            "other@x.test",
        ]


def test_the_link_signs_a_new_person_up_into_the_program_once(
    client_for, acme, owner, run_jobs, django_capture_on_commit_callbacks
):
    Tenant.objects.filter(pk=acme.pk).update(partner_signup_open=False)  # invitations still work
    program = ProgramFactory(tenant=acme, name="Pro", join_policy="invitation")
    with tenant_scope(acme):
        group = PartnerGroup.objects.create(tenant=acme, name="Gold")
    program.default_group = group
    program.save()
    with django_capture_on_commit_callbacks(execute=True):
        invite(client_for(owner), "ann@x.test", program)
    run_jobs()
    link = sent_link("ann@x.test")
    visitor = client_for(None)
    landing = visitor.get(link)
    assert landing.status_code == 200 and "ann@x.test" in landing.content.decode()
    mismatch = visitor.post(link, {"password1": PASSWORD, "password2": "other"})
    assert mismatch.status_code == 200 and not User.objects.filter(email="ann@x.test").exists()
    joined = visitor.post(
        link, {"display_name": "Ann", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert (joined.status_code, joined["Location"]) == (302, "/")
    user = User.objects.get(email="ann@x.test")
    assert user.check_password(PASSWORD)
    with tenant_scope(acme):
        profile = PartnerProfile.objects.get(user=user)
        assert profile.status == "active" and profile.group == group
        assert [(e.program, e.status) for e in profile.enrollments.all()] == [(program, "active")]
    assert visitor.get("/").status_code == 200  # signed in: the cabinet
    # The link is used: it refuses a second use, signed in or not.
    assert visitor.get(link).status_code == 410
    assert visitor.post(link).status_code == 410
    assert (
        client_for(None).post(link, {"password1": PASSWORD, "password2": PASSWORD}).status_code
        == 410
    )
    with tenant_scope(acme):
        assert profile.enrollments.count() == 1


def test_someone_with_an_account_signs_in_then_joins(client_for, acme, owner):
    program = ProgramFactory(tenant=acme)
    user = UserFactory(email="has@x.test")
    invite(client_for(owner), "has@x.test", program)
    with tenant_scope(acme):
        token = PartnerInvitation.objects.get().token
    anonymous = client_for(None).get(f"/join/invite/{token}/")
    assert "/accounts/login/" in anonymous.content.decode()
    stranger = client_for(UserFactory(email="stranger@x.test"))
    assert stranger.post(f"/join/invite/{token}/").status_code == 403
    client = client_for(user)
    assert client.post(f"/join/invite/{token}/").status_code == 302
    with tenant_scope(acme):
        assert PartnerProfile.objects.get(user=user).enrollments.get().program == program


def test_an_expired_link_refuses_and_a_resent_one_works(
    client_for, acme, owner, run_jobs, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    invite(client, "late@x.test")
    with tenant_scope(acme):
        invitation = PartnerInvitation.objects.get()
    PartnerInvitation.all_tenants_unscoped.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert client_for(None).get(f"/join/invite/{invitation.token}/").status_code == 410
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/manage/partners/invitations/{invitation.pk}/resend/")
    run_jobs()
    link = sent_link("late@x.test")
    assert link != f"/join/invite/{invitation.token}/"
    assert client_for(None).get(f"/join/invite/{invitation.token}/").status_code == 404
    assert client_for(None).get(link).status_code == 200
    client.post(f"/manage/partners/invitations/{invitation.pk}/revoke/")
    assert client_for(None).get(link).status_code == 410


def test_another_tenants_invitation_is_a_404(client_for, acme, globex, owner):
    theirs = PartnerInvitation.all_tenants_unscoped.create(tenant=globex, email="g@x.test")
    assert client_for(None).get(f"/join/invite/{theirs.token}/").status_code == 404
    client = client_for(owner)
    for action in ("resend", "revoke"):
        url = f"/manage/partners/invitations/{theirs.pk}/{action}/"
        assert client.post(url).status_code == 404
