"""Who gets the credit for a lead or a conversion, and why.

Precedence, strongest first (shown in the console and the README):
1. promo code used at checkout: the customer named the partner themselves;
2. lead owner: a partner who brought this customer as a lead within the window;
3. referral cookie / clicks: the program's first- or last-click rule over the
   visitor's clicks within the cookie window (and the code the snippet's cookie holds).
Evidence that is not eligible (paused program, blocked partner, expired window) is
kept in the trail with the reason it lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q

from partners.models import PartnerProfile
from programs.models import Click, Enrollment, Lead, Program, PromoCode
from programs.services import trail_text as T

PRECEDENCE = ["promo_code", "lead_owner", "click", "cookie"]


@dataclass
class Attribution:
    partner: PartnerProfile | None = None
    via: str = ""
    lead: Lead | None = None
    click: Click | None = None  # the click that won, when one did
    evidence: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""

    def trail(self) -> dict[str, Any]:
        return {
            "precedence": PRECEDENCE,
            "evidence": self.evidence,
            "winner": (
                {"partner_id": str(self.partner.pk), "partner": str(self.partner), "via": self.via}
                if self.partner
                else None
            ),
            "reason": self.reason,
        }


def _ineligible(program: Program, enrollment: Enrollment | None, partner: PartnerProfile) -> str:
    if program.status != Program.Status.ACTIVE:
        return T.status_note(T.PROGRAM_STATUS, program.status, f"program is {program.status}")
    if partner.status != PartnerProfile.Status.ACTIVE:
        return T.status_note(T.PARTNER_STATUS, partner.status, f"partner is {partner.status}")
    if enrollment is None:
        return T.NOT_ENROLLED
    if enrollment.status != Enrollment.Status.ACTIVE:
        return T.status_note(
            T.ENROLLMENT_STATUS, enrollment.status, f"enrollment is {enrollment.status}"
        )
    return ""


def _enrollment(program: Program, partner_id: Any) -> Enrollment | None:
    return Enrollment.objects.filter(program=program, partner_id=partner_id).first()


def attribute(
    *,
    program: Program,
    at: datetime,
    promo_code: str = "",
    email: str = "",
    phone: str = "",
    external_id: str = "",
    visitor_id: str = "",
    cookie_code: str = "",
    cookie_time: datetime | None = None,
    use_leads: bool = True,
) -> Attribution:
    result = Attribution()
    window_start = at - timedelta(days=program.cookie_days)

    def consider(kind: str, partner: PartnerProfile, **facts: Any) -> bool:
        note = facts.pop("note", "") or _ineligible(
            program, _enrollment(program, partner.pk), partner
        )
        item = {"type": kind, "partner_id": str(partner.pk), "partner": str(partner), **facts}
        item["eligible"] = not note
        if note:
            item["note"] = note
        result.evidence.append(item)
        if not note and result.partner is None:
            result.partner, result.via = partner, kind
            return True
        return False

    if promo_code:
        promo = (
            PromoCode.objects.select_related("partner")
            .filter(program=program, code__iexact=promo_code.strip())
            .first()
        )
        if promo is None:
            result.evidence.append(
                {
                    "type": "promo_code",
                    "code": promo_code,
                    "eligible": False,
                    "note": T.UNKNOWN_CODE,
                }
            )
        else:
            consider(
                "promo_code",
                promo.partner,
                code=promo.code,
                note="" if promo.is_active else T.PROMO_DISABLED,
            )

    if use_leads:
        match = Q()
        if email:
            match |= Q(email=email)
        if phone:
            match |= Q(phone=phone)
        if external_id:
            match |= Q(external_id=external_id)
        if visitor_id:
            match |= Q(visitor_id=visitor_id)
        if match:
            owner_lead = (
                Lead.objects.select_related("partner")
                .filter(match, program=program, duplicate_of=None, partner__isnull=False)
                .order_by("created_at")
                .first()
            )
            if owner_lead is not None:
                result.lead = owner_lead
                expired = owner_lead.owned_until is not None and owner_lead.owned_until < at
                consider(
                    "lead_owner",
                    owner_lead.partner,  # type: ignore[arg-type]
                    lead_id=str(owner_lead.pk),
                    since=owner_lead.created_at.isoformat(),
                    note=T.OWNERSHIP_EXPIRED if expired else "",
                )

    if visitor_id:
        clicks = list(
            Click.objects.select_related("partner")
            .filter(program=program, visitor_id=visitor_id, created_at__lte=at)
            .order_by("created_at")[:200]
        )
        in_window = [c for c in clicks if c.created_at >= window_start]
        for click in clicks:
            if click.created_at < window_start:
                note = T.OUTSIDE_WINDOW
            elif click.status != Click.Status.ACCEPTED:
                note = T.CLICK_REJECTED.get(
                    click.reject_reason, f"click rejected: {click.reject_reason}"
                )
            else:
                note = ""
            result.evidence.append(
                {
                    "type": "click",
                    "partner_id": str(click.partner_id),
                    "partner": str(click.partner),
                    "code": click.code,
                    "at": click.created_at.isoformat(),
                    "eligible": not note,
                    **({"note": note} if note else {}),
                }
            )
        eligible = [c for c in in_window if c.status == Click.Status.ACCEPTED]
        if eligible and result.partner is None:
            chosen = (
                eligible[0]
                if program.attribution == Program.Attribution.FIRST_CLICK
                else eligible[-1]
            )
            note = _ineligible(program, _enrollment(program, chosen.partner_id), chosen.partner)
            if not note:
                result.partner, result.via = chosen.partner, "click"
                result.click = chosen
                result.evidence.append(
                    {"type": "rule", "rule": program.attribution, "code": chosen.code}
                )

    if cookie_code and result.partner is None:
        enrollment = (
            Enrollment.objects.select_related("partner")
            .filter(program=program, code__iexact=cookie_code)
            .first()
        )
        if enrollment is None:
            result.evidence.append(
                {"type": "cookie", "code": cookie_code, "eligible": False, "note": T.UNKNOWN_CODE}
            )
        else:
            expired = cookie_time is not None and cookie_time < window_start
            consider(
                "cookie",
                enrollment.partner,
                code=enrollment.code,
                note=T.OUTSIDE_WINDOW if expired else "",
            )

    if result.partner is not None:
        key = program.attribution if result.via == "click" else result.via
        result.reason = T.REASONS[key]
    else:
        result.reason = T.REASONS["none_eligible" if result.evidence else "no_evidence"]
    return result
