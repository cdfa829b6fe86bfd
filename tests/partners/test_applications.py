"""Sign-up and applications: the tenant's questions and terms, the applicant's form and
status, staff reading the answers; the partner's own profile."""

from __future__ import annotations

from partners.models import PartnerProfile, SignupQuestion, TermsAcceptance, TermsVersion
from prm.models import AuditEntry, Tenant
from prm.tenancy import tenant_scope
from tests.factories import PartnerFactory, UserFactory


def questions(client) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """Three questions and a version of the terms, set up through the console."""
    for data in (
        {"label": "Your audience", "kind": "text", "required": "on", "on_application": "on"},
        {
            "label": "Main channel",
            "kind": "choice",
            "choices": "Blog\nTelegram",
            "on_application": "on",
        },
        {"label": "Tax number", "kind": "text", "in_profile": "on"},
    ):
        assert (
            client.post(
                "/manage/settings/signup/questions/new/",
                {"position": "0", "is_active": "on", **data},
            ).status_code
            == 302
        )
    assert client.post("/manage/settings/signup/terms/", {"text": "Be nice."}).status_code == 302
    ids = dict(SignupQuestion.all_tenants_unscoped.values_list("label", "pk"))
    return str(ids["Your audience"]), str(ids["Main channel"]), str(ids["Tax number"])


def test_the_question_builder_refuses_a_choice_without_choices(client_for, acme, owner):
    response = client_for(owner).post(
        "/manage/settings/signup/questions/new/",
        {"label": "Pick", "kind": "choice", "choices": " \n", "position": "0"},
    )
    assert response.status_code == 200
    assert "choices" in response.context["question_form"].errors


def test_terms_are_versioned(client_for, acme, owner):
    client = client_for(owner)
    client.post("/manage/settings/signup/terms/", {"text": "v1"})
    client.post("/manage/settings/signup/terms/", {"text": "v1"})  # unchanged: no version
    client.post("/manage/settings/signup/terms/", {"text": "v2"})
    with tenant_scope(acme):
        assert list(TermsVersion.objects.values_list("version", "text")) == [(2, "v2"), (1, "v1")]


def test_an_applicant_answers_accepts_the_terms_and_sees_their_status(client_for, acme, owner):
    Tenant.objects.filter(pk=acme.pk).update(partner_signup_open=False)
    audience, channel, tax = questions(client_for(owner))
    applicant = UserFactory(email="app@x.test")
    client = client_for(applicant)
    joined = client.post("/join/")
    assert (joined.status_code, joined["Location"]) == (302, "/application/")
    form = client.get("/application/")
    html = form.content.decode()
    assert "Be nice." in html and "Your audience" in html and "Tax number" not in html
    missing = client.post("/application/", {f"q_{channel}": "Blog"})
    assert {f"q_{audience}", "accept_terms"} <= set(missing.context["form"].errors)
    wrong = client.post(
        "/application/", {f"q_{audience}": "Devs", f"q_{channel}": "Fax", "accept_terms": "on"}
    )
    assert f"q_{channel}" in wrong.context["form"].errors
    ok = client.post(
        "/application/",
        {f"q_{audience}": "Developers", f"q_{channel}": "Blog", "accept_terms": "on"},
        REMOTE_ADDR="198.51.100.7",
    )
    assert ok.status_code == 302
    with tenant_scope(acme):
        profile = PartnerProfile.objects.get(user=applicant)
        assert profile.status == "pending"
        assert profile.details == {audience: "Developers", channel: "Blog"}
        (acceptance,) = TermsAcceptance.objects.filter(partner=profile)
    assert acceptance.terms.version == 1 and acceptance.ip == "198.51.100.7"
    assert "waiting for approval" in client.get("/application/").content.decode()
    # Staff read the answers on the partner page, then reject with a reason.
    page = client_for(owner).get(f"/manage/partners/{profile.pk}/").content.decode()
    assert "Developers" in page and "198.51.100.7" in page
    client_for(owner).post(
        f"/manage/partners/{profile.pk}/change-status/",
        {"status": "rejected", "reason": "Audience too small"},
    )
    status = client.get("/application/").content.decode()
    assert "declined" in status and "Audience too small" in status


def test_new_terms_are_accepted_again_by_active_partners(client_for, acme, owner, partner):
    client_for(owner).post("/manage/settings/signup/terms/", {"text": "v1"})
    client = client_for(partner)
    assert "accept_terms" in client.get("/application/").context["form"].fields
    client.post("/application/", {"accept_terms": "on"})
    assert client.get("/application/").context["form"] is None
    client_for(owner).post("/manage/settings/signup/terms/", {"text": "v2"})
    assert "accept_terms" in client.get("/application/").context["form"].fields


def test_partners_edit_their_own_profile_and_details(client_for, acme, owner, partner):
    _, _, tax = questions(client_for(owner))
    client = client_for(partner)
    page = client.get("/account/profile/")
    assert page.status_code == 200 and "Tax number" in page.content.decode()
    bad = client.post("/account/profile/", {"websites": "nope", "country": "XYZ"})
    assert {"websites", "country"} <= set(bad.context["form"].errors)
    client.post(
        "/account/profile/",
        {
            "display_name": "Dana",
            "company": "D Ltd",
            "country": "de",
            "websites": "dana.example",
            "social_links": "https://x.example/dana",
            f"q_{tax}": "DE123",
        },
    )
    with tenant_scope(acme):
        profile = PartnerProfile.objects.get(user=partner)
    assert (profile.display_name, profile.country, profile.websites) == (
        "Dana",
        "DE",
        ["dana.example"],
    )
    assert profile.details[tax] == "DE123"
    entry = AuditEntry.all_tenants_unscoped.get(action="partner.update")
    assert entry.actor == partner


def test_a_partner_sees_only_their_own_profile(client_for, acme, partner):
    other = PartnerFactory(tenant=acme, user=UserFactory(email="other@x.test"), company="Secret Co")
    html = client_for(partner).get("/account/profile/").content.decode()
    assert "Secret Co" not in html
    # The console's page of another partner is closed to partners.
    assert client_for(partner).get(f"/manage/partners/{other.pk}/").status_code == 403


def test_cabinet_pages_send_anonymous_visitors_to_sign_in(client_for, acme):
    for url in ("/application/", "/account/profile/"):
        response = client_for(None).get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_export_carries_the_answers_and_erasing_wipes_them(client_for, acme, owner, partner):
    from partners.models import PartnerNote
    from partners.privacy import partner_data_export, partner_erase

    _, _, tax = questions(client_for(owner))
    client = client_for(partner)
    client.post(
        "/account/profile/",
        {"country": "de", "social_links": "https://x.example/d", f"q_{tax}": "DE1"},
    )
    client.post("/application/", {"accept_terms": "on"}, REMOTE_ADDR="198.51.100.9")
    with tenant_scope(acme):
        profile = PartnerProfile.objects.get(user=partner)
        PartnerNote.objects.create(tenant=acme, partner=profile, body="Calls at night")
        data = partner_data_export(partner=profile)
        assert data["profile"]["answers"] == [{"question": "Tax number", "answer": "DE1"}]
        assert data["profile"]["country"] == "DE"
        assert data["terms_accepted"][0]["ip"] == "198.51.100.9"
        partner_erase(partner=profile, actor=owner, reason="request")
        profile.refresh_from_db()
        assert (profile.country, profile.social_links, profile.details) == ("", [], {})
        assert not PartnerNote.objects.filter(partner=profile).exists()
        assert TermsAcceptance.objects.get(partner=profile).ip is None
