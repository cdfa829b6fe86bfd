"""Sending events: fan-out, signing, attempts, retries with backoff, auto-disable.

Jobs (all on the ``webhooks`` queue, through prm.jobs):

- ``deliver_batch(batch)``: what ``emit`` enqueues, once per transaction: makes one
  delivery per (subscribed enabled endpoint, event) — unique, so a job run twice makes
  none twice — and sends those due;
- ``deliver_due(delivery_ids=None)``: sends the workspace's due deliveries (the
  sweeper's job, and the console's "send again" and "send test event").

Each attempt first claims its delivery with a conditional update (due, not delivered)
that also pushes its next attempt LEASE ahead, so two workers never send it at once and
a worker that dies mid-send leaves it to be retried after the lease. A receiver may
still see an event twice (a lost answer, a manual re-send): it de-duplicates on the
event id, which never changes.

Outcomes: 2xx delivered; 5xx, 408, 429, timeouts and connection errors are retried with
exponential backoff (BACKOFF_BASE × 2ⁿ, at most BACKOFF_CAP) until the event is
RETRY_FOR old; other answers (4xx, redirects) and refused addresses are final. Any
failure marks the endpoint failing (``failing_since``), any success clears it; an
endpoint failing for DISABLE_AFTER is turned off and its owner e-mailed.

``sweep`` (periodic, prm/cron.py) starts ``deliver_due`` for workspaces with due
deliveries and re-starts batches whose job was lost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_noop

from prm import http
from prm.jobs import job_enqueue
from prm.models import Job
from prm.tenancy import require_tenant
from prm.webhooks.events import invalidate
from prm.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

log = logging.getLogger(__name__)

DUE_JOB = "prm.webhooks.delivery.deliver_due"
BATCH_JOB = "prm.webhooks.delivery.deliver_batch"
SIGNATURE_HEADER = "PRM-Signature"
LEASE = timedelta(minutes=5)
RUN_LIMIT = 500  # deliveries a run looks at; the sweeper starts another for the rest
RUN_SECONDS = 120.0
LOST_AFTER = timedelta(minutes=5)
KEEP = timedelta(days=30)
Status = WebhookDelivery.Status
# Stored as written, translated where shown ({% translate %} of the stored text).
REFUSED = gettext_noop("Refused: the address is private or reserved.")
TIMED_OUT = gettext_noop("No answer in time.")
REDIRECT = gettext_noop("Redirects are not followed: give the final URL.")
ACTIVE = [Status.PENDING, Status.SENDING]


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def timeout() -> httpx.Timeout:
    seconds = float(_setting("PRM_WEBHOOK_TIMEOUT", 5.0))
    return httpx.Timeout(seconds, connect=min(seconds, 3.0))


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 1 min, 2, 4 … at most 6 h."""
    base = float(_setting("PRM_WEBHOOK_BACKOFF_BASE", 60.0))
    cap = float(_setting("PRM_WEBHOOK_BACKOFF_CAP", 6 * 3600.0))
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def retry_after(response: httpx.Response) -> timedelta | None:
    """The wait a 429 or 503 asks for in ``Retry-After`` (seconds or an HTTP date), at
    most PRM_WEBHOOK_RETRY_AFTER_CAP (6 h): a receiver that names its own pace gets it,
    instead of our backoff guessing; one asking for a week does not park the event."""
    if response.status_code not in (429, 503):
        return None
    raw = response.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    if raw.isdigit():
        seconds = float(raw)
    else:
        try:
            seconds = (parsedate_to_datetime(raw) - timezone.now()).total_seconds()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    cap = float(_setting("PRM_WEBHOOK_RETRY_AFTER_CAP", 6 * 3600.0))
    return timedelta(seconds=min(max(seconds, 1.0), cap))


def retry_for() -> timedelta:
    return timedelta(seconds=float(_setting("PRM_WEBHOOK_RETRY_FOR", 3 * 86400)))


def disable_after() -> timedelta:
    return timedelta(seconds=float(_setting("PRM_WEBHOOK_DISABLE_AFTER", 3 * 86400)))


# ---------------------------------------------------------------- the request


