"""PRM -> CRM: the outbox and the push job.

A change to a lead (after commit) leaves one pending outbox row per active connection
and starts a ``push_connection`` job on the ``crm`` queue. The job takes a PostgreSQL
advisory lock per connection (one pusher at a time, so two runs can never both create
the same customer), hands the due rows to the connector in one list (the connector
matches and writes in the CRM's batch sizes) and files every result:

- ok: the mapping table (CrmRecordLink) remembers the CRM ids and the values both sides
  now agree on; the row is done and its latency (change -> CRM) logged;
- validation: the CRM refused the data; logged, alerted, the row skipped, no retry;
- retryable: attempts + 1 and the next attempt after 1, 2, 4, 8 s ... (times
  PRM_CRM_BACKOFF_BASE, at most PRM_CRM_BACKOFF_CAP); after PRM_CRM_MAX_ATTEMPTS the row
  is dead (the console's dead-letter list, with a retry button). Only a record sent in
  the failing request is charged an attempt: the rest of its chunk, never sent, waits
  as long but keeps its count, so nothing goes dead without being tried;
- CrmAuthError: the connector already tried one refresh; the connection is marked
  broken, admins are alerted, nothing is retried until someone fixes the credentials.

All connections share the crm queue, so a job works for one slice
(PRM_CRM_SLICE_SECONDS) and then, when rows are still due, queues itself again at the
back of the queue (``start_job`` keeps one waiting job per connection and kind): the
outbox is the push's cursor, so nothing is lost or sent twice, and another connection's
events wait one slice at most, not a whole backlog.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection as db_connection
from django.db import connections as db_connections
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from integrations.crm import values as V
from integrations.crm.base import (
    ApiStats,
    Connector,
    CrmAuthError,
    CrmError,
    CrmRecord,
    CrmRetryable,
    PushResult,
)
from integrations.crm.registry import connector_for
from integrations.crm.reward_values import TO_CRM_ONLY
from integrations.crm.stages import STATUS, StageRules, agreed_status, stage_to_push
from integrations.models import CrmConnection, CrmFieldMap, CrmOutbox, CrmRecordLink, CrmSyncLog
from prm.jobs import job_enqueue
from prm.models import Job, Tenant
from programs.models import Lead

log = logging.getLogger(__name__)

PUSH_JOB = "integrations.crm.engine.push_connection"
# Rows handed to the connector at once; it splits them into its CRM's batches (50, 200,
# 400 for Bitrix24's look-ups), so a multiple of all of them wastes no request.
# (settings.PRM_CRM_PUSH_CHUNK; this is its default.)
CHUNK = 2000
# The first chunk is small, so the first requests go out after a short preparation.
FIRST_CHUNK = 400
FETCH_CHUNK = 200  # ids per fetch(): keeps GET URLs well under the CRMs' limits
WAIT_FOR_RETRY = 30.0  # a retry due this soon is waited for inside the job
FORCE_KEY = "_force"  # in CrmRecordLink.synced_values: fields to write despite the master
# What our push wrote to a CRM record (PushResult.echo), so that the CRM's event about
# our own write is recognised and not read back (inbound.pull_records).
ECHO_KEY = "prm:crm:echo:{connection}:{crm_id}"

# Set while an inbound change from a connection is applied, so that change is not
# pushed straight back to the CRM it came from.
_applying_from: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "crm_applying_from", default=None
)


@contextlib.contextmanager
def applying_from(connection: CrmConnection) -> Iterator[None]:
    token = _applying_from.set(str(connection.pk))
    try:
        yield
    finally:
        _applying_from.reset(token)


def applying_from_id() -> str | None:
    return _applying_from.get()


def backoff(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: 1, 2, 4, 8 ... times the base, capped."""
    base = settings.PRM_CRM_BACKOFF_BASE
    return min(base * 2 ** max(attempts - 1, 0), settings.PRM_CRM_BACKOFF_CAP)


# ---------------------------------------------------------------- enqueueing


