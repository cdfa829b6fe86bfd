"""Partner fields search instead of listing: /manage/partners/search/ and PartnerField."""

from __future__ import annotations

import pytest

from partners.search import PICK_PARTNER, PartnerField, partners_for_choice
from programs.forms import LeadFilterForm, PromoCodeForm
from programs.models import Enrollment, Lead
from tests.factories import PartnerFactory, UserFactory
from tests.programs.factories import EnrollmentFactory, LeadFactory, ProgramFactory

URL = "/manage/partners/search/"


@pytest.fixture
def acme_partners(acme):  # type: ignore[no-untyped-def]
    return [
        PartnerFactory(
            tenant=acme,
            display_name=f"Zed {i}",
            company="Zcorp" if i == 0 else "",
            user=UserFactory(email=f"zed{i}@partners.test"),
        )
        for i in range(3)
    ]


def test_it_finds_partners_by_name_email_or_company_as_json(client_for, owner, acme_partners):
    client = client_for(owner)
    by_name = client.get(URL, data={"q": "zed 1"}).json()["results"]
    assert by_name == [{"id": str(acme_partners[1].pk), "label": "Zed 1 <zed1@partners.test>"}]
    by_email = client.get(URL, data={"q": "ZED2@PART"}).json()["results"]
    assert [r["id"] for r in by_email] == [str(acme_partners[2].pk)]
    by_company = client.get(URL, data={"q": "zcorp"}).json()["results"]
    assert [r["id"] for r in by_company] == [str(acme_partners[0].pk)]
    # The label the widget showed finds its partner again (by the e-mail in it).
    again = client.get(URL, data={"q": "Zed 1 <zed1@partners.test>"}).json()["results"]
    assert [r["id"] for r in again] == [str(acme_partners[1].pk)]


def test_it_answers_at_most_twenty(client_for, owner, acme):
    for i in range(25):
        PartnerFactory(tenant=acme, display_name=f"Many {i:02d}")
    assert len(client_for(owner).get(URL, data={"q": "many"}).json()["results"]) == 20


def test_it_never_finds_another_tenants_partners(client_for, owner, outsider, acme, globex):
    PartnerFactory(tenant=globex, display_name="Globex Gail")
    PartnerFactory(tenant=acme, display_name="Acme Al")
    mine = client_for(owner).get(URL, data={"q": "a"}).json()["results"]
    assert [r["label"].split(" <")[0] for r in mine] == ["Acme Al"]
    theirs = client_for(outsider, "globex.localhost").get(URL, data={"q": "a"}).json()
    assert [r["label"].split(" <")[0] for r in theirs["results"]] == ["Globex Gail"]
    # On acme's host the outsider is nobody: 404, not an empty list.
    assert client_for(outsider).get(URL, data={"q": "a"}).status_code == 404


def test_it_keeps_to_a_programs_active_partners_when_asked(client_for, manager, acme):
    program = ProgramFactory(tenant=acme)
    active = EnrollmentFactory(program=program).partner
    pending = EnrollmentFactory(program=program, status=Enrollment.Status.PENDING).partner
    PartnerFactory(tenant=acme)  # not in the program
    client = client_for(manager)
    every = client.get(URL, data={"q": "", "program": str(program.pk)}).json()["results"]
    assert {r["id"] for r in every} == {str(active.pk), str(pending.pk)}
    data = {"q": "", "program": str(program.pk), "enrolled": "active"}
    assert [r["id"] for r in client.get(URL, data=data).json()["results"]] == [str(active.pk)]


def test_another_tenants_program_is_a_404(client_for, owner, acme, globex):
    program = ProgramFactory(tenant=globex)
    response = client_for(owner).get(URL, data={"q": "", "program": str(program.pk)})
    assert response.status_code == 404


def test_a_partner_may_not_search(client_for, partner):
    assert client_for(partner).get(URL, data={"q": "a"}).status_code == 403


# The field


def test_the_field_takes_an_id_or_an_email_of_its_queryset_only(in_acme, acme, globex):
    mine = PartnerFactory(tenant=acme, user=UserFactory(email="mine@partners.test"))
    stranger = PartnerFactory(tenant=globex)
    field = PartnerField(required=False)
    field.queryset = partners_for_choice()
    assert field.clean(str(mine.pk)) == mine
    assert field.clean("MINE@partners.test") == mine
    assert field.clean(f"Whoever <{mine.user.email}>") == mine
    assert field.clean("") is None
    for bad in (str(stranger.pk), stranger.user.email, "not-an-id", "\x00"):
        with pytest.raises(Exception) as caught:
            field.clean(bad)
        assert str(PICK_PARTNER) in str(caught.value)


def test_the_widget_posts_the_id_and_falls_back_to_the_typed_text(in_acme, acme):
    mine = PartnerFactory(tenant=acme, user=UserFactory(email="typed@partners.test"))
    picked = LeadFilterForm({"partner": str(mine.pk), "partner_q": "ignored"})
    typed = LeadFilterForm({"partner": "", "partner_q": "typed@partners.test"})
    assert picked.is_valid() and typed.is_valid()
    assert picked.cleaned_data["partner"] == typed.cleaned_data["partner"] == mine


def test_a_promo_code_form_only_takes_partners_active_in_the_program(in_acme, acme):
    program = ProgramFactory(tenant=acme)
    pending = EnrollmentFactory(program=program, status=Enrollment.Status.PENDING).partner
    form = PromoCodeForm({"partner": str(pending.pk)}, program=program)
    assert not form.is_valid()
    assert form.errors["partner"] == [str(PICK_PARTNER)]
    html = str(form["partner"])
    assert f"program={program.pk}" in html and "enrolled=active" in html


def test_pages_with_partner_fields_list_no_partners(client_for, owner, acme):
    program = ProgramFactory(tenant=acme)
    chosen = EnrollmentFactory(program=program).partner
    for _ in range(30):
        EnrollmentFactory(program=program)
    LeadFactory(program=program, partner=chosen)
    client = client_for(owner)
    pages = [
        "/manage/leads/",
        "/manage/leads/new/",
        "/manage/conversions/",
        "/manage/rewards/",
        f"/manage/programs/{program.pk}/",
        # (the program's rewards page no longer assigns groups: the groups pages do)
        f"/manage/programs/{program.pk}/rewards/rules/new/",
    ]
    for path in pages:
        html = client.get(path).content.decode()
        assert 'class="js-autocomplete"' in html, path
        assert html.count("<option") < 30, path  # statuses, programs: never partners
    # A chosen filter shows the partner's label in the box and keeps the id.
    html = client.get("/manage/leads/", data={"partner": str(chosen.pk)}).content.decode()
    assert f'value="{chosen.pk}"' in html
    assert f"{chosen.display_name} &lt;{chosen.user.email}&gt;" in html
    assert html.count("data-lead=") == Lead.all_tenants_unscoped.filter(partner=chosen).count()
