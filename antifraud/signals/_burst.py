"""The shape the three burst signals share: many leads (or sign-ups and sales) with the
same IP, network or device key within a window around the subject."""

from __future__ import annotations

from typing import Any

from antifraud.signals._query import windowed_counts, windowed_evidence
from antifraud.signals.base import Batch, Hit


def burst(field: str) -> Any:
    def many(batch: Batch, conf: dict[str, Any]) -> dict[Any, Hit]:
        minutes, threshold = int(conf["window_minutes"]), int(conf["threshold"])
        counts = windowed_counts(batch, field, minutes)
        fired = [pk for pk, n in counts.items() if n >= threshold]
        evidence = windowed_evidence(batch, field, minutes, fired)
        by_pk = {o.pk: o for o in batch.objs}
        kind = "leads" if batch.subject == "lead" else "conversions"
        return {
            pk: Hit(
                points=int(conf["weight"]),
                params={"count": counts[pk], "minutes": minutes},
                evidence={kind: evidence.get(pk, [])},
                match_key=f"{field}:{getattr(by_pk[pk], field)}"[:128],
            )
            for pk in fired
        }

    return many
