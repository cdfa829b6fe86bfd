"""Rewards, ledger entries and payouts as tables: the money lists' exports (read-only:
money moves only through the ledger's services, never from a file)."""

from __future__ import annotations

from import_export.fields import Field

from prm.dataio.resources import TenantResource
from prm.dataio.widgets import IsoDateTimeWidget, MoneyWidget, PlainWidget
from rewards.models import LedgerEntry, PayoutRequest, Reward


def _text(attribute: str, column: str | None = None) -> Field:
    return Field(attribute=attribute, column_name=column or attribute, widget=PlainWidget())


def _money(attribute: str) -> Field:
    return Field(attribute=attribute, column_name=attribute, widget=MoneyWidget())


def _time(attribute: str) -> Field:
    return Field(attribute=attribute, column_name=attribute, widget=IsoDateTimeWidget())


class RewardResource(TenantResource):
    id = _text("id")
    partner = _text("partner__user__email", "partner")
    program = _text("program__name", "program")
    kind = _text("kind")
    amount = _money("amount")
    currency = _text("currency")
    status = _text("status")
    flagged = _text("flagged")
    reason = _text("reason")
    order_id = _text("conversion__external_id", "order_id")
    lead = _text("lead_id", "lead")
    available_at = _time("available_at")
    decided_at = _time("decided_at")
    created_at = _time("created_at")

    class Meta:
        model = Reward
        fields = (
            "id",
            "partner",
            "program",
            "kind",
            "amount",
            "currency",
            "status",
            "flagged",
            "reason",
            "order_id",
            "lead",
            "available_at",
            "decided_at",
            "created_at",
        )
        export_order = fields


class LedgerEntryResource(TenantResource):
    id = _text("id")
    partner = _text("partner__user__email", "partner")
    kind = _text("kind")
    currency = _text("currency")
    pending = _money("pending")
    available = _money("available")
    processing = _money("processing")
    paid = _money("paid")
    reward = _text("reward_id", "reward")
    payout = _text("payout_id", "payout")
    memo = _text("memo")
    actor = _text("actor__email", "actor")
    created_at = _time("created_at")

    class Meta:
        model = LedgerEntry
        fields = (
            "id",
            "partner",
            "kind",
            "currency",
            "pending",
            "available",
            "processing",
            "paid",
            "reward",
            "payout",
            "memo",
            "actor",
            "created_at",
        )
        export_order = fields


class PayoutResource(TenantResource):
    """Payout details appear masked, as on the payout queue (the full account numbers
    are only in a batch's bank file, for those who may send money)."""

    id = _text("id")
    partner = _text("partner__user__email", "partner")
    method = _text("method__name", "method")
    details = _text("details_masked", "details")
    currency = _text("currency")
    amount = _money("amount")
    fee = _money("fee")
    status = _text("status")
    reason = _text("reason")
    scheduled = _text("scheduled")
    batch = _text("batch_id", "batch")
    created_at = _time("created_at")
    decided_at = _time("decided_at")
    paid_at = _time("paid_at")

    class Meta:
        model = PayoutRequest
        fields = (
            "id",
            "partner",
            "method",
            "details",
            "currency",
            "amount",
            "fee",
            "status",
            "reason",
            "scheduled",
            "batch",
            "created_at",
            "decided_at",
            "paid_at",
        )
        export_order = fields
