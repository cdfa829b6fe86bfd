"""Scheduled exports: each active schedule delivers its list once per period (day,
ISO week, month) by e-mail (the file attached, or a link to it) or POSTed to a URL.

``scheduled_tick`` (periodic, prm/cron.py) creates the period's ScheduledRun (unique per
schedule and period) and starts a job only when it created it; the job claims the run
with a conditional update and exits when it was sent already. Ticks repeated, ticks of
two schedulers and RQ's retries therefore send each period once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from prm import http
from prm.dataio.exports import export_audit, store_chunks, write_file
from prm.dataio.models import ExportFile, ScheduledExport, ScheduledRun
from prm.dataio.registry import member_may, source_for
from prm.dataio.writers import CONTENT_TYPES
from prm.jobs import job_enqueue
from prm.public_urls import tenant_url

log = logging.getLogger(__name__)

CREATOR_GONE = gettext_lazy(
    "The person who set up this export no longer may read this list; nothing was sent."
)
UNKNOWN_LIST = gettext_lazy("This list cannot be exported any more.")


def period_of(frequency: str, now: datetime) -> str:
    day = timezone.localdate(now, timezone=timezone.get_fixed_timezone(0))
    if frequency == ScheduledExport.Frequency.DAILY:
        return day.isoformat()
    if frequency == ScheduledExport.Frequency.WEEKLY:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def scheduled_tick(now: datetime | None = None) -> int:
    """Periodic: start this period's delivery of every active schedule not yet started."""
    now = now or timezone.now()
    started = 0
    # Cross-tenant on purpose: the scheduler has no tenant scope; each run is created
    # with its schedule's tenant and the job re-enters that tenant's scope.
    schedules = ScheduledExport.all_tenants_unscoped.filter(is_active=True).select_related("tenant")
    for schedule in schedules.iterator(chunk_size=500):
        period = period_of(schedule.frequency, now)
        try:
            with transaction.atomic():
                run = ScheduledRun.all_tenants_unscoped.create(
                    tenant=schedule.tenant, schedule=schedule, period=period
                )
                job_enqueue(
                    "prm.dataio.scheduled.scheduled_deliver",
                    tenant=schedule.tenant,
                    run_id=run.pk,
                )
        except IntegrityError:
            continue  # this period's run exists: started by an earlier tick
        started += 1
    return started


def scheduled_deliver(*, run_id: int) -> None:
    """Job: build the period's file and deliver it (idempotent per run)."""
    claimed = ScheduledRun.objects.filter(
        pk=run_id, status__in=[ScheduledRun.Status.QUEUED, ScheduledRun.Status.FAILED]
    ).update(status=ScheduledRun.Status.SENDING, error="")
    run = ScheduledRun.objects.select_related("schedule", "tenant").filter(pk=run_id).first()
    if not claimed or run is None:
        return  # sent already, or gone
    schedule = run.schedule
    source = source_for(schedule.source)
    problem = None
    if source is None:
        problem = str(UNKNOWN_LIST)
    elif not member_may(schedule.created_by_id)(source.perm):
        problem = str(CREATOR_GONE)
    if problem is not None or source is None:
        ScheduledRun.objects.filter(pk=run.pk).update(
            status=ScheduledRun.Status.FAILED, error=problem or "", finished_at=timezone.now()
        )
        return
    try:
        rows = _deliver(run, schedule, source)
    except Exception as exc:
        ScheduledRun.objects.filter(pk=run.pk).update(
            status=ScheduledRun.Status.FAILED, error=str(exc)[:500], finished_at=timezone.now()
        )
        raise  # RQ retries it (the run stays FAILED until a retry sends it)
    ScheduledRun.objects.filter(pk=run.pk).update(
        status=ScheduledRun.Status.SENT, rows=rows, error="", finished_at=timezone.now()
    )


def _deliver(run: ScheduledRun, schedule: ScheduledExport, source) -> int:  # type: ignore[no-untyped-def]
    tenant = run.tenant
    may = member_may(schedule.created_by_id)
    table = source.table(QueryDict(schedule.params), schedule.url_kwargs, may)
    counter = {"rows": 0}

    def progress(done: int) -> None:
        counter["rows"] = done

    rows_total = table.count()
    fileobj, size = write_file(source, table, schedule.format, progress)
    filename = f"{source.key}-{run.period}.{schedule.format}"
    with fileobj:
        if schedule.delivery == ScheduledExport.Delivery.WEBHOOK:
            response = http.request(
                "POST",
                schedule.url,
                content=fileobj.read(),
                headers={
                    "Content-Type": CONTENT_TYPES[schedule.format],
                    "Content-Disposition": f'attachment; filename="{filename}"',
                    "X-PRM-Export": schedule.source,
                    "X-PRM-Period": run.period,
                },
                timeout=60,
            )
            if response.status_code >= 300:
                raise RuntimeError(f"the URL answered {response.status_code}")
        else:
            attach = (
                schedule.delivery == ScheduledExport.Delivery.EMAIL_ATTACHMENT
                and size <= settings.PRM_EXPORT_ATTACH_BYTES
            )
            link = ""
            if not attach:
                export = ExportFile.objects.create(
                    tenant=tenant,
                    source=source.key,
                    params=schedule.params,
                    url_kwargs=schedule.url_kwargs,
                    perm=source.perm.value,
                    format=schedule.format,
                    status=ExportFile.Status.DONE,
                    total=rows_total,
                    done=rows_total,
                    filename=filename,
                    requested_by=schedule.created_by,
                    expires_at=timezone.now() + timedelta(days=settings.PRM_EXPORT_KEEP_DAYS),
                )
                export.size = store_chunks(export, fileobj)
                export.save(update_fields=["size"])
                fileobj.seek(0)
                path = reverse(
                    "console:export_download", args=[export.pk], urlconf="prm.urls_tenant"
                )
                link = tenant_url(tenant, path)
            context = {
                "tenant": tenant,
                "schedule": schedule,
                "period": run.period,
                "rows": rows_total,
                "link": link,
                "days": settings.PRM_EXPORT_KEEP_DAYS,
            }
            with translation.override(tenant.language):
                subject = render_to_string("emails/scheduled_export_subject.txt", context).strip()
                body = render_to_string("emails/scheduled_export.txt", context)
            message = EmailMessage(subject, body, None, schedule.recipient_list())
            if attach:
                message.attach(filename, fileobj.read(), CONTENT_TYPES[schedule.format])
            message.send()
    export_audit(
        tenant=tenant,
        actor=schedule.created_by,
        source=source,
        fmt=schedule.format,
        params=schedule.params,
        rows=rows_total,
        how="scheduled",
    )
    return rows_total
