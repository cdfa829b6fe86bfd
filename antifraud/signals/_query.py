"""Set-based look-ups the signals share: one query for a whole batch of subjects.

Counts are correlated subqueries on the subjects' own table (each an index range scan
on the trace indexes), written with the ORM so they run on PostgreSQL and on the
SQLite file of the demo alike.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Case, Count, IntegerField, Model, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce

from antifraud.signals.base import Batch

EVIDENCE_MAX = 20  # ids kept as evidence per signal (the reviewer's list, not an export)


def model_of(subject: str) -> type[Model]:
    from programs.models import Conversion, Lead

    return {"lead": Lead, "conversion": Conversion}[subject]


def count_sub(qs: Any) -> Coalesce:
    return Coalesce(
        Subquery(
            qs.order_by().values("tenant").annotate(n=Count("pk")).values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


def windowed_counts(batch: Batch, field: str, minutes: int) -> dict[Any, int]:
    """For each subject with a non-empty ``field``: how many rows of its kind in the
    tenant share it within ``minutes`` before or after it (itself included)."""
    model = model_of(batch.subject)
    window = timedelta(minutes=minutes)
    others = model.objects.filter(
        **{field: OuterRef(field)},
        created_at__gte=OuterRef("created_at") - window,
        created_at__lte=OuterRef("created_at") + window,
    ).exclude(**{field: ""})
    rows = (
        model.objects.filter(pk__in=batch.ids)
        .annotate(
            n=Case(
                When(~Q(**{field: ""}), then=count_sub(others)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .values_list("pk", "n")
    )
    return dict(rows)


def windowed_evidence(
    batch: Batch, field: str, minutes: int, fired: list[Any]
) -> dict[Any, list[str]]:
    """The other rows behind a windowed count, for the subjects that fired: one query
    over the union of their windows, split per subject in Python."""
    if not fired:
        return {}
    model = model_of(batch.subject)
    window = timedelta(minutes=minutes)
    subjects = [o for o in batch.objs if o.pk in set(fired)]
    keys = {getattr(o, field) for o in subjects}
    start = min(o.created_at for o in subjects) - window
    end = max(o.created_at for o in subjects) + window
    rows = list(
        model.objects.filter(**{f"{field}__in": keys}, created_at__gte=start, created_at__lte=end)
        .order_by("-created_at")
        .values_list("pk", field, "created_at")[:5000]
    )
    out: dict[Any, list[str]] = {}
    for o in subjects:
        key, at = getattr(o, field), o.created_at
        out[o.pk] = [
            str(pk)
            for pk, value, when in rows
            if value == key and pk != o.pk and abs(when - at) <= window
        ][:EVIDENCE_MAX]
    return out


def last_clicks(batch: Batch) -> dict[Any, Any]:
    """Subject id → the visitor's last click in the program before the subject (the
    click that brought it), shared by the click signals: two queries per batch."""
    if "last_clicks" in batch.cache:
        return batch.cache["last_clicks"]
    from programs.models import Click

    model = model_of(batch.subject)
    last = Click.objects.filter(
        program_id=OuterRef("program_id"),
        visitor_id=OuterRef("visitor_id"),
        created_at__lte=OuterRef("created_at"),
    ).order_by("-created_at")
    pairs = dict(
        model.objects.filter(pk__in=batch.ids)
        .exclude(visitor_id="")
        .annotate(click_id=Subquery(last.values("pk")[:1]))
        .values_list("pk", "click_id")
    )
    clicks = {c.pk: c for c in Click.objects.filter(pk__in=[c for c in pairs.values() if c])}
    found = {pk: clicks[cid] for pk, cid in pairs.items() if cid in clicks}
    batch.cache["last_clicks"] = found
    return found


def fingerprints(batch: Batch) -> dict[Any, dict[str, set[str]]]:
    """Partner id → kind → values of the credited partners' fingerprints (one query)."""
    if "fingerprints" in batch.cache:
        return batch.cache["fingerprints"]
    from antifraud.models import PartnerFingerprint

    partner_ids = {o.partner_id for o in batch.objs if getattr(o, "partner_id", None)}
    if batch.subject == "partner":
        partner_ids = set(batch.ids)
    out: dict[Any, dict[str, set[str]]] = {}
    for partner_id, kind, value in PartnerFingerprint.objects.filter(
        partner_id__in=list(partner_ids)
    ).values_list("partner_id", "kind", "value"):
        out.setdefault(partner_id, {}).setdefault(kind, set()).add(value)
    batch.cache["fingerprints"] = out
    return out


def email_of(obj: Any) -> str:
    """The customer's (or, for a partner, the person's) e-mail of a subject."""
    if hasattr(obj, "customer_email"):
        return obj.customer_email or ""
    if hasattr(obj, "user"):
        return obj.user.email or ""
    return getattr(obj, "email", "") or ""
