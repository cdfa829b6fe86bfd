"""A partner's personal data: exported on request (JSON) and erased on request.

The export holds the partner's own data only. The customers they referred (leads,
conversions, clicks' visitors) are the tenant's customers, not the partner's data, so
only counts appear. Erasure anonymises personal fields but never touches the
append-only ledger, rewards or payouts: the money history must still add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import CharField, Count, Q, QuerySet, Sum
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.models import PartnerProfile
from prm.audit import audit_record
from prm.models import AuditEntry, Membership, User

PAYOUT_IN_FLIGHT = _("This partner has a payout in progress; pay or reject it before erasing.")
ERASED_IS_FINAL = _(
    "This partner's personal data was erased: an erased partner stays blocked and "
    "cannot be approved or unblocked again."
)
# What stands in for the account on a past payout once its partner is erased.
ERASED_DETAILS = "[erased]"


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value


def erased_email(partner: PartnerProfile) -> str:
    return f"erased-{str(partner.pk).split('-')[0]}@invalid"


def _answers(partner: PartnerProfile) -> list[dict[str, str]]:
    """The partner's answers to the workspace's questions, with the questions' text."""
    from partners.models import SignupQuestion

    details = partner.details or {}
    labels = dict(
        SignupQuestion.objects.filter(pk__in=[k for k in details if _is_uuid(k)]).values_list(
            "pk", "label"
        )
    )
    return [
        {"question": labels.get(_uuid(k), ""), "answer": str(v)}
        for k, v in details.items()
        if _is_uuid(k)
    ]


def _uuid(value: str) -> Any:
    import uuid

    return uuid.UUID(value)


def _is_uuid(value: str) -> bool:
    try:
        _uuid(value)
    except ValueError:
        return False
    return True


def partner_data_export(*, partner: PartnerProfile) -> dict[str, Any]:
    """The partner's own data as JSON-safe dict. Payout details are masked only;
    referred customers' personal data is left out (it is the tenant's, not theirs)."""
    from partners.models import TermsAcceptance
    from programs.models import Click, Enrollment, PromoCode
    from rewards.models import LedgerEntry, PayoutDetails, PayoutRequest, Reward

    user = partner.user
    return {
        "profile": {
            "id": str(partner.pk),
            "status": partner.status,
            "display_name": partner.display_name,
            "company": partner.company,
            "country": partner.country,
            "websites": list(partner.websites or []),
            "social_links": list(partner.social_links or []),
            "answers": _answers(partner),
            "recruit_code": partner.recruit_code,
            "created_at": _iso(partner.created_at),
        },
        "user": {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
        },
        "terms_accepted": [
            {"version": a.terms.version, "accepted_at": _iso(a.accepted_at), "ip": a.ip}
            for a in TermsAcceptance.objects.filter(partner=partner).select_related("terms")
        ],
        "enrollments": [
            {
                "program": e.program.name,
                "code": e.code,
                "status": e.status,
                "created_at": _iso(e.created_at),
            }
            for e in Enrollment.objects.filter(partner=partner).select_related("program")
        ],
        "promo_codes": [
            {"program": p.program.name, "code": p.code, "is_active": p.is_active}
            for p in PromoCode.objects.filter(partner=partner).select_related("program")
        ],
        "rewards": [
            {
                "kind": r.kind,
                "amount": str(r.amount),
                "currency": r.currency,
                "status": r.status,
                "created_at": _iso(r.created_at),
            }
            for r in Reward.objects.filter(partner=partner).order_by("created_at")
        ],
        "ledger": [
            {
                "kind": e.kind,
                "currency": e.currency,
                "pending": str(e.pending),
                "available": str(e.available),
                "processing": str(e.processing),
                "paid": str(e.paid),
                "created_at": _iso(e.created_at),
            }
            for e in LedgerEntry.objects.filter(partner=partner).order_by("pk")
        ],
        "payouts": [
            {
                "amount": str(p.amount),
                "fee": str(p.fee),
                "currency": p.currency,
                "status": p.status,
                "details": p.details_masked,
                "created_at": _iso(p.created_at),
                "paid_at": _iso(p.paid_at),
            }
            for p in PayoutRequest.objects.filter(partner=partner).order_by("created_at")
        ],
        "payout_methods": [
            {"method": d.method.name, "details": d.masked}
            for d in PayoutDetails.objects.filter(partner=partner).select_related("method")
        ],
        "clicks": {
            row["program__name"]: row["n"]
            for row in Click.objects.filter(partner=partner)
            .values("program__name")
            .annotate(n=Count("id"))
        },
    }


