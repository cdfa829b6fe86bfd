"""Click flooding and cookie stuffing: the visitor (or their IP address, for this
partner) clicked the partner's links far more often than a person does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Case, IntegerField, OuterRef, Q, Value, When
from django.utils.translation import gettext_lazy as _

from antifraud.signals._query import count_sub, last_clicks, model_of
from antifraud.signals.base import Batch, Hit, batch_signal


def _many(batch: Batch, conf: dict[str, Any]) -> dict[Any, Hit]:
    from programs.models import Click

    window = timedelta(minutes=int(conf["window_minutes"]))
    threshold, ip_threshold = int(conf["threshold"]), int(conf["ip_threshold"])
    model = model_of(batch.subject)
    by_visitor = Click.objects.filter(
        program_id=OuterRef("program_id"),
        visitor_id=OuterRef("visitor_id"),
        created_at__gte=OuterRef("created_at") - window,
        created_at__lte=OuterRef("created_at"),
    )
    visitor_counts = dict(
        model.objects.filter(pk__in=batch.ids)
        .annotate(
            n=Case(
                When(~Q(visitor_id=""), then=count_sub(by_visitor)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .values_list("pk", "n")
    )
    clicks = last_clicks(batch)
    ip_counts: dict[Any, int] = {}
    with_ip = [c.pk for c in clicks.values() if c.ip and c.partner_id]
    if with_ip:
        by_ip = Click.objects.filter(
            partner_id=OuterRef("partner_id"),
            ip=OuterRef("ip"),
            created_at__gte=OuterRef("created_at") - window,
            created_at__lte=OuterRef("created_at"),
        )
        ip_counts = dict(
            Click.objects.filter(pk__in=with_ip).annotate(n=count_sub(by_ip)).values_list("pk", "n")
        )
    out = {}
    for obj in batch.objs:
        n_visitor = visitor_counts.get(obj.pk, 0)
        click = clicks.get(obj.pk)
        n_ip = ip_counts.get(click.pk, 0) if click else 0
        if n_visitor < threshold and n_ip < ip_threshold:
            continue
        by_ip_too = n_ip >= ip_threshold
        out[obj.pk] = Hit(
            points=int(conf["weight"]),
            params={"count": max(n_visitor, n_ip), "minutes": int(conf["window_minutes"])},
            evidence={
                "clicks": [str(click.pk)] if click else [],
                "visitor_clicks": n_visitor,
                "ip_clicks": n_ip,
            },
            match_key=(f"ip:{click.ip}" if by_ip_too and click else f"visitor:{obj.visitor_id}")[
                :128
            ],
        )
    return out


CLICK_FLOOD = batch_signal(
    code="click_flood",
    title=_("Click flooding"),
    explanation=_(
        "%(count)s clicks on the partner's links from one visitor or IP address "
        "within %(minutes)s minutes."
    ),
    partner_reason=_("Unusual traffic pattern."),
    subjects=("lead", "conversion"),
    defaults={
        "enabled": True,
        "weight": 30,
        "threshold": 20,
        "window_minutes": 60,
        "ip_threshold": 100,
    },
    help=_("Threshold: clicks by one visitor in the window (one IP address: 100)."),
    many=_many,
)
