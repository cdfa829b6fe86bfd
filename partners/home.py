"""What the partner's home page shows: their link and its QR code, balances and the next
payout date, this month's numbers, the latest news, and next steps.

Every query is bounded: by the partner (indexed) and, for the month's numbers, by the
month's start; the links by a small limit.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import qrcode
import qrcode.image.svg
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.models import PartnerProfile
from prm.models import Tenant
from programs import links
from programs.models import Click, Conversion, Enrollment, Lead
from rewards.models import PayoutDetails, PayoutMethod, Reward
from rewards.services.ledger import Balance, balances
from rewards.services.payouts import is_schedule_day

LINKS_SHOWN = 5
# Issue 15 (news posts) plugs in here: a function (partner, limit) -> list of posts with
# ``title``, ``url`` and ``published_at``. Until then the home page has no news card.
NewsSource = Callable[[PartnerProfile, int], list[Any]]
news_source: NewsSource | None = None


@dataclass(frozen=True)
class ShareLink:
    program: str
    enrollment_id: str
    url: str


@dataclass(frozen=True)
class Step:
    text: str
    done: bool
    url: str


def share_links(tenant: Tenant, partner: PartnerProfile) -> list[ShareLink]:
    """The partner's links through the platform's /r/ redirect (recorded server-side,
    works whatever the program's landing page is), newest enrollment first."""
    enrollments = (
        Enrollment.objects.filter(partner=partner, status=Enrollment.Status.ACTIVE)
        .select_related("program")
        .order_by("-created_at")[:LINKS_SHOWN]
    )
    return [
        ShareLink(
            program=e.program.name,
            enrollment_id=str(e.pk),
            url=links.platform_link(tenant, e.program, e.code),
        )
        for e in enrollments
    ]


def qr_data_uri(text: str) -> str:
    """``text`` as a QR code: an SVG drawn on the server (qrcode), as a data: URI (the
    CSP allows data: images; no script, no inline style)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    out = io.BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def month_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_numbers(partner: PartnerProfile) -> dict[str, Any]:
    """Clicks, leads, conversions and earnings (per currency) since the month began."""
    since = month_start()
    earnings = (
        Reward.objects.filter(partner=partner, created_at__gte=since)
        .exclude(status=Reward.Status.REJECTED)
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    return {
        "since": since,
        "clicks": Click.objects.filter(partner=partner, created_at__gte=since).count(),
        "leads": Lead.objects.filter(partner=partner, created_at__gte=since).count(),
        "conversions": Conversion.objects.filter(partner=partner, occurred_at__gte=since).count(),
        "earnings": [(row["currency"], row["total"] or Decimal("0")) for row in earnings],
    }


def next_schedule_day(schedule: str, today: date) -> date | None:
    if schedule == PayoutMethod.Schedule.ON_REQUEST:
        return None
    day = today + timedelta(days=1)
    for _step in range(62):
        if is_schedule_day(schedule, day):
            return day
        day += timedelta(days=1)
    return None


def payout_outlook(partner: PartnerProfile) -> dict[str, Any]:
    """The next automatic payout date over the methods the partner has details for,
    and whether they have any details at all."""
    methods = list(
        PayoutDetails.objects.filter(partner=partner, method__is_active=True)
        .values_list("method__schedule", flat=True)
        .distinct()
    )
    today = timezone.localdate()
    dates = [d for d in (next_schedule_day(s, today) for s in methods) if d is not None]
    return {"has_details": bool(methods), "next_date": min(dates) if dates else None}


def latest_news(partner: PartnerProfile, limit: int = 3) -> list[Any]:
    return news_source(partner, limit) if news_source is not None else []


def next_steps(
    partner: PartnerProfile,
    *,
    has_program: bool,
    has_details: bool,
    has_click: bool,
    has_conversion: bool,
    urls: dict[str, str],
) -> list[Step]:
    return [
        Step(_("Join a program"), has_program, urls["programs"]),
        Step(_("Add your payout details"), has_details, urls["payouts"]),
        Step(_("Share your link: get your first click"), has_click, urls["programs"]),
        Step(_("Bring your first customer"), has_conversion, urls["stats"]),
    ]


def home_context(tenant: Tenant, partner: PartnerProfile, urls: dict[str, str]) -> dict[str, Any]:
    shares = share_links(tenant, partner)
    numbers = month_numbers(partner)
    payout = payout_outlook(partner)
    money: list[Balance] = list(balances(partner).values())
    has_click = numbers["clicks"] > 0 or Click.objects.filter(partner=partner).exists()
    has_conversion = (
        numbers["conversions"] > 0 or Conversion.objects.filter(partner=partner).exists()
    )
    steps = next_steps(
        partner,
        has_program=bool(shares),
        has_details=payout["has_details"],
        has_click=has_click,
        has_conversion=has_conversion,
        urls=urls,
    )
    return {
        "partner": partner,
        "shares": shares,
        "qr": qr_data_uri(shares[0].url) if shares else "",
        "numbers": numbers,
        "balances": money,
        "payout": payout,
        "news": latest_news(partner),
        "steps": steps,
        "steps_left": sum(1 for s in steps if not s.done),
    }