def _time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def body_of(event: WebhookEvent) -> bytes:
    """The JSON body: the same bytes on every attempt."""
    payload = {
        "id": event.public_id,
        "type": event.type,
        "created": _time(event.created_at),
        "data": event.data,
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256, keyed with the secret, of ``"<timestamp>.<body>"``."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secrets: list[str], timestamp: int, body: bytes) -> str:
    return ",".join(
        [f"t={timestamp}", *(f"v1={sign(secret, timestamp, body)}" for secret in secrets)]
    )


def verify(header: str, body: bytes, secret: str, *, tolerance: int = 300) -> bool:
    """What a receiver does (README has the same in a few lines): any v1 matches, and the
    timestamp is recent (replays of an old request are refused)."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    if not stamps or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")


# ---------------------------------------------------------------- jobs


def deliver_batch(*, batch: str) -> int:
    """Job: fan out one transaction's events, then send their deliveries."""
    events = list(WebhookEvent.objects.filter(batch=batch, fanned_out_at__isnull=True))
    fan_out(events)
    due = WebhookDelivery.objects.filter(event__batch=batch, endpoint__enabled=True)
    return _send_due(due)


def deliver_due(*, delivery_ids: list[str] | None = None) -> int:
    """Job: send the workspace's due deliveries (or just ``delivery_ids``, whatever the
    endpoint's state: a person asked for them)."""
    if delivery_ids is not None:
        return _send_due(WebhookDelivery.objects.filter(pk__in=delivery_ids))
    return _send_due(WebhookDelivery.objects.filter(endpoint__enabled=True))


def fan_out(events: list[WebhookEvent]) -> int:
    """One delivery per (enabled endpoint subscribed to the type, event); a test event
    goes to its own endpoint. Idempotent: the pair is unique."""
    if not events:
        return 0
    now = timezone.now()
    endpoints = list(WebhookEndpoint.objects.filter(enabled=True).only("id", "events"))
    rows = []
    for event in events:
        for endpoint in endpoints:
            if event.endpoint_id is not None:
                wanted = endpoint.pk == event.endpoint_id
            else:
                wanted = event.type in (endpoint.events or [])
            if wanted:
                rows.append(
                    WebhookDelivery(
                        tenant_id=event.tenant_id,
                        endpoint_id=endpoint.pk,
                        event_id=event.pk,
                        next_attempt_at=now,
                    )
                )
    with transaction.atomic():
        WebhookDelivery.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
        WebhookEvent.objects.filter(
            pk__in=[e.pk for e in events], fanned_out_at__isnull=True
        ).update(fanned_out_at=now)
    return len(rows)


def _send_due(deliveries: Any) -> int:
    now = timezone.now()
    rows = list(
        deliveries.filter(status__in=ACTIVE, next_attempt_at__lte=now)
        .select_related("event", "endpoint")
        .order_by("event__created_at", "event_id")[:RUN_LIMIT]
    )
    if not rows:
        return 0
    sent = 0
    stop_at = time.monotonic() + RUN_SECONDS
    failing: dict[Any, datetime] = {}  # endpoint → its next try, after a failure now
    secrets: dict[Any, list[str]] = {}
    with http.client(timeout=timeout()) as client:
        for delivery in rows:
            if delivery.endpoint_id in failing or time.monotonic() > stop_at:
                continue
            endpoint = delivery.endpoint
            if endpoint.pk not in secrets:
                secrets[endpoint.pk] = endpoint.signing_secrets(timezone.now())
            outcome = attempt(delivery, client, secrets[endpoint.pk])
            if outcome is None:
                continue
            if outcome.status == Status.DELIVERED:
                sent += 1
            elif outcome.status == Status.PENDING and outcome.next_attempt_at is not None:
                # The endpoint is down: its other deliveries wait for its next try.
                failing[delivery.endpoint_id] = outcome.next_attempt_at
    for endpoint_id, next_at in failing.items():
        WebhookDelivery.objects.filter(
            endpoint_id=endpoint_id,
            pk__in=[d.pk for d in rows],
            status=Status.PENDING,
            next_attempt_at__lte=now,
        ).update(next_attempt_at=next_at)
    return sent


class Outcome:
    def __init__(self, status: str, next_attempt_at: datetime | None = None) -> None:
        self.status = status
        self.next_attempt_at = next_attempt_at


def attempt(delivery: WebhookDelivery, client: httpx.Client, secrets: list[str]) -> Outcome | None:
    """One attempt at one delivery (None: someone else has it, or it is done)."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status__in=ACTIVE, next_attempt_at__lte=now
    ).update(
        status=Status.SENDING,
        attempts=F("attempts") + 1,
        last_attempt_at=now,
        next_attempt_at=now + LEASE,
    )
    if not claimed:
        return None
    attempts = delivery.attempts + 1
    event, endpoint = delivery.event, delivery.endpoint
    body = body_of(event)
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_header(secrets, stamp, body),
        "PRM-Event-Id": event.public_id,
        "PRM-Event-Type": event.type,
    }
    code: int | None = None
    asked: timedelta | None = None  # the receiver's own Retry-After
    text = error = ""
    final = False
    started = time.monotonic()
    try:
        response = client.post(endpoint.url, content=body, headers=headers)
        code, text = response.status_code, response.text[:500]
        asked = retry_after(response)
    except http.BlockedAddress:
        error, final = REFUSED, True
    except httpx.TimeoutException:
        error = TIMED_OUT
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    except Exception as exc:  # a broken URL or TLS setup: retried like the network
        error = f"{type(exc).__name__}: {exc}"[:300]
    elapsed = int((time.monotonic() - started) * 1000)
    now = timezone.now()
    fields: dict[str, Any] = {
        "last_status_code": code,
        "last_response_ms": elapsed,
        "last_error": error,
        "last_response": text,
    }
    if code is not None and 200 <= code < 300:
        outcome = Outcome(Status.DELIVERED)
        fields.update(status=Status.DELIVERED, delivered_at=now, next_attempt_at=None)
    else:
        if code is not None and not (code >= 500 or code in (408, 429)):
            final = True
            if 300 <= code < 400:
                fields["last_error"] = REDIRECT
        if not final and now - event.created_at >= retry_for():
            final = True
        if final:
            outcome = Outcome(Status.FAILED)
            fields.update(status=Status.FAILED, next_attempt_at=None)
        else:
            outcome = Outcome(Status.PENDING, now + (asked or backoff(attempts)))
            fields.update(status=Status.PENDING, next_attempt_at=outcome.next_attempt_at)
    WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(**fields)
    if outcome.status == Status.DELIVERED:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(
            failing_since=None
        )
    else:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
            failing_since=now
        )
        disable_if_failing(endpoint.pk, now)
    return outcome


def disable_if_failing(endpoint_id: Any, now: datetime | None = None) -> bool:
    """Turn off an endpoint that has failed for DISABLE_AFTER and e-mail its owner."""
    now = now or timezone.now()
    with transaction.atomic():
        turned_off = WebhookEndpoint.objects.filter(
            pk=endpoint_id, enabled=True, failing_since__lte=now - disable_after()
        ).update(enabled=False, disabled_reason=WebhookEndpoint.Disabled.FAILING, updated_at=now)
        if not turned_off:
            return False
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        tenant = require_tenant()
        invalidate(tenant.pk)
        from prm.audit import audit_record

        audit_record(
            tenant=tenant,
            actor=None,
            action="webhook.disabled",
            obj=endpoint,
            before={"enabled": True},
            after={"enabled": False, "failing_since": _time(endpoint.failing_since or now)},
        )
        _tell_owner(endpoint)
    return True


def _tell_owner(endpoint: WebhookEndpoint) -> None:
    from prm.models import Membership
    from prm.notifications.kinds import SPECS, Kind
    from prm.notifications.services import notify, staff_recipients
    from prm.permissions import role_has

    kind = Kind.STAFF_WEBHOOK_DISABLED
    owner = (
        Membership.objects.filter(user_id=endpoint.created_by_id, user__is_active=True).first()
        if endpoint.created_by_id
        else None
    )
    if owner is not None and role_has(owner.role, SPECS[kind].perm):  # type: ignore[arg-type]
        recipients = [owner.user_id]
    else:  # the owner left (or may no longer manage it): the workspace's admins
        recipients = staff_recipients(kind)
    since = endpoint.failing_since or timezone.now()
    payload = {"endpoint": str(endpoint.pk), "url": endpoint.url, "since": _time(since)}
    notify(
        tenant=require_tenant(),
        kind=kind,
        items=[(user, f"{endpoint.pk}:{since.isoformat()}", payload) for user in recipients],
    )


# ---------------------------------------------------------------- periodic


def _waiting(func: str, tenant_id: Any, **kwargs: Any) -> bool:
    jobs = Job.objects.filter(
        func=func, tenant_id=tenant_id, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
    )
    for key, value in kwargs.items():
        jobs = jobs.filter(**{f"kwargs__{key}": value})
    return jobs.exists()


def sweep(now: datetime | None = None) -> int:
    """Periodic: start the sending of due deliveries (one job per workspace at a time)
    and re-start batches whose job was lost before it fanned them out."""
    from prm.models import Tenant

    now = now or timezone.now()
    started = 0
    # Across workspaces on purpose: each job re-enters its own workspace's scope.
    lost = (
        WebhookEvent.all_tenants_unscoped.filter(
            fanned_out_at__isnull=True, created_at__lt=now - LOST_AFTER
        )
        .values_list("tenant_id", "batch")
        .distinct()[:200]
    )
    due = (
        WebhookDelivery.all_tenants_unscoped.filter(
            status__in=ACTIVE, next_attempt_at__lte=now, endpoint__enabled=True
        )
        .values_list("tenant_id", flat=True)
        .distinct()[:500]
    )
    lost, due = list(lost), set(due)
    tenants = Tenant.objects.in_bulk({t for t, _ in lost} | due)
    for tenant_id, batch in lost:
        if not _waiting(BATCH_JOB, tenant_id, batch=str(batch)) and tenant_id in tenants:
            job_enqueue(BATCH_JOB, queue="webhooks", tenant=tenants[tenant_id], batch=str(batch))
            started += 1
    for tenant_id in due:
        if not _waiting(DUE_JOB, tenant_id) and tenant_id in tenants:
            job_enqueue(DUE_JOB, queue="webhooks", tenant=tenants[tenant_id])
            started += 1
    return started


def prune(now: datetime | None = None) -> int:
    """Periodic (nightly): forget events (and their deliveries) after KEEP, unless one
    of their deliveries is still being tried."""
    now = now or timezone.now()
    # Across workspaces on purpose: an age limit, the same for every workspace.
    old = WebhookEvent.all_tenants_unscoped.filter(created_at__lt=now - KEEP).exclude(
        deliveries__status__in=ACTIVE
    )
    ids = list(old.values_list("pk", flat=True)[:10000])
    deleted, _ = WebhookEvent.all_tenants_unscoped.filter(pk__in=ids).delete()
    return deleted
