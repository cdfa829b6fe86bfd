"""Writes to leads: creation (with ownership and duplicates), status, assignment, notes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from antifraud.jobs import enqueue_scoring
from partners.models import PartnerProfile
from prm.audit import audit_record
from prm.jobs import job_enqueue
from prm.models import Membership, Role, Tenant, User
from prm.webhooks.events import emit as webhook_emit
from programs.analytics.channel import referrer_domain
from programs.analytics.refresh import touch_lead
from programs.models import Click, Enrollment, Lead, LeadEvent, Program
from programs.services import trail_text as T
from programs.services.attribution import attribute
from programs.services.normalize import email_key, normalize_email, normalize_phone
from programs.services.trace import capture

NEEDS_CONTACT = _("Give at least an e-mail, a phone or an external id.")
NOT_ENROLLED = _("You are not an active partner of this program.")
PROGRAM_NOT_ACTIVE = _("This program is not accepting leads.")
INVALID_STATUS = _("Choose a valid status.")
MANAGER_CANNOT_WORK_LEADS = _("This team member's role does not work with leads.")


@dataclass
class LeadInput:
    name: str = ""
    email: str = ""
    phone: str = ""
    company: str = ""
    external_id: str = ""
    visitor_id: str = ""
    referral_code: str = ""
    cookie_time: datetime | None = None
    # The customer's own request (the snippet's, or passed by the client's server):
    # never the partner's or staff's (see programs.services.trace).
    ip: str = ""
    user_agent: str = ""
    # The channel, as the page that sent the lead saw it (a winning click overrides).
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    sub_id: str = ""
    referrer_domain: str = ""


# Sources whose request is the customer's; the others keep no IP or user agent.
CUSTOMER_SOURCES = (Lead.Source.SNIPPET, Lead.Source.API, Lead.Source.CRM)


def _owner_lead(
    program: Program, email: str, phone: str, external_id: str, now: datetime
) -> Lead | None:
    match = Q()
    if email:
        match |= Q(email=email)
    if phone:
        match |= Q(phone=phone)
    if external_id:
        match |= Q(external_id=external_id)
    return (
        Lead.objects.filter(match, program=program, duplicate_of=None)
        .filter(
            Q(owned_until__gte=now)
            | Q(owned_until__isnull=True, created_at__gte=now - timedelta(days=program.cookie_days))
        )
        .order_by("created_at")
        .first()
    )


def _next_manager(program: Program) -> Membership | None:
    """Round-robin: the manager after the one who got this program's last lead."""
    managers = list(Membership.objects.filter(role=Role.MANAGER).order_by("created_at", "id"))
    if not managers:
        return None
    last = (
        Lead.objects.filter(program=program, assigned_to__isnull=False)
        .order_by("-created_at")
        .values_list("assigned_to_id", flat=True)
        .first()
    )
    ids = [m.pk for m in managers]
    if last in ids:
        return managers[(ids.index(last) + 1) % len(managers)]
    return managers[0]


