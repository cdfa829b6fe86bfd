"""The review queue and an item's page: filters, keyset pages, bulk decisions, who may
decide, and another tenant's items."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from antifraud.models import RiskAssessment
from prm.tenancy import tenant_scope
from rewards.models import Reward
from tests.antifraud.world import flag, flagged_sale
from tests.programs.factories import LeadFactory
from tests.rewards.helpers import make_partner, make_program, rule, sale

ROWS = re.compile(r'data-assessment="(\d+)"')


def shown(response) -> list[int]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    return [int(pk) for pk in ROWS.findall(response.content.decode())]


def test_the_queue_shows_waiting_items_newest_first(client_for, owner, program, alice):
    now = timezone.now()
    older = flagged_sale(program, alice, at=now - timedelta(hours=2))[1]
    newer = flagged_sale(program, alice, at=now - timedelta(hours=1))[1]
    rejected = flagged_sale(program, alice, score=90, level="reject", at=now)[1]
    ok = flag(subject=sale(program, alice), score=10, level="ok")
    decided = flagged_sale(program, alice, at=now)[1]
    RiskAssessment.objects.filter(pk=decided.pk).update(decision="approved")
    assert shown(client_for(owner).get("/manage/antifraud/")) == [
        rejected.pk,
        newer.pk,
        older.pk,
    ]
    assert ok.pk not in shown(client_for(owner).get("/manage/antifraud/?state=all"))
    assert shown(client_for(owner).get("/manage/antifraud/?state=decided")) == [decided.pk]


def test_the_queue_filters_by_signal_level_kind_score_and_partner(
    client_for, owner, in_acme, program, alice
):
    bob = make_partner(in_acme, program, "BOB")
    ip = flagged_sale(program, alice, score=50, signals={"t_ip_flood": {"points": 50}})[1]
    self_ref = flagged_sale(
        program, bob, score=85, level="reject", signals={"t_self_ref": {"points": 85}}
    )[1]
    lead = LeadFactory(tenant=in_acme, program=program, partner=alice)
    lead_item = flag(subject=lead, score=60)
    partner_item = flag(subject=bob, score=70)
    client = client_for(owner)
    assert set(shown(client.get("/manage/antifraud/?code=t_self_ref"))) == {self_ref.pk}
    assert set(shown(client.get("/manage/antifraud/?level=reject"))) == {self_ref.pk}
    assert set(shown(client.get("/manage/antifraud/?subject=lead"))) == {lead_item.pk}
    assert set(shown(client.get("/manage/antifraud/?subject=partner"))) == {partner_item.pk}
    assert set(shown(client.get("/manage/antifraud/?score_min=55&score_max=75"))) == {
        lead_item.pk,
        partner_item.pk,
    }
    assert set(shown(client.get(f"/manage/antifraud/?partner={bob.pk}"))) == {
        self_ref.pk,
        partner_item.pk,
    }
    assert ip.pk in shown(client.get("/manage/antifraud/?code=t_ip_flood"))


def test_invalid_filters_are_shown_and_dropped(client_for, owner, program, alice):
    item = flagged_sale(program, alice)[1]
    response = client_for(owner).get("/manage/antifraud/?score_min=80&score_max=20&level=nope")
    assert shown(response) == [item.pk]
    assert "The lowest score cannot be above the highest." in response.content.decode()


def test_the_queue_pages_by_keyset_without_counting(
    client_for, owner, program, alice, django_assert_max_num_queries
):
    conversion = sale(program, alice)
    start = timezone.now()
    made = []
    for i in range(53):
        lead = LeadFactory(tenant=program.tenant, program=program, partner=alice)
        made.append(flag(subject=lead, at=start - timedelta(minutes=i)).pk)
    flag(subject=conversion, at=start - timedelta(minutes=7))  # a tie in the middle
    client = client_for(owner)
    with django_assert_max_num_queries(12) as captured:
        first = client.get("/manage/antifraud/")
    sql = [q["sql"].upper() for q in captured.captured_queries]
    assert not any("COUNT(" in q and "LIMIT" not in q for q in sql)
    page1 = shown(first)
    assert len(page1) == 50
    cursor = re.search(r'after=([^"&]+)" rel="next"', first.content.decode())
    assert cursor is not None
    page2 = shown(client.get(f"/manage/antifraud/?after={cursor.group(1)}"))
    assert len(page2) == 4
    assert not set(page1) & set(page2)
    assert set(made) <= set(page1) | set(page2)


def test_a_malformed_cursor_shows_the_first_page(client_for, owner, program, alice):
    item = flagged_sale(program, alice)[1]
    assert shown(client_for(owner).get("/manage/antifraud/?after=2026-13-99_x")) == [item.pk]


def test_the_item_page_shows_reasons_in_the_readers_language_with_evidence(
    client_for, owner, in_acme, program, alice
):
    others = [LeadFactory(tenant=in_acme, program=program, partner=alice) for _ in range(2)]
    _, item, reward = flagged_sale(
        program,
        alice,
        signals={
            "t_ip_flood": {
                "points": 45,
                "params": {"count": 7, "minutes": 60},
                "evidence": {"leads": [str(lead.pk) for lead in others], "value": "203.0.113.0/24"},
            },
            "t_self_ref": {
                "points": 30,
                "params": {"what": "e-mail"},
                "evidence": {"partner_fields": ["email"]},
            },
        },
    )
    html = client_for(owner).get(f"/manage/antifraud/{item.pk}/").content.decode()
    assert "7 leads from one IP address within 60 minutes." in html
    assert "203.0.113.0/24" in html
    for lead in others:
        assert f'href="/manage/leads/{lead.pk}/"' in html
    assert "a•••@example.test" in html  # the partner's own e-mail, masked
    assert alice.user.email not in html.split('id="reasons"')[1].split('id="rewards"')[0]
    assert f'data-reward="{reward.pk}"' in html
    assert "Approve and release" in html


def test_a_manager_decides_without_seeing_reward_amounts(client_for, manager, program, alice):
    _, item, reward = flagged_sale(program, alice, "123.00")
    html = client_for(manager).get(f"/manage/antifraud/{item.pk}/").content.decode()
    assert "Approve and release" in html
    assert "24.60" not in html  # 20% of 123.00 lives on the money pages


def test_approving_from_the_item_page_releases_and_records_history(
    client_for, finance, program, alice
):
    _, item, reward = flagged_sale(program, alice)
    client = client_for(finance)
    response = client.post(f"/manage/antifraud/{item.pk}/decide/", {"action": "approve"})
    assert response.status_code == 302
    reward.refresh_from_db()
    assert not reward.flagged
    html = client.get(f"/manage/antifraud/{item.pk}/").content.decode()
    assert "risk.approve" in html
    assert "Approve and release" not in html


def test_rejecting_without_a_reason_re_renders_the_form(client_for, manager, program, alice):
    _, item, reward = flagged_sale(program, alice)
    response = client_for(manager).post(
        f"/manage/antifraud/{item.pk}/decide/", {"action": "reject", "reason": ""}
    )
    assert response.status_code == 200
    assert "Give a reason the partner will see." in response.content.decode()
    reward.refresh_from_db()
    assert reward.status == Reward.Status.PENDING and reward.flagged


def test_bulk_approve_from_the_queue(client_for, manager, program, alice):
    items = [flagged_sale(program, alice) for _ in range(3)]
    chosen = [str(a.pk) for _, a, _ in items[:2]]
    response = client_for(manager).post(
        "/manage/antifraud/bulk/",
        {"items": chosen, "action": "approve", "next": "/manage/antifraud/"},
    )
    assert response.status_code == 302 and response["Location"] == "/manage/antifraud/"
    flags = [Reward.objects.get(pk=r.pk).flagged for _, _, r in items]
    assert flags == [False, False, True]


def test_bulk_reject_without_a_reason_changes_nothing(client_for, manager, program, alice):
    _, item, reward = flagged_sale(program, alice)
    client_for(manager).post("/manage/antifraud/bulk/", {"items": [item.pk], "action": "reject"})
    reward.refresh_from_db()
    assert reward.status == Reward.Status.PENDING


def test_the_analyst_reads_the_queue_and_the_item_but_may_not_decide(
    client_for, analyst, program, alice
):
    _, item, reward = flagged_sale(program, alice)
    client = client_for(analyst)
    queue = client.get("/manage/antifraud/").content.decode()
    assert "/manage/antifraud/bulk/" not in queue
    page = client.get(f"/manage/antifraud/{item.pk}/").content.decode()
    assert "/decide/" not in page
    decide = client.post(f"/manage/antifraud/{item.pk}/decide/", {"action": "approve"})
    bulk = client.post("/manage/antifraud/bulk/", {"items": [item.pk], "action": "approve"})
    assert decide.status_code == bulk.status_code == 403
    reward.refresh_from_db()
    assert reward.flagged


def test_the_sidebar_counts_the_waiting_items(client_for, owner, program, alice):
    for _ in range(3):
        flagged_sale(program, alice)
    html = client_for(owner).get("/manage/").content.decode()
    assert re.search(r'Review <span class="badge count"[^>]*>3</span>', html)


def test_another_tenants_item_is_a_404_and_stays_undecided(
    client_for, acme, globex, outsider, owner
):
    with tenant_scope(globex):
        program = make_program(globex)
        rule(program)
        partner = make_partner(globex, program, "GLOBEX")
        _, theirs, reward = flagged_sale(program, partner)
    client = client_for(owner)  # acme's owner on acme's host
    assert client.get(f"/manage/antifraud/{theirs.pk}/").status_code == 404
    decide = client.post(f"/manage/antifraud/{theirs.pk}/decide/", {"action": "approve"})
    assert decide.status_code == 404
    client.post("/manage/antifraud/bulk/", {"items": [theirs.pk], "action": "approve"})
    # And globex's own staff reach it only on globex's host.
    assert client_for(outsider).get(f"/manage/antifraud/{theirs.pk}/").status_code == 404
    at_home = client_for(outsider, "globex.localhost")
    assert at_home.get(f"/manage/antifraud/{theirs.pk}/").status_code == 200
    with tenant_scope(globex):
        theirs.refresh_from_db()
        reward.refresh_from_db()
    assert theirs.decision == "" and reward.flagged


def test_the_partner_list_and_ledger_link_to_a_partners_assessments(
    client_for, owner, in_acme, program, alice
):
    bob = make_partner(in_acme, program, "BOB")
    type(alice).objects.filter(pk=alice.pk).update(risk_score=72)
    type(alice).objects.filter(pk=bob.pk).update(risk_score=5)
    client = client_for(owner)
    html = client.get("/manage/partners/?risky=1").content.decode()
    assert str(alice) in html and str(bob) not in html
    html = client.get("/manage/partners/?sort=-risk").content.decode()
    assert html.index(str(alice)) < html.index(str(bob))
    ledger = client.get(f"/manage/partners/{alice.pk}/ledger/").content.decode()
    assert f"/manage/antifraud/?partner={alice.pk}" in ledger
    assert "72" in ledger
