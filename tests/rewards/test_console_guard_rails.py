"""Console guard rails on money: large corrections are confirmed with the balance before
and after, larger ones need a second staff member (four eyes), bulk approval asks before
approving rewards held for review, and amounts carry thousands separators."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from prm.models import Role, Tenant
from prm.tenancy import tenant_scope
from rewards.models import CorrectionRequest, LedgerEntry, Reward
from rewards.services.ledger import balance
from tests.factories import MembershipFactory, UserFactory
from tests.rewards.console_world import actions, build, messages_of

D = Decimal


@pytest.fixture
def world(acme, owner):  # type: ignore[no-untyped-def]
    Tenant.objects.filter(pk=acme.pk).update(
        correction_confirm_above=D("500"), correction_second_approval_above=D("5000")
    )
    return build(acme, owner)


@pytest.fixture
def finance2(acme):  # type: ignore[no-untyped-def]
    user = UserFactory(email="finance2@acme.test")
    MembershipFactory(tenant=acme, role=Role.FINANCE, user=user)
    return user


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


def manual_entries(acme) -> list[Decimal]:  # type: ignore[no-untyped-def]
    with tenant_scope(acme):
        return list(
            LedgerEntry.objects.filter(kind__in=["adjustment", "penalty"])
            .order_by("id")
            .values_list("available", flat=True)
        )


def test_a_small_correction_is_posted_at_once(client_for, acme, finance, world):
    assert adjust(client_for(finance), world, amount="500").status_code == 302
    assert manual_entries(acme) == [D("500.00")]


def test_a_large_correction_shows_the_balance_before_and_after_and_waits_for_a_yes(
    client_for, acme, finance, world
):
    with tenant_scope(acme):
        before = balance(world.alice, "USD").available
    client = client_for(finance)
    token = str(uuid.uuid4())
    response = adjust(client, world, kind="penalty", amount="1200", token=token)
    html = response.content.decode()
    assert response.status_code == 200 and 'id="confirm-form"' in html
    assert f"{before:,.2f}" in html and f"{before - 1200:,.2f}" in html  # 1,200 with commas
    assert "-1,200.00" in html
    assert manual_entries(acme) == []  # nothing posted by the first step

    response = adjust(client, world, kind="penalty", amount="1200", token=token, confirmed="on")
    assert response.status_code == 302
    assert manual_entries(acme) == [D("-1200.00")]
    assert actions(acme)[-1] == "ledger.penalty"


def test_a_correction_above_the_four_eyes_amount_needs_another_person(
    client_for, acme, finance, finance2, world
):
    token = str(uuid.uuid4())
    first = client_for(finance)
    step = adjust(first, world, amount="-999999", token=token)
    assert "Ask for the second approval" in step.content.decode()
    response = adjust(first, world, amount="-999999", token=token, confirmed="on")
    assert messages_of(response) == [
        "The correction waits for another staff member with money rights."
    ]
    adjust(first, world, amount="-999999", token=token, confirmed="on")  # sent twice
    assert manual_entries(acme) == []
    with tenant_scope(acme):
        request = CorrectionRequest.objects.get()
    assert request.amount == D("-999999.00") and request.status == "pending"

    ledger = first.get(f"/manage/partners/{world.alice.pk}/ledger/").content.decode()
    assert "-999,999.00" in ledger and "Another staff member approves it." in ledger

    same = first.post(f"/manage/rewards/corrections/{request.pk}/approve/")
    assert messages_of(same) == ["A second staff member must approve a correction you asked for."]
    assert manual_entries(acme) == []

    second = client_for(finance2)
    listing = second.get("/manage/rewards/corrections/").content.decode()
    assert f'data-correction="{request.pk}"' in listing and "Approve and post" in listing
    second.post(f"/manage/rewards/corrections/{request.pk}/approve/")
    second.post(f"/manage/rewards/corrections/{request.pk}/approve/")  # twice: once
    assert manual_entries(acme) == [D("-999999.00")]
    with tenant_scope(acme):
        entry = LedgerEntry.objects.get(kind="adjustment")
        assert entry.actor_id == finance2.pk
        assert CorrectionRequest.objects.get().entry_id == entry.pk
    assert actions(acme)[-3:] == [
        "ledger.correction_requested",
        "ledger.adjustment",
        "ledger.correction_approved",
    ]


def test_a_waiting_correction_can_be_turned_down_and_posts_nothing(
    client_for, acme, finance, finance2, world
):
    adjust(client_for(finance), world, amount="6000", confirmed="on")
    with tenant_scope(acme):
        request = CorrectionRequest.objects.get()
    client_for(finance2).post(
        f"/manage/rewards/corrections/{request.pk}/reject/", {"note": "no reason for it"}
    )
    client_for(finance2).post(f"/manage/rewards/corrections/{request.pk}/approve/")
    assert manual_entries(acme) == []
    with tenant_scope(acme):
        assert CorrectionRequest.objects.get().status == "rejected"
    assert actions(acme)[-1] == "ledger.correction_rejected"


def test_readers_and_other_tenants_cannot_decide_corrections(
    client_for, acme, finance, analyst, manager, outsider, world
):
    adjust(client_for(finance), world, amount="6000", confirmed="on")
    with tenant_scope(acme):
        request = CorrectionRequest.objects.get()
    url = f"/manage/rewards/corrections/{request.pk}/approve/"
    assert client_for(analyst).post(url).status_code == 403
    assert client_for(outsider, "acme.localhost").post(url).status_code in (403, 404)
    assert client_for(outsider, "globex.localhost").post(url).status_code == 404
    assert manual_entries(acme) == []


def test_the_limits_are_workspace_settings(client_for, acme, finance, world):
    response = client_for(finance).post(
        "/manage/payouts/settings/",
        {
            "manual_approval_above": "",
            "correction_confirm_above": "100",
            "correction_second_approval_above": "-1",
        },
    )
    assert "correction_second_approval_above" in response.context["settings_form"].errors
    client_for(finance).post(
        "/manage/payouts/settings/",
        {"correction_confirm_above": "100", "correction_second_approval_above": ""},
    )
    tenant = Tenant.objects.get(pk=acme.pk)
    assert tenant.correction_confirm_above == D("100")
    assert tenant.correction_second_approval_above is None


# Bulk approval and rewards held for review


def test_bulk_approval_asks_before_approving_rewards_held_for_review(
    client_for, acme, finance, world
):
    held, other = world.pending[:2]
    client = client_for(finance)
    client.post("/manage/rewards/bulk/", {"rewards": [held.pk], "action": "hold", "reason": "IP"})
    chosen = {"rewards": [held.pk, other.pk], "action": "approve"}
    response = client.post("/manage/rewards/bulk/", chosen)
    html = response.content.decode()
    assert response.status_code == 200 and 'id="bulk-confirm-form"' in html
    assert f'data-reward="{held.pk}"' in html and f'data-reward="{other.pk}"' not in html
    with tenant_scope(acme):  # asking approved nothing
        assert Reward.objects.get(pk=other.pk).status == "pending"

    client.post("/manage/rewards/bulk/", {**chosen, "flagged": "skip"})
    with tenant_scope(acme):
        assert Reward.objects.get(pk=other.pk).status == "approved"
        assert Reward.objects.get(pk=held.pk).status == "pending"

    client.post("/manage/rewards/bulk/", {**chosen, "flagged": "include"})
    with tenant_scope(acme):
        assert Reward.objects.get(pk=held.pk).status == "approved"


@pytest.mark.parametrize(
    ("language", "expected"), [("en", "1,234,567.50"), ("ru", "1\xa0234\xa0567,50")]
)
def test_money_carries_the_languages_thousands_separator(language, expected):
    from django.utils import translation

    from rewards.templatetags.money import money

    with translation.override(language):
        assert money(D("1234567.5")) == expected
