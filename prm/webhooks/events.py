"""The event catalogue and ``emit``, the one call write services make.

``emit(tenant, type, objects)`` is called inside the transaction of the change, with
every object the change touched (a batch of rewards is one call). It costs one cache
read when the workspace has no enabled endpoint subscribed to ``type``: then nothing
is written at all, not even a Job row. Otherwise it writes one event row per object
(one multi-row insert) and, once per transaction and workspace, one job on the
``webhooks`` queue (prm.jobs: dispatched after commit; a rollback takes the events and
the job with it). The job fans the transaction's events out to the endpoints and
delivers them (prm.webhooks.delivery).

``batching()`` makes work that spans several transactions (a payout batch paid one
payout at a time, the hourly approval run, console bulk actions) one job.

Hooks (one place per event):

- partners.services.partner_join, partners.invites.partner_add, the partner import
  (partners.resources) → ``partner.created``
- partners.services.partner_set_status → ``partner.approved`` (to active),
  ``partner.blocked``; partners.invites (an invitation accepted by a pending partner)
  → ``partner.approved``
- programs.services.leads.lead_create → ``lead.created``; lead_set_status and a sale
  that converts its lead (programs.services.conversions) → ``lead.status_changed``
- programs.services.conversions._create → ``conversion.created``; refund_record →
  ``conversion.refunded``
- rewards.services.accrual._create and accrual_batch.accrue_conversions →
  ``reward.created``; approvals.reward_approve and approve_batch → ``reward.approved``;
  approvals._reject_locked (every rejection) → ``reward.rejected``
- rewards.services.payouts.payout_request and scheduled_batch → ``payout.requested``;
  payout_mark_paid → ``payout.paid``
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from prm.webhooks import payloads

EVENTS: dict[str, Any] = {
    "partner.created": _("A partner signed up or was added"),
    "partner.approved": _("A partner was approved (or unblocked)"),
    "partner.blocked": _("A partner was blocked or refused"),
    "lead.created": _("A lead was reported"),
    "lead.status_changed": _("A lead's status changed"),
    "conversion.created": _("A conversion (sale) was recorded"),
    "conversion.refunded": _("A conversion was refunded (in full or in part)"),
    "reward.created": _("A reward was accrued (on hold)"),
    "reward.approved": _("A reward was approved"),
    "reward.rejected": _("A reward was rejected"),
    "payout.requested": _("A payout was requested"),
    "payout.paid": _("A payout was paid"),
}
TEST_EVENT = "webhook.test"
DELIVER_JOB = "prm.webhooks.delivery.deliver_batch"
CACHE_TTL = 300  # seconds; endpoint changes drop the entry at once (invalidate)


def _cache_key(tenant_id: Any) -> str:
    return f"webhooks:subscribed:{tenant_id}"


def subscribed(tenant_id: Any) -> frozenset[str]:
    """The event types some enabled endpoint of the workspace receives (cached)."""
    found = cache.get(_cache_key(tenant_id))
    if found is None:
        from prm.webhooks.models import WebhookEndpoint

        # By tenant id on purpose: called from write services in any scope.
        lists = WebhookEndpoint.all_tenants_unscoped.filter(
            tenant_id=tenant_id, enabled=True
        ).values_list("events", flat=True)
        found = sorted({e for events in lists for e in events or []})
        cache.set(_cache_key(tenant_id), found, CACHE_TTL)
    return frozenset(found)


def invalidate(tenant_id: Any) -> None:
    """Forget the cached subscriptions now and again after commit (a reader between
    the two would otherwise cache the rows as they were before the commit)."""
    cache.delete(_cache_key(tenant_id))
    transaction.on_commit(lambda: cache.delete(_cache_key(tenant_id)))


class _TransactionBatch:
    """An on-commit marker: the batch this transaction's events of one workspace go
    to. It lives in the connection's on-commit list, so a rollback (of the transaction
    or of the savepoint that made it) drops it along with the job and the events."""

    def __init__(self, tenant_id: Any, batch: uuid.UUID) -> None:
        self.tenant_id = tenant_id
        self.batch = batch
        self.done = False

    def __call__(self) -> None:
        self.done = True


def _open_batch(tenant: Any) -> uuid.UUID | None:
    """The batch this transaction already started for ``tenant``, if any."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return None
    # Django keeps (savepoint ids, callback, robust) per pending on-commit callback.
    for entry in reversed(connection.run_on_commit):
        marker = entry[1]
        mine = isinstance(marker, _TransactionBatch) and marker.tenant_id == tenant.pk
        if mine and not marker.done:
            return marker.batch
    return None


def _start_batch(tenant: Any, batch: uuid.UUID) -> None:
    """The batch's one job (dispatched after commit), and the marker later events of
    this transaction find."""
    from prm.jobs import job_enqueue

    job_enqueue(DELIVER_JOB, queue="webhooks", tenant=tenant, batch=str(batch))
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_TransactionBatch(tenant.pk, batch))


# tenant id → (tenant, batch) of the open ``batching()`` block, or None.
_block: contextvars.ContextVar[dict[Any, tuple[Any, uuid.UUID]] | None] = contextvars.ContextVar(
    "prm_webhook_batch", default=None
)


@contextmanager
def batching() -> Iterator[None]:
    """One job for every event emitted in the block, however many transactions it
    spans (a batch of payouts marked paid one by one, the hourly approval run): the
    job is enqueued when the block ends. Events of a transaction that rolled back are
    gone; a block cut short leaves committed events to the sweeper (prm.webhooks.
    delivery.sweep re-starts batches nobody fanned out)."""
    if _block.get() is not None:
        yield  # nested: the outer block enqueues
        return
    batches: dict[Any, tuple[Any, uuid.UUID]] = {}
    token = _block.set(batches)
    try:
        yield
    finally:
        _block.reset(token)
        for tenant, batch in batches.values():
            _start_batch(tenant, batch)


def emit(tenant: Any, event_type: str, objects: Iterable[Any], **extra: Any) -> int:
    """Announce ``event_type`` for each of ``objects`` (model instances of the current
    change). ``extra`` goes to the payload builder (e.g. a lead's previous status).
    Returns how many events were written (0 when nobody listens)."""
    assert event_type in EVENTS, event_type
    if event_type not in subscribed(tenant.pk):
        return 0
    objects = [o for o in objects if o is not None]
    if not objects:
        return 0
    from prm.webhooks.models import WebhookEvent

    build = payloads.BUILDERS[event_type]
    block = _block.get()
    if block is not None:
        open_batch: uuid.UUID | None = block.setdefault(tenant.pk, (tenant, uuid.uuid4()))[1]
    else:
        open_batch = _open_batch(tenant)
    batch = open_batch or uuid.uuid4()
    rows = [
        WebhookEvent(tenant_id=tenant.pk, type=event_type, data=build(obj, **extra), batch=batch)
        for obj in objects
    ]
    # The events first: outside a transaction (or with jobs run inline) the job may
    # start as soon as it is enqueued.
    WebhookEvent.all_tenants_unscoped.bulk_create(rows, batch_size=1000)
    if open_batch is None:
        _start_batch(tenant, batch)
    return len(rows)
