"""Console: the reward list (filters, bulk approve / reject / hold), a partner's ledger
with manual corrections, and the ledger check."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from prm.models import AuditEntry
from prm.tenancy import tenant_scope
from rewards.models import LedgerEntry, Reward
from rewards.services.ledger import balance
from tests.conftest import module_world
from tests.rewards.console_world import actions, build, messages_of
from tests.rewards.helpers import make_partner, make_program, rule, sale

D = Decimal


# acme, its owner and the money world, made once for the module; each test's changes
# are rolled back (tests/conftest.py, module_rows).
shared, acme, owner, world = module_world(build)


def listed(response) -> list[str]:  # type: ignore[no-untyped-def]
    html = response.content.decode()
    return [chunk.split('"', 1)[0] for chunk in html.split('data-reward="')[1:]]


def statuses(acme) -> dict[str, tuple[str, bool, str]]:  # type: ignore[no-untyped-def]
    with tenant_scope(acme):
        return {
            str(pk): (status, flagged, reason)
            for pk, status, flagged, reason in Reward.objects.values_list(
                "id", "status", "flagged", "reason"
            )
        }


# The list


def test_it_lists_rewards_with_their_partner_program_and_state(client_for, acme, finance, world):
    response = client_for(finance).get("/manage/rewards/")
    html = response.content.decode()
    assert response.status_code == 200
    assert len(listed(response)) == 4  # alice's three and bob's one
    assert f'href="/manage/partners/{world.alice.pk}/ledger/"' in html
    assert 'name="rewards"' in html  # finance may decide


def test_readers_see_the_list_without_the_bulk_form(client_for, acme, analyst, world):
    html = client_for(analyst).get("/manage/rewards/").content.decode()
    assert 'id="rewards"' in html
    assert 'name="rewards"' not in html and 'id="bulk-form"' not in html


def test_a_manager_sees_no_rewards_nor_ledgers(client_for, acme, manager, world):
    client = client_for(manager)
    for url in ("/manage/rewards/", f"/manage/partners/{world.alice.pk}/ledger/"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Alice" not in response.content.decode()
    assert 'href="/manage/rewards/"' not in client.get("/manage/").content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=pending", {"alice100", "alice50", "bob30", "bonus"}),
        ("status=approved", {"alice200"}),
        ("kind=bonus", {"bonus"}),
        ("flagged=yes", {"alice50"}),
        ("flagged=no&status=pending", {"alice100", "bob30", "bonus"}),
        ("partner={bob}", {"bob30"}),
        ("program={other}", set()),
        ("program=nope&kind=bonus", {"bonus"}),
    ],
)
def test_it_filters_rewards(client_for, acme, owner, world, query, expected):
    with tenant_scope(acme):
        other = make_program(acme, name="Other")
        by_amount = {
            f"{r.partner.display_name.lower()}{int(r.amount)}": r
            for r in Reward.objects.select_related("partner").exclude(kind="bonus")
        }
        bonus = Reward.objects.create(
            tenant=acme,
            key="bonus:test",
            partner=world.alice,
            program=world.program,
            kind="bonus",
            amount=D("5"),
            currency="USD",
            available_at=world.pending[0].available_at,
        )
        Reward.objects.filter(pk=by_amount["alice50"].pk).update(flagged=True)
    names = {**by_amount, "bonus": bonus}
    url = "/manage/rewards/?" + query.format(bob=world.bob.pk, other=other.pk)
    response = client_for(owner).get(url)
    assert set(listed(response)) == {str(names[n].pk) for n in expected}


def test_it_paginates_fifty_rewards_a_page(client_for, acme, owner, world):
    with tenant_scope(acme):
        for _ in range(50):
            sale(world.program, world.bob, "10.00")
    client = client_for(owner)
    first = client.get("/manage/rewards/?status=pending")
    assert len(listed(first)) == 50
    assert "?status=pending&amp;page=2" in first.content.decode()
    # 3 from the world, 50 sales and the bonus bob reached with his fifth sale.
    assert len(listed(client.get("/manage/rewards/?status=pending&page=2"))) == 4


def test_the_reward_list_stays_within_its_query_budget(
    client_for, acme, owner, world, django_assert_max_num_queries
):
    with tenant_scope(acme):
        second = make_program(acme, name="Second")
        rule(second, value=D("5"))
        for n in range(8):
            partner = make_partner(acme, second, f"QQ{n}")
            sale(second, partner, "100.00")
    client = client_for(owner)
    with django_assert_max_num_queries(10):
        response = client.get("/manage/rewards/")
    assert len(listed(response)) == 12


# Bulk decisions


def test_it_approves_the_selected_rewards(client_for, acme, finance, world):
    chosen = world.pending[:2]
    response = client_for(finance).post(
        "/manage/rewards/bulk/",
        {
            "rewards": [r.pk for r in chosen],
            "action": "approve",
            "next": "/manage/rewards/?status=pending",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/manage/rewards/?status=pending"
    now = statuses(acme)
    assert [now[str(r.pk)][0] for r in chosen] == ["approved", "approved"]
    assert now[str(world.pending[2].pk)][0] == "pending"
    assert actions(acme).count("reward.approve") == 3  # the world's own approval + these
    with tenant_scope(acme):
        assert LedgerEntry.objects.filter(kind="approval", reward__in=chosen).count() == 2
    assert messages_of(response) == ["2 rewards approved."]


def test_rejecting_needs_a_reason_and_otherwise_changes_nothing(client_for, acme, finance, world):
    before = statuses(acme)
    response = client_for(finance).post(
        "/manage/rewards/bulk/", {"rewards": [world.pending[0].pk], "action": "reject"}
    )
    assert response.status_code == 302
    assert statuses(acme) == before
    assert "Give a reason the partner will see." in messages_of(response)[0]


def test_it_rejects_the_selected_rewards_with_the_reason_the_partner_sees(
    client_for, acme, finance, world
):
    reward = world.pending[0]
    client_for(finance).post(
        "/manage/rewards/bulk/",
        {"rewards": [reward.pk], "action": "reject", "reason": "  Self-referral  "},
    )
    assert statuses(acme)[str(reward.pk)] == ("rejected", False, "Self-referral")
    with tenant_scope(acme):
        assert balance(reward.partner, "USD").pending == D("50.00")  # 100 + 50 on hold, less 100


def test_it_holds_rewards_for_review_and_skips_those_already_held(client_for, acme, finance, world):
    reward = world.pending[0]
    client = client_for(finance)
    client.post("/manage/rewards/bulk/", {"rewards": [reward.pk], "action": "hold", "reason": "IP"})
    # The review reason is internal: kept on the ledger's hold entry, not shown.
    assert statuses(acme)[str(reward.pk)] == ("pending", True, "")
    with tenant_scope(acme):
        assert reward.entries.get(kind="hold").memo == "IP"

    again = client.post("/manage/rewards/bulk/", {"rewards": [reward.pk], "action": "hold"})
    assert messages_of(again)[-1] == "1 reward was skipped: it is no longer on hold."


def test_rewards_decided_meanwhile_are_skipped_not_a_reason_to_undo_the_others(
    client_for, acme, finance, world
):
    first, second = world.pending[:2]
    client = client_for(finance)
    client.post("/manage/rewards/bulk/", {"rewards": [first.pk], "action": "approve"})
    response = client.post(
        "/manage/rewards/bulk/",
        {"rewards": [first.pk, second.pk], "action": "reject", "reason": "fraud"},
    )
    now = statuses(acme)
    assert (now[str(first.pk)][0], now[str(second.pk)][0]) == ("approved", "rejected")
    assert messages_of(response)[-2:] == [
        "1 reward rejected.",
        "1 reward was skipped: it is no longer on hold.",
    ]


def test_a_bulk_form_only_goes_back_to_the_reward_list(client_for, acme, finance, world):
    response = client_for(finance).post(
        "/manage/rewards/bulk/",
        {"rewards": [world.pending[0].pk], "action": "approve", "next": "https://evil.test/"},
    )
    assert response["Location"] == "/manage/rewards/"


# The ledger


def test_the_ledger_shows_balances_entries_and_the_rule_of_each_accrual(
    client_for, acme, analyst, world
):
    response = client_for(analyst).get(f"/manage/partners/{world.alice.pk}/ledger/")
    html = response.content.decode()
    assert response.status_code == 200
    balances = html.split('id="balances"')[1].split("</table>")[0]
    # alice: 350 accrued, 200 approved, 150 requested in two payouts.
    assert "<td>USD</td>" in balances
    assert ">150.00<" in balances and ">50.00<" in balances
    assert "10.00% · everyone · of 1000.00" in html
    assert "Payout requested" in html
    assert 'id="adjust-form"' not in html  # analysts read only


def test_the_ledger_shows_the_exchange_rate_an_accrual_used(client_for, acme, owner, world):
    from datetime import date

    from rewards.models import ExchangeRate

    with tenant_scope(acme):
        ExchangeRate.objects.create(
            tenant=acme, base="EUR", quote="USD", rate=D("1.1"), valid_from=date(2020, 1, 1)
        )
        sale(world.program, world.bob, "100.00", currency="EUR")
    html = client_for(owner).get(f"/manage/partners/{world.bob.pk}/ledger/").content.decode()
    assert "100.00 EUR at 1.10000000 USD (2020-01-01)" in html


def test_the_ledger_stays_within_its_query_budget(
    client_for, acme, owner, world, django_assert_max_num_queries
):
    with tenant_scope(acme):
        for _ in range(20):
            sale(world.program, world.alice, "10.00")
    client = client_for(owner)
    with django_assert_max_num_queries(11):  # +1: the sidebar's review count, cold cache
        assert client.get(f"/manage/partners/{world.alice.pk}/ledger/").status_code == 200


def adjust(client, world, **data):  # type: ignore[no-untyped-def]
    form = {
        "kind": "adjustment",
        "currency": "USD",
        "amount": "25",
        "reason": "Goodwill",
        "token": str(uuid.uuid4()),
        **data,
    }
    return client.post(f"/manage/partners/{world.alice.pk}/ledger/adjust/", form)


def test_it_adjusts_and_penalises_the_available_balance(client_for, acme, finance, world):
    client = client_for(finance)
    with tenant_scope(acme):
        start = balance(world.alice, "USD").available
    assert adjust(client, world).status_code == 302
    assert adjust(client, world, kind="penalty", amount="10", reason="Spam").status_code == 302
    assert adjust(client, world, amount="-5").status_code == 302
    with tenant_scope(acme):
        assert balance(world.alice, "USD").available == start + D("10")
        entries = list(
            LedgerEntry.objects.filter(kind__in=["adjustment", "penalty"]).values_list(
                "kind", "available", "memo", "actor"
            )
        )
    assert entries == [
        ("adjustment", D("25.00"), "Goodwill", finance.pk),
        ("penalty", D("-10.00"), "Spam", finance.pk),
        ("adjustment", D("-5.00"), "Goodwill", finance.pk),
    ]
    assert actions(acme)[-3:] == ["ledger.adjustment", "ledger.penalty", "ledger.adjustment"]


def test_the_form_carries_a_fresh_token_and_a_double_submit_posts_once(
    client_for, acme, finance, world
):
    client = client_for(finance)
    page = client.get(f"/manage/partners/{world.alice.pk}/ledger/")
    token = page.context["form"].initial["token"]
    assert f'value="{token}"' in page.content.decode()
    assert (
        client.get(f"/manage/partners/{world.alice.pk}/ledger/").context["form"].initial["token"]
        != token
    )

    adjust(client, world, token=str(token))
    adjust(client, world, token=str(token))

    with tenant_scope(acme):
        assert LedgerEntry.objects.filter(kind="adjustment").count() == 1
    assert actions(acme).count("ledger.adjustment") == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reason": "   "}, "reason"),
        ({"amount": "0"}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"currency": "XYZ"}, "currency"),
        ({"kind": "payout"}, "kind"),
        ({"token": "not-a-uuid"}, "token"),
    ],
)
def test_a_wrong_correction_shows_errors_and_posts_nothing(
    client_for, acme, finance, world, data, field
):
    with tenant_scope(acme):
        entries = LedgerEntry.objects.count()
    logged = AuditEntry.all_tenants_unscoped.filter(tenant=acme).count()
    response = adjust(client_for(finance), world, **data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    with tenant_scope(acme):
        assert LedgerEntry.objects.count() == entries
    assert AuditEntry.all_tenants_unscoped.filter(tenant=acme).count() == logged


# The ledger check: a job, started from the page, whose last result the page shows


@pytest.fixture
def check_now(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Press "Check now", then let a real (burst) RQ worker run the job."""
    import django_rq

    from tests.prm.conftest import BurstWorker

    def run(client):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/manage/rewards/verify/run/")
        assert response.status_code == 302
        queue = django_rq.get_queue("default")
        BurstWorker([queue], connection=queue.connection).work(burst=True)
        return client.get("/manage/rewards/verify/").content.decode()

    return run


