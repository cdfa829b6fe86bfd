"""A click's or lead's channel: utm parameters, sub id, referrer domain and kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from prm.inputs import clean_text

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
UTM_MAX = 100
DOMAIN_MAX = 100


@dataclass(frozen=True)
class Utm:
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in UTM_FIELDS}

    def __bool__(self) -> bool:
        return any(self.as_dict().values())


def utm_clean(value: Any) -> str:
    """Lower-cased and trimmed, so "Newsletter" and "newsletter " are one source."""
    if not isinstance(value, str):
        return ""
    return clean_text(value.strip().lower(), UTM_MAX)


def utm_from_params(params: Any) -> Utm:
    """From a QueryDict or a plain mapping."""
    return Utm(**{name: utm_clean(params.get(name, "")) for name in UTM_FIELDS})


def utm_from_url(url: str) -> Utm:
    """The utm_* parameters of a URL's query (or of its fragment, as the snippet reads)."""
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return Utm()
    found: dict[str, str] = {}
    for chunk in (parts.fragment.partition("?")[2] or parts.fragment, parts.query):
        for key, value in parse_qsl(chunk, keep_blank_values=False):
            if key in UTM_FIELDS:
                found[key] = value
    return utm_from_params(found)


def referrer_domain(url: str) -> str:
    """``https://www.Blog.example/post`` -> ``blog.example`` (the same as the SQL the
    rollups use for clicks: see ``rollup_sql.REFERRER_DOMAIN``)."""
    try:
        host = urlsplit(url or "").hostname or ""
    except ValueError:
        return ""
    if not url.lower().startswith(("http://", "https://")):
        return ""
    host = host.lower()
    return (host[4:] if host.startswith("www.") else host)[:DOMAIN_MAX]
