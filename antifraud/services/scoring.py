"""Scoring: the weighted signals of a batch of leads, conversions or partners, stored.

Score = min(100, Σ points of the signals that fired), where a signal's points are its
weight (a few scale it: self-referral by IP alone scores half; partner history scales
with the flagged share), minus the signals a reviewer allowed for the (code, partner,
matched key). Level: ``reject`` from ``RiskSettings.reject_above`` up, ``review`` from
``review_above`` up, else ``ok``.

Set-based: ``score_leads(ids)`` runs each enabled signal once for the whole batch (one
or two queries each), reads the existing assessments and the allow-exceptions in one
query each, and writes with multi-row statements; the single-subject path is a batch of
one, so its query count does not depend on the tenant's size.

Idempotent: one assessment per subject, updated in place; its ``digest`` covers the
fired signals and the thresholds, so a rescore that changes nothing writes nothing.

Holds: a subject that rises to ``review`` has its pending rewards flagged, one that
rises to ``reject`` has them rejected with the strongest signal's partner reason, and
one that falls back to ``ok`` (an exception recorded, a rule relaxed) is released. A
person's decision stands until the score rises to a higher level. Holds happen under
the credited partners' row locks, which accrual and approval take too, so whichever
of them runs second sees the other's writes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from antifraud.config import effective, settings_for
from antifraud.models import RiskAssessment, RiskException, RiskSettings, RiskSignal
from antifraud.signals import REGISTRY, Batch, Hit
from partners.models import PartnerProfile
from prm.tenancy import require_tenant

log = logging.getLogger(__name__)

BATCH = 500
RANK = {RiskAssessment.Level.OK: 0, RiskAssessment.Level.REVIEW: 1, RiskAssessment.Level.REJECT: 2}
DEFAULT_REASON = "Rejected after a risk review."
BURSTS = {"ip_burst", "net_burst", "device_burst"}


@dataclass
class Result:
    """What scoring one subject came to, before it is written."""

    subject_id: Any
    partner_id: Any
    score: int
    level: str
    hits: dict[str, Hit]
    digest: str
    partner_reason: str


@dataclass
class Outcome:
    """What a scoring run changed (the rescore command prints it)."""

    scored: int = 0
    written: int = 0
    changes: dict[tuple[str, str], int] = field(default_factory=dict)
    flagged_peers: set[Any] = field(default_factory=set)
    partners: set[Any] = field(default_factory=set)

    def add(self, other: Outcome) -> None:
        self.scored += other.scored
        self.written += other.written
        for k, v in other.changes.items():
            self.changes[k] = self.changes.get(k, 0) + v
        self.flagged_peers |= other.flagged_peers
        self.partners |= other.partners


def level_for(score: int, row: RiskSettings) -> str:
    if score >= row.reject_above:
        return RiskAssessment.Level.REJECT
    if score >= row.review_above:
        return RiskAssessment.Level.REVIEW
    return RiskAssessment.Level.OK


def _digest(hits: dict[str, Hit], row: RiskSettings) -> str:
    payload = {
        "t": [row.review_above, row.reject_above],
        "h": {
            code: [h.points, h.params, h.evidence, h.match_key] for code, h in sorted(hits.items())
        },
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _load(subject: str, ids: list[Any]) -> list[Any]:
    from programs.models import Conversion, Lead

    if subject == "lead":
        qs = Lead.objects.select_related("program", "partner__user")
    elif subject == "conversion":
        qs = Conversion.objects.select_related("program", "partner__user")
    else:
        qs = PartnerProfile.objects.select_related("user")
    return list(qs.filter(pk__in=ids))


def _allowed(exceptions: set[tuple[str, Any, str]], code: str, partner_id: Any, key: str) -> bool:
    return any((code, p, k) in exceptions for p in (partner_id, None) for k in (key, ""))


def evaluate(subject: str, objs: list[Any], tenant: Any, row: RiskSettings) -> list[Result]:
    """Run every enabled signal for ``objs`` (one kind, one tenant) and score them."""
    confs = effective(row)
    batch = Batch(subject, objs, tenant, cache={"settings": row})
    hits: dict[Any, dict[str, Hit]] = {o.pk: {} for o in objs}
    for code, signal in REGISTRY.items():
        conf = confs[code]
        if subject not in signal.subjects or not conf.get("enabled", True):
            continue
        if int(conf.get("weight", 0)) <= 0:
            continue
        assert signal.evaluate_many is not None
        for pk, hit in signal.evaluate_many(batch, conf).items():
            if hit.points > 0:
                hits[pk][code] = hit
    partner_of = {o.pk: (o.pk if subject == "partner" else o.partner_id) for o in objs}
    exceptions = (
        {
            (code, partner, key)
            for code, partner, key in RiskException.objects.filter(
                code__in={c for h in hits.values() for c in h}
            ).values_list("code", "partner_id", "match_key")
        }
        if any(hits.values())
        else set()
    )
    results = []
    for obj in objs:
        mine = {
            code: hit
            for code, hit in hits[obj.pk].items()
            if not _allowed(exceptions, code, partner_of[obj.pk], hit.match_key)
        }
        score = min(100, sum(h.points for h in mine.values()))
        level = level_for(score, row)
        strongest = max(mine, key=lambda c: (mine[c].points, -list(REGISTRY).index(c)), default="")
        reason = str(REGISTRY[strongest].partner_reason) if strongest else ""
        results.append(
            Result(
                subject_id=obj.pk,
                partner_id=partner_of[obj.pk],
                score=score,
                level=level,
                hits=mine,
                digest=_digest(mine, row),
                partner_reason=reason,
            )
        )
    return results


def _subject_field(subject: str) -> str:
    return {"lead": "lead_id", "conversion": "conversion_id", "partner": "partner_id"}[subject]


def _lock_partners(partner_ids: Iterable[Any]) -> None:
    ids = sorted({p for p in partner_ids if p}, key=str)
    if ids:
        list(
            PartnerProfile.objects.select_for_update(no_key=True)
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )


def _store(subject: str, results: list[Result], tenant: Any) -> Outcome:
    """Write what changed, apply holds, in one transaction."""
    from antifraud.services import holds

    out = Outcome(scored=len(results))
    key = _subject_field(subject)
    now = timezone.now()
    with transaction.atomic():
        existing = {
            getattr(a, key): a
            for a in RiskAssessment.objects.filter(
                subject=subject, **{f"{key}__in": [r.subject_id for r in results]}
            )
        }
        changed = [
            r
            for r in results
            if r.subject_id not in existing or existing[r.subject_id].digest != r.digest
        ]
        if not changed:
            return out
        acting = [
            r
            for r in changed
            if r.level != RiskAssessment.Level.OK
            or (r.subject_id in existing and existing[r.subject_id].level != r.level)
        ]
        if subject != "partner":
            # Before anything is written: accrual and approval read under these locks.
            _lock_partners(r.partner_id for r in acting)
            existing = {
                getattr(a, key): a
                for a in RiskAssessment.objects.filter(
                    subject=subject, **{f"{key}__in": [r.subject_id for r in changed]}
                )
            }
        new_rows, updated, to_hold, to_release, to_reject = [], [], [], [], []
        flagged = []  # reached review or reject now: staff are told (once per level)
        for r in changed:
            old = existing.get(r.subject_id)
            old_level = old.level if old else RiskAssessment.Level.OK
            a = old or RiskAssessment(
                tenant=tenant, subject=subject, **{key: r.subject_id}, scored_at=now
            )
            if subject != "partner":
                a.partner_id = r.partner_id
            rising = RANK[r.level] > RANK[old_level]
            if a.decision and rising:
                # A person decided at a lower level; the new evidence goes back to them.
                a.decision, a.decided_by, a.decided_at, a.decision_note = "", None, None, ""
            a.score, a.level, a.digest, a.scored_at = r.score, r.level, r.digest, now
            if r.level == RiskAssessment.Level.REJECT:
                a.partner_reason = r.partner_reason or DEFAULT_REASON
            if old is None:
                new_rows.append(a)
            else:
                updated.append(a)
            if old_level != r.level:
                out.changes[(old_level, r.level)] = out.changes.get((old_level, r.level), 0) + 1
                out.partners.add(r.partner_id)
            if (not old or old.level != r.level) and BURSTS & set(r.hits):
                # The earlier members of the burst saw less when they were scored.
                for code in BURSTS & set(r.hits):
                    evidence = r.hits[code].evidence
                    out.flagged_peers.update(evidence.get("leads", []))
                    out.flagged_peers.update(evidence.get("conversions", []))
            if r.level != RiskAssessment.Level.OK and (rising or old is None):
                flagged.append(a)
            if a.decision or subject == "partner":
                continue
            if r.level == RiskAssessment.Level.REJECT and (rising or old is None):
                to_reject.append(a)
            elif r.level == RiskAssessment.Level.REVIEW and (rising or old is None):
                to_hold.append(a)
            elif r.level == RiskAssessment.Level.OK and old_level != RiskAssessment.Level.OK:
                to_release.append(a)
        if updated:
            RiskAssessment.objects.bulk_update(
                updated,
                [
                    "partner",
                    "score",
                    "level",
                    "digest",
                    "scored_at",
                    "partner_reason",
                    "decision",
                    "decided_by",
                    "decided_at",
                    "decision_note",
                ],
            )
            RiskSignal.objects.filter(assessment__in=[a.pk for a in updated]).delete()
        if new_rows:
            RiskAssessment.objects.bulk_create(new_rows)
        by_subject = {r.subject_id: r for r in changed}
        RiskSignal.objects.bulk_create(
            [
                RiskSignal(
                    tenant=tenant,
                    assessment=a,
                    code=code,
                    points=min(hit.points, 100),
                    params=hit.params,
                    evidence=hit.evidence,
                    match_key=hit.match_key[:128],
                )
                for a in [*updated, *new_rows]
                for code, hit in by_subject[getattr(a, key)].hits.items()
            ]
        )
        if flagged:
            from prm.notifications import events

            events.risk_flagged(tenant=tenant, assessments=flagged)
        if to_hold:
            holds.hold_subject_rewards(to_hold)
        holds.reject_subjects_rewards(to_reject)
        for a in to_release:
            holds.release_subject_rewards(a)
        if subject == "partner":
            for r in changed:
                PartnerProfile.objects.filter(pk=r.subject_id).update(risk_score=r.score)
        out.written = len(changed)
    return out


def score(subject: str, ids: Iterable[Any], *, batch: int = BATCH) -> Outcome:
    """Score the current tenant's subjects of one kind, ``batch`` at a time."""
    tenant = require_tenant()
    row = settings_for(tenant)
    ids = list(dict.fromkeys(ids))
    out = Outcome()
    for start in range(0, len(ids), batch):
        objs = _load(subject, ids[start : start + batch])
        if not objs:
            continue
        results = evaluate(subject, objs, tenant, row)
        try:
            out.add(_store(subject, results, tenant))
        except IntegrityError:
            # Another worker created one of these assessments meanwhile: score again,
            # now updating in place (its digest decides whether anything is written).
            out.add(_store(subject, evaluate(subject, objs, tenant, row), tenant))
    return out


def score_leads(ids: Iterable[Any], **kw: Any) -> Outcome:
    return score("lead", ids, **kw)


def score_conversions(ids: Iterable[Any], **kw: Any) -> Outcome:
    return score("conversion", ids, **kw)


def score_partners(ids: Iterable[Any], **kw: Any) -> Outcome:
    return score("partner", ids, **kw)
