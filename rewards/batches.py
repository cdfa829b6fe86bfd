"""Payout batches after ``payouts.batch_create``: the mass-payment file, sending through
the method's provider, and reading back each payout's outcome.

The money moves only through ``rewards.services.payouts`` (mark paid, reject as
failed); this module decides which of them each payout gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from prm.audit import audit_record
from prm.crypto import DecryptionError, decrypt
from prm.models import Tenant, User
from prm.webhooks.events import batching as webhook_batching
from rewards.models import PayoutBatch, PayoutDetails, PayoutMethod, PayoutRequest
from rewards.providers import FAILED, PAID, PayoutItem, ProviderError, provider_for
from rewards.services.payouts import payout_mark_paid, payout_reject
from rewards.tabular import csv_bytes, xlsx_bytes

# Shown to the partner on a payout the provider could not deliver.
PROVIDER_FAILED = gettext_lazy(
    "The payment provider could not deliver this payout; the money is back in your "
    "balance. Check your payout details and request it again."
)
NOT_SENDABLE = gettext_lazy("This batch has no approved payouts left to send.")
CANNOT_DECRYPT = gettext_lazy(
    "The payout details of %(partner)s can no longer be read: the encryption key changed. "
    "Set PRM_ENCRYPTION_KEY to the old key, or ask the partner to enter the details again."
)


def export_header() -> list[str]:
    return [
        _("Payout id"),
        _("Partner"),
        _("E-mail"),
        _("Method"),
        _("Payout details"),
        _("Account holder"),
        _("Currency"),
        _("Requested"),
        _("Fee"),
        _("To send"),
        _("Reference"),
    ]


def full_details_in_export(method: PayoutMethod) -> bool:
    """A bank transfer file needs the whole IBAN; other files carry the masked form."""
    return method.kind == PayoutMethod.Kind.BANK


def batch_payouts(batch: PayoutBatch) -> Any:
    return batch.payouts.select_related("partner__user", "method").order_by("created_at", "pk")


def export_rows(batch: PayoutBatch) -> list[list[object]]:
    """The batch's payouts (rejected and failed ones left out) in mass-payment layout."""
    full = full_details_in_export(batch.method)
    payouts = [
        p
        for p in batch_payouts(batch)
        if p.status not in (PayoutRequest.Status.REJECTED, PayoutRequest.Status.FAILED)
    ]
    holders = dict(
        PayoutDetails.objects.filter(
            method=batch.method, partner__in=[p.partner_id for p in payouts]
        ).values_list("partner_id", "holder")
    )
    rows: list[list[object]] = []
    for payout in payouts:
        details = payout.details_masked
        # An erased partner's account is gone (partners.privacy): the marker stands in.
        if full and payout.details_encrypted:
            try:
                details = decrypt(payout.details_encrypted)
            except DecryptionError:
                raise ValidationError(
                    CANNOT_DECRYPT, params={"partner": str(payout.partner)}
                ) from None
        rows.append(
            [
                str(payout.pk),
                str(payout.partner),
                payout.partner.user.email,
                payout.method.name,
                details,
                holders.get(payout.partner_id, ""),
                payout.currency,
                payout.amount,
                payout.fee,
                payout.net,
                f"payout {payout.pk}",
            ]
        )
    return rows


def batch_export(
    *, tenant: Tenant, actor: User, batch: PayoutBatch, fmt: str, request: Any = None
) -> bytes:
    """The batch as CSV or XLSX; every export is audited (it may hold full details)."""
    rows = export_rows(batch)
    header = export_header()
    if fmt == "xlsx":
        content = xlsx_bytes(header, rows, title=_("Payouts"))
    else:
        content = csv_bytes(header, rows)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="payout.export",
        obj=batch,
        after={
            "format": fmt,
            "payouts": len(rows),
            "full_details": full_details_in_export(batch.method),
        },
        request=request,
    )
    return content


@dataclass
class SendOutcome:
    """What one send (or status check) did; ``error`` says why nothing more happened."""

    paid: int = 0
    failed: int = 0
    pending: int = 0
    error: str = ""
    retryable: bool = False


