"""Cached lookups for the tracking hot path.

A publishable key and a referral code are read on every click, so their facts are
kept as plain dicts in the shared cache (Redis) and, for a few seconds, in process
memory. Changes to programs, enrollments and partners call ``forget_*``; the local
copy may lag by LOCAL_SECONDS at most, which only delays a pause or a block by as much.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache

SHARED_SECONDS = 300
LOCAL_SECONDS = 5
_MISSING: dict[str, Any] = {}
_local: dict[str, tuple[float, dict[str, Any]]] = {}


def _get(key: str, load: Any) -> dict[str, Any] | None:
    now = time.monotonic()
    hit = _local.get(key)
    if hit is not None and hit[0] > now:
        return hit[1] or None
    value = cache.get(key)
    if value is None:
        value = load() or _MISSING
        cache.set(key, value, SHARED_SECONDS)
    if len(_local) > 10_000:
        _local.clear()
    _local[key] = (now + LOCAL_SECONDS, value)
    return value or None


def program_key_cache_key(publishable_key: str) -> str:
    return f"trk:pk:{publishable_key}"


def code_cache_key(tenant_id: Any, code: str) -> str:
    return f"trk:code:{tenant_id}:{code.upper()}"


def program_for_key(publishable_key: str) -> dict[str, Any] | None:
    """Facts about the program behind a publishable key, across tenants."""
    if not publishable_key or len(publishable_key) > 64:
        return None  # not a key we issue: no query, no cache entry

    def load() -> dict[str, Any] | None:
        from programs.models import Program

        # The publishable key is global by design: it identifies the tenant.
        program = (
            Program.all_tenants_unscoped.select_related("tenant")
            .filter(publishable_key=publishable_key, tenant__is_active=True)
            .first()
        )
        if program is None:
            return None
        return {
            "id": str(program.pk),
            "tenant_id": str(program.tenant_id),
            "status": program.status,
            "cookie_days": program.cookie_days,
            "attribution": program.attribution,
            "ref_param": program.ref_param,
            "cookie_domain": program.cookie_domain,
            "ip_mode": program.tenant.click_ip_mode,
        }

    return _get(program_key_cache_key(publishable_key), load)


def enrollment_for_code(tenant_id: Any, code: str) -> dict[str, Any] | None:
    """Facts about the enrollment behind a referral code in one tenant."""

    def load() -> dict[str, Any] | None:
        from programs.models import Enrollment

        enrollment = (
            Enrollment.all_tenants_unscoped.select_related("partner", "program")
            .filter(tenant_id=tenant_id, code__iexact=code)
            .first()
        )
        if enrollment is None:
            return None
        return {
            "id": str(enrollment.pk),
            "program_id": str(enrollment.program_id),
            "partner_id": str(enrollment.partner_id),
            "status": enrollment.status,
            "partner_status": enrollment.partner.status,
            "program_status": enrollment.program.status,
            "code": enrollment.code,
        }

    return _get(code_cache_key(tenant_id, code), load)


def forget(*keys: str) -> None:
    cache.delete_many(list(keys))
    for key in keys:
        _local.pop(key, None)


def _codes(**where: Any) -> list[str]:
    from programs.models import Enrollment

    # Runs on commit, possibly after the request's scope ended; the filter is explicit.
    return list(Enrollment.all_tenants_unscoped.filter(**where).values_list("code", flat=True))


def forget_program(program: Any) -> None:
    codes = [code_cache_key(program.tenant_id, c) for c in _codes(program_id=program.pk)]
    forget(program_key_cache_key(program.publishable_key), *codes)


def forget_partner(partner: Any) -> None:
    forget(*[code_cache_key(partner.tenant_id, c) for c in _codes(partner_id=partner.pk)])
