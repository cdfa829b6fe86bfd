"""Leads' values by PRM field: what is pushed, and what inbound changes compare with.
Looked up for a whole chunk of leads at once (a 10,000-lead sync must not cost a query
per lead per field)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from integrations.crm.reward_values import PARTNER_FIELDS, partner_values_for, reward_values_for
from integrations.models import CrmConnection
from programs.models import Enrollment, Lead, LeadEvent, PromoCode

# Fields the CRM may change here (contact data and notes). Attribution fields (partner,
# codes, program, our id) are the PRM's: they are only ever written to the CRM.
WRITABLE_HERE = ("name", "email", "phone", "company", "notes")


def lead_notes(lead: Lead) -> str:
    return notes_for([lead.pk]).get(str(lead.pk), "")


def notes_for(lead_ids: Iterable[object]) -> dict[str, str]:
    lines: dict[str, list[str]] = defaultdict(list)
    rows = (
        LeadEvent.objects.filter(lead_id__in=list(lead_ids), kind=LeadEvent.Kind.NOTE)
        .order_by("created_at", "id")
        .values_list("lead_id", "text")
    )
    for lead_id, text in rows:
        if text.strip():
            lines[str(lead_id)].append(text.strip())
    return {key: "\n".join(value) for key, value in lines.items()}


def values_for(leads: list[Lead], fields: set[str]) -> dict[str, dict[str, str]]:
    """{lead id: {prm field: value}} for the fields asked."""
    pairs = {(lead.program_id, lead.partner_id) for lead in leads if lead.partner_id}
    codes: dict[tuple[object, object], str] = {}
    promos: dict[tuple[object, object], str] = {}
    if pairs and "referral_code" in fields:
        for program_id, partner_id, code in Enrollment.objects.filter(
            program_id__in={p for p, _ in pairs}, partner_id__in={q for _, q in pairs}
        ).values_list("program_id", "partner_id", "code"):
            codes[(program_id, partner_id)] = code
    if pairs and "promo_code" in fields:
        for program_id, partner_id, code in (
            PromoCode.objects.filter(
                program_id__in={p for p, _ in pairs},
                partner_id__in={q for _, q in pairs},
                is_active=True,
            )
            .order_by("-created_at")
            .values_list("program_id", "partner_id", "code")
        ):
            promos[(program_id, partner_id)] = code  # the oldest active one wins
    notes = notes_for([lead.pk for lead in leads]) if "notes" in fields else {}
    rewards = reward_values_for([lead.pk for lead in leads], fields)
    balances = partner_values_for({lead.partner_id for lead in leads}, fields)
    out: dict[str, dict[str, str]] = {}
    for lead in leads:
        key = str(lead.pk)
        pair = (lead.program_id, lead.partner_id)
        every = {
            "name": lead.name,
            "email": lead.email,
            "phone": lead.phone,
            "company": lead.company,
            "lead_id": key,
            "program": lead.program.name if "program" in fields else "",
            "partner": str(lead.partner) if lead.partner_id else "",
            "referral_code": codes.get(pair, ""),
            "promo_code": promos.get(pair, ""),
            "notes": notes.get(key, ""),
            **rewards.get(key, {}),
            **balances.get(str(lead.partner_id), dict.fromkeys(PARTNER_FIELDS, "")),
        }
        out[key] = {name: every[name] for name in fields if name in every}
    return out


def lead_values(lead: Lead, fields: set[str]) -> dict[str, str]:
    return values_for([lead], fields)[str(lead.pk)]


def lead_title(lead: Lead) -> str:
    who = lead.name or lead.company or lead.email or lead.phone or str(lead.pk)[:8]
    return f"{who} · {lead.program.name}"[:250]


def note_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def merge_lines(ours: str, theirs: str) -> str:
    merged = note_lines(ours)
    merged += [line for line in note_lines(theirs) if line not in merged]
    return "\n".join(merged)


def add_note_lines(crm: CrmConnection, lead: Lead, ours: str, wanted: str) -> None:
    have = set(note_lines(ours))
    for line in note_lines(wanted):
        if line not in have:
            LeadEvent.objects.create(
                tenant=crm.tenant, lead=lead, kind=LeadEvent.Kind.NOTE, text=line[:5000]
            )