def test_the_ledger_check_says_when_all_adds_up(client_for, acme, admin, world, check_now):
    before = client_for(admin).get("/manage/rewards/verify/").content.decode()
    assert "The ledger was not checked yet." in before
    html = check_now(client_for(admin))
    assert "The ledger adds up: no problems found." in html


def test_the_ledger_check_lists_what_does_not_add_up(client_for, acme, owner, world, check_now):
    with tenant_scope(acme):
        LedgerEntry.objects.create(
            tenant=acme,
            partner=world.bob,
            currency="USD",
            kind="penalty",
            key="broken",
            available=D("5"),
        )
    html = check_now(client_for(owner))
    assert "1 problem found" in html
    assert "(penalty): available moved by 5.00" in html


def test_a_running_check_shows_its_progress_and_refreshes(client_for, acme, owner, world):
    from rewards.models import LedgerCheck

    with tenant_scope(acme):
        LedgerCheck.objects.create(tenant=acme, status="running", progress=40)
    client = client_for(owner)
    html = client.get("/manage/rewards/verify/").content.decode()
    assert 'id="verify-progress" max="100" value="40"' in html
    assert '<meta http-equiv="refresh"' in html and "Check now" not in html
    client.post("/manage/rewards/verify/run/")  # a second press reuses the running one
    with tenant_scope(acme):
        assert LedgerCheck.objects.count() == 1