def batch_send(*, tenant: Tenant, actor: User, batch: PayoutBatch) -> SendOutcome:
    """Send the batch's approved payouts through the method's provider (once: a batch
    with a provider reference is only asked for its status), then settle each payout the
    provider reports on: paid, or failed with the money back in the partner's balance.
    Payouts the provider still works on stay approved for the next check."""
    approved = list(batch_payouts(batch).filter(status=PayoutRequest.Status.APPROVED))
    if not approved:
        return SendOutcome(error=str(NOT_SENDABLE))
    # A fee can eat a whole payout: nothing to send, it is simply paid.
    nothing_to_send = [p for p in approved if p.net <= 0]
    approved = [p for p in approved if p.net > 0]
    outcome = SendOutcome(paid=_mark_paid(nothing_to_send, actor))
    if not approved:
        _close_if_done(batch)
        return outcome
    try:
        provider = provider_for(batch.method)
        reference = batch.provider_ref
        if not reference:
            reference = provider.send_batch(batch_id=str(batch.pk), items=_items(approved))
            with transaction.atomic():
                PayoutBatch.objects.filter(pk=batch.pk, provider_ref="").update(
                    provider_ref=reference, status=PayoutBatch.Status.SENT
                )
                audit_record(
                    tenant=tenant,
                    actor=actor,
                    action="payout.batch_send",
                    obj=batch,
                    after={"provider_ref": reference, "payouts": len(approved)},
                )
            batch.refresh_from_db()
        statuses = provider.batch_status(reference)
    except ProviderError as exc:
        outcome.error, outcome.retryable = str(exc), exc.retryable
        return outcome
    except ValidationError as exc:
        outcome.error = " ".join(exc.messages)
        return outcome
    _settle(approved, statuses, reference, actor, outcome)
    _close_if_done(batch)
    return outcome


def batch_mark_paid(*, batch: PayoutBatch, actor: User) -> int:
    """A batch paid by hand (the file went to the bank): every approved payout is paid."""
    count = _mark_paid(
        list(batch_payouts(batch).filter(status=PayoutRequest.Status.APPROVED)), actor
    )
    _close_if_done(batch)
    return count


def _mark_paid(payouts: list[PayoutRequest], actor: User) -> int:
    count = 0
    with webhook_batching():  # one webhook job for the batch
        for payout in payouts:
            try:
                payout_mark_paid(payout=payout, actor=actor)
            except ValidationError:
                continue  # decided meanwhile
            count += 1
    return count


def _items(payouts: list[PayoutRequest]) -> list[PayoutItem]:
    items = []
    for payout in payouts:
        try:
            receiver = decrypt(payout.details_encrypted)
        except DecryptionError:
            raise ValidationError(CANNOT_DECRYPT, params={"partner": str(payout.partner)}) from None
        items.append(
            PayoutItem(
                item_id=str(payout.pk),
                amount=payout.net,
                currency=payout.currency,
                receiver=receiver,
                note=payout.method.name,
            )
        )
    return items


def _settle(
    payouts: list[PayoutRequest],
    statuses: dict[str, str],
    reference: str,
    actor: User,
    outcome: SendOutcome,
) -> None:
    with webhook_batching():  # one webhook job for the batch
        for payout in payouts:
            status = statuses.get(str(payout.pk))
            try:
                if status == PAID:
                    payout_mark_paid(payout=payout, actor=actor, provider_ref=reference)
                    outcome.paid += 1
                elif status == FAILED:
                    payout_reject(
                        payout=payout, actor=actor, reason=str(PROVIDER_FAILED), failed=True
                    )
                    outcome.failed += 1
                else:
                    outcome.pending += 1
            except ValidationError:
                continue  # settled meanwhile (another check of the same batch)


def _close_if_done(batch: PayoutBatch) -> None:
    if not batch.payouts.filter(status=PayoutRequest.Status.APPROVED).exists():
        PayoutBatch.objects.filter(pk=batch.pk).exclude(status=PayoutBatch.Status.DONE).update(
            status=PayoutBatch.Status.DONE
        )
        batch.refresh_from_db()
