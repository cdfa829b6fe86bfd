"""Health of a connection, against the thresholds SPEC sets (from seed 003):

- sync failure rate > 5 % of records;
- real-time sync latency > 15 minutes (a change not in the CRM after 15 minutes, or an
  event applied more than 15 minutes after the CRM change);
- queue depth > 1000 pending records;
- data-conflict rate > 2 % of records applied from the CRM;
- API error rate > 1 % of calls.

Rates are over the last hour of the sync log. A threshold crossed for the first time
sends one e-mail to the tenant's owners and admins (a notification of kind
"CRM connection alerts") and shows in the console until it
clears; ``connection.alerts`` remembers what was already announced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, Min, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations.models import CrmConflict, CrmConnection, CrmOutbox, CrmSyncLog

WINDOW = timedelta(hours=1)

THRESHOLDS = {
    "failure_rate": 0.05,
    "latency_seconds": 15 * 60,
    "queue_depth": 1000,
    "conflict_rate": 0.02,
    "api_error_rate": 0.01,
}
LABELS = {
    "failure_rate": _("Sync failure rate"),
    "latency_seconds": _("Sync latency"),
    "queue_depth": _("Queue depth"),
    "conflict_rate": _("Conflict rate"),
    "api_error_rate": _("API error rate"),
    "broken": _("Connection broken"),
    "refused": _("Records refused by the CRM"),
}


@dataclass
class Health:
    records: int = 0
    failed: int = 0
    pulled: int = 0
    conflicts: int = 0
    api_calls: int = 0
    api_errors: int = 0
    failure_rate: float = 0.0
    conflict_rate: float = 0.0
    api_error_rate: float = 0.0
    latency_seconds: float = 0.0
    queue_depth: int = 0
    dead_letters: int = 0
    open_conflicts: int = 0
    last_sync_at: str = ""
    status: str = ""
    crossed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:  # type: ignore[type-arg]
        return asdict(self)


def connection_health(crm: CrmConnection) -> Health:
    since = timezone.now() - WINDOW
    log = CrmSyncLog.objects.filter(connection=crm, created_at__gte=since)
    push = log.filter(kind=CrmSyncLog.Kind.PUSH).aggregate(
        records=Sum("records"), failed=Sum("failed"), latency=Max("latency_seconds")
    )
    pulled = log.exclude(kind=CrmSyncLog.Kind.PUSH).aggregate(
        records=Sum("records"), conflicts=Sum("conflicts"), latency=Max("latency_seconds")
    )
    calls = log.aggregate(calls=Sum("api_calls"), errors=Sum("api_errors"))
    pending = CrmOutbox.objects.filter(connection=crm, state=CrmOutbox.State.PENDING)
    oldest = pending.aggregate(oldest=Min("changed_at"))["oldest"]
    h = Health(
        records=push["records"] or 0,
        failed=push["failed"] or 0,
        pulled=pulled["records"] or 0,
        conflicts=pulled["conflicts"] or 0,
        api_calls=calls["calls"] or 0,
        api_errors=calls["errors"] or 0,
        queue_depth=pending.count(),
        dead_letters=CrmOutbox.objects.filter(
            connection=crm, state__in=[CrmOutbox.State.DEAD, CrmOutbox.State.SKIPPED]
        ).count(),
        open_conflicts=CrmConflict.objects.filter(
            connection=crm, state=CrmConflict.State.OPEN
        ).count(),
        status=crm.status,
    )
    h.failure_rate = h.failed / h.records if h.records else 0.0
    h.conflict_rate = h.conflicts / h.pulled if h.pulled else 0.0
    h.api_error_rate = h.api_errors / h.api_calls if h.api_calls else 0.0
    waiting = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    h.latency_seconds = max(waiting, push["latency"] or 0.0, pulled["latency"] or 0.0)
    last = log.order_by("-created_at").values_list("created_at", flat=True).first()
    h.last_sync_at = last.isoformat() if last else ""
    h.crossed = [name for name, limit in THRESHOLDS.items() if getattr(h, name) > limit]
    if crm.status == CrmConnection.Status.BROKEN:
        h.crossed.insert(0, "broken")
    return h


def _send(crm: CrmConnection, names: list[str], detail: str = "") -> None:
    """One alert e-mail to the members who manage CRM connections (owners and admins),
    through the notification outbox: sent by a job after commit, each member's
    settings respected."""
    from prm.notifications import events

    events.crm_alert(crm=crm, problems=names, detail=detail)


def check_alerts(crm: CrmConnection) -> list[str]:
    """E-mail the thresholds newly crossed; remember which are crossed now."""
    health = connection_health(crm)
    now_crossed = set(health.crossed)
    before = set(crm.alerts.get("crossed", []))
    new = [n for n in health.crossed if n not in before]
    with transaction.atomic():  # the alert and the memory of it, together
        if new:
            _send(crm, new)
        if now_crossed != before:
            crm.alerts = {**crm.alerts, "crossed": sorted(now_crossed)}
            CrmConnection.objects.filter(pk=crm.pk).update(alerts=crm.alerts)
    return new


def alert_broken(crm: CrmConnection, reason: str) -> None:
    with transaction.atomic():
        _send(crm, ["broken"], reason)
        crm.alerts = {
            **crm.alerts,
            "crossed": sorted(set(crm.alerts.get("crossed", [])) | {"broken"}),
        }
        CrmConnection.objects.filter(pk=crm.pk).update(alerts=crm.alerts)


def alert_records_refused(crm: CrmConnection, *, skipped: int, dead: int, example: str) -> None:
    """Validation errors and dead letters are alerted when they happen (once an hour at
    most per connection, so a bad import does not send a thousand e-mails)."""
    last = crm.alerts.get("refused_at", "")
    now = timezone.now()
    if last and now - datetime.fromisoformat(last) < WINDOW:
        return
    detail = f"skipped: {skipped}, dead: {dead}. {example}"
    with transaction.atomic():
        _send(crm, ["refused"], detail)
        crm.alerts = {**crm.alerts, "refused_at": now.isoformat()}
        CrmConnection.objects.filter(pk=crm.pk).update(alerts=crm.alerts)
