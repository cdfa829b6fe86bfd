"""Traffic from a site the partner did not declare, on a program that requires it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy as _

from antifraud.signals._query import last_clicks
from antifraud.signals.base import Batch, Hit, batch_signal


def site_host(value: str) -> str:
    """A host name as partners declare it: lower case, without ``www.`` or a port."""
    value = value.strip().lower()
    if "//" not in value:
        value = "//" + value
    host = (urlsplit(value).hostname or "").rstrip(".")
    return host.removeprefix("www.")


def declared(host: str, sites: list[str]) -> bool:
    """``host`` is one of ``sites`` or a subdomain of one."""
    return any(host == s or host.endswith("." + s) for s in (site_host(x) for x in sites) if s)


def _many(batch: Batch, conf: dict[str, Any]) -> dict[Any, Hit]:
    out = {}
    clicks = last_clicks(batch)
    for obj in batch.objs:
        click = clicks.get(obj.pk)
        if click is None or obj.partner is None or not obj.program.require_declared_sites:
            continue
        host = site_host(click.referrer) if click.referrer else ""
        if not host or declared(host, list(obj.partner.websites or [])):
            continue  # no referrer at all is the no_referrer signal's business
        out[obj.pk] = Hit(
            points=int(conf["weight"]),
            params={"site": host},
            evidence={"clicks": [str(click.pk)], "value": host},
            match_key=f"site:{host}"[:128],
        )
    return out


UNDECLARED_SITE = batch_signal(
    code="undeclared_site",
    title=_("Undeclared site"),
    explanation=_("The click came from %(site)s, which is not among the partner's websites."),
    partner_reason=_("The traffic source does not meet the program's terms."),
    subjects=("lead", "conversion"),
    defaults={"enabled": True, "weight": 40, "threshold": 1, "window_minutes": 0},
    help=_("Only in programs that require partners' declared sites."),
    many=_many,
)
