"""Writes to CRM connections: save, test (which also learns stages and fields),
mark broken, pause/resume, delete; field and stage maps; conflict resolution."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from integrations.crm import values as V
from integrations.crm.base import CrmError
from integrations.crm.partner_sync import setting_changed, syncs_partners
from integrations.crm.registry import connector_for
from integrations.crm.stages import STAGE_FIELD
from integrations.models import (
    CrmConflict,
    CrmConnection,
    CrmFieldMap,
    CrmStageMap,
    CrmSyncLog,
)
from integrations.models.connection import PrmField
from prm.audit import audit_record
from prm.models import Tenant, User
from prm.public_urls import tenant_url
from programs.models import Lead

Master = CrmFieldMap.Master
Strategy = CrmFieldMap.Strategy
Direction = CrmFieldMap.Direction

# SPEC (seed 004): the CRM is master of contact data, the PRM of partner and
# attribution fields. Critical fields are decided by their master; notes merge.
DEFAULT_FIELDS: dict[str, tuple[str, str, str]] = {
    PrmField.NAME: (Direction.BOTH, Master.CRM, Strategy.MASTER),
    PrmField.EMAIL: (Direction.BOTH, Master.CRM, Strategy.MASTER),
    PrmField.PHONE: (Direction.BOTH, Master.CRM, Strategy.MASTER),
    PrmField.COMPANY: (Direction.BOTH, Master.CRM, Strategy.LAST_WRITE),
    PrmField.NOTES: (Direction.BOTH, Master.CRM, Strategy.MERGE),
    PrmField.LEAD_ID: (Direction.TO_CRM, Master.PRM, Strategy.MASTER),
    PrmField.PARTNER: (Direction.TO_CRM, Master.PRM, Strategy.MASTER),
    PrmField.REFERRAL_CODE: (Direction.BOTH, Master.PRM, Strategy.MASTER),
    PrmField.PROMO_CODE: (Direction.TO_CRM, Master.PRM, Strategy.MASTER),
    PrmField.PROGRAM: (Direction.TO_CRM, Master.PRM, Strategy.MASTER),
    # Stages both ways; when both moved since they agreed, the CRM's stage wins.
    PrmField.STATUS: (Direction.BOTH, Master.CRM, Strategy.MASTER),
    PrmField.REWARD_AMOUNT: (Direction.TO_CRM, Master.PRM, Strategy.MASTER),
    PrmField.REWARD_CURRENCY: (Direction.TO_CRM, Master.PRM, Strategy.MASTER),
    PrmField.REWARD_STATUS: (Direction.TO_CRM, Master.PRM, Strategy.MASTER),
    PrmField.PARTNER_ACCRUED: (Direction.TO_CRM, Master.PRM, Strategy.MASTER),
    PrmField.PARTNER_APPROVED: (Direction.TO_CRM, Master.PRM, Strategy.MASTER),
    PrmField.PARTNER_PAID: (Direction.TO_CRM, Master.PRM, Strategy.MASTER),
}
# Labels of the CRM custom fields we look for when mapping automatically.
DEFAULT_LABELS = {
    PrmField.LEAD_ID: "PRM lead id",
    PrmField.PARTNER: "PRM partner",
    PrmField.REFERRAL_CODE: "PRM referral code",
    PrmField.PROMO_CODE: "PRM promo code",
    PrmField.PROGRAM: "PRM program",
    PrmField.REWARD_AMOUNT: "PRM reward amount",
    PrmField.REWARD_CURRENCY: "PRM reward currency",
    PrmField.REWARD_STATUS: "PRM reward status",
    PrmField.PARTNER_ACCRUED: "PRM partner accrued",
    PrmField.PARTNER_APPROVED: "PRM partner approved",
    PrmField.PARTNER_PAID: "PRM partner paid",
}
SECRET_KEYS = ("secret", "token", "password", "webhook_url", "code")


def _public(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if not any(s in k for s in SECRET_KEYS)}


@transaction.atomic
def connection_save(
    *,
    tenant: Tenant,
    provider: str,
    auth_kind: str,
    base_url: str,
    auth_url: str = "",
    credentials: dict[str, Any],
    settings: dict[str, Any] | None = None,
    program_id: Any = None,
    actor: User | None = None,
) -> CrmConnection:
    """Create or update the tenant's connection to ``provider``. Saving new credentials
    revives a broken connection."""
    crm = CrmConnection.objects.select_for_update().filter(provider=provider).first()
    created = crm is None
    before = None if created else {"base_url": crm.base_url, "auth_kind": crm.auth_kind}
    if crm is None:
        crm = CrmConnection(tenant=tenant, provider=provider)
    crm.auth_kind = auth_kind
    crm.base_url = base_url.rstrip("/")
    crm.auth_url = (auth_url or "").rstrip("/")
    crm.set_credentials(credentials)
    partners_were_synced = syncs_partners(crm) if not created else False
    crm.settings = {**crm.settings, **(settings or {})}
    if program_id is not None:
        crm.program_id = program_id or None
    if crm.status == CrmConnection.Status.BROKEN:
        crm.status = CrmConnection.Status.ACTIVE
        crm.status_reason = ""
        crm.alerts = {
            **crm.alerts,
            "crossed": [c for c in crm.alerts.get("crossed", []) if c != "broken"],
        }
    crm.save()
    setting_changed(crm, partners_were_synced)  # turned on: every partner, after commit
    if created:
        CrmFieldMap.objects.bulk_create(
            [
                CrmFieldMap(
                    tenant=tenant,
                    connection=crm,
                    prm_field=name,
                    crm_field=STAGE_FIELD if name == PrmField.STATUS else "",
                    direction=d,
                    master=m,
                    strategy=s,
                )
                for name, (d, m, s) in DEFAULT_FIELDS.items()
            ]
        )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="crm.connection_saved",
        obj=crm,
        before=before,
        after={
            "provider": provider,
            "base_url": crm.base_url,
            "auth_kind": auth_kind,
            "settings": _public(crm.settings),
        },
    )
    return crm


def connection_test(crm: CrmConnection, *, actor: User | None = None) -> tuple[bool, str]:
    """Call the CRM: account, fields and stages. Fills in unmapped fields by label and
    new stages with their obvious lead status. Returns (ok, message)."""
    try:
        connector = connector_for(crm)
    except CrmError as exc:  # the stored credentials no longer decrypt
        connection_mark_broken(crm, str(exc))
        CrmSyncLog.objects.create(
            tenant_id=crm.tenant_id,
            connection=crm,
            kind=CrmSyncLog.Kind.TEST,
            failed=1,
            message=str(exc)[:2000],
        )
        return False, str(exc)
    try:
        account = connector.test_connection()
        fields = connector.list_fields()
        stages = connector.list_stages()
    except CrmError as exc:
        CrmSyncLog.objects.create(
            tenant_id=crm.tenant_id,
            connection=crm,
            kind=CrmSyncLog.Kind.TEST,
            failed=1,
            api_calls=connector.stats.calls,
            api_errors=connector.stats.errors,
            message=str(exc)[:2000],
        )
        return False, str(exc)
    finally:
        connector.close()
    with transaction.atomic():
        crm = CrmConnection.objects.select_for_update().get(pk=crm.pk)
        crm.account_name = account[:200]
        crm.settings = {**crm.settings, **connector.settings}
        crm.save(update_fields=["account_name", "settings", "updated_at"])
        _map_fields(crm, fields)
        _sync_stages(crm, stages)
        CrmSyncLog.objects.create(
            tenant_id=crm.tenant_id,
            connection=crm,
            kind=CrmSyncLog.Kind.TEST,
            api_calls=connector.stats.calls,
            api_errors=connector.stats.errors,
            message=account[:2000],
        )
    return True, account


def _map_fields(crm: CrmConnection, fields: list[Any]) -> None:
    by_key = {f.key: f for f in fields}
    by_label = {f.label.strip().lower(): f.key for f in fields}
    for fmap in CrmFieldMap.objects.filter(connection=crm):
        if fmap.crm_field and fmap.crm_field in by_key:
            continue
        if fmap.prm_field in by_key and by_key[fmap.prm_field].standard:
            fmap.crm_field = fmap.prm_field
        elif (label := DEFAULT_LABELS.get(fmap.prm_field)) and label.lower() in by_label:
            fmap.crm_field = by_label[label.lower()]
        else:
            continue
        fmap.save(update_fields=["crm_field"])
    crm.settings = {
        **crm.settings,
        "fields": [{"key": f.key, "label": f.label, "standard": f.standard} for f in fields],
    }
    CrmConnection.objects.filter(pk=crm.pk).update(settings=crm.settings)


def _sync_stages(crm: CrmConnection, stages: list[Any]) -> None:
    existing = {(s.pipeline_id, s.stage_id): s for s in CrmStageMap.objects.filter(connection=crm)}
    default_status = {"won": Lead.Status.CONVERTED, "lost": Lead.Status.REJECTED}
    for stage in stages:
        key = (str(stage.pipeline_id), str(stage.stage_id))
        row = existing.get(key)
        if row is None:
            CrmStageMap.objects.create(
                tenant_id=crm.tenant_id,
                connection=crm,
                pipeline_id=key[0],
                stage_id=key[1],
                pipeline_name=stage.pipeline_name[:200],
                stage_name=stage.stage_name[:200],
                semantic=stage.semantic,
                lead_status=default_status.get(stage.semantic, ""),
            )
        else:
            row.pipeline_name, row.stage_name = stage.pipeline_name[:200], stage.stage_name[:200]
            row.semantic = stage.semantic
            row.save(update_fields=["pipeline_name", "stage_name", "semantic"])


def event_url(crm: CrmConnection) -> str:
    """Our inbound event URL for this connection, on the tenant's public host."""
    path = reverse("crm_event", args=[crm.hook_secret], urlconf="prm.urls_tenant")
    return tenant_url(crm.tenant, path)


