"""Console pages of leads: the list, search, bulk actions, adding by hand, the lead page."""

from __future__ import annotations

import pytest

from prm.models import AuditEntry, Role
from prm.tenancy import tenant_scope
from programs.models import Lead, LeadEvent, Program
from programs.services.leads import NEEDS_CONTACT, LeadInput, lead_create
from programs.services.normalize import INVALID_EMAIL, INVALID_PHONE
from tests.factories import MembershipFactory
from tests.programs.factories import (
    EnrollmentFactory,
    LeadFactory,
    ProgramFactory,
)
from tests.programs.helpers import actions, membership_of, messages_of

# Leads: the list


@pytest.fixture
def leads(acme, program, enrollment, alice, manager):  # type: ignore[no-untyped-def]
    """Four leads: one of alice's assigned to the manager, a duplicate, two more."""
    other = ProgramFactory(tenant=acme, name="Other")
    staff = membership_of(acme, manager)
    first = LeadFactory(
        program=program,
        partner=alice,
        name="Ann Lee",
        email="ann@example.com",
        phone="+14155550101",
        company="Initech",
        assigned_to=staff,
        status=Lead.Status.QUALIFIED,
    )
    return {
        "ann": first,
        "dup": LeadFactory(program=program, name="Ann again", duplicate_of=first),
        "zed": LeadFactory(program=other, name="Zed", email="zed@example.org"),
        "bea": LeadFactory(program=program, name="Bea", email="bea@globex-corp.com"),
    }


def listed(response) -> list[str]:  # type: ignore[no-untyped-def]
    html = response.content.decode()
    return [chunk.split('"', 1)[0] for chunk in html.split('data-lead="')[1:]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"ann", "dup", "zed", "bea"}),
        ("q=initech", {"ann"}),
        ("q=ZED@EXAMPLE", {"zed"}),
        ("q=5550101", {"ann"}),
        ("q=ann", {"ann", "dup"}),
        ("status=qualified", {"ann"}),
        ("duplicates=on", {"dup"}),
        ("manager=none", {"dup", "zed", "bea"}),
        ("q=%00", {"ann", "dup", "zed", "bea"}),
    ],
)
def test_it_searches_and_filters_leads(client_for, acme, owner, leads, query, expected):
    response = client_for(owner).get(f"/manage/leads/?{query}")
    assert response.status_code == 200
    assert set(listed(response)) == {str(leads[name].pk) for name in expected}


def test_it_filters_leads_by_program_partner_and_manager(
    client_for, acme, owner, manager, program, alice, leads
):
    client = client_for(owner)
    staff = membership_of(acme, manager)
    by_program = listed(client.get(f"/manage/leads/?program={program.pk}"))
    assert set(by_program) == {str(leads[n].pk) for n in ("ann", "dup", "bea")}
    assert listed(client.get(f"/manage/leads/?partner={alice.pk}")) == [str(leads["ann"].pk)]
    assert listed(client.get(f"/manage/leads/?manager={staff.pk}")) == [str(leads["ann"].pk)]


def test_a_malformed_filter_is_shown_and_ignored(client_for, acme, owner, leads):
    response = client_for(owner).get("/manage/leads/?program=nope&status=qualified")
    assert response.status_code == 200
    assert listed(response) == [str(leads["ann"].pk)]
    assert "is not a valid UUID" in response.content.decode()


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("name", ["ann", "dup", "bea", "zed"]),
        ("-name", ["zed", "bea", "dup", "ann"]),
        ("created_at", ["ann", "dup", "zed", "bea"]),
        ("-created_at", ["bea", "zed", "dup", "ann"]),
        ("bogus", ["bea", "zed", "dup", "ann"]),
    ],
)
def test_it_sorts_leads(client_for, acme, owner, leads, sort, order):
    response = client_for(owner).get(f"/manage/leads/?sort={sort}")
    assert listed(response) == [str(leads[name].pk) for name in order]


def test_the_sort_links_flip_the_direction_and_keep_the_filters(client_for, acme, owner, leads):
    html = client_for(owner).get("/manage/leads/?status=new&sort=name").content.decode()
    assert 'href="?status=new&amp;sort=-name"' in html
    assert 'href="?status=new&amp;sort=status"' in html


def test_it_paginates_fifty_leads_a_page(client_for, acme, owner, program):
    LeadFactory.create_batch(55, program=program)
    client = client_for(owner)
    first = client.get("/manage/leads/?status=new")
    assert len(listed(first)) == 50
    assert "?status=new&amp;page=2" in first.content.decode()
    assert len(listed(client.get("/manage/leads/?status=new&page=2"))) == 5


def test_the_lead_list_stays_within_its_query_budget(
    client_for, acme, owner, manager, program, django_assert_max_num_queries
):
    staff = membership_of(acme, manager)
    for _ in range(20):
        enrollment = EnrollmentFactory(program=program)
        LeadFactory(program=program, partner=enrollment.partner, assigned_to=staff)
    client = client_for(owner)
    with django_assert_max_num_queries(11):
        response = client.get(f"/manage/leads/?program={program.pk}&sort=name")
    assert len(listed(response)) == 20


