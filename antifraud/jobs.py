"""Scoring jobs on the ``antifraud`` queue, enqueued after commit (``prm.jobs``), run
inline without Redis. Each job re-reads its rows: a lead deleted meanwhile is skipped.

A job scores its leads, conversions and partners, then the partners whose leads or
conversions changed level (their history is part of their own score), and, when a
burst signal newly fired, the earlier subjects of that burst: the first of ten leads
from one IP saw only itself when it was scored, and must end flagged like the tenth.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from prm.jobs import job_enqueue
from prm.models import Job, Tenant
from prm.tenancy import require_tenant

QUEUE = "antifraud"


def enqueue_scoring(
    *,
    tenant: Tenant,
    leads: Iterable[Any] = (),
    conversions: Iterable[Any] = (),
    partners: Iterable[Any] = (),
) -> None:
    """One job for the given subjects, dispatched when the caller's transaction commits."""
    leads, conversions, partners = (
        sorted({str(x) for x in leads}),
        sorted({str(x) for x in conversions}),
        sorted({str(x) for x in partners}),
    )
    if not (leads or conversions or partners):
        return
    job_enqueue(
        FUNC,
        queue=QUEUE,
        tenant=tenant,
        leads=leads,
        conversions=conversions,
        partners=partners,
    )


FUNC = "antifraud.jobs.score_subjects"
# How many waiting scoring jobs one job takes over (see ``_take_waiting``).
COALESCE_MAX = 500


def _take_waiting(tenant: Tenant) -> list[Job]:
    """Claim the tenant's scoring jobs still waiting in the queue, to score their
    subjects in this job's batch: when sales arrive faster than one job's run, the
    worker catches up in batches (set-based, ~1,000 subjects/s) instead of one
    subject per job. Claimed rows go RUNNING as ``run_job`` claims them, so their own
    delivery later finds them taken and returns at once; if this job fails they are
    put back (and a dead worker's RUNNING rows are re-queued by the sweeper)."""
    with transaction.atomic():
        waiting = list(
            Job.objects.select_for_update(skip_locked=True)
            .filter(queue=QUEUE, func=FUNC, tenant=tenant, status=Job.Status.QUEUED)
            .order_by("created_at")[:COALESCE_MAX]
        )
        if waiting:
            Job.objects.filter(pk__in=[j.pk for j in waiting]).update(
                status=Job.Status.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1
            )
    return waiting


def score_subjects(
    *,
    leads: list[str] = (),  # type: ignore[assignment]
    conversions: list[str] = (),  # type: ignore[assignment]
    partners: list[str] = (),  # type: ignore[assignment]
) -> dict[str, int]:
    """Job: score the given subjects (and those of the jobs waiting behind it)."""
    tenant = require_tenant()
    taken = _take_waiting(tenant)
    wanted = {"leads": set(leads), "conversions": set(conversions), "partners": set(partners)}
    for job in taken:
        for name, ids in wanted.items():
            ids.update(job.kwargs.get(name) or ())
    try:
        result = _score(sorted(wanted["leads"]), sorted(wanted["conversions"]), wanted["partners"])
    except Exception:
        Job.objects.filter(pk__in=[j.pk for j in taken], status=Job.Status.RUNNING).update(
            status=Job.Status.QUEUED
        )
        raise
    if taken:
        Job.objects.filter(pk__in=[j.pk for j in taken]).update(
            status=Job.Status.DONE, error="", finished_at=timezone.now()
        )
    return {**result, "coalesced": len(taken)}


def _score(leads: list[str], conversions: list[str], partners: set[str]) -> dict[str, int]:
    from antifraud.services.scoring import Outcome, score

    out = Outcome()
    peers: dict[str, set[Any]] = {"lead": set(), "conversion": set()}
    for subject, ids in (("lead", leads), ("conversion", conversions)):
        if ids:
            result = score(subject, ids)
            out.add(result)
            peers[subject] |= {str(p) for p in result.flagged_peers} - set(ids)
    # The earlier subjects of a burst that newly fired (bounded: evidence keeps 20).
    for subject, ids in peers.items():
        if ids:
            out.add(score(subject, sorted(ids)))
    wanted = {str(p) for p in partners} | {str(p) for p in out.partners if p}
    if wanted:
        out.add(score("partner", sorted(wanted)))
    return {"scored": out.scored, "written": out.written}
