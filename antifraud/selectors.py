"""Reads of the antifraud console: the review queue (keyset-paginated, index-backed, no
counts over the whole table), an item's signals rendered in the reader's language with
their evidence, and the number of waiting items the navigation shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from antifraud.models import RiskAssessment, RiskSettings, RiskSignal
from antifraud.services.decisions import FLAGGED_LEVELS, waiting_cache_key
from antifraud.services.explain import explain
from antifraud.signals import REGISTRY
from partners.models import PartnerProfile
from prm.models import AuditEntry, Tenant
from programs.models import Click, Conversion, Lead
from rewards.models import PayoutDetails, Reward

PAGE_SIZE = 50
WAITING_CAP = 1000  # the badge says "999+" rather than count a flood
WAITING_TTL = 60
EVIDENCE_ROWS = 20

Decision = RiskAssessment.Decision


class State:
    WAITING = "waiting"
    DECIDED = "decided"
    ALL = "all"


# What each state of the queue reads of ``decision`` (each value one index range).
STATE_DECISIONS = {
    State.WAITING: [Decision.NONE],
    State.DECIDED: [Decision.APPROVED, Decision.REJECTED],
    State.ALL: [Decision.NONE, Decision.APPROVED, Decision.REJECTED],
}


@dataclass
class QueuePage:
    items: list[RiskAssessment]
    next_cursor: str = ""
    is_first: bool = True


def encode_cursor(item: RiskAssessment) -> str:
    return f"{item.scored_at.isoformat()}_{item.pk}"


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    stamp, _, pk = cursor.rpartition("_")
    when = parse_datetime(stamp) if stamp else None
    if when is None or not pk.isdigit():
        return None
    return when, int(pk)


def queue_page(
    *,
    state: str = State.WAITING,
    level: str = "",
    subject: str = "",
    code: str = "",
    score_min: int | None = None,
    score_max: int | None = None,
    partner: PartnerProfile | None = None,
    cursor: str = "",
    size: int = PAGE_SIZE,
) -> QueuePage:
    """One page of the queue, newest first.

    Each (level, decision) pair is its own range of the ``(tenant, level, decision,
    -scored_at)`` index; each range is read in order up to one page (past the cursor)
    and the ranges are merged in one UNION ALL, so a page costs the same on the first
    day and with 100,000 assessments. Filters on score, subject, partner and signal
    are checked on the rows the index yields.
    """
    levels = [level] if level in FLAGGED_LEVELS else list(FLAGGED_LEVELS)
    decisions = STATE_DECISIONS.get(state, STATE_DECISIONS[State.WAITING])
    base = RiskAssessment.objects.all()
    if subject in RiskAssessment.Subject.values:
        base = base.filter(subject=subject)
    if score_min is not None:
        base = base.filter(score__gte=score_min)
    if score_max is not None:
        base = base.filter(score__lte=score_max)
    if partner is not None:
        base = base.filter(partner=partner)
    if code:
        base = base.filter(Exists(RiskSignal.objects.filter(assessment=OuterRef("pk"), code=code)))
    after = decode_cursor(cursor) if cursor else None
    if after is not None:
        when, pk = after
        base = base.filter(Q(scored_at__lt=when) | Q(scored_at=when, pk__lt=pk))
    ranges = [
        base.filter(level=lvl, decision=dec).order_by("-scored_at", "-pk").values("pk")[: size + 1]
        for lvl in levels
        for dec in decisions
    ]
    union = ranges[0].union(*ranges[1:], all=True) if len(ranges) > 1 else ranges[0]
    ids = [row["pk"] for row in union]
    items = list(
        RiskAssessment.objects.filter(pk__in=ids)
        .select_related("lead", "conversion", "partner__user", "decided_by")
        .prefetch_related("signals")
        .order_by("-scored_at", "-pk")[: size + 1]
    )
    page = QueuePage(items=items[:size], is_first=after is None)
    if len(items) > size:
        page.next_cursor = encode_cursor(items[size - 1])
    for item in page.items:
        item.reasons = [signal_title(s.code) for s in item.signals.all()]  # type: ignore[attr-defined]
    return page


def waiting_count(tenant: Tenant) -> int:
    """Undecided flagged items (capped at WAITING_CAP), cached for a minute and
    forgotten on every decision."""
    key = waiting_cache_key(tenant)
    count = cache.get(key)
    if count is None:
        qs = RiskAssessment.objects.filter(level__in=FLAGGED_LEVELS, decision=Decision.NONE)
        count = qs.order_by().values("pk")[:WAITING_CAP].count()
        cache.set(key, count, WAITING_TTL)
    return int(count)


def signal_title(code: str) -> str:
    signal = REGISTRY.get(code)
    return str(signal.title) if signal else code


@dataclass
class Reason:
    signal: RiskSignal
    title: str
    text: str
    partner_reason: str
    leads: list[Lead] = field(default_factory=list)
    conversions: list[Conversion] = field(default_factory=list)
    clicks: list[Click] = field(default_factory=list)
    partner_fields: list[tuple[str, str]] = field(default_factory=list)
    more: int = 0  # matched records beyond those shown
    value: str = ""


def _partner_field_labels() -> dict[str, str]:
    return {
        "email": _("E-mail"),
        "phone": _("Phone"),
        "ip": _("Sign-in IP"),
        "net": _("Sign-in network"),
        "device": _("Sign-in device"),
        "card": _("Payout card"),
        "iban": _("Payout bank account"),
        "wallet": _("Payout wallet"),
    }


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    if not domain:
        return "•••"
    return f"{local[:1]}•••@{domain}"


def _partner_values(partner: PartnerProfile | None) -> dict[str, str]:
    """The partner's own details as staff may see them in evidence: masked."""
    if partner is None:
        return {}
    values = {"email": mask_email(partner.user.email)}
    for kind, masked in PayoutDetails.objects.filter(partner=partner).values_list(
        "method__kind", "masked"
    ):
        values.setdefault({"bank": "iban"}.get(kind, kind), masked)
    return values


