"""Partners as CRM contacts (opt-in per connection: the ``sync_partners`` setting).

A partner's change (its name, the user's e-mail, its tags, the segments tagging it)
marks the partner's link row (CrmPartnerLink, which is also its outbox) pending after
commit, per connection that syncs partners, and starts a ``push_partners`` job on the
crm queue. The job (one at a time per connection: an advisory lock) takes due rows in
chunks, skips those whose contact already shows the same thing (``synced_hash``: no
request), and hands the rest to the connector's contact writer
(integrations/crm/<provider>/contacts.py), which matches before it creates (our
partner id on the contact, else the e-mail), through the connector's own client and
throttle. Failures are retried with the leads' backoff; a refusal is kept as the
row's error. Turning the setting on queues every partner once (``sync_partners_all``).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from integrations.crm.base import CrmAuthError, CrmValidationError, PushResult
from integrations.crm.contacts_base import ERASED_NAME, ContactRecord
from integrations.models import CrmConnection, CrmPartnerLink, CrmSyncLog
from partners.models import PartnerProfile
from partners.signals import partners_changed
from rewards.models import LedgerEntry
from rewards.signals import ledger_moved

PARTNER_JOB = "integrations.crm.partner_sync.push_partners"
SETTING = "sync_partners"
CHUNK = 200  # partners per connector call
WRITERS = {
    "amocrm": "integrations.crm.amocrm.contacts",
    "bitrix24": "integrations.crm.bitrix24.contacts",
    "salesforce": "integrations.crm.salesforce.contacts",
    "hubspot": "integrations.crm.hubspot.contacts",
}

_local = threading.local()


def syncs_partners(crm: CrmConnection) -> bool:
    return bool(crm.settings.get(SETTING)) and crm.provider in WRITERS


# ---------------------------------------------------------------- what a contact shows


def contacts_for(partners: list[PartnerProfile]) -> dict[str, ContactRecord]:
    """Contact records by partner id (one query for the tags and segments, one
    aggregate of the ledger for the balances)."""
    from integrations.crm.contacts_base import BALANCES
    from integrations.crm.reward_values import partner_values_for
    from partners.models import PartnerTagging

    tags: dict[str, set[str]] = {}
    segments: dict[str, set[str]] = {}
    for partner_id, tag, segment in PartnerTagging.objects.filter(
        partner_id__in=[p.pk for p in partners]
    ).values_list("partner_id", "tag__name", "segment__name"):
        tags.setdefault(str(partner_id), set()).add(tag)
        if segment:
            segments.setdefault(str(partner_id), set()).add(segment)
    balances = partner_values_for([p.pk for p in partners], set(BALANCES))
    return {
        str(p.pk): ContactRecord(key=str(p.pk), name=ERASED_NAME, erased=True)
        for p in partners
        if p.erased_at is not None
    } | {
        str(p.pk): ContactRecord(
            key=str(p.pk),
            name=p.display_name or p.user.get_full_name() or p.user.email,
            email=p.user.email,
            tags=sorted(tags.get(str(p.pk), ())),
            segments=sorted(segments.get(str(p.pk), ())),
            balances=balances.get(str(p.pk), {}),
        )
        for p in partners
        if p.erased_at is None
    }


def content_hash(record: ContactRecord) -> str:
    shown = [record.name, record.email, record.phone, record.tags, record.segments]
    # A partner whose ledger is empty hashes as before balances were shown: turning
    # balances on resends only the partners that have some.
    if any(record.balances.values()):
        shown.append(record.balances)
    return hashlib.sha256(json.dumps(shown).encode()).hexdigest()


# ---------------------------------------------------------------- queueing


def queue_partners(crm: CrmConnection, partner_ids: list[Any]) -> None:
    """Mark these partners pending for ``crm`` and start its partner job."""
    if not partner_ids:
        return
    now = timezone.now()
    ids = list(dict.fromkeys(str(i) for i in partner_ids))
    with transaction.atomic():
        CrmPartnerLink.objects.filter(connection=crm, partner_id__in=ids).update(
            pending=True, next_attempt_at=now
        )
        CrmPartnerLink.objects.bulk_create(
            [
                CrmPartnerLink(
                    tenant_id=crm.tenant_id,
                    connection=crm,
                    partner_id=pk,
                    pending=True,
                    next_attempt_at=now,
                )
                for pk in ids
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
        start_partner_push(crm)


def progress(crm: CrmConnection) -> dict[str, int]:
    """How far the partners' contacts are (one aggregate over the link rows): written,
    waiting to be written, refused; ``total`` counts all three."""
    from django.db.models import Count, Q

    counts = CrmPartnerLink.objects.filter(connection=crm).aggregate(
        total=Count("id"),
        waiting=Count("id", filter=Q(pending=True)),
        refused=Count("id", filter=Q(pending=False) & ~Q(last_error="")),
    )
    counts["synced"] = counts["total"] - counts["waiting"] - counts["refused"]
    return counts


def refused(crm: CrmConnection):  # type: ignore[no-untyped-def]
    """The partner rows the CRM refused or that failed every retry (the partners'
    dead letters), newest first."""
    return (
        CrmPartnerLink.objects.select_related("partner__user")
        .filter(connection=crm, pending=False)
        .exclude(last_error="")
        .order_by("-next_attempt_at", "-id")
    )


def retry_refused(crm: CrmConnection, row_ids: list[int] | None = None) -> int:
    """Queue refused partner rows again (all, or these), attempts from zero."""
    rows = refused(crm)
    if row_ids is not None:
        rows = rows.filter(pk__in=row_ids)
    with transaction.atomic():
        count = CrmPartnerLink.objects.filter(
            pk__in=list(rows.values_list("pk", flat=True))
        ).update(pending=True, attempts=0, next_attempt_at=timezone.now())
        if count:
            start_partner_push(crm)
    return count


def _queue_erased(crm: CrmConnection, partner_ids: list[Any]) -> None:
    """An erased partner's contact is written once more, with nothing personal left on
    it (a contact never made is not made now)."""
    links = CrmPartnerLink.objects.filter(connection=crm, partner_id__in=partner_ids)
    links.filter(crm_id="").update(pending=False)
    if links.exclude(crm_id="").update(pending=True, next_attempt_at=timezone.now()):
        start_partner_push(crm)


def start_partner_push(crm: CrmConnection) -> None:
    from integrations.crm.engine import start_job

    start_job(PARTNER_JOB, crm)


def sync_partners_all(crm: CrmConnection) -> int:
    """Queue every partner of the workspace (the setting was just turned on)."""
    ids = list(PartnerProfile.objects.filter(erased_at__isnull=True).values_list("pk", flat=True))
    for start in range(0, len(ids), 5000):
        queue_partners(crm, ids[start : start + 5000])
    return len(ids)


def setting_changed(crm: CrmConnection, was_on: bool) -> None:
    """Called when a connection is saved: turning the setting on pushes everyone."""
    if syncs_partners(crm) and not was_on:
        transaction.on_commit(lambda: _all_in_scope(crm.pk))


def _all_in_scope(connection_id: Any) -> None:
    from prm.tenancy import tenant_scope

    crm = (
        CrmConnection.all_tenants_unscoped.select_related("tenant").filter(pk=connection_id).first()
    )
    if crm is not None:
        with tenant_scope(crm.tenant):
            sync_partners_all(crm)


def _pending() -> dict[Any, set[str]]:
    if not hasattr(_local, "partners"):
        _local.partners = {}
    return _local.partners


def _flush() -> None:
    from prm.models import Tenant
    from prm.tenancy import tenant_scope

    batches = list(_pending().items())
    _pending().clear()
    for tenant_id, partner_ids in batches:
        # Most workspaces sync no partners: one query says so.
        syncing = [
            c
            for c in CrmConnection.all_tenants_unscoped.filter(
                tenant_id=tenant_id, status=CrmConnection.Status.ACTIVE
            )
            if syncs_partners(c)
        ]
        if not syncing:
            continue
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None:
            continue
        with tenant_scope(tenant):
            rows = PartnerProfile.objects.filter(pk__in=list(partner_ids)).values_list(
                "pk", "erased_at"
            )
            existing = [pk for pk, erased_at in rows if erased_at is None]
            erased = [pk for pk, erased_at in rows if erased_at is not None]
            for crm in syncing:
                queue_partners(crm, existing)
                if erased:
                    _queue_erased(crm, erased)


def partners_touched(tenant_id: Any, partner_ids: list[Any]) -> None:
    if not partner_ids:
        return
    _pending().setdefault(tenant_id, set()).update(str(i) for i in partner_ids)
    transaction.on_commit(_flush)


@receiver(post_save, sender=PartnerProfile, dispatch_uid="crm_partner_saved")
def partner_saved(sender: type, instance: PartnerProfile, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        partners_touched(instance.tenant_id, [instance.pk])


@receiver(post_save, sender="partners.PartnerTagging", dispatch_uid="crm_partner_tagged")
def partner_tagged(sender: type, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        partners_touched(instance.tenant_id, [instance.partner_id])


@receiver(partners_changed, dispatch_uid="crm_partners_changed")
def partners_changed_in_bulk(
    sender: type, tenant_id: Any, partner_ids: list[Any], **kwargs: Any
) -> None:
    partners_touched(tenant_id, list(partner_ids))


@receiver(post_save, sender=LedgerEntry, dispatch_uid="crm_partner_ledger_entry")
def ledger_entry_saved(
    sender: type, instance: LedgerEntry, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """The partner's balances, shown on its contact, moved."""
    if created and not raw:
        partners_touched(instance.tenant_id, [instance.partner_id])


