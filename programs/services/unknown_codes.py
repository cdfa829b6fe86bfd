"""``/r/UNKNOWN``: which program's landing page a visitor with an unknown referral code
goes to, and the rejected click that records the visit.

The click goes the same way as any other (the Redis stream, or straight to the
database without Redis), with no enrollment and no partner: it credits nobody, the
flush keeps it (it has no enrollment to have been deleted), and the console can count
broken links.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Case, IntegerField, Value, When

from prm.inputs import clean_text
from programs.models import Program
from programs.services import clicks

REASON = "unknown_code"


def fallback_program(*, hint: str = "") -> Program | None:
    """The program an unknown code's visitor lands on, in the active tenant's scope.

    ``hint`` (``?p=`` on the link) is a program's publishable key, the public id the
    snippet already carries. Without it: the tenant's oldest active program with a
    landing URL, else its oldest program with one; None when no program has one.
    """
    programs = Program.objects.exclude(landing_urls="")
    if hint and "\x00" not in hint:
        hinted = programs.filter(publishable_key=hint[:40]).first()
        if hinted is not None and hinted.default_landing_url:
            return hinted
    ranked = programs.annotate(
        rank=Case(
            When(status=Program.Status.ACTIVE, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    ).order_by("rank", "created_at", "pk")
    for program in ranked[:20]:
        if program.default_landing_url:
            return program
    return None


def unknown_click_record(
    *,
    program: Program,
    code: str,
    visitor: str,
    sub: str,
    url: str,
    referrer: str,
    ip: str,
    ip_mode: str,
    user_agent: str,
) -> None:
    """Record a rejected click for a code no enrollment of the tenant has."""
    record = {
        "t": str(program.tenant_id),
        "p": str(program.pk),
        "e": None,
        "pa": None,
        # Only a code that could have been one is kept (it is shown to staff).
        "c": code if clicks.CODE_RE.match(code) else "",
        "v": visitor,
        "s": clean_text(sub, 64),
        "u": clean_text(url, 2048),
        "r": clean_text(referrer, 2048) if referrer.startswith(("http://", "https://")) else "",
        "ua": clean_text(user_agent, 512),
        "ip": clicks.mask_ip(ip, ip_mode),
        "x": REASON,
        "src": "link",
        "at": datetime.now(UTC).timestamp(),
    }
    if settings.PRM_JOBS_INLINE:
        clicks._write_now(record)
        return
    dedupe = f"prm:clk:dd:{program.pk}:{visitor}:{REASON}"
    clicks._accept_script()(
        keys=[dedupe, clicks.STREAM], args=[clicks.DEDUPE_SECONDS, json.dumps(record)]
    )