def connection_subscribe(crm: CrmConnection, destination: str) -> tuple[bool, str]:
    """Ask the CRM to send its events to us, where its API allows it; remember the URL
    the CRM now holds so the status page can tell when it goes stale."""
    try:
        connector = connector_for(crm)
    except CrmError as exc:  # the stored credentials no longer decrypt
        return False, str(exc)
    try:
        done = connector.subscribe_events(destination)
    except CrmError as exc:
        return False, str(exc)
    finally:
        connector.close()
    CrmConnection.objects.filter(pk=crm.pk).update(
        events_subscribed=done, events_url=destination if done else ""
    )
    crm.events_subscribed, crm.events_url = done, destination if done else ""
    return done, ""


def connection_mark_broken(crm: CrmConnection, reason: str) -> None:
    from integrations.crm.monitoring import alert_broken

    updated = CrmConnection.objects.filter(pk=crm.pk, status=CrmConnection.Status.ACTIVE).update(
        status=CrmConnection.Status.BROKEN, status_reason=reason[:500]
    )
    if updated:
        crm.status = CrmConnection.Status.BROKEN
        crm.status_reason = reason[:500]
        audit_record(
            tenant=crm.tenant,
            actor=None,
            action="crm.connection_broken",
            obj=crm,
            after={"reason": reason[:500]},
        )
        alert_broken(crm, reason)


