"""Referral links as partners share them: straight to the site (read by the snippet)
or through the platform's ``/r/CODE`` redirect (recorded server-side)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from prm.models import Tenant
from programs.models import Program

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign")


def with_params(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` set (replacing same-named ones); empty values are left out."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, v) for k, v in params.items() if v]
    return urlunsplit(parts._replace(query=urlencode(query)))


def referral_link(program: Program, code: str, *, to: str = "", sub: str = "", **utm: str) -> str:
    target = to if to and program.allows_url(to) else program.default_landing_url
    if not target:
        return ""
    return with_params(target, {program.ref_param: code, "sub": sub, **_utm(utm)})


def platform_link(
    tenant: Tenant, program: Program, code: str, *, to: str = "", sub: str = "", **utm: str
) -> str:
    # The redirect falls back to the default landing URL itself: leave it out.
    to = to if to and to != program.default_landing_url and program.allows_url(to) else ""
    return with_params(f"{tenant.base_url}/r/{code}", {"to": to, "sub": sub, **_utm(utm)})


def _utm(values: dict[str, str]) -> dict[str, str]:
    return {key: values.get(key, "") for key in UTM_KEYS}
