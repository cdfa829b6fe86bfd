"""Who reaches which console page of rewards and payouts.

Partners get 403, outsiders 404 (on acme's host and with acme's ids on their own);
whoever is refused changes nothing. What each staff role reaches is
tests/prm/test_role_matrix.py's job (README's Roles table, URL by URL).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from prm.tenancy import tenant_scope
from rewards.models import CorrectionRequest
from rewards.urls_pages import console_patterns
from tests.rewards.console_world import build, state

RULE = {"scope": "program", "event": "lead", "kind": "fixed", "value": "5", "recurring": "first"}
RULE_EDIT = {**RULE, "event": "conversion", "kind": "percent", "value": "99"}
METHOD = {
    "kind": "card",
    "name": "Stolen",
    "currency": "USD",
    "fee_fixed": "0",
    "fee_percent": "0",
    "minimum": "0",
    "schedule": "request",
    "provider": "manual",
}


@dataclass(frozen=True)
class Case:
    """One URL called as its page calls it; ``{name}`` stands for acme's ids."""

    name: str
    method: str
    path: str
    data: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def call(self, client, ids: dict[str, str]):  # type: ignore[no-untyped-def]
        url = self.path.format(**ids)
        if self.method == "GET":
            return client.get(url)
        data: dict[str, object] = {k: v.format(**ids) for k, v in self.data.items()}
        if self.name == "rates_import":
            data["file"] = SimpleUploadedFile(
                "r.csv", b"base,quote,rate,valid_from\nEUR,USD,2,2020-01-01\n"
            )
        return client.post(url, data)


P = "/manage/programs/{program}/rewards"
CASES = [
    Case("program_rewards", "GET", f"{P}/"),
    Case("reward_rule_create", "GET", f"{P}/rules/new/"),
    Case("reward_rule_create", "POST", f"{P}/rules/new/", RULE),
    Case("reward_rule_edit", "GET", "/manage/rewards/rules/{rule}/edit/"),
    Case("reward_rule_edit", "POST", "/manage/rewards/rules/{rule}/edit/", RULE_EDIT),
    Case("reward_rule_deactivate", "POST", "/manage/rewards/rules/{rule}/deactivate/"),
    Case(
        "bonus_rule_create",
        "POST",
        f"{P}/bonuses/new/",
        {"metric": "revenue", "threshold": "10", "amount": "1"},
    ),
    Case("bonus_rule_edit", "GET", "/manage/rewards/bonuses/{bonus}/edit/"),
    Case(
        "bonus_rule_edit",
        "POST",
        "/manage/rewards/bonuses/{bonus}/edit/",
        {"metric": "revenue", "threshold": "10", "amount": "999"},
    ),
    Case("bonus_rule_deactivate", "POST", "/manage/rewards/bonuses/{bonus}/deactivate/"),
    Case("partner_group_create", "POST", f"{P}/groups/new/", {"name": "Stolen"}),
    Case(
        "partner_group_assign",
        "POST",
        f"{P}/groups/assign/",
        {"partner": "{alice}", "group": "{group}"},
    ),
    Case(
        "program_money",
        "POST",
        f"{P}/settings/",
        {"hold_days": "1", "levels": "1", "level_percents_text": ""},
    ),
    Case("rewards", "GET", "/manage/rewards/"),
    Case(
        "rewards_bulk",
        "POST",
        "/manage/rewards/bulk/",
        {"rewards": "{reward}", "action": "approve"},
    ),
    Case("rewards_verify", "GET", "/manage/rewards/verify/"),
    Case("partner_ledger", "GET", "/manage/partners/{alice}/ledger/"),
    Case(
        "partner_ledger_adjust",
        "POST",
        "/manage/partners/{alice}/ledger/adjust/",
        {
            "kind": "adjustment",
            "currency": "USD",
            "amount": "1000",
            "reason": "gift",
            "token": "6f1c2b8e-0000-4000-8000-000000000001",
        },
    ),
    Case("rewards_verify_run", "POST", "/manage/rewards/verify/run/"),
    Case("corrections", "GET", "/manage/rewards/corrections/"),
    Case("correction_approve", "POST", "/manage/rewards/corrections/{correction}/approve/"),
    Case("correction_reject", "POST", "/manage/rewards/corrections/{correction}/reject/"),
    Case("rates", "GET", "/manage/rates/"),
    Case(
        "rate_create",
        "POST",
        "/manage/rates/add/",
        {"base": "EUR", "quote": "USD", "rate": "2", "valid_from": "2020-01-01"},
    ),
    Case("rates_import", "POST", "/manage/rates/import/"),
    Case("payouts", "GET", "/manage/payouts/?tab=approved"),
    Case("payout_settings", "POST", "/manage/payouts/settings/", {"manual_approval_above": "1"}),
    Case("payout_methods", "GET", "/manage/payouts/methods/"),
    Case("payout_method_create", "GET", "/manage/payouts/methods/new/"),
    Case("payout_method_create", "POST", "/manage/payouts/methods/new/", METHOD),
    Case("payout_method_edit", "GET", "/manage/payouts/methods/{card}/edit/"),
    Case("payout_method_edit", "POST", "/manage/payouts/methods/{card}/edit/", METHOD),
    Case("payout_method_toggle", "POST", "/manage/payouts/methods/{card}/toggle/"),
    Case("payout_batch_create", "POST", "/manage/payouts/batches/new/", {"method": "{bank}"}),
    Case("payout_batch", "GET", "/manage/payouts/batches/{batch}/"),
    Case("payout_batch_export", "GET", "/manage/payouts/batches/{batch}/export.csv"),
    Case("payout_batch_send", "POST", "/manage/payouts/batches/{batch}/send/"),
    Case("payout_batch_paid", "POST", "/manage/payouts/batches/{batch}/paid/"),
    Case("payout_approve", "POST", "/manage/payouts/{requested}/approve/"),
    Case("payout_reject", "POST", "/manage/payouts/{requested}/reject/", {"reason": "no"}),
    Case("payout_paid", "POST", "/manage/payouts/{approved}/paid/"),
]
WITH_IDS = [case for case in CASES if "{" in case.path]


