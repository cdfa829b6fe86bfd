"""CRM -> PRM: records read back from the CRM (after an event, by polling, or by the
reconciliation that catches what webhooks missed) are applied to leads.

- Stage: the tenant's stage map says which lead status a stage means; a won stage with
  its amount records a conversion (idempotent on "crm-<provider>-<id>", so an event
  delivered twice or seen again by reconciliation pays once), and so rewards; lost
  rejects the lead.
- Fields: a three-way comparison with the values both sides last agreed on
  (``CrmRecordLink.synced_values``) tells who changed what. A change on one side only is
  taken (unless the other side is the field's source of truth, which then wins and is
  pushed back); a change on both sides is a conflict resolved by the field's strategy:
  last write wins, source of truth wins, manual (a conflict for a person) or merge
  (notes: the union of both sides' lines).
- A record deleted in the CRM keeps its lead, marked in the history; it is not pushed
  again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from integrations.crm import values as V
from integrations.crm.base import (
    Connector,
    CrmAuthError,
    CrmRetryable,
    CrmValidationError,
    RemoteRecord,
)
from integrations.crm.engine import ECHO_KEY, _log, applying_from, queue_leads, start_job
from integrations.crm.registry import connector_for, module
from integrations.crm.stages import StageRules, status_from_crm
from integrations.crm.throttle import redis_client
from integrations.models import (
    CrmConflict,
    CrmConnection,
    CrmFieldMap,
    CrmRecordLink,
    CrmSyncLog,
)
from prm.inputs import clean_text
from programs.models import Conversion, Lead, LeadEvent, Program, PromoCode
from programs.services import lookups
from programs.services.conversions import (
    ConversionInput,
    conversion_amount_from_zero,
    conversion_record,
)
from programs.services.leads import LeadInput, lead_create, lead_set_status, lead_update_contact

log = logging.getLogger(__name__)

FETCH_CHUNK = 200


def pull_records(
    connection_id: str, crm_ids: list[str], versions: dict[str, str] | None = None
) -> int:
    """Job: re-read these CRM records (an event is only a hint) and apply them, except
    the echoes of our own writes (``versions``: what the event reported per id)."""
    crm_ids = _not_echoes(connection_id, crm_ids, versions or {})
    if not crm_ids:
        return 0

    def read(connector: Connector, crm: CrmConnection) -> tuple[list[RemoteRecord], None]:
        records: list[RemoteRecord] = []
        for start in range(0, len(crm_ids), FETCH_CHUNK):
            records += connector.fetch(crm_ids[start : start + FETCH_CHUNK])
        return records, None

    return _read_and_apply(connection_id, CrmSyncLog.Kind.EVENT, read)


POLL_JOB = "integrations.crm.inbound.poll"


def _not_echoes(connection_id: str, crm_ids: list[str], versions: dict[str, str]) -> list[str]:
    """The ids whose event is not the echo of our own write (engine.remember_echoes:
    what the push wrote, compared by the connector with what the event reports)."""
    crm = CrmConnection.objects.filter(pk=connection_id).first()
    client = redis_client()
    if crm is None or client is None or not crm_ids or not versions:
        return crm_ids
    import redis

    is_echo = module(crm.provider, "sync").CONNECTOR.is_echo
    keys = [ECHO_KEY.format(connection=crm.pk, crm_id=i) for i in crm_ids]
    try:
        written = client.mget(keys)
    except redis.RedisError:
        return crm_ids
    keep = [
        crm_id
        for crm_id, mark in zip(crm_ids, written, strict=True)
        if not is_echo(mark.decode() if mark is not None else "", versions.get(crm_id))
    ]
    if len(keep) < len(crm_ids):
        skipped = len(crm_ids) - len(keep)
        log.info("%s: %d event(s) about our own writes not read back", crm.pk, skipped)
    return keep


def poll(connection_id: str) -> int:
    """Job: everything changed in the CRM since the stored cursor (Salesforce's way of
    hearing about changes, and everyone's reconciliation), one slice of at most
    PRM_CRM_POLL_SLICE records at a time: the cursor is saved after each slice and the
    job queues itself again at the back of the crm queue while more remains, so a
    reconciliation of 10,000 leads does not hold back other connections' events."""
    more = False

    def read(connector: Connector, crm: CrmConnection) -> tuple[list[RemoteRecord], str]:
        nonlocal more
        records, cursor, more = connector.changes_page(crm.poll_cursor, settings.PRM_CRM_POLL_SLICE)
        return records, cursor

    applied = _read_and_apply(connection_id, CrmSyncLog.Kind.POLL, read)
    if more:
        crm = CrmConnection.objects.select_related("tenant").filter(pk=connection_id).first()
        if crm is not None and crm.is_active:
            start_job(POLL_JOB, crm)
    return applied


def _read_and_apply(
    connection_id: str,
    kind: str,
    read: Callable[[Connector, CrmConnection], tuple[list[RemoteRecord], str | None]],
) -> int:
    crm = CrmConnection.objects.select_related("tenant").filter(pk=connection_id).first()
    if crm is None or not crm.is_active:
        return 0
    try:
        connector = connector_for(crm)
    except CrmAuthError as exc:  # the stored credentials no longer decrypt
        from integrations.crm.engine import credentials_unreadable

        credentials_unreadable(crm, exc)
        return 0
    calls, errors = connector.stats.calls, connector.stats.errors
    try:
        records, cursor = read(connector, crm)
    except CrmAuthError as exc:
        _broken(crm, connector, calls, errors, exc)
        return 0
    except CrmRetryable as exc:
        # Logged for monitoring, then raised: RQ retries the job, and reconciliation
        # catches whatever is still missed after that.
        _log(crm, connector, calls, errors, kind=kind, failed=1, message=str(exc)[:2000])
        raise
    except CrmValidationError as exc:
        # A permanent refusal (a record gone, a 404): logged for the status page, not
        # raised, since a retry would get the same answer (the next poll moves on).
        _log(crm, connector, calls, errors, kind=kind, failed=1, message=str(exc)[:2000])
        return 0
    finally:
        connector.close()
    applied, conflicts = apply_records(crm, records)
    if cursor is not None:
        CrmConnection.objects.filter(pk=crm.pk).update(
            poll_cursor=cursor, reconciled_at=timezone.now()
        )
    _log(
        crm,
        connector,
        calls,
        errors,
        kind=kind,
        records=len(records),
        conflicts=conflicts,
        latency=_event_latency(records),
    )
    return applied


def _event_latency(records: list[RemoteRecord]) -> float | None:
    stamps = [r.updated_at for r in records if r.updated_at]
    if not stamps:
        return None
    return max(0.0, (timezone.now() - min(stamps)).total_seconds())


def _broken(
    crm: CrmConnection, connector: Connector, calls: int, errors: int, exc: Exception
) -> None:
    from integrations.services.connections import connection_mark_broken

    connection_mark_broken(crm, str(exc))
    _log(crm, connector, calls, errors, kind=CrmSyncLog.Kind.AUTH, failed=1, message=str(exc))


# ---------------------------------------------------------------- applying


def apply_records(crm: CrmConnection, records: list[RemoteRecord]) -> tuple[int, int]:
    """Apply each record in its own transaction; returns (applied, conflicts)."""
    if not records:
        return 0, 0
    records = [_cleaned(r) for r in records]
    field_maps = [f for f in CrmFieldMap.objects.filter(connection=crm) if f.pulls]
    rules = StageRules.of(crm)
    links = {
        link.crm_id: link
        for link in CrmRecordLink.objects.select_related(
            "lead__program", "lead__partner__user"
        ).filter(connection=crm, crm_id__in=[r.crm_id for r in records])
    }
    # Values of the linked leads in a few queries, not a few per record; each is used
    # once (popped), so a record seen twice in one batch compares with fresh values.
    prefetched = V.values_for(
        [link.lead for link in links.values()], {f.prm_field for f in field_maps}
    )
    applied = conflicts = 0
    repush: list[str] = []
    for record in records:
        with transaction.atomic(), applying_from(crm):
            link = links.get(record.crm_id) or _link_by_key(crm, record)
            if link is None:
                link = _lead_from_crm(crm, record, field_maps)
                if link is None:
                    continue
            n, push_back = _apply_one(crm, link, record, field_maps, rules, prefetched)
            conflicts += n
            applied += 1
            if push_back:
                repush.append(str(link.lead_id))
    if repush:
        queue_leads(crm, repush)
    return applied, conflicts


def _cleaned(record: RemoteRecord) -> RemoteRecord:
    """A CRM's text is outside text: no NUL, no lone surrogate, bounded, before it is
    written to leads, links, conflicts or notes."""
    return replace(
        record,
        crm_id=clean_text(str(record.crm_id), 128),
        crm_contact_id=clean_text(str(record.crm_contact_id), 128),
        pipeline_id=clean_text(str(record.pipeline_id), 128),
        stage_id=clean_text(str(record.stage_id), 128),
        currency=clean_text(str(record.currency), 8),
        external_key=clean_text(str(record.external_key), 128),
        values={
            clean_text(str(k), 256): clean_text(str(v) if v is not None else "")
            for k, v in record.values.items()
        },
    )


def _link_by_key(crm: CrmConnection, record: RemoteRecord) -> CrmRecordLink | None:
    """The CRM record carries our lead id (we created it) but the link was lost."""
    if not record.external_key:
        return None
    lead = Lead.objects.select_related("program").filter(pk=_uuid(record.external_key)).first()
    if lead is None or CrmRecordLink.objects.filter(connection=crm, lead=lead).exists():
        return None
    return CrmRecordLink.objects.create(
        tenant_id=crm.tenant_id,
        connection=crm,
        lead=lead,
        crm_id=record.crm_id,
        crm_contact_id=record.crm_contact_id,
    )


def _code_is_ours(crm: CrmConnection, code: str) -> bool:
    """A partner's referral code or promo code in this workspace (cached lookups)."""
    if lookups.enrollment_for_code(crm.tenant_id, code) is not None:
        return True
    return PromoCode.objects.filter(code__iexact=code).exists()


def _uuid(text: str) -> str | None:
    import uuid

    try:
        return str(uuid.UUID(text.strip()))
    except (ValueError, AttributeError):
        return None


def _lead_from_crm(
    crm: CrmConnection, record: RemoteRecord, field_maps: list[CrmFieldMap]
) -> CrmRecordLink | None:
    """A deal a person created in the CRM with a partner's referral code becomes a lead
    credited to that partner; records without one are not ours to track."""
    by_field = {f.prm_field: f.crm_field for f in field_maps}
    code = record.values.get(by_field.get("referral_code", "") or "-", "").strip()
    if not code or crm.program_id is None or record.deleted:
        return None
    program = Program.objects.filter(pk=crm.program_id).first()
    if program is None:
        return None
    if not crm.settings.get("import_unknown_codes") and not _code_is_ours(crm, code):
        # A CRM shared with other systems (or another workspace) holds codes that are
        # not ours: their records stay theirs instead of becoming partnerless leads.
        return None
    data = LeadInput(
        name=record.values.get(by_field.get("name", "") or "-", ""),
        email=record.values.get(by_field.get("email", "") or "-", ""),
        phone=record.values.get(by_field.get("phone", "") or "-", ""),
        company=record.values.get(by_field.get("company", "") or "-", ""),
        external_id=f"crm-{crm.provider}-{record.crm_id}",
        referral_code=code,
    )
    try:
        lead = lead_create(tenant=crm.tenant, program=program, source=Lead.Source.CRM, data=data)
    except ValidationError as exc:
        log.info("CRM record %s not taken as a lead: %s", record.crm_id, exc)
        return None
    values = V.lead_values(lead, {f.prm_field for f in field_maps})
    return CrmRecordLink.objects.create(
        tenant_id=crm.tenant_id,
        connection=crm,
        lead=lead,
        crm_id=record.crm_id,
        crm_contact_id=record.crm_contact_id,
        synced_values=values,
        synced_at=timezone.now(),
    )


def _apply_one(
    crm: CrmConnection,
    link: CrmRecordLink,
    record: RemoteRecord,
    field_maps: list[CrmFieldMap],
    rules: StageRules,
    prefetched: dict[str, dict[str, str]],
) -> tuple[int, bool]:
    tenant = crm.tenant
    lead = Lead.objects.select_related("program").get(pk=link.lead_id)
    if record.deleted:
        if not link.deleted_in_crm:
            link.deleted_in_crm = True
            link.save(update_fields=["deleted_in_crm"])
            LeadEvent.objects.create(
                tenant=tenant,
                lead=lead,
                kind=LeadEvent.Kind.NOTE,
                text=f"[{crm.get_provider_display()}] deleted in the CRM ({record.crm_id})",
            )
        return 0, False
    current = prefetched.pop(str(lead.pk), None)
    if current is None:
        current = V.lead_values(lead, {f.prm_field for f in field_maps})
    conflicts, push_back = _apply_fields(crm, link, lead, record, field_maps, current)
    push_back = _apply_stage(crm, link, lead, record, rules) or push_back
    link.remote_updated_at = record.updated_at or link.remote_updated_at
    link.crm_contact_id = record.crm_contact_id or link.crm_contact_id
    link.synced_at = timezone.now()
    link.save()
    return conflicts, push_back


def _apply_fields(
    crm: CrmConnection,
    link: CrmRecordLink,
    lead: Lead,
    record: RemoteRecord,
    field_maps: list[CrmFieldMap],
    current: dict[str, str],
) -> tuple[int, bool]:
    base = dict(link.synced_values)
    take: dict[str, str] = {}
    conflicts = 0
    push_back = False
    source = crm.get_provider_display()
    for f in field_maps:
        if f.prm_field not in V.WRITABLE_HERE or f.crm_field not in record.values:
            continue
        theirs = record.values[f.crm_field] or ""
        ours = current.get(f.prm_field, "")
        was = base.get(f.prm_field)
        if _same(f.prm_field, theirs, ours):
            base[f.prm_field] = ours
            continue
        crm_changed = was is None or not _same(f.prm_field, theirs, was)
        prm_changed = was is not None and not _same(f.prm_field, ours, was)
        if not crm_changed:
            continue  # only we changed it: the next push carries it
        if not prm_changed:
            if f.master == CrmFieldMap.Master.PRM and f.strategy != CrmFieldMap.Strategy.MERGE:
                push_back = True  # the PRM is the source of truth: its value goes back
                continue
            take[f.prm_field] = theirs
            continue
        # Both sides changed the field since they last agreed.
        conflicts += 1
        strategy = f.strategy
        if strategy == CrmFieldMap.Strategy.MERGE and f.prm_field != "notes":
            strategy = CrmFieldMap.Strategy.MASTER  # only text lines merge meaningfully
        if strategy == CrmFieldMap.Strategy.MANUAL:
            CrmConflict.objects.update_or_create(
                connection=crm,
                lead=lead,
                prm_field=f.prm_field,
                state=CrmConflict.State.OPEN,
                defaults={"tenant_id": crm.tenant_id, "prm_value": ours, "crm_value": theirs},
            )
            continue
        if strategy == CrmFieldMap.Strategy.MERGE:
            take[f.prm_field] = V.merge_lines(ours, theirs)
            push_back = True
            continue
        if strategy == CrmFieldMap.Strategy.LAST_WRITE:
            crm_newer = record.updated_at is not None and record.updated_at > lead.updated_at
            winner_crm = crm_newer
        else:
            winner_crm = f.master == CrmFieldMap.Master.CRM
        if winner_crm:
            take[f.prm_field] = theirs
        else:
            push_back = True
    if take:
        notes = take.pop("notes", None)
        if take:
            lead = lead_update_contact(tenant=crm.tenant, lead=lead, changes=take, source=source)
        if notes is not None:
            V.add_note_lines(crm, lead, current.get("notes", ""), notes)
        fresh = V.lead_values(lead, {f.prm_field for f in field_maps})
        for key in [*take, *(["notes"] if notes is not None else [])]:
            base[key] = fresh.get(key, "")
    link.synced_values = base
    return conflicts, push_back


def _same(field: str, a: str, b: str) -> bool:
    if field == "email":
        return a.strip().lower() == b.strip().lower()
    if field == "phone":
        return "".join(c for c in a if c.isdigit()) == "".join(c for c in b if c.isdigit())
    if field == "notes":
        return V.note_lines(a) == V.note_lines(b)
    return a.strip() == b.strip()


def _apply_stage(
    crm: CrmConnection,
    link: CrmRecordLink,
    lead: Lead,
    record: RemoteRecord,
    rules: StageRules,
) -> bool:
    """The deal's stage here (see integrations/crm/stages.py); True to push our status
    back. A won deal is a conversion whatever the status rules."""
    stage_key = f"{record.pipeline_id}:{record.stage_id}"
    mapped = rules.by_key.get((record.pipeline_id, record.stage_id))
    semantic = record.semantic or (mapped.semantic if mapped else "open")
    if semantic == "won":
        _record_win(crm, lead, record)
    status = rules.status_of(record.pipeline_id, record.stage_id, semantic)
    take, push_back = status_from_crm(rules, link, lead, stage_key, status, record.updated_at)
    if take:
        lead_set_status(tenant=crm.tenant, lead=lead, status=take, actor=None)
    link.stage = stage_key
    return push_back


def _record_win(crm: CrmConnection, lead: Lead, record: RemoteRecord) -> None:
    order_id = f"crm-{crm.provider}-{record.crm_id}"
    currency = (
        record.currency or crm.settings.get("currency") or crm.tenant.default_currency
    ).upper()
    existing = Conversion.objects.filter(program_id=lead.program_id, external_id=order_id).first()
    if existing is not None:
        if existing.amount == 0 and record.amount:
            # Won before the CRM had its amount (or a Bitrix24 lead converted into a
            # deal, once taken for a sale of nothing): the sale's amount, once.
            try:
                conversion_amount_from_zero(
                    tenant=crm.tenant,
                    conversion=existing,
                    amount=record.amount,
                    currency=currency,
                    why=f"the {crm.get_provider_display()} deal's amount",
                )
            except ValidationError as exc:
                log.warning("won deal %s amount not taken: %s", record.crm_id, exc)
        return
    amount = record.amount if record.amount is not None else Decimal("0")
    try:
        conversion_record(
            tenant=crm.tenant,
            program=lead.program,
            data=ConversionInput(
                external_id=order_id,
                amount=amount.quantize(Decimal("0.01")),
                currency=currency,
                customer_email=lead.email,
                customer_phone=lead.phone,
                customer_external_id=lead.external_id,
                occurred_at=record.updated_at or timezone.now(),
            ),
        )
    except ValidationError as exc:
        log.warning("won deal %s not recorded: %s", record.crm_id, exc)
