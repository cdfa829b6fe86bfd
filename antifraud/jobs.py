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

from prm.jobs import job_enqueue
from prm.models import Tenant

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
        "antifraud.jobs.score_subjects",
        queue=QUEUE,
        tenant=tenant,
        leads=leads,
        conversions=conversions,
        partners=partners,
    )


def score_subjects(
    *,
    leads: list[str] = (),
    conversions: list[str] = (),
    partners: list[str] = (),  # type: ignore[assignment]
) -> dict[str, int]:
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
