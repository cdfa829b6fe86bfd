"""The same customer registering again: an earlier lead (or sale) in the program with
the same identity e-mail key, phone, visitor cookie or device — under another address.

Leads already recorded as duplicates (same address, within the owner's window) earn
nothing and are skipped; for sales, a repeat purchase under the *same* address is a
returning customer the reward rules already know about, so only a changed address
(``name+2@gmail.com``, a new e-mail from the same device or cookie) counts, and
subscription payments never do.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Case, OuterRef, Q, Subquery, Value, When
from django.utils.translation import gettext_lazy as _

from antifraud.signals._query import model_of
from antifraud.signals.base import Batch, Hit, batch_signal

LEAD_KEYS = ("email_key", "phone", "visitor_id", "device")
CONVERSION_KEYS = ("email_key", "visitor_id", "device")
EMAIL_FIELD = {"lead": "email", "conversion": "customer_email"}


def _many(batch: Batch, conf: dict[str, Any]) -> dict[Any, Hit]:
    model = model_of(batch.subject)
    window = timedelta(minutes=int(conf["window_minutes"]))
    email_field = EMAIL_FIELD[batch.subject]
    keys = LEAD_KEYS if batch.subject == "lead" else CONVERSION_KEYS
    subjects = model.objects.filter(pk__in=batch.ids)
    if batch.subject == "lead":
        subjects = subjects.filter(duplicate_of__isnull=True)
    else:
        subjects = subjects.exclude(kind="subscription")
    annotations = {}
    for key in keys:
        # The tenant's (key, created_at) index finds the earlier rows; the program and
        # the address are checked on those few.
        earlier = model.objects.filter(
            created_at__lt=OuterRef("created_at"),
            created_at__gte=OuterRef("created_at") - window,
            **{key: OuterRef(key)},
        ).exclude(**{key: ""})
        earlier = earlier.filter(program_id=OuterRef("program_id"))
        # Under another address: the same address again is a duplicate or a returning
        # customer, handled elsewhere.
        earlier = earlier.exclude(**{email_field: OuterRef(email_field)})
        annotations[f"m_{key}"] = Case(
            When(~Q(**{key: ""}), then=Subquery(earlier.order_by("created_at").values("pk")[:1])),
            default=Value(None),
        )
    rows = subjects.annotate(**annotations).values("pk", *annotations)
    by_pk = {o.pk: o for o in batch.objs}
    kind = "leads" if batch.subject == "lead" else "conversions"
    out: dict[Any, Hit] = {}
    for row in rows:
        matched = [
            (key, row[f"m_{key}"])
            for key in keys
            if row[f"m_{key}"] and getattr(by_pk[row["pk"]], key)
        ]
        if not matched:
            continue
        key, _first = matched[0]
        out[row["pk"]] = Hit(
            points=int(conf["weight"]),
            params={"fields": ", ".join(k for k, _ in matched)},
            evidence={
                kind: sorted({str(pk) for _, pk in matched}),
                "fields": [k for k, _ in matched],
            },
            match_key=f"{key}:{getattr(by_pk[row['pk']], key)}"[:128],
        )
    return out


REPEAT_CUSTOMER = batch_signal(
    code="repeat_customer",
    title=_("Same customer again"),
    explanation=_(
        "An earlier lead or sale in this program matches on %(fields)s under another e-mail."
    ),
    partner_reason=_("The customer was already registered."),
    subjects=("lead", "conversion"),
    defaults={"enabled": True, "weight": 40, "threshold": 1, "window_minutes": 365 * 24 * 60},
    help=_("Window: how far back an earlier lead or sale counts."),
    many=_many,
)