@transaction.atomic
def partner_data_export_by_staff(
    *, partner: PartnerProfile, actor: User, request: HttpRequest | None = None
) -> dict[str, Any]:
    """The partner's export (the same as their own), handed to a staff member:
    audited, because it is every piece of personal data we hold on them."""
    data = partner_data_export(partner=partner)
    audit_record(
        tenant=partner.tenant, actor=actor, action="partner.export", obj=partner, request=request
    )
    return data


def erase_refusal(partner: PartnerProfile) -> str | None:
    """Why ``partner`` cannot be erased now, or None. Money on its way to the partner's
    account needs that account: the payout is paid or rejected first."""
    from rewards.models import PayoutRequest

    in_flight = PayoutRequest.objects.filter(
        partner=partner,
        status__in=[PayoutRequest.Status.REQUESTED, PayoutRequest.Status.APPROVED],
    )
    return str(PAYOUT_IN_FLIGHT) if in_flight.exists() else None


def _acted_as_partner(partner: PartnerProfile, user: User) -> bool:
    """True when ``user`` is not also staff of this tenant: then whatever they did here
    they did as this partner, and their e-mail and IP in this tenant's log are theirs."""
    return not Membership.objects.filter(user=user).exists()


def _audit_about(partner: PartnerProfile, user: User) -> QuerySet[AuditEntry]:
    """This tenant's audit entries that may name the partner: about their profile,
    enrollments, promo codes, payouts, payout details or corrections, or done by them."""
    from programs.models import Enrollment, PromoCode
    from rewards.models import CorrectionRequest, PayoutDetails, PayoutRequest

    about = Q(object_id=str(partner.pk))
    for model in (Enrollment, PromoCode, PayoutRequest, PayoutDetails, CorrectionRequest):
        # AuditEntry.object_id is text; the cast gives the same form as str(uuid).
        owned = model.objects.filter(partner=partner).values(as_text=Cast("pk", CharField()))
        about |= Q(object_id__in=owned)
    if _acted_as_partner(partner, user):
        about |= Q(actor=user) | Q(actor_email__iexact=user.email)
    return AuditEntry.objects.filter(about)


def _replace(value: Any, names: list[str], label: str) -> Any:
    """``value`` (JSON: dicts, lists, strings) with every name in its strings replaced;
    keys are left alone."""
    if isinstance(value, str):
        for name in names:
            value = value.replace(name, label)
        return value
    if isinstance(value, list):
        return [_replace(item, names, label) for item in value]
    if isinstance(value, dict):
        return {key: _replace(item, names, label) for key, item in value.items()}
    return value


def _scrub_audit(
    entries: list[AuditEntry], *, names: list[str], label: str, user: User, new_user: User
) -> None:
    """The log keeps what happened and when; the partner's e-mail, name and company
    in its text become the erased label, and their own IP addresses are dropped."""
    for entry in entries:
        by_partner = entry.actor_id == user.pk or (
            entry.actor_email.casefold() in {n.casefold() for n in names}
        )
        entry.object_repr = _replace(entry.object_repr, names, label)[:200]
        entry.before = _replace(entry.before, names, label)
        entry.after = _replace(entry.after, names, label)
        if by_partner:
            entry.actor = new_user
            entry.actor_email = new_user.email
            entry.ip = None
        entry.save(update_fields=["object_repr", "before", "after", "actor", "actor_email", "ip"])


@dataclass(frozen=True)
class MoneyLine:
    currency: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class ErasePreview:
    """What erasing a partner wipes and what it keeps, for the confirmation page."""

    refusal: str | None
    saved_payout_details: int
    payouts_with_details: int
    statement_files: int
    audit_entries: int
    balances: list[Any]  # rewards.services.ledger.Balance per currency
    rewards: list[MoneyLine]
    payouts: list[tuple[str, MoneyLine]]  # (status label, line)