def connection_set_paused(crm: CrmConnection, paused: bool, *, actor: User) -> CrmConnection:
    crm.status = CrmConnection.Status.PAUSED if paused else CrmConnection.Status.ACTIVE
    crm.status_reason = ""
    crm.save(update_fields=["status", "status_reason", "updated_at"])
    audit_record(
        tenant=crm.tenant,
        actor=actor,
        action="crm.connection_paused" if paused else "crm.connection_resumed",
        obj=crm,
    )
    if not paused:
        from integrations.crm.engine import start_push

        start_push(crm)
    return crm


def connection_delete(crm: CrmConnection, *, actor: User) -> None:
    audit_record(
        tenant=crm.tenant,
        actor=actor,
        action="crm.connection_deleted",
        obj=crm,
        before={"provider": crm.provider, "base_url": crm.base_url},
    )
    crm.delete()


def field_map_save(
    fmap: CrmFieldMap,
    *,
    crm_field: str,
    direction: str,
    master: str,
    strategy: str,
    actor: User,
) -> CrmFieldMap:
    before = {
        "crm_field": fmap.crm_field,
        "direction": fmap.direction,
        "master": fmap.master,
        "strategy": fmap.strategy,
    }
    fmap.crm_field, fmap.direction, fmap.master, fmap.strategy = (
        crm_field,
        direction,
        master,
        strategy,
    )
    fmap.save()
    after = {"crm_field": crm_field, "direction": direction, "master": master, "strategy": strategy}
    if before != after:
        audit_record(
            tenant=fmap.connection.tenant,
            actor=actor,
            action="crm.field_mapped",
            obj=fmap,
            before=before,
            after=after,
        )
    return fmap


