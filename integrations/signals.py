"""Lead changes reach the CRM outbox after commit: one callback per transaction, with
every lead touched in it, so a bulk edit becomes one outbox write and one push job.

The connection a change came from (when a CRM update is being applied) is noted at the
time of the change, so it is not pushed straight back to that CRM."""

from __future__ import annotations

import threading
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from programs.models import Lead, LeadEvent

_local = threading.local()


def _pending() -> dict[tuple[Any, str | None], set[str]]:
    if not hasattr(_local, "pending"):
        _local.pending = {}
    return _local.pending


def _flush() -> None:
    from integrations.crm.engine import leads_changed
    from integrations.models import CrmConnection
    from prm.models import Tenant
    from prm.tenancy import tenant_scope

    batches = list(_pending().items())
    _pending().clear()
    for (tenant_id, origin), lead_ids in batches:
        # Most workspaces have no CRM: one query says so, and nothing more is done.
        active = CrmConnection.all_tenants_unscoped.filter(
            tenant_id=tenant_id, status=CrmConnection.Status.ACTIVE
        ).exclude(pk=origin)
        if not active.exists():
            continue
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None:
            continue
        with tenant_scope(tenant):
            leads_changed(tenant, sorted(lead_ids), origin=origin)


def _touch(tenant_id: Any, lead_id: Any) -> None:
    from integrations.crm.engine import applying_from_id

    # Registered on every touch: after a rollback the callback is gone but the ids may
    # still sit here; the next commit's flush takes them and skips leads that never were.
    _pending().setdefault((tenant_id, applying_from_id()), set()).add(str(lead_id))
    transaction.on_commit(_flush)


@receiver(post_save, sender=Lead, dispatch_uid="crm_lead_saved")
def lead_saved(sender: type, instance: Lead, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        _touch(instance.tenant_id, instance.pk)


@receiver(post_save, sender=LeadEvent, dispatch_uid="crm_lead_note")
def lead_note_saved(
    sender: type, instance: LeadEvent, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw and instance.kind == LeadEvent.Kind.NOTE:
        _touch(instance.tenant_id, instance.lead_id)
