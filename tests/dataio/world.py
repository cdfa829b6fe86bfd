"""Rows the export and import pages address by id, for the role matrix: a finished
partner export and one checked import of each kind (a header-only file: confirming it
finds nothing to import and says so)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from prm.dataio.models import ExportChunk, ExportFile, ImportBatch, ScheduledExport
from prm.models import Tenant, User


def build(tenant: Tenant, owner: User) -> dict[str, str]:
    export = ExportFile.all_tenants_unscoped.create(
        tenant=tenant,
        source="partners",
        perm="partners.view",
        format="csv",
        status=ExportFile.Status.DONE,
        total=1,
        done=1,
        size=6,
        filename="partners.csv",
        requested_by=owner,
        expires_at=timezone.now() + timedelta(days=1),
    )
    ExportChunk.all_tenants_unscoped.create(tenant=tenant, export=export, seq=0, data=b"email\n")
    ids = {"export_id": str(export.pk)}
    headers = {
        "partners": b"email\n",
        "leads": b"program\n",
        "conversions": b"program,order_id,amount\n",
    }
    for kind, content in headers.items():
        batch = ImportBatch.all_tenants_unscoped.create(
            tenant=tenant,
            kind=kind,
            status=ImportBatch.Status.CHECKED,
            filename=f"{kind}.csv",
            format="csv",
            content=content,
            rows=1,
            created_by=owner,
        )
        ids[f"{kind}_import_id"] = str(batch.pk)
    schedule = ScheduledExport.all_tenants_unscoped.create(
        tenant=tenant,
        name="Weekly partners",
        source="partners",
        format="csv",
        frequency="weekly",
        delivery="email_attachment",
        recipients="owner@acme.test",
        created_by=owner,
    )
    ids["schedule_id"] = str(schedule.pk)
    return ids