def stage_map_save(stage: CrmStageMap, *, lead_status: str, actor: User) -> CrmStageMap:
    if stage.lead_status != lead_status:
        audit_record(
            tenant=stage.connection.tenant,
            actor=actor,
            action="crm.stage_mapped",
            obj=stage,
            before={"lead_status": stage.lead_status},
            after={"lead_status": lead_status},
        )
        stage.lead_status = lead_status
        stage.save(update_fields=["lead_status"])
    return stage


@transaction.atomic
def conflict_resolve(conflict: CrmConflict, *, keep: str, actor: User) -> CrmConflict:
    """keep="prm": our value stays and is pushed; keep="crm": the CRM value is taken."""
    from integrations.crm.engine import queue_leads
    from programs.services.leads import lead_update_contact

    conflict = CrmConflict.objects.select_for_update().get(pk=conflict.pk)
    if conflict.state != CrmConflict.State.OPEN:
        return conflict
    crm = conflict.connection
    lead = conflict.lead
    link = crm.links.filter(lead=lead).first()
    if keep == "crm":
        if conflict.prm_field == "notes":
            V.add_note_lines(crm, lead, V.lead_notes(lead), conflict.crm_value)
        else:
            lead_update_contact(
                tenant=crm.tenant,
                lead=lead,
                changes={conflict.prm_field: conflict.crm_value},
                source=crm.get_provider_display(),
                actor=actor,
            )
        conflict.state = CrmConflict.State.KEPT_CRM
        agreed = conflict.crm_value
    else:
        conflict.state = CrmConflict.State.KEPT_PRM
        agreed = conflict.prm_value
    if link is not None:
        link.synced_values = {**link.synced_values, conflict.prm_field: agreed}
        if keep == "prm":
            from integrations.crm.engine import FORCE_KEY

            forced = set(link.synced_values.get(FORCE_KEY, [])) | {conflict.prm_field}
            link.synced_values[FORCE_KEY] = sorted(forced)
        link.save(update_fields=["synced_values"])
    conflict.resolved_by = actor
    conflict.resolved_at = timezone.now()
    conflict.save()
    if keep == "prm":
        queue_leads(crm, [str(lead.pk)])
    audit_record(
        tenant=crm.tenant,
        actor=actor,
        action="crm.conflict_resolved",
        obj=conflict,
        after={"field": conflict.prm_field, "kept": keep},
    )
    return conflict