@transaction.atomic
def lead_create(
    *,
    tenant: Tenant,
    program: Program,
    source: str,
    data: LeadInput,
    partner: PartnerProfile | None = None,
    actor: User | None = None,
) -> Lead:
    """Create a lead. ``partner`` is given for deal registration in the cabinet;
    otherwise the referral evidence (visitor, cookie code) decides."""
    email = normalize_email(data.email)
    phone = normalize_phone(data.phone, language=tenant.language)
    external_id = data.external_id.strip()[:128]
    if not (email or phone or external_id):
        raise ValidationError(NEEDS_CONTACT, code="contact")
    if program.status != Program.Status.ACTIVE and source != Lead.Source.CONSOLE:
        raise ValidationError(PROGRAM_NOT_ACTIVE, code="program")
    now = timezone.now()
    # Serialise leads per program: ownership and round-robin read-then-write.
    Program.objects.select_for_update(no_key=True).filter(pk=program.pk).first()

    if partner is not None:
        enrolled = Enrollment.objects.filter(
            program=program, partner=partner, status=Enrollment.Status.ACTIVE
        ).exists()
        if not enrolled or partner.status != PartnerProfile.Status.ACTIVE:
            raise ValidationError(NOT_ENROLLED, code="partner")
        credited = partner
        trail = {
            "winner": {
                "partner_id": str(partner.pk),
                "partner": str(partner),
                "via": "registration",
            },
            "evidence": [
                {
                    "type": "registration",
                    "partner_id": str(partner.pk),
                    "partner": str(partner),
                    "eligible": True,
                }
            ],
            "reason": T.REASONS["registration" if source == Lead.Source.CABINET else "by_staff"],
        }
    else:
        result = attribute(
            program=program,
            at=now,
            visitor_id=data.visitor_id,
            cookie_code=data.referral_code,
            cookie_time=data.cookie_time,
            use_leads=False,
        )
        credited, trail = result.partner, result.trail()
        if result.click is not None:
            data = _channel_of_click(data, result.click)

    owner = _owner_lead(program, email, phone, external_id, now)
    lead = Lead(
        tenant=tenant,
        program=program,
        source=source,
        name=data.name.strip()[:200],
        email=email,
        phone=phone,
        company=data.company.strip()[:200],
        external_id=external_id,
        visitor_id=data.visitor_id[:64],
        utm_source=data.utm_source[:100],
        utm_medium=data.utm_medium[:100],
        utm_campaign=data.utm_campaign[:100],
        sub_id=data.sub_id[:64],
        referrer_domain=data.referrer_domain[:100],
        registered_by=partner if source == Lead.Source.CABINET else None,
        email_key=email_key(email),
    )
    if source in CUSTOMER_SOURCES:
        for name, value in capture(data.ip, data.user_agent, tenant.click_ip_mode).fields().items():
            setattr(lead, name, value)
    if owner is not None:
        # The customer already belongs to the first partner (or came on their own):
        # recorded as a duplicate, credited to nobody.
        lead.duplicate_of = owner
        lead.partner = None
        trail = {
            **trail,
            "duplicate_of": str(owner.pk),
            "winner": None,
            "reason": T.REASONS["duplicate"],
        }
    else:
        lead.partner = credited
        lead.owned_until = now + timedelta(days=program.cookie_days) if credited else None
        if program.lead_assignment == Program.Assignment.ROUND_ROBIN:
            lead.assigned_to = _next_manager(program)
    lead.attribution = trail
    lead.save()
    LeadEvent.objects.create(
        tenant=tenant,
        lead=lead,
        kind=LeadEvent.Kind.CREATED,
        actor=actor,
        new_value=source,
        text=str(lead.partner or ""),
    )
    if owner is not None:
        LeadEvent.objects.create(
            tenant=tenant,
            lead=owner,
            kind=LeadEvent.Kind.DUPLICATE,
            new_value=str(lead.pk),
            actor=actor,
        )
    if lead.partner_id is not None:
        job_enqueue("rewards.services.accrual.accrue_lead", tenant=tenant, lead_id=str(lead.pk))
    enqueue_scoring(tenant=tenant, leads=[lead.pk])
    if lead.assigned_to_id:
        LeadEvent.objects.create(
            tenant=tenant,
            lead=lead,
            kind=LeadEvent.Kind.ASSIGNED,
            new_value=str(lead.assigned_to.user),
        )
    touch_lead(tenant, lead)
    webhook_emit(tenant, "lead.created", [lead])
    return lead


def _channel_of_click(data: LeadInput, click: Click) -> LeadInput:
    """The lead came through this click: its utm, sub id and referrer are the lead's."""
    return replace(
        data,
        utm_source=click.utm_source,
        utm_medium=click.utm_medium,
        utm_campaign=click.utm_campaign,
        sub_id=click.sub_id,
        referrer_domain=referrer_domain(click.referrer),
    )