@receiver(ledger_moved, dispatch_uid="crm_partner_ledger_moved")
def ledger_moved_in_bulk(
    sender: type, tenant_id: Any, partner_ids: list[Any], **kwargs: Any
) -> None:
    partners_touched(tenant_id, list(partner_ids))


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="crm_partner_user_saved")
def user_saved(sender: type, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """A partner's e-mail lives on its user (one user may partner several workspaces)."""
    if raw or kwargs.get("update_fields") and "email" not in kwargs["update_fields"]:
        return
    for tenant_id, pk in PartnerProfile.all_tenants_unscoped.filter(  # every workspace
        user_id=instance.pk
    ).values_list("tenant_id", "pk"):
        partners_touched(tenant_id, [pk])


# ---------------------------------------------------------------- the job


def push_partners(connection_id: str, slice_seconds: float | None = None) -> int:
    """Job: push the due partners of one connection for one slice; returns rows filed."""
    crm = CrmConnection.objects.select_related("tenant").filter(pk=connection_id).first()
    if crm is None or not crm.is_active or not syncs_partners(crm):
        return 0
    if slice_seconds is None:
        slice_seconds = settings.PRM_CRM_SLICE_SECONDS
    from integrations.crm.engine import advisory_lock

    with advisory_lock(f"crm-partners:{crm.pk}") as got:
        if not got:
            return 0
        total, more = _push_loop(crm, slice_seconds)
    if more:
        start_partner_push(crm)
    return total


def _due(crm: CrmConnection) -> list[CrmPartnerLink]:
    return list(
        CrmPartnerLink.objects.select_related("partner__user")
        .filter(connection=crm, pending=True, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "id")[:CHUNK]
    )


def _push_loop(crm: CrmConnection, slice_seconds: float) -> tuple[int, bool]:
    from integrations.crm.engine import credentials_unreadable
    from integrations.crm.registry import connector_for

    try:
        connector = connector_for(crm)
    except CrmAuthError as exc:
        credentials_unreadable(crm, exc)
        return 0, False
    writer = importlib.import_module(WRITERS[crm.provider])
    deadline = time.monotonic() + slice_seconds
    total = 0
    try:
        while rows := _due(crm):
            if total and time.monotonic() >= deadline:
                return total, True
            records = contacts_for([r.partner for r in rows])
            now = timezone.now()
            same, send = [], []
            for row in rows:
                record = records[str(row.partner_id)]
                record.crm_id = row.crm_id
                if record.erased and not row.crm_id:
                    same.append(row.pk)  # never made: nothing to clear
                elif row.crm_id and row.synced_hash == content_hash(record):
                    same.append(row.pk)
                else:
                    send.append(row)
            CrmPartnerLink.objects.filter(pk__in=same).update(pending=False, last_error="")
            total += len(same)
            if not send:
                continue
            calls, errors = connector.stats.calls, connector.stats.errors
            wanted = [records[str(r.partner_id)] for r in send]
            try:
                results = writer.push_contacts(connector, wanted)
            except CrmAuthError as exc:
                from integrations.services.connections import connection_mark_broken

                connection_mark_broken(crm, str(exc))
                return total, False
            except CrmValidationError as exc:  # a look-up the CRM refused outright
                results = [
                    PushResult(key=r.key, ok=False, error_kind="validation", error=str(exc))
                    for r in wanted
                ]
            total += _file(crm, send, wanted, results, now)
            failed = sum(1 for r in results if not r.ok)
            CrmSyncLog.objects.create(
                tenant_id=crm.tenant_id,
                connection=crm,
                kind=CrmSyncLog.Kind.PUSH,
                records=len(send),
                failed=failed,
                api_calls=connector.stats.calls - calls,
                api_errors=connector.stats.errors - errors,
                message=f"partners as contacts: {len(send) - failed} written, {failed} failed",
            )
        return total, False
    finally:
        connector.close()


def _file(
    crm: CrmConnection,
    rows: list[CrmPartnerLink],
    records: list[ContactRecord],
    results: list[PushResult],
    now: Any,
) -> int:
    from integrations.crm.engine import backoff

    for row, record, result in zip(rows, records, results, strict=True):
        if result.ok:
            row.crm_id = result.crm_id
            row.synced_hash = content_hash(record)
            row.pending, row.attempts, row.last_error, row.synced_at = False, 0, "", now
        elif result.error_kind == "validation":
            row.pending, row.last_error = False, result.error[:2000]
        else:
            row.attempts += 1 if result.sent else 0
            row.last_error = result.error[:2000]
            if row.attempts >= settings.PRM_CRM_MAX_ATTEMPTS:
                row.pending = False
            else:
                delay = result.retry_after or backoff(max(row.attempts, 1))
                row.next_attempt_at = now + timedelta(seconds=delay)
    _save_rows(crm, rows)
    return len(rows)


FILED = ("crm_id", "synced_hash", "pending", "attempts", "last_error", "synced_at")
FILED += ("next_attempt_at",)


def _save_rows(crm: CrmConnection, rows: list[CrmPartnerLink]) -> None:
    """One ``UPDATE … FROM unnest(…)`` for a chunk's rows. Django's bulk_update builds
    a CASE per row and field in Python: ~0.4 s a chunk of 200, which was most of a
    Salesforce sync of 10,000 partners and ~19 s of every CRM's (bench/crm.py)."""
    if not rows:
        return
    fields = [CrmPartnerLink._meta.get_field(name) for name in FILED]
    pk = CrmPartnerLink._meta.pk
    table = CrmPartnerLink._meta.db_table
    arrays = ", ".join(f"%s::{f.db_type(db_connection)}[]" for f in [pk, *fields])
    names = ", ".join(f.column for f in [pk, *fields])
    sets = ", ".join(f"{f.column} = v.{f.column}" for f in fields)
    sql = (
        f"UPDATE {table} AS l SET {sets} FROM unnest({arrays}) AS v({names}) "  # noqa: S608
        f"WHERE l.{pk.column} = v.{pk.column} AND l.connection_id = %s"
    )
    values = [[r.pk for r in rows]] + [[getattr(r, f.attname) for r in rows] for f in fields]
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [*values, crm.pk])