def test_an_analyst_reads_leads_without_checkboxes_or_bulk_actions(
    client_for, acme, analyst, leads
):
    response = client_for(analyst).get("/manage/leads/")
    assert response.status_code == 200
    html = response.content.decode()
    assert len(listed(response)) == 4
    assert 'name="leads"' not in html
    assert "With the selected leads" not in html


# Leads: bulk actions


def test_bulk_set_status_changes_the_chosen_leads_and_is_audited(client_for, acme, manager, leads):
    chosen = [leads["zed"], leads["bea"]]
    response = client_for(manager).post(
        "/manage/leads/bulk/",
        {
            "leads": [str(lead.pk) for lead in chosen],
            "action": "status",
            "status": "contacted",
            "next": "/manage/leads/?status=new",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/manage/leads/?status=new"
    assert messages_of(response) == ["2 leads updated."]
    with tenant_scope(acme):
        assert set(Lead.objects.filter(status="contacted")) == set(chosen)
        assert LeadEvent.objects.filter(kind=LeadEvent.Kind.STATUS).count() == 2
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme)
    assert entry.action == "lead.bulk_update"
    assert entry.after["count"] == 2


def test_bulk_assign_and_unassign(client_for, acme, owner, manager, leads):
    staff = membership_of(acme, manager)
    client = client_for(owner)
    ids = [str(leads["zed"].pk), str(leads["bea"].pk)]
    client.post("/manage/leads/bulk/", {"leads": ids, "action": "assign", "manager": staff.pk})
    with tenant_scope(acme):
        assert Lead.objects.filter(assigned_to=staff).count() == 3
    client.post("/manage/leads/bulk/", {"leads": ids, "action": "unassign"})
    with tenant_scope(acme):
        assert Lead.objects.filter(assigned_to=staff).count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"action": "status"},  # no status chosen
        {"action": "assign"},  # no manager chosen
        {"action": "burn", "status": "new"},
        {"action": "status", "status": "won"},
    ],
)
def test_a_bad_bulk_action_changes_nothing(client_for, acme, owner, leads, data):
    response = client_for(owner).post(
        "/manage/leads/bulk/", {"leads": [str(leads["zed"].pk)], **data, "next": "//evil.test/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/manage/leads/"
    assert messages_of(response)[0].startswith("Nothing changed")
    leads["zed"].refresh_from_db()
    assert (leads["zed"].status, leads["zed"].assigned_to_id) == ("new", None)
    assert actions(acme) == []


def test_bulk_actions_cannot_reach_another_tenants_leads(client_for, acme, owner, leads, globex):
    theirs = LeadFactory(program=ProgramFactory(tenant=globex))
    response = client_for(owner).post(
        "/manage/leads/bulk/",
        {"leads": [str(leads["zed"].pk), str(theirs.pk)], "action": "status", "status": "rejected"},
    )
    assert response.status_code == 302
    theirs.refresh_from_db()
    leads["zed"].refresh_from_db()
    assert (theirs.status, leads["zed"].status) == ("new", "new")


# Leads: added by hand


def test_staff_add_a_lead_by_hand(client_for, acme, manager, program):
    response = client_for(manager).post(
        "/manage/leads/new/",
        {"program": str(program.pk), "name": "Carl", "email": " Carl@Example.COM "},
    )
    with tenant_scope(acme):
        lead = Lead.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/manage/leads/{lead.pk}/"
    assert (lead.source, lead.email, lead.partner) == ("console", "carl@example.com", None)
    with tenant_scope(acme):
        assert LeadEvent.objects.get(lead=lead).actor.email == "manager@acme.test"


def test_a_lead_added_by_hand_may_credit_an_enrolled_partner(
    client_for, acme, owner, program, enrollment, alice, bob
):
    client = client_for(owner)
    refused = client.post(
        "/manage/leads/new/",
        {"program": str(program.pk), "email": "x@example.com", "partner": str(bob.pk)},
    )
    assert refused.status_code == 200
    assert "not an active partner of this program" in refused.content.decode()
    client.post(
        "/manage/leads/new/",
        {"program": str(program.pk), "email": "x@example.com", "partner": str(alice.pk)},
    )
    with tenant_scope(acme):
        assert Lead.objects.get().partner == alice


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"email": "not-an-email"}, str(INVALID_EMAIL)),
        ({"phone": "12"}, str(INVALID_PHONE)),
        ({"name": "Only a name"}, str(NEEDS_CONTACT)),
    ],
)
def test_a_bad_lead_shows_the_error_and_saves_nothing(
    client_for, acme, owner, program, data, error
):
    response = client_for(owner).post("/manage/leads/new/", {"program": str(program.pk), **data})
    assert response.status_code == 200
    assert error in response.content.decode()
    with tenant_scope(acme):
        assert not Lead.objects.exists()


