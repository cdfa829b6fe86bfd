"""The contract every signal keeps, and the registry the scorer and the console read.

A signal looks at one subject (a lead, a conversion or a partner) through a ``Context``
and answers a ``Hit`` (it fired: points, the parameters of its explanation, the
evidence as ids, the matched key an "allow" can be recorded against) or ``None``.
Weight, threshold, window and on/off come from the tenant's settings merged over the
signal's ``defaults`` (``antifraud.config.effective``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise

SUBJECTS = ("lead", "conversion", "partner")


@dataclass
class Hit:
    points: int
    params: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    match_key: str = ""


@dataclass
class Context:
    """What a signal is given: the subject, its tenant's effective settings for this
    signal (``conf``: enabled, weight, threshold, window_minutes, plus any extra keys the
    signal's defaults declare) and a per-run cache signals may share look-ups through."""

    subject: str
    obj: Any
    conf: dict[str, Any]
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass
class Batch:
    """Many subjects of one kind, scored together: a batch signal answers for all of
    them with a fixed number of queries (``Signal.evaluate_many``). ``objs`` come with
    their program and partner loaded; ``cache`` is shared by the batch's signals (the
    visitors' last clicks, the partners' fingerprints…)."""

    subject: str
    objs: list[Any]
    tenant: Any
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> list[Any]:
        return [o.pk for o in self.objs]


ManyEvaluator = Callable[[Batch, dict[str, Any]], dict[Any, Hit]]


@dataclass(frozen=True)
class Signal:
    code: str
    title: Promise  # short name, for the console's settings and filters
    explanation: Promise  # for staff, filled from Hit.params ("%(count)s leads from …")
    partner_reason: Promise  # what a partner may read: never the evidence
    subjects: tuple[str, ...]
    defaults: dict[str, Any]  # enabled, weight (0–100), threshold, window_minutes, …
    evaluate: Callable[[Context], Hit | None]
    help: Promise | str = ""  # what threshold/window mean for this signal, for the form
    # The set-based form the scorer uses (``evaluate`` is it with a batch of one).
    evaluate_many: ManyEvaluator | None = None


def batch_signal(
    *,
    code: str,
    title: Promise,
    explanation: Promise,
    partner_reason: Promise,
    subjects: tuple[str, ...],
    defaults: dict[str, Any],
    many: ManyEvaluator,
    help: Promise | str = "",
) -> Signal:
    """Register a signal written set-based; its per-subject ``evaluate`` is the same
    code with a batch of one, so both paths always agree."""

    def one(ctx: Context) -> Hit | None:
        batch = Batch(ctx.subject, [ctx.obj], getattr(ctx.obj, "tenant", None), ctx.cache)
        return many(batch, ctx.conf).get(ctx.obj.pk)

    return register(
        Signal(
            code=code,
            title=title,
            explanation=explanation,
            partner_reason=partner_reason,
            subjects=subjects,
            defaults=defaults,
            evaluate=one,
            help=help,
            evaluate_many=many,
        )
    )


REGISTRY: dict[str, Signal] = {}


def register(signal: Signal) -> Signal:
    if signal.code in REGISTRY:
        raise ValueError(f"signal {signal.code!r} registered twice")
    if not set(signal.subjects) <= set(SUBJECTS):
        raise ValueError(f"signal {signal.code!r}: unknown subject")
    REGISTRY[signal.code] = signal
    return signal
