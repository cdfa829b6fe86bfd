"""Rescoring from the console: after a settings change, a job rescores everything
created since a day (what ``manage.py antifraud_rescore --since`` does), in the
``antifraud`` queue, so the page answers at once whatever the tenant's size."""

from __future__ import annotations

from datetime import date
from io import StringIO

from django.core.management import call_command
from django.db import transaction
from django.http import HttpRequest

from antifraud.jobs import QUEUE
from prm.audit import audit_record
from prm.jobs import job_enqueue
from prm.models import Job, Tenant, User
from prm.tenancy import require_tenant


def rescore_start(
    *, tenant: Tenant, actor: User, since: date, request: HttpRequest | None = None
) -> Job:
    with transaction.atomic():
        job = job_enqueue(
            "antifraud.services.rescore.rescore_since",
            queue=QUEUE,
            tenant=tenant,
            since=since.isoformat(),
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            action="antifraud.rescore",
            object_type="risksettings",
            after={"since": since.isoformat()},
            request=request,
        )
    return job


def rescore_since(*, since: str) -> dict[str, str]:
    """Job: the rescore command for the job's tenant; its report is the result."""
    tenant = require_tenant()
    out = StringIO()
    call_command("antifraud_rescore", tenant=tenant.slug, since=since, stdout=out)
    return {"report": out.getvalue()[-2000:]}
