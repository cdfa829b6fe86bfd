"""Writes of the scheduled-export page, audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from prm.audit import audit_record, snapshot
from prm.dataio.models import ScheduledExport
from prm.models import Tenant, User

FIELDS = ["name", "source", "params", "format", "frequency", "delivery", "recipients", "url"]


@transaction.atomic
def schedule_create(
    *, tenant: Tenant, actor: User, data: dict[str, Any], request: HttpRequest | None = None
) -> ScheduledExport:
    schedule = ScheduledExport.objects.create(
        tenant=tenant, created_by=actor, **{f: data.get(f, "") for f in FIELDS}
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="scheduled_export.create",
        obj=schedule,
        after=snapshot(schedule, FIELDS),
        request=request,
    )
    return schedule


@transaction.atomic
def schedule_delete(
    *, tenant: Tenant, actor: User, schedule: ScheduledExport, request: HttpRequest | None = None
) -> None:
    audit_record(
        tenant=tenant,
        actor=actor,
        action="scheduled_export.delete",
        obj=schedule,
        before=snapshot(schedule, FIELDS),
        request=request,
    )
    schedule.delete()
