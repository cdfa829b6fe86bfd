"""A lead's values by PRM field: what is pushed, and what inbound changes compare with."""

from __future__ import annotations

from programs.models import Enrollment, Lead, LeadEvent, PromoCode

# Fields the CRM may change here (contact data and notes). Attribution fields (partner,
# codes, program, our id) are the PRM's: they are only ever written to the CRM.
WRITABLE_HERE = ("name", "email", "phone", "company", "notes")


def lead_notes(lead: Lead) -> str:
    notes = LeadEvent.objects.filter(lead=lead, kind=LeadEvent.Kind.NOTE).order_by("created_at")
    return "\n".join(n.text.strip() for n in notes if n.text.strip())


def lead_values(lead: Lead, fields: set[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    simple = {
        "name": lead.name,
        "email": lead.email,
        "phone": lead.phone,
        "company": lead.company,
        "lead_id": str(lead.pk),
        "program": lead.program.name if "program" in fields else "",
    }
    for key in fields & simple.keys():
        values[key] = simple[key]
    partner = lead.partner
    if "partner" in fields:
        values["partner"] = str(partner) if partner else ""
    if "referral_code" in fields:
        code = ""
        if partner is not None:
            code = (
                Enrollment.objects.filter(program_id=lead.program_id, partner=partner)
                .values_list("code", flat=True)
                .first()
                or ""
            )
        values["referral_code"] = code
    if "promo_code" in fields:
        promo = ""
        if partner is not None:
            promo = (
                PromoCode.objects.filter(program_id=lead.program_id, partner=partner)
                .order_by("created_at")
                .values_list("code", flat=True)
                .first()
                or ""
            )
        values["promo_code"] = promo
    if "notes" in fields:
        values["notes"] = lead_notes(lead)
    return values


def lead_title(lead: Lead) -> str:
    who = lead.name or lead.company or lead.email or lead.phone or str(lead.pk)[:8]
    return f"{who} · {lead.program.name}"[:250]
