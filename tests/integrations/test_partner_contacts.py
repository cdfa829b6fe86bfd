"""Partners as CRM contacts (issue 16, point 4): opt-in per connection, against the fake
CRMs over real HTTP, through the partner outbox and a real worker."""

from __future__ import annotations

import pytest

from integrations.crm.partner_sync import push_partners
from integrations.models import CrmConnection, CrmPartnerLink
from integrations.services.connections import connection_save
from partners.models import PartnerTag
from partners.people import tags_assign
from tests.integrations.conftest import connect, make_fake
from tests.rewards.helpers import make_partner

pytestmark = pytest.mark.django_db

PROVIDERS = ["amocrm", "bitrix24"]


@pytest.fixture(params=PROVIDERS)
def server(request):
    fake = make_fake(request.param).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def linked(in_acme, server, program, alice):
    return connect(in_acme, server, program)


def set_sync(crm: CrmConnection, on: bool, capture) -> None:
    with capture(execute=True):
        connection_save(
            tenant=crm.tenant,
            provider=crm.provider,
            auth_kind=crm.auth_kind,
            base_url=crm.base_url,
            auth_url=crm.auth_url,
            credentials=crm.credentials,
            settings={"sync_partners": on},
        )


def contact_requests(fake) -> int:
    """Contact writes sent (Bitrix24: commands in batches)."""
    if fake.provider == "amocrm":
        return sum(1 for r in fake.requests if "/contacts" in r.path and r.method != "GET")
    return sum(
        1
        for r in fake.requests
        for c in ((r.params.get("cmd") or {}).values() if r.api_method == "batch" else [])
        if str(c).startswith(("crm.contact.add", "crm.contact.update"))
    )


def contacts(fake):
    """Live contacts as {"id", "name", "emails", "tags", "partner_id"}."""
    if fake.provider == "amocrm":
        return fake.contacts()
    out = []
    for row in fake.tables["contact"].rows.values():
        comments = str(row.get("COMMENTS") or "")
        tags = comments.partition("Tags: ")[2].partition(";")[0]
        out.append(
            {
                "id": int(row["ID"]),
                "name": row.get("NAME"),
                "emails": [v["VALUE"] for v in row.get("EMAIL") or []],
                "tags": sorted(t for t in tags.split(", ") if t),
                "partner_id": str(row.get("ORIGIN_ID") or ""),
            }
        )
    return out


def test_off_by_default_no_contact_is_written(
    linked, server, acme, alice, run_crm_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        alice.display_name = "Alice Renamed"
        alice.save()
    run_crm_jobs()
    assert not CrmPartnerLink.objects.exists()
    assert contact_requests(server) == 0


def test_turning_it_on_pushes_partners_once_and_edits_update_the_same_contact(
    linked, server, acme, program, alice, run_crm_jobs, django_capture_on_commit_callbacks, admin
):
    bob = make_partner(acme, program, "BOB", display_name="Bob Media")
    vip = PartnerTag.objects.create(tenant=acme, name="VIP")
    with django_capture_on_commit_callbacks(execute=True):
        tags_assign(tenant=acme, actor=admin, tag=vip, partners=[bob])
    set_sync(linked, True, django_capture_on_commit_callbacks)
    run_crm_jobs()
    by_partner = {c["partner_id"]: c for c in contacts(server)}
    assert set(by_partner) == {str(alice.pk), str(bob.pk)}
    assert by_partner[str(bob.pk)]["name"] == "Bob Media"
    assert by_partner[str(bob.pk)]["emails"] == ["bob@example.test"]
    assert by_partner[str(bob.pk)]["tags"] == ["VIP"]
    link = CrmPartnerLink.objects.get(partner=bob)
    assert link.crm_id == str(by_partner[str(bob.pk)]["id"]) and not link.pending

    # Saved again unchanged: nothing to write (the contact shows the same).
    writes = contact_requests(server)
    set_sync(linked, True, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        bob.save()
    run_crm_jobs()
    assert contact_requests(server) == writes

    # A tag added: the same contact, its tags replaced.
    partner_tag = PartnerTag.objects.create(tenant=acme, name="Reseller")
    with django_capture_on_commit_callbacks(execute=True):
        tags_assign(tenant=acme, actor=admin, tag=partner_tag, partners=[bob])
    run_crm_jobs()
    after = {c["partner_id"]: c for c in contacts(server)}
    assert len(after) == 2
    assert after[str(bob.pk)]["id"] == by_partner[str(bob.pk)]["id"]
    assert after[str(bob.pk)]["tags"] == ["Reseller", "VIP"]


def test_a_lost_answer_makes_no_duplicate(
    linked, server, acme, alice, run_crm_jobs, django_capture_on_commit_callbacks, settings
):
    # Created, but the answer never comes.
    if server.provider == "amocrm":
        server.inject("timeout", path="/api/v4/contacts", method="POST")
    else:
        settings.PRM_CRM_HTTP_TIMEOUT = 0.3
        server.inject("timeout", path="crm.contact.add")
    set_sync(linked, True, django_capture_on_commit_callbacks)
    run_crm_jobs()
    link = CrmPartnerLink.objects.get(partner=alice)
    if link.pending:  # still backing off: the retry, now
        assert link.attempts == 1 and not link.crm_id
        assert len(contacts(server)) == 1  # the create did happen
        CrmPartnerLink.objects.filter(pk=link.pk).update(next_attempt_at=link.created_at)
        push_partners(str(linked.pk))
        link.refresh_from_db()
    assert not link.pending and link.crm_id
    assert [c["id"] for c in contacts(server)] == [int(link.crm_id)]
    assert contact_requests(server) == 2  # the lost create, then an update of it


def test_many_partners_are_matched_from_one_read_of_the_contacts(
    linked, server, acme, program, alice, run_crm_jobs, django_capture_on_commit_callbacks
):
    """More than a few unmatched partners: amoCRM's contacts are read once (250 a
    page) instead of two look-ups per partner; a contact already carrying a partner's
    e-mail is taken, not duplicated."""
    if server.provider != "amocrm":
        pytest.skip("Bitrix24 looks 50 partner ids up per batch already")
    from tests.factories import PartnerFactory, UserFactory

    for n in range(30):
        PartnerFactory(tenant=acme, user=UserFactory(email=f"p{n}@example.test"))
    server.seed_contact(name="Existing", email="p3@example.test")
    set_sync(linked, True, django_capture_on_commit_callbacks)
    run_crm_jobs()
    assert len(contacts(server)) == 31
    assert not CrmPartnerLink.objects.filter(pending=True).exists()
    reads = [r for r in server.requests if r.path == "/api/v4/contacts" and r.method == "GET"]
    assert len(reads) <= 2