@pytest.fixture
def ids(acme, owner) -> dict[str, str]:  # type: ignore[no-untyped-def]
    world = build(acme, owner)
    with tenant_scope(acme):  # a large correction waiting for a second person
        correction = CorrectionRequest.objects.create(
            tenant=acme,
            key="manual:waiting",
            partner=world.alice,
            kind="adjustment",
            currency="USD",
            amount="9000",
            reason="gift",
            requested_by=owner,
        )
    return {**world.ids(), "correction": str(correction.pk)}


def test_the_cases_cover_every_page_url():
    assert {case.name for case in CASES} == {p.name for p in console_patterns}


def refused(client, acme, ids, cases: list[Case], status: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The cases that did not answer ``status`` or changed something. One world for all
    of them (each case is refused and the world is checked unchanged after it), rather
    than a world built per case: 230 worlds cost ~45 s of the suite."""
    wrong = []
    before = state(acme)
    for case in cases:
        got = case.call(client, ids).status_code
        if got != status or state(acme) != before:
            wrong.append(f"{case}: {got}")
    return wrong


def test_an_outsider_signed_in_on_acme_gets_404_and_changes_nothing(
    client_for, acme, ids, outsider
):
    assert refused(client_for(outsider, "acme.localhost"), acme, ids, CASES, 404) == []


def test_acme_ids_on_another_tenants_host_are_a_404(client_for, acme, ids, globex, outsider):
    assert refused(client_for(outsider, "globex.localhost"), acme, ids, WITH_IDS, 404) == []


def test_acme_rewards_and_methods_in_a_form_on_another_host_change_nothing(
    client_for, acme, ids, globex, outsider
):
    before = state(acme)
    client = client_for(outsider, "globex.localhost")
    bulk = client.post("/manage/rewards/bulk/", {"rewards": ids["reward"], "action": "approve"})
    batch = client.post("/manage/payouts/batches/new/", {"method": ids["card"]})
    assert (bulk.status_code, batch.status_code) == (302, 302)
    assert state(acme) == before


def test_a_partner_gets_403(client_for, acme, ids, partner):
    assert refused(client_for(partner), acme, ids, CASES, 403) == []