@transaction.atomic
def lead_set_status(*, tenant: Tenant, lead: Lead, status: str, actor: User | None) -> Lead:
    if status not in Lead.Status.values:
        raise ValidationError(INVALID_STATUS, code="status")
    lead = Lead.objects.select_for_update(no_key=True).get(pk=lead.pk)
    if lead.status == status:
        return lead
    old = lead.status
    lead.status = Lead.Status(status)
    lead.save(update_fields=["status", "updated_at"])
    LeadEvent.objects.create(
        tenant=tenant,
        lead=lead,
        kind=LeadEvent.Kind.STATUS,
        actor=actor,
        old_value=old,
        new_value=status,
    )
    touch_lead(tenant, lead)  # its outcome counts on the day it came in
    webhook_emit(tenant, "lead.status_changed", [lead], previous_status=old)
    return lead


@transaction.atomic
def lead_assign(
    *, tenant: Tenant, lead: Lead, manager: Membership | None, actor: User | None
) -> Lead:
    from prm.permissions import Perm, role_has

    if manager is not None and not role_has(manager.role, Perm.LEADS_MANAGE):
        raise ValidationError(MANAGER_CANNOT_WORK_LEADS, code="manager")
    lead = Lead.objects.select_for_update(no_key=True).get(pk=lead.pk)
    if lead.assigned_to_id == (manager.pk if manager else None):
        return lead
    old = str(lead.assigned_to.user) if lead.assigned_to_id else ""
    lead.assigned_to = manager
    lead.save(update_fields=["assigned_to", "updated_at"])
    LeadEvent.objects.create(
        tenant=tenant,
        lead=lead,
        kind=LeadEvent.Kind.ASSIGNED,
        actor=actor,
        old_value=old,
        new_value=str(manager.user) if manager else "",
    )
    return lead


def lead_add_note(*, tenant: Tenant, lead: Lead, text: str, actor: User) -> LeadEvent:
    return LeadEvent.objects.create(
        tenant=tenant, lead=lead, kind=LeadEvent.Kind.NOTE, actor=actor, text=text.strip()[:5000]
    )


@transaction.atomic
def leads_bulk_update(
    *,
    tenant: Tenant,
    leads: list[Lead],
    actor: User,
    status: str = "",
    manager: Membership | None = None,
    assign: bool = False,
) -> int:
    if status and status not in Lead.Status.values:
        raise ValidationError(INVALID_STATUS, code="status")
    for lead in leads:
        if status:
            lead_set_status(tenant=tenant, lead=lead, status=status, actor=actor)
        if assign:
            lead_assign(tenant=tenant, lead=lead, manager=manager, actor=actor)
    if leads:
        audit_record(
            tenant=tenant,
            actor=actor,
            action="lead.bulk_update",
            object_type="lead",
            after={
                "count": len(leads),
                "leads": [str(lead.pk) for lead in leads][:500],
                "status": status,
                "manager": str(manager.user) if manager else "",
            },
        )
    return len(leads)


CONTACT_FIELDS = ("name", "email", "phone", "company")


@transaction.atomic
def lead_update_contact(
    *, tenant: Tenant, lead: Lead, changes: dict[str, str], source: str, actor: User | None = None
) -> Lead:
    """Change a lead's contact data (e.g. from its CRM record); history notes what changed
    and where it came from. Values are normalised like on creation."""
    lead = Lead.objects.select_for_update(no_key=True).get(pk=lead.pk)
    clean = {
        "name": lambda v: v.strip()[:200],
        "company": lambda v: v.strip()[:200],
        "email": normalize_email,
        "phone": lambda v: normalize_phone(v, language=tenant.language),
    }
    changed = []
    for field, value in changes.items():
        if field not in CONTACT_FIELDS:
            continue
        new = clean[field](value or "")
        if field == "email" and value and not new:
            continue  # not an address: keep ours rather than blank it
        if getattr(lead, field) != new:
            changed.append(f"{field}: {getattr(lead, field) or '-'} → {new or '-'}")
            setattr(lead, field, new)
    if changed:
        lead.email_key = email_key(lead.email)
        lead.save()
        enqueue_scoring(tenant=tenant, leads=[lead.pk])
        LeadEvent.objects.create(
            tenant=tenant,
            lead=lead,
            kind=LeadEvent.Kind.NOTE,
            actor=actor,
            text=f"[{source}] " + "; ".join(changed),
        )
    return lead