# Leads: the lead page


def test_the_lead_page_shows_details_credit_trail_and_history(
    client_for, acme, owner, program, enrollment, alice
):
    with tenant_scope(acme):
        first = lead_create(
            tenant=acme,
            program=program,
            source=Lead.Source.CABINET,
            partner=alice,
            data=LeadInput(name="Dora", email="dora@example.com"),
        )
        second = lead_create(
            tenant=acme,
            program=program,
            source=Lead.Source.CONSOLE,
            data=LeadInput(email="dora@example.com"),
        )
    client = client_for(owner)
    html = client.get(f"/manage/leads/{first.pk}/").content.decode()
    assert "dora@example.com" in html
    assert f'<dd id="lead-partner"><a href="/manage/partners/{alice.pk}/">{alice}</a></dd>' in html
    assert "Deal registration" in html
    assert "Credited to" in html
    assert "Later submissions of the same customer" in html
    assert f"/manage/leads/{second.pk}/" in html
    dup = client.get(f"/manage/leads/{second.pk}/").content.decode()
    assert f'href="/manage/leads/{first.pk}/" id="duplicate-of"' in dup
    assert "Credited to nobody." in dup
    assert "Duplicate: this customer was already brought in" in dup


def test_a_manager_changes_status_assigns_and_adds_a_note(client_for, acme, manager, owner, leads):
    lead = leads["zed"]
    client = client_for(manager)
    staff = membership_of(acme, owner)
    assert (
        client.post(f"/manage/leads/{lead.pk}/status/", {"status": "qualified"}).status_code == 302
    )
    assert client.post(f"/manage/leads/{lead.pk}/assign/", {"manager": staff.pk}).status_code == 302
    assert (
        client.post(f"/manage/leads/{lead.pk}/notes/", {"text": "Called, keen."}).status_code == 302
    )
    lead.refresh_from_db()
    assert (lead.status, lead.assigned_to) == ("qualified", staff)
    html = client.get(f"/manage/leads/{lead.pk}/").content.decode()
    history = html[html.index('id="history"') :]
    assert "Status changed" in history
    assert "<del>new</del> → qualified" in history
    assert "Called, keen." in history
    assert client.post(f"/manage/leads/{lead.pk}/assign/", {"manager": ""}).status_code == 302
    lead.refresh_from_db()
    assert lead.assigned_to is None


@pytest.mark.parametrize(
    ("action", "data", "error"),
    [
        ("status", {"status": "won"}, "Select a valid choice"),
        ("assign", {"manager": "nope"}, "is not a valid UUID"),
        ("notes", {"text": ""}, "This field is required"),
    ],
)
def test_a_bad_lead_write_shows_the_error_and_changes_nothing(
    client_for, acme, owner, leads, action, data, error
):
    lead = leads["zed"]
    response = client_for(owner).post(f"/manage/leads/{lead.pk}/{action}/", data)
    assert response.status_code == 200
    assert error in response.content.decode()
    with tenant_scope(acme):
        assert not LeadEvent.objects.filter(lead=lead).exists()


def test_a_lead_cannot_be_assigned_to_an_analyst(client_for, acme, owner, analyst, leads):
    staff = membership_of(acme, analyst)
    response = client_for(owner).post(
        f"/manage/leads/{leads['zed'].pk}/assign/", {"manager": str(staff.pk)}
    )
    assert response.status_code == 200
    leads["zed"].refresh_from_db()
    assert leads["zed"].assigned_to is None


def test_an_analyst_reads_a_lead_but_cannot_change_it(client_for, acme, analyst, leads):
    lead = leads["ann"]
    client = client_for(analyst)
    page = client.get(f"/manage/leads/{lead.pk}/")
    assert page.status_code == 200
    assert 'id="lead-actions"' not in page.content.decode()
    for action, data in [("status", {"status": "new"}), ("notes", {"text": "x"})]:
        assert client.post(f"/manage/leads/{lead.pk}/{action}/", data).status_code == 403
    assert client.get("/manage/leads/new/").status_code == 403
    lead.refresh_from_db()
    assert lead.status == "qualified"


def test_a_round_robin_program_spreads_hand_added_leads(client_for, acme, owner, program):
    program.lead_assignment = Program.Assignment.ROUND_ROBIN
    program.save()
    first, second = (MembershipFactory(tenant=acme, role=Role.MANAGER) for _ in range(2))
    client = client_for(owner)
    for n in range(2):
        client.post(
            "/manage/leads/new/", {"program": str(program.pk), "email": f"rr{n}@example.com"}
        )
    with tenant_scope(acme):
        assigned = list(Lead.objects.order_by("created_at").values_list("assigned_to", flat=True))
    assert assigned == [first.pk, second.pk]