def leads_changed(tenant: Tenant, lead_ids: list[str], *, origin: str | None = None) -> None:
    """Queue these leads for every active connection but ``origin`` (the one a change
    came from). Called after commit by the Lead signal (integrations/signals.py)."""
    connections = [
        c
        for c in CrmConnection.objects.filter(status=CrmConnection.Status.ACTIVE)
        if str(c.pk) != origin
    ]
    if not connections or not lead_ids:
        return
    lead_ids = [str(i) for i in Lead.objects.filter(pk__in=lead_ids).values_list("pk", flat=True)]
    now = timezone.now()
    for crm in connections:
        queue_leads(crm, lead_ids, now=now)


def queue_leads(crm: CrmConnection, lead_ids: list[str], *, now: datetime | None = None) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        pending = set(
            str(i)
            for i in CrmOutbox.objects.filter(
                connection=crm, state=CrmOutbox.State.PENDING, lead_id__in=lead_ids
            ).values_list("lead_id", flat=True)
        )
        # An edit to a lead that already waits (perhaps backing off) makes it due now.
        CrmOutbox.objects.filter(
            connection=crm, state=CrmOutbox.State.PENDING, lead_id__in=pending
        ).update(next_attempt_at=now)
        CrmOutbox.objects.bulk_create(
            [
                CrmOutbox(
                    tenant_id=crm.tenant_id,
                    connection=crm,
                    lead_id=lead_id,
                    next_attempt_at=now,
                    changed_at=now,
                )
                for lead_id in dict.fromkeys(map(str, lead_ids))
                if lead_id not in pending
            ],
            batch_size=1000,
            ignore_conflicts=True,  # a concurrent change queued it first: same effect
        )
        start_push(crm)


def start_push(crm: CrmConnection) -> None:
    start_job(PUSH_JOB, crm)


def start_job(func: str, crm: CrmConnection) -> int:
    """Enqueue a connection's job on the crm queue unless one is already waiting."""
    waiting = Job.objects.filter(
        func=func, status=Job.Status.QUEUED, kwargs__connection_id=str(crm.pk)
    ).exists()
    if waiting:
        return 0
    job_enqueue(func, queue="crm", tenant=crm.tenant, connection_id=str(crm.pk))
    return 1


# ---------------------------------------------------------------- the push job


@contextlib.contextmanager
def advisory_lock(name: str) -> Iterator[bool]:
    """A PostgreSQL session advisory lock named ``name``, taken if free: yields whether
    it was (one job of a kind per connection; the others leave at once)."""
    key = zlib.crc32(name.encode())
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with db_connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def push_connection(connection_id: str, slice_seconds: float | None = None) -> int:
    """Job: push the due outbox rows of one connection for one slice (``slice_seconds``,
    PRM_CRM_SLICE_SECONDS by default), then queue the rest. Returns rows filed."""
    crm = CrmConnection.objects.select_related("tenant").filter(pk=connection_id).first()
    if crm is None or not crm.is_active:
        return 0
    if slice_seconds is None:
        slice_seconds = settings.PRM_CRM_SLICE_SECONDS
    if db_connection.vendor != "postgresql":
        total, more = _push_loop(crm, slice_seconds)
    else:
        with advisory_lock(f"crm-push:{crm.pk}") as got:
            if not got:
                return 0  # another worker is pushing; it loops until nothing is due
            total, more = _push_loop(crm, slice_seconds)
    if more:
        # The slice is used up with rows still due: the next slice waits behind the
        # other connections' jobs (queued after the lock is released, so a second
        # worker taking it at once does not find the connection still locked).
        start_push(crm)
    return total


@dataclass
class _Batch:
    """Outbox rows made ready for the connector (built records with their values)."""

    rows: list[CrmOutbox]
    built: list[tuple[CrmRecord, dict[str, str]]]
    links: dict[str, CrmRecordLink]
    skipped: int = 0  # rows whose record was deleted in the CRM, filed at once
    calls_before: int = 0
    errors_before: int = 0
    stats_after: ApiStats | None = None  # the connector's counts when its push ended