def reasons_of(assessment: RiskAssessment) -> list[Reason]:
    """Every fired signal with its explanation and evidence (a few queries in all)."""
    signals = list(assessment.signals.all())
    lead_ids: set[str] = set()
    conversion_ids: set[str] = set()
    click_ids: set[int] = set()
    for s in signals:
        lead_ids.update(str(i) for i in (s.evidence.get("leads") or [])[:EVIDENCE_ROWS])
        conversion_ids.update(str(i) for i in (s.evidence.get("conversions") or [])[:EVIDENCE_ROWS])
        click_ids.update(
            int(i) for i in (s.evidence.get("clicks") or [])[:EVIDENCE_ROWS] if str(i).isdigit()
        )
    leads = {str(x.pk): x for x in Lead.objects.filter(pk__in=lead_ids).select_related("partner")}
    conversions = {
        str(x.pk): x
        for x in Conversion.objects.filter(pk__in=conversion_ids).select_related("partner")
    }
    clicks = {x.pk: x for x in Click.objects.filter(pk__in=click_ids)}
    labels = _partner_field_labels()
    partner_values = (
        _partner_values(assessment.partner)
        if any(s.evidence.get("partner_fields") for s in signals)
        else {}
    )
    reasons = []
    for s in signals:
        known = REGISTRY.get(s.code)
        evidence = s.evidence or {}
        reason = Reason(
            signal=s,
            title=signal_title(s.code),
            text=explain(s),
            partner_reason=str(known.partner_reason) if known else "",
            value=str(evidence.get("value", "")),
        )
        shown = 0
        total = 0
        for key, found, into in (
            ("leads", leads, reason.leads),
            ("conversions", conversions, reason.conversions),
            ("clicks", clicks, reason.clicks),
        ):
            ids = evidence.get(key) or []
            total += len(ids)
            for i in ids[:EVIDENCE_ROWS]:
                row = found.get(int(i) if key == "clicks" and str(i).isdigit() else str(i))
                if row is not None:
                    into.append(row)
                    shown += 1
        reason.more = max(total - shown, 0)
        for name in evidence.get("partner_fields") or []:
            reason.partner_fields.append(
                (labels.get(name, name), partner_values.get(name, _("matched (not shown)")))
            )
        reasons.append(reason)
    return reasons


def rewards_of(assessment: RiskAssessment) -> QuerySet[Reward]:
    """The rewards of the subject: a lead's, a conversion's (upline shares included),
    or a partner's latest."""
    if assessment.subject == RiskAssessment.Subject.LEAD:
        rewards = Reward.objects.filter(lead_id=assessment.lead_id)
    elif assessment.subject == RiskAssessment.Subject.CONVERSION:
        rewards = Reward.objects.filter(conversion_id=assessment.conversion_id)
    else:
        rewards = Reward.objects.filter(partner_id=assessment.partner_id)
    return rewards.select_related("program", "partner__user").order_by("-created_at")[:50]


def history_of(assessment: RiskAssessment) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(
        object_type="riskassessment", object_id=str(assessment.pk)
    ).order_by("-created_at")[:50]


def assessments_of_partner(partner: PartnerProfile) -> QuerySet[RiskAssessment]:
    return RiskAssessment.objects.filter(partner=partner).order_by("-scored_at")


def review_threshold() -> int:
    row = RiskSettings.objects.first()
    return row.review_above if row else RiskSettings._meta.get_field("review_above").default  # type: ignore[return-value]


def subject_label(item: RiskAssessment) -> Any:
    if item.subject == RiskAssessment.Subject.LEAD and item.lead is not None:
        return item.lead
    if item.subject == RiskAssessment.Subject.CONVERSION and item.conversion is not None:
        return item.conversion.external_id
    return item.partner
