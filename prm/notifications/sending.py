"""Sending the outbox: RQ jobs that turn rows into e-mails, each row at most once.

``send_batch`` (the job ``notify`` enqueues after commit) sends a run's rows; rows of a
digest kind for one recipient become one e-mail. A row is claimed (pending or failed →
sending) under a row lock before its e-mail goes out and marked sent after, so two
workers, a retried job or the sweeper never send it twice. A send that raises marks
its rows failed and the job raises, so RQ retries it (prm.jobs: 10 s, 1 min, 5 min);
``retry_failed`` (periodic) tries failed rows again up to MAX_ATTEMPTS. A row left
"sending" by a worker that died mid-send may or may not have gone out: it is marked
failed for staff to see (the outbox page), never re-sent by itself.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from prm.models import Tenant, User
from prm.notifications.branding import email_branding
from prm.notifications.kinds import SPECS, Kind
from prm.notifications.messages import build
from prm.notifications.models import Notification, NotificationPreference
from prm.notifications.tokens import unsubscribe_token
from prm.public_urls import tenant_url
from prm.tenancy import require_tenant, tenant_scope

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
STUCK_AFTER = timedelta(minutes=15)
INTERRUPTED = "The worker stopped while sending; not re-sent automatically (it may have gone out)."


class SendFailed(RuntimeError):
    """Some e-mails of the run failed; RQ retries the job."""


def send_batch(*, batch: str) -> int:
    """Job: send the pending (or failed, with attempts left) rows of one run."""
    rows = list(
        Notification.objects.filter(
            batch=batch,
            status__in=[Notification.Status.PENDING, Notification.Status.FAILED],
            attempts__lt=MAX_ATTEMPTS,
        ).order_by("created_at", "pk")
    )
    return send_rows(require_tenant(), rows)


def _groups(rows: list[Notification]) -> list[list[Notification]]:
    grouped: dict[Any, list[Notification]] = defaultdict(list)
    for row in rows:
        key = (row.recipient_id, row.kind) if SPECS[row.kind].digest else row.pk
        grouped[key].append(row)
    return list(grouped.values())


def _claim(rows: list[Notification]) -> list[Notification]:
    """The rows of ``rows`` nobody else is sending or has sent, now marked sending."""
    with transaction.atomic():
        ids = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(
                pk__in=[r.pk for r in rows],
                status__in=[Notification.Status.PENDING, Notification.Status.FAILED],
                attempts__lt=MAX_ATTEMPTS,
            )
            .values_list("pk", flat=True)
        )
        Notification.objects.filter(pk__in=ids).update(
            status=Notification.Status.SENDING,
            attempts=F("attempts") + 1,
            updated_at=timezone.now(),
        )
    return [r for r in rows if r.pk in set(ids)]


def send_rows(tenant: Tenant, rows: list[Notification]) -> int:
    users = {u.pk: u for u in User.objects.filter(pk__in={r.recipient_id for r in rows})}
    prefs = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=list(users))}
    sent = failed = 0
    for group in _groups(rows):
        user = users.get(group[0].recipient_id)
        pref = prefs.get(group[0].recipient_id)
        ids = [r.pk for r in group]
        if user is None or not user.is_active or (pref and group[0].kind in pref.muted):
            # Turned off (or the account is gone): recorded, never sent.
            Notification.objects.filter(
                pk__in=ids, status__in=[Notification.Status.PENDING, Notification.Status.FAILED]
            ).update(status=Notification.Status.SKIPPED)
            continue
        group = _claim(group)
        if not group:
            continue
        try:
            message = render(tenant, user, pref, group)
            message.send()
        except Exception as exc:
            log.exception("notification e-mail failed: %s", [r.pk for r in group])
            Notification.objects.filter(pk__in=[r.pk for r in group]).update(
                status=Notification.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
            )
            failed += 1
            continue
        Notification.objects.filter(pk__in=[r.pk for r in group]).update(
            status=Notification.Status.SENT, sent_at=timezone.now(), error=""
        )
        sent += 1
    if failed:
        raise SendFailed(f"{failed} of {sent + failed} e-mails failed; they will be retried")
    return sent


def language_for(tenant: Tenant, user: User, pref: NotificationPreference | None) -> str:
    """The recipient's own choice if they made one, else the workspace's language."""
    chosen = (pref.language if pref else "") or getattr(user, "language", "")
    return chosen if chosen in dict(settings.LANGUAGES) else tenant.language


def unsubscribe_url(tenant: Tenant, user_id: Any, kind: str) -> str:
    token = unsubscribe_token(tenant_id=tenant.pk, user_id=user_id, kind=kind)
    return tenant_url(
        tenant, reverse("notification_unsubscribe", args=[token], urlconf="prm.urls_tenant")
    )


def preferences_url(tenant: Tenant, kind: str) -> str:
    name = (
        "console:my_notifications" if SPECS[kind].audience == "staff" else "partners:notifications"
    )
    return tenant_url(tenant, reverse(name, urlconf="prm.urls_tenant"))


def render(
    tenant: Tenant, user: User, pref: NotificationPreference | None, rows: list[Notification]
) -> EmailMultiAlternatives:
    kind = rows[0].kind
    branding = email_branding(tenant)
    with translation.override(language_for(tenant, user, pref)):
        message = build(tenant, rows)
        unsubscribe = unsubscribe_url(tenant, user.pk, kind)
        context = {
            "message": message,
            "branding": branding,
            "tenant": tenant,
            "kind_label": Kind(kind).label,
            "unsubscribe_url": unsubscribe,
            "preferences_url": preferences_url(tenant, kind),
            "language": translation.get_language(),
        }
        text = render_to_string("emails/notifications/base.txt", context)
        html = render_to_string("emails/notifications/base.html", context)
    sender = formataddr((branding["sender_name"], parseaddr(settings.DEFAULT_FROM_EMAIL)[1]))
    email = EmailMultiAlternatives(
        subject=" ".join(message.subject.split())[:200],
        body=text,
        from_email=sender,
        to=[user.email],
        reply_to=[branding["reply_to"]] if branding.get("reply_to") else None,
        headers={
            # RFC 8058: mail clients offer a one-click unsubscribe that POSTs here.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    email.attach_alternative(html, "text/html")
    return email


def retry_failed(*, limit: int = 500) -> int:
    """Periodic: try failed rows again (older than their backoff), and mark rows left
    sending by a dead worker as failed without retrying them. Crosses tenants, each in
    its own scope."""
    now = timezone.now()
    # The sweeper looks across tenants by design; rows are then sent in their tenant.
    Notification.all_tenants_unscoped.filter(
        status=Notification.Status.SENDING, updated_at__lt=now - STUCK_AFTER
    ).update(status=Notification.Status.FAILED, attempts=MAX_ATTEMPTS, error=INTERRUPTED)
    due = Q()
    for attempts in range(1, MAX_ATTEMPTS):
        due |= Q(attempts=attempts, updated_at__lt=now - timedelta(minutes=5 * 2**attempts))
    rows = list(
        Notification.all_tenants_unscoped.filter(status=Notification.Status.FAILED)
        .filter(due)
        .order_by("updated_at")[:limit]
    )
    by_tenant: dict[Any, list[Notification]] = defaultdict(list)
    for row in rows:
        by_tenant[row.tenant_id].append(row)
    sent = 0
    for tenant in Tenant.objects.filter(pk__in=list(by_tenant)):
        with tenant_scope(tenant):
            try:
                sent += send_rows(tenant, by_tenant[tenant.pk])
            except SendFailed:
                log.warning("some notification retries failed again in %s", tenant.slug)
    return sent


def retry_now(*, notification_id: str) -> int:
    """Job (the outbox page's button): send one failed row again now."""
    rows = list(
        Notification.objects.filter(
            pk=notification_id, status=Notification.Status.FAILED, attempts__lt=MAX_ATTEMPTS
        )
    )
    return send_rows(require_tenant(), rows)