def partner_erase_preview(partner: PartnerProfile) -> ErasePreview:
    from rewards.models import PayoutDetails, PayoutRequest, Reward, StatementFile
    from rewards.services.ledger import balances

    payouts = PayoutRequest.objects.filter(partner=partner)
    statuses = dict(PayoutRequest.Status.choices)

    def lines(rows: Any) -> list[dict[str, Any]]:
        return list(rows.annotate(n=Count("id"), total=Sum("amount")))

    return ErasePreview(
        refusal=erase_refusal(partner),
        saved_payout_details=PayoutDetails.objects.filter(partner=partner).count(),
        payouts_with_details=payouts.exclude(details_encrypted="").count(),
        statement_files=StatementFile.objects.filter(partner=partner).count(),
        audit_entries=_audit_about(partner, partner.user).count(),
        balances=list(balances(partner).values()),
        rewards=[
            MoneyLine(row["currency"], row["n"], row["total"])
            for row in lines(
                Reward.objects.filter(partner=partner).values("currency").order_by("currency")
            )
        ],
        payouts=[
            (str(statuses[row["status"]]), MoneyLine(row["currency"], row["n"], row["total"]))
            for row in lines(payouts.values("status", "currency").order_by("status", "currency"))
        ],
    )


@transaction.atomic
def partner_erase(
    *,
    partner: PartnerProfile,
    actor: User | None,
    reason: str,
    request: HttpRequest | None = None,
) -> PartnerProfile:
    """Anonymise ``partner`` and block it for good; the ledger, rewards and payouts
    (amounts, statuses, dates) stay as they are. Refused while a payout is requested or
    approved but not paid. Erasing an erased partner changes nothing."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator

    from programs.models import LeadEvent
    from rewards.models import PayoutDetails, PayoutRequest, StatementFile

    partner = PartnerProfile.objects.select_for_update().select_related("user").get(pk=partner.pk)
    if partner.erased_at is not None:
        return partner
    refusal = erase_refusal(partner)
    if refusal is not None:
        raise ValidationError(refusal, code="payout_in_flight")
    user = partner.user
    label = erased_email(partner)
    # Longest first: "Alice Smith" is replaced before "Alice".
    names = sorted(
        {n for n in (user.email, partner.display_name, partner.company, user.get_full_name()) if n},
        key=len,
        reverse=True,
    )
    entries = list(_audit_about(partner, user))
    acted_as_partner = _acted_as_partner(partner, user)

    partner.display_name = ""
    partner.company = ""
    partner.country = ""
    partner.social_links = []
    partner.details = {}
    partner.status_reason = ""
    partner.status = PartnerProfile.Status.BLOCKED
    partner.erased_at = timezone.now()
    partner.save(
        update_fields=[
            "display_name",
            "company",
            "country",
            "social_links",
            "details",
            "status_reason",
            "status",
            "erased_at",
        ]
    )
    # Staff notes are about the person; the terms they accepted stay, without the address.
    from partners.models import PartnerNote, TermsAcceptance

    PartnerNote.objects.filter(partner=partner).delete()
    TermsAcceptance.objects.filter(partner=partner).update(ip=None)
    PayoutDetails.objects.filter(partner=partner).delete()
    # Past payouts keep amount, fee, status and dates (and their ledger entries); the
    # account they went to is personal data.
    PayoutRequest.objects.filter(partner=partner).update(
        details_masked=ERASED_DETAILS, details_encrypted=""
    )
    # Cached statement PDFs print the name and e-mail; a statement is rebuilt from the
    # ledger when asked for, with the anonymised name.
    StatementFile.objects.filter(partner=partner).delete()

    # Users are global: one who is also staff or a partner elsewhere keeps their account;
    # only this tenant's profile is cut off from it, by moving it to a new erased user.
    others = (
        PartnerProfile.all_tenants_unscoped.filter(user=user).exclude(pk=partner.pk).exists()
        or Membership.all_tenants_unscoped.filter(user=user).exists()
    )
    erased = User(email=label) if others else user
    erased.email = label
    erased.first_name = ""
    erased.last_name = ""
    erased.is_active = False
    erased.set_unusable_password()
    erased.save()
    if others:
        PartnerProfile.objects.filter(pk=partner.pk).update(user=erased)
        partner.user = erased
        if acted_as_partner:
            # Leads they registered here name them as the author of their history.
            LeadEvent.objects.filter(actor=user).update(actor=erased)
    else:
        EmailAddress.objects.filter(user=user).delete()
        Authenticator.objects.filter(user=user).delete()
    _scrub_audit(entries, names=names, label=label, user=user, new_user=erased)

    from programs.services.lookups import forget_partner

    transaction.on_commit(lambda: forget_partner(partner))
    audit_record(
        tenant=partner.tenant,
        actor=actor,
        action="partner.erase",
        obj=partner,
        after={"reason": reason},
        request=request,
    )
    return partner