def _due_rows(crm: CrmConnection, exclude: set[int], limit: int) -> list[CrmOutbox]:
    # Ids first, then the rows with their joins: joining every pending row before the
    # LIMIT costs twice as much on a long queue.
    due = list(
        CrmOutbox.objects.filter(
            connection=crm,
            state=CrmOutbox.State.PENDING,
            next_attempt_at__lte=timezone.now(),
        )
        .exclude(pk__in=exclude)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    return list(
        CrmOutbox.objects.select_related("lead__program", "lead__partner__user")
        .filter(pk__in=due)
        .order_by("next_attempt_at", "id")
    )


def _send(
    connector: Connector, records: list[CrmRecord]
) -> tuple[list[PushResult] | None, CrmError | None]:
    """Runs on the push thread: only HTTP (and a token rotation's own write)."""
    try:
        return connector.push(records), None
    except (CrmAuthError, CrmRetryable) as exc:
        return None, exc
    finally:
        db_connections.close_all()  # this thread's connection, if a token was saved


def _push_loop(crm: CrmConnection, slice_seconds: float) -> tuple[int, bool]:
    """Returns (rows filed, whether rows are still due when the slice ended).

    Pipelined: while the CRM works on (or the throttle spaces out) one chunk on the
    push thread, this thread prepares the next; when the chunk is back the next one is
    sent before this one is filed, so the database work does not leave the CRM's
    allowance unused (the first chunk is small: the first requests go out sooner). Only
    this thread touches the database; a chunk that needs the CRM's current notes (merge)
    waits for the chunk in flight, so the connector is never used from two threads at
    once."""
    try:
        connector = connector_for(crm)
    except CrmAuthError as exc:  # the stored credentials no longer decrypt
        credentials_unreadable(crm, exc)
        return 0, False
    # The status map moves the deal's stage (integrations/crm/stages.py), not a field.
    field_maps = [
        f for f in CrmFieldMap.objects.filter(connection=crm) if f.pushes and f.prm_field != STATUS
    ]
    total = 0
    flight: tuple[_Batch, Future] | None = None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-push")

    def send(batch: _Batch) -> tuple[_Batch, Future] | None:
        if not _still_active(crm):
            return None
        batch.calls_before = connector.stats.calls
        batch.errors_before = connector.stats.errors
        records = [record for record, _ in batch.built]
        return batch, pool.submit(_send, connector, records)

    deadline = time.monotonic() + slice_seconds
    try:
        while True:
            # The slice is over once a chunk went out: no new chunk, the one in flight
            # is filed, and the job queues itself again behind the other connections.
            yielding = (total or flight) and time.monotonic() >= deadline
            if yielding:
                rows = []
            else:
                exclude = {r.pk for r in flight[0].rows} if flight else set()
                chunk = settings.PRM_CRM_PUSH_CHUNK if total or flight else FIRST_CHUNK
                rows = _due_rows(crm, exclude, min(chunk, settings.PRM_CRM_PUSH_CHUNK))
            if flight and rows and _needs_merge(crm, field_maps, rows):
                done = _finish(crm, connector, field_maps, *flight)
                flight = None
                if done is None:
                    return total, False
                total += done
            batch = _prepare(crm, connector, field_maps, rows) if rows else None
            sent = False
            if flight:
                finished, flight = flight, None
                _, exc = finished[1].result()
                finished[0].stats_after = replace(connector.stats)
                # The next chunk goes to the CRM before this one is filed, so the filing
                # does not leave the CRM's allowance unused.
                if batch is not None and batch.rows and not isinstance(exc, CrmAuthError):
                    flight, sent = send(batch), True
                done = _finish(crm, connector, field_maps, *finished)
                if done is None:
                    return total, False
                total += done
            if batch is not None:
                total += batch.skipped
                if batch.rows and not sent:
                    flight = send(batch)
                if batch.rows and flight is None:
                    return total, False  # the connection was paused or broken meanwhile
                continue
            soon = (
                CrmOutbox.objects.filter(connection=crm, state=CrmOutbox.State.PENDING)
                .order_by("next_attempt_at")
                .values_list("next_attempt_at", flat=True)
                .first()
            )
            wait = (soon - timezone.now()).total_seconds() if soon else None
            if yielding:
                return total, wait is not None and wait <= 0 and _still_active(crm)
            left = deadline - time.monotonic()
            if wait is None or wait > min(WAIT_FOR_RETRY, left) or not _still_active(crm):
                return total, False  # the periodic tick starts a job when it is due
            time.sleep(max(wait, 0.0))
    finally:
        if flight:  # an exception here: let the push end before the client closes
            flight[1].result()
        pool.shutdown(wait=True)
        connector.close()


def credentials_unreadable(crm: CrmConnection, exc: CrmError) -> None:
    """No connector could be built: the connection is marked broken with the reason
    (the console says what to do), and the job ends without a traceback."""
    from integrations.services.connections import connection_mark_broken

    connection_mark_broken(crm, str(exc))
    CrmSyncLog.objects.create(
        tenant_id=crm.tenant_id,
        connection=crm,
        kind=CrmSyncLog.Kind.AUTH,
        failed=1,
        message=str(exc)[:2000],
    )


def _still_active(crm: CrmConnection) -> bool:
    return CrmConnection.objects.filter(pk=crm.pk, status=CrmConnection.Status.ACTIVE).exists()


def _record_for(
    lead: Lead,
    values: dict[str, str],
    link: CrmRecordLink | None,
    field_maps: list[CrmFieldMap],
) -> CrmRecord:
    record = CrmRecord(
        key=str(lead.pk),
        title=V.lead_title(lead),
        email=lead.email,
        phone=lead.phone,
        crm_id=link.crm_id if link else "",
        crm_contact_id=link.crm_contact_id if link else "",
    )
    # A person who settled a conflict in favour of the PRM value wants it written even
    # where the CRM is the field's master. Merged fields carry both sides' lines.
    forced = set(link.synced_values.get(FORCE_KEY, [])) if link else set()
    # Under "last write wins" a value changed here since the sides last agreed is the
    # newer one: it is written even where the CRM is the field's master (held back, the
    # CRM's older value would come back as the newer, dated by our own write's echo).
    if link is not None:
        changed = {
            f.prm_field
            for f in field_maps
            if f.strategy == CrmFieldMap.Strategy.LAST_WRITE
            and f.prm_field in link.synced_values
            and values.get(f.prm_field, "") != link.synced_values[f.prm_field]
        }
        forced |= changed
    for f in field_maps:
        record.values[f.crm_field] = values.get(f.prm_field, "")
        if f.prm_field in TO_CRM_ONLY:  # rewards and balances: on the deal
            record.deal_keys.add(f.crm_field)
        if (
            f.master == CrmFieldMap.Master.CRM
            and f.prm_field not in forced
            and f.strategy != CrmFieldMap.Strategy.MERGE
        ):
            record.create_only.add(f.crm_field)
    return record


def _merge_remote(
    crm: CrmConnection,
    connector: Connector,
    field_maps: list[CrmFieldMap],
    leads: list[Lead],
    values: dict[str, dict[str, str]],
    links: dict[str, CrmRecordLink],
) -> None:
    """Before overwriting a merged field (notes) of records the CRM already has, read
    their current text: lines added in the CRM since the last sync are kept on both
    sides instead of being lost to our write."""
    merged_fields = [f for f in field_maps if f.strategy == CrmFieldMap.Strategy.MERGE]
    linked = [links[str(lead.pk)] for lead in leads if str(lead.pk) in links]
    if not merged_fields or not linked:
        return
    ids = [link.crm_id for link in linked]
    remote = {
        r.crm_id: r
        for start in range(0, len(ids), FETCH_CHUNK)
        for r in connector.fetch(ids[start : start + FETCH_CHUNK])
    }
    by_id = {str(lead.pk): lead for lead in leads}
    for link in linked:
        record = remote.get(link.crm_id)
        if record is None or record.deleted:
            continue
        lead_values = values[str(link.lead_id)]
        for f in merged_fields:
            theirs = record.values.get(f.crm_field, "") or ""
            ours = lead_values.get(f.prm_field, "")
            both = V.merge_lines(ours, theirs)
            if both != ours:
                with applying_from(crm):
                    V.add_note_lines(crm, by_id[str(link.lead_id)], ours, both)
                lead_values[f.prm_field] = both


def _needs_merge(crm: CrmConnection, field_maps: list[CrmFieldMap], rows: list[CrmOutbox]) -> bool:
    if not any(f.strategy == CrmFieldMap.Strategy.MERGE for f in field_maps):
        return False
    return CrmRecordLink.objects.filter(
        connection=crm, lead_id__in=[r.lead_id for r in rows]
    ).exists()


def _prepare(
    crm: CrmConnection,
    connector: Connector,
    field_maps: list[CrmFieldMap],
    rows: list[CrmOutbox],
) -> _Batch:
    links = {
        str(link.lead_id): link
        for link in CrmRecordLink.objects.filter(
            connection=crm, lead_id__in=[r.lead_id for r in rows]
        )
    }
    # A record deleted in the CRM is not re-created behind the tenant's back.
    gone = [r for r in rows if (link := links.get(str(r.lead_id))) and link.deleted_in_crm]
    rows = [r for r in rows if r not in gone]
    if gone:
        CrmOutbox.objects.filter(pk__in=[r.pk for r in gone]).update(
            state=CrmOutbox.State.SKIPPED, done_at=timezone.now(), last_error="deleted in the CRM"
        )
    leads = [r.lead for r in rows]
    values = V.values_for(leads, {f.prm_field for f in field_maps})
    # Without the merge read the push still goes; the next inbound pass merges. A
    # refusal of the credentials shows again in the push, which marks the connection.
    with contextlib.suppress(CrmRetryable, CrmAuthError):
        _merge_remote(crm, connector, field_maps, leads, values, links)
    built = [
        (
            _record_for(r.lead, values[str(r.lead_id)], links.get(str(r.lead_id)), field_maps),
            values[str(r.lead_id)],
        )
        for r in rows
    ]
    rules = StageRules.of(crm)
    for r, (record, lead_values) in zip(rows, built, strict=True):
        link = links.get(str(r.lead_id))
        record.stage = stage_to_push(rules, r.lead, link)
        if (agreed := agreed_status(rules, r.lead, link, record.stage)) is not None:
            lead_values[STATUS] = agreed  # becomes the link's synced status
    return _Batch(rows=rows, built=built, links=links, skipped=len(gone))


def _finish(
    crm: CrmConnection,
    connector: Connector,
    field_maps: list[CrmFieldMap],
    batch: _Batch,
    future: Future,
) -> int | None:
    """File a pushed chunk's results; None when the credentials were refused (the
    connection is marked broken and the loop stops)."""
    results, exc = future.result()
    if batch.stats_after is not None:  # the next chunk may be in flight: count this one's
        connector = _Counted(batch.stats_after)  # type: ignore[assignment]
    if isinstance(exc, CrmAuthError):
        from integrations.services.connections import connection_mark_broken

        connection_mark_broken(crm, str(exc))
        _log(
            crm,
            connector,
            batch.calls_before,
            batch.errors_before,
            kind=CrmSyncLog.Kind.AUTH,
            failed=len(batch.rows),
            message=str(exc),
        )
        return None
    if results is None:
        # The connector could not even start (e.g. the matching request failed).
        results = [
            PushResult(
                key=record.key,
                ok=False,
                error_kind="retryable",
                error=str(exc),
                retry_after=getattr(exc, "retry_after", 0.0),
            )
            for record, _ in batch.built
        ]
    return _file_results(
        crm,
        connector,
        field_maps,
        batch.rows,
        batch.built,
        results,
        batch.links,
        batch.calls_before,
        batch.errors_before,
    )


@dataclass
class _Counted:
    """The connector's request counts as they were when a chunk's push ended (what the
    sync log of that chunk reports)."""

    stats: ApiStats


def _file_results(
    crm: CrmConnection,
    connector: Connector,
    field_maps: list[CrmFieldMap],
    rows: list[CrmOutbox],
    built: list[tuple[CrmRecord, dict[str, str]]],
    results: list[PushResult],
    links: dict[str, CrmRecordLink],
    calls_before: int,
    errors_before: int,
) -> int:
    now = timezone.now()
    by_key = {r.key: r for r in results}
    max_attempts = settings.PRM_CRM_MAX_ATTEMPTS
    done, skipped, dead, retry = [], [], [], []
    latency = 0.0
    new_links, changed_links = [], []
    changed_content: set[int] = set()
    echoes: list[tuple[str, str]] = []
    warned: list[tuple[int, str]] = []  # done, but part of the record refused
    for row, (record, values) in zip(rows, built, strict=True):
        result = by_key.get(record.key) or PushResult(
            key=record.key, ok=False, error_kind="retryable", error="no result from connector"
        )
        if result.ok:
            done.append(row.pk)
            if result.echo and result.crm_id:
                echoes.append((result.crm_id, result.echo))
            latency = max(latency, (now - row.changed_at).total_seconds())
            # What both sides now agree on: our values, except the CRM-mastered ones we
            # did not write to a record the CRM already had (it kept its own).
            held = {f.prm_field for f in field_maps if f.crm_field in record.create_only}
            # Values the CRM refused while taking the record are not agreed: what was
            # agreed before stays (a later change pushes them again).
            unwritten = {f.prm_field for f in field_maps if f.crm_field in result.unwritten}
            if result.warning:
                warned.append((row.pk, result.warning))
            link = links.get(record.key)
            agreed = link.synced_values if link is not None else {}
            synced = {
                k: (agreed.get(k, v) if link is not None and k in held else v)
                for k, v in values.items()
                if k not in unwritten
            }
            synced |= {k: agreed[k] for k in unwritten if k in agreed}
            if link is None:
                new_links.append(
                    CrmRecordLink(
                        tenant_id=crm.tenant_id,
                        connection=crm,
                        lead_id=row.lead_id,
                        crm_id=result.crm_id,
                        crm_contact_id=result.crm_contact_id,
                        synced_values=synced,
                        synced_at=now,
                        stage=":".join(record.stage) if record.stage else "",
                    )
                )
            else:
                before = (link.crm_id, link.crm_contact_id, link.synced_values, link.stage)
                if record.stage:  # where we moved the deal: its echo is no CRM move
                    link.stage = ":".join(record.stage)
                link.crm_id = result.crm_id or link.crm_id
                link.crm_contact_id = result.crm_contact_id or link.crm_contact_id
                link.synced_values = {**link.synced_values, **synced}
                link.synced_values.pop(FORCE_KEY, None)
                link.synced_at = now
                changed_links.append(link)
                if (link.crm_id, link.crm_contact_id, link.synced_values, link.stage) != before:
                    changed_content.add(link.pk)
        elif result.error_kind == "validation":
            skipped.append((row.pk, result.error))
        elif result.retry_after:
            retry.append((row, result.error, result.retry_after, False))
        elif not result.sent:
            retry.append((row, result.error, backoff(row.attempts + 1), False))
        elif row.attempts + 1 >= max_attempts:
            dead.append((row.pk, result.error))
        else:
            retry.append((row, result.error, backoff(row.attempts + 1), True))
    with transaction.atomic():
        CrmOutbox.objects.filter(pk__in=done).update(
            state=CrmOutbox.State.DONE, done_at=now, attempts=F("attempts") + 1, last_error=""
        )
        for pk, warning in warned:
            CrmOutbox.objects.filter(pk=pk).update(last_error=warning[:2000])
        for pk, error in skipped:
            CrmOutbox.objects.filter(pk=pk).update(
                state=CrmOutbox.State.SKIPPED, done_at=now, last_error=error[:2000]
            )
        for pk, error in dead:
            CrmOutbox.objects.filter(pk=pk).update(
                state=CrmOutbox.State.DEAD,
                done_at=now,
                attempts=F("attempts") + 1,
                last_error=error[:2000],
            )
        # Refused for rate (wait as told) or never sent: the attempt does not count.
        for row, error, delay, counted in retry:
            CrmOutbox.objects.filter(pk=row.pk).update(
                attempts=row.attempts + 1 if counted else row.attempts,
                next_attempt_at=now + timedelta(seconds=delay),
                last_error=error[:2000],
            )
        # Another lead may already hold a CRM id (the CRM merged two of ours): keep the
        # first link; the second lead's row is still done, pointing at the same record.
        CrmRecordLink.objects.bulk_create(new_links, batch_size=500, ignore_conflicts=True)
        # A re-sync mostly confirms what both sides already agree on: one UPDATE for
        # those, the slow bulk_update only for links whose content changed.
        moved = [link for link in changed_links if link.pk in changed_content]
        CrmRecordLink.objects.filter(
            pk__in=[link.pk for link in changed_links if link.pk not in changed_content]
        ).update(synced_at=now)
        CrmRecordLink.objects.bulk_update(
            moved,
            ["crm_id", "crm_contact_id", "synced_values", "synced_at", "stage"],
            batch_size=500,
        )
    remember_echoes(crm, echoes)
    failed = len(skipped) + len(dead) + len(retry)
    message = "; ".join(e for _, e in (skipped + dead + warned)[:3])
    if not message and retry:
        message = retry[0][1]
    _log(
        crm,
        connector,
        calls_before,
        errors_before,
        kind=CrmSyncLog.Kind.PUSH,
        records=len(rows),
        failed=failed,
        latency=latency if done else None,
        message=message[:2000],
    )
    if skipped or dead:
        from integrations.crm.monitoring import alert_records_refused

        alert_records_refused(crm, skipped=len(skipped), dead=len(dead), example=message)
    return len(rows)


def remember_echoes(crm: CrmConnection, echoes: list[tuple[str, str]]) -> None:
    """Mark what we just wrote, per CRM record, for PRM_CRM_ECHO_SECONDS. Without
    Redis nothing is marked: every event is read back, as before."""
    from integrations.crm.throttle import redis_client

    client = redis_client()
    if client is None or not echoes:
        return
    import redis

    try:
        with client.pipeline(transaction=False) as pipe:
            for crm_id, echo in echoes:
                key = ECHO_KEY.format(connection=crm.pk, crm_id=crm_id)
                pipe.set(key, echo, ex=settings.PRM_CRM_ECHO_SECONDS)
            pipe.execute()
    except redis.RedisError:
        log.warning("could not mark our own writes to %s; their events are read", crm.pk)


def _log(
    crm: CrmConnection,
    connector: Connector,
    calls_before: int,
    errors_before: int,
    *,
    kind: str,
    records: int = 0,
    failed: int = 0,
    conflicts: int = 0,
    latency: float | None = None,
    message: str = "",
) -> None:
    CrmSyncLog.objects.create(
        tenant_id=crm.tenant_id,
        connection=crm,
        kind=kind,
        records=records,
        failed=failed,
        conflicts=conflicts,
        api_calls=connector.stats.calls - calls_before,
        api_errors=connector.stats.errors - errors_before,
        latency_seconds=latency,
        message=message,
    )


def sync_all(crm: CrmConnection) -> int:
    """Queue every lead of the tenant (the console's 'push everything now')."""
    ids = [str(i) for i in Lead.objects.values_list("pk", flat=True)]
    for start in range(0, len(ids), 5000):
        queue_leads(crm, ids[start : start + 5000])
    return len(ids)


def retry_dead(crm: CrmConnection, row_ids: list[int] | None = None) -> int:
    rows = CrmOutbox.objects.filter(
        connection=crm, state__in=[CrmOutbox.State.DEAD, CrmOutbox.State.SKIPPED]
    )
    if row_ids is not None:
        rows = rows.filter(pk__in=row_ids)
    lead_ids = [str(i) for i in rows.values_list("lead_id", flat=True)]
    with transaction.atomic():
        rows.delete()
        queue_leads(crm, lead_ids)
    return len(lead_ids)
