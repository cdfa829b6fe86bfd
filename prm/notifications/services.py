"""Writing notifications: rows in the caller's transaction, a send job after commit.

``notify`` is the one write. It is called by the event functions (notifications.events)
inside the transaction of the change they announce, so a rolled-back change announces
nothing, and the unique (recipient, key) makes a repeated event a no-op. The send job
is enqueued with ``prm.jobs.job_enqueue`` (dispatched on commit).

``batching()`` groups the events of a block that spans several transactions (a console
bulk action, the hourly approval run) into one send run, so a recipient of a digest
kind gets one e-mail for the lot.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from prm.models import Membership, Tenant
from prm.notifications.kinds import SPECS, STAFF, Kind
from prm.notifications.models import Notification, NotificationPreference
from prm.permissions import ROLE_PERMISSIONS

SEND_JOB = "prm.notifications.sending.send_batch"

# (tenant id, batch id) of the open ``batching()`` block, or None.
_open_batch: contextvars.ContextVar[dict[Any, tuple[Tenant, uuid.UUID]] | None] = (
    contextvars.ContextVar("prm_notification_batch", default=None)
)


@contextmanager
def batching() -> Iterator[None]:
    """Send everything notified inside the block in one run per tenant, after it."""
    if _open_batch.get() is not None:
        yield  # nested: the outer block sends
        return
    batches: dict[Any, tuple[Tenant, uuid.UUID]] = {}
    token = _open_batch.set(batches)
    try:
        yield
    finally:
        _open_batch.reset(token)
        for tenant, batch in batches.values():
            _enqueue(tenant, batch)


def _enqueue(tenant: Tenant, batch: uuid.UUID) -> None:
    from prm.jobs import job_enqueue

    job_enqueue(SEND_JOB, tenant=tenant, batch=str(batch))


def notify(*, tenant: Tenant, kind: Kind, items: Iterable[tuple[Any, str, dict[str, Any]]]) -> int:
    """Write one row per ``(recipient user id, event key, payload)``; rows that exist
    (the same event again) are left alone. Returns how many were offered."""
    rows = []
    open_batches = _open_batch.get()
    if open_batches is not None:
        batch = open_batches.setdefault(tenant.pk, (tenant, uuid.uuid4()))[1]
    else:
        batch = uuid.uuid4()
    for user_id, key, payload in items:
        if user_id is None:
            continue
        rows.append(
            Notification(
                tenant=tenant,
                kind=kind,
                recipient_id=user_id,
                key=f"{kind}:{key}"[:200],
                batch=batch,
                payload=payload,
            )
        )
    if not rows:
        return 0
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if open_batches is None:
        _enqueue(tenant, batch)
    return len(rows)


def staff_recipients(kind: Kind) -> list[Any]:
    """User ids of the current tenant's members whose role may see what ``kind`` is about."""
    spec = SPECS[kind]
    assert spec.audience == STAFF and spec.perm is not None
    roles = [str(r) for r in ROLE_PERMISSIONS[spec.perm]]
    return list(
        Membership.objects.filter(role__in=roles, user__is_active=True)
        .order_by("user_id")
        .values_list("user_id", flat=True)
    )


def notify_staff(
    *, tenant: Tenant, kind: Kind, events: Iterable[tuple[str, dict[str, Any]]]
) -> int:
    """Every ``(event key, payload)`` to every member whose role may see it."""
    events = list(events)
    if not events:
        return 0
    users = staff_recipients(kind)
    return notify(
        tenant=tenant,
        kind=kind,
        items=[(user, key, payload) for key, payload in events for user in users],
    )


def preference_for(*, tenant: Tenant, user: Any) -> NotificationPreference:
    pref = NotificationPreference.objects.filter(user=user).first()
    return pref or NotificationPreference(tenant=tenant, user=user)


def preference_save(
    *, tenant: Tenant, user: Any, muted: Iterable[str], language: str, allowed: Iterable[str]
) -> NotificationPreference:
    """Save the kinds ``user`` turned off among ``allowed`` (the page's choices); kinds
    outside them (of another audience) keep their setting."""
    allowed = {str(k) for k in allowed}
    pref = preference_for(tenant=tenant, user=user)
    kept = [k for k in pref.muted if k not in allowed]
    pref.muted = sorted(set(kept) | {str(k) for k in muted if str(k) in allowed})
    pref.language = language
    pref.save()
    return pref


def preference_mute(*, tenant: Tenant, user: Any, kind: str) -> NotificationPreference:
    """One kind off (the unsubscribe link); repeating it changes nothing."""
    from django.db import transaction

    with transaction.atomic():
        pref, _ = NotificationPreference.objects.select_for_update().get_or_create(
            tenant=tenant, user=user
        )
        if kind not in pref.muted:
            pref.muted = sorted({*pref.muted, kind})
            pref.save(update_fields=["muted", "updated_at"])
    return pref
