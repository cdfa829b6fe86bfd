"""Writes to enrollments and promo codes."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from partners.models import PartnerProfile
from prm.audit import audit_record
from prm.models import Tenant, User
from programs.models import Enrollment, Program, PromoCode
from programs.models.enrollment import random_code
from programs.services import lookups

CODE_TAKEN = _("This code is taken; choose another.")
CODE_INVALID = _("Use 3-64 letters, digits, dashes or underscores.")
JOIN_CLOSED = _("This program accepts partners by invitation only.")
PROGRAM_CLOSED = _("This program is not open.")
PARTNER_BLOCKED = _("A blocked partner cannot join programs.")
NOT_ENROLLED = _("The partner is not an active member of this program.")
INVALID_STATUS = _("Choose a valid status.")
MAX_PROMO_CODES = 20
TOO_MANY_CODES = _("At most %(n)s promo codes per partner and program.")
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{3,64}$")


def _clean_code(code: str) -> str:
    code = code.strip().upper()
    if not CODE_RE.match(code):
        raise ValidationError(CODE_INVALID, code="code")
    return code


def _code_is_free(code: str) -> bool:
    return not (
        Enrollment.objects.filter(code__iexact=code).exists()
        or PromoCode.objects.filter(code__iexact=code).exists()
    )


def enrollment_create(
    *,
    tenant: Tenant,
    program: Program,
    partner: PartnerProfile,
    code: str = "",
    by_staff: bool = False,
    actor: User | None = None,
) -> Enrollment:
    """Enroll a partner (idempotent). Open programs enroll at once, approval ones
    wait for staff; invitation-only programs accept only staff enrollments."""
    existing = Enrollment.objects.filter(program=program, partner=partner).first()
    if existing is not None:
        return existing
    if program.status != Program.Status.ACTIVE and not by_staff:
        raise ValidationError(PROGRAM_CLOSED, code="closed")
    if program.join_policy == Program.JoinPolicy.INVITATION and not by_staff:
        raise ValidationError(JOIN_CLOSED, code="closed")
    status = (
        Enrollment.Status.PENDING
        if program.join_policy == Program.JoinPolicy.APPROVAL and not by_staff
        else Enrollment.Status.ACTIVE
    )
    if partner.status == PartnerProfile.Status.BLOCKED:
        raise ValidationError(PARTNER_BLOCKED, code="blocked")
    if not by_staff:
        # A program may require a course first (partners.training); staff may enroll anyone.
        from partners.training.gates import gate_message, missing_for_join

        missing = missing_for_join(partner, program)
        if missing:
            raise ValidationError(gate_message(missing, payout=False), code="training")
    chosen = _clean_code(code) if code else ""
    for attempt in range(5):
        candidate = chosen or random_code()
        if not _code_is_free(candidate):
            if chosen:
                raise ValidationError(CODE_TAKEN, code="taken")
            continue
        try:
            with transaction.atomic():
                enrollment = Enrollment.objects.create(
                    tenant=tenant, program=program, partner=partner, code=candidate, status=status
                )
        except IntegrityError:
            if chosen or attempt == 4:
                raise ValidationError(CODE_TAKEN, code="taken") from None
            continue
        if program.default_group_id and partner.group_id is None:
            # The program's default group (README "Partners"), unless they have one.
            type(partner).objects.filter(pk=partner.pk, group__isnull=True).update(
                group_id=program.default_group_id
            )
            partner.group_id = program.default_group_id
        # A lookup of this code before it existed may be cached as "unknown".
        key = lookups.code_cache_key(tenant.pk, candidate)
        transaction.on_commit(lambda key=key: lookups.forget(key))
        if by_staff and actor is not None:
            audit_record(
                tenant=tenant,
                actor=actor,
                action="enrollment.create",
                obj=enrollment,
                after={"partner": str(partner), "code": candidate, "status": status},
            )
        return enrollment
    raise ValidationError(CODE_TAKEN, code="taken")


@transaction.atomic
def enrollment_set_status(
    *, tenant: Tenant, enrollment: Enrollment, status: str, actor: User, request: object = None
) -> Enrollment:
    if status not in Enrollment.Status.values:
        raise ValidationError(INVALID_STATUS, code="status")
    before = enrollment.status
    if before == status:
        return enrollment
    updated = Enrollment.objects.filter(pk=enrollment.pk, status=before).update(status=status)
    if not updated:
        raise ValidationError(INVALID_STATUS, code="status")
    enrollment.status = status
    if before == Enrollment.Status.PENDING and status == Enrollment.Status.ACTIVE:
        from prm.notifications import events

        events.enrollment_approved(enrollment=enrollment)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="enrollment.status",
        obj=enrollment,
        before={"status": before},
        after={"status": status},
        request=request,  # type: ignore[arg-type]
    )
    transaction.on_commit(
        lambda: lookups.forget(lookups.code_cache_key(tenant.pk, enrollment.code))
    )
    return enrollment


def promo_code_create(
    *,
    tenant: Tenant,
    program: Program,
    partner: PartnerProfile,
    code: str = "",
    actor: User | None = None,
) -> PromoCode:
    active = Enrollment.objects.filter(
        program=program, partner=partner, status=Enrollment.Status.ACTIVE
    ).exists()
    if not active or partner.status != PartnerProfile.Status.ACTIVE:
        raise ValidationError(NOT_ENROLLED, code="partner")
    if PromoCode.objects.filter(program=program, partner=partner).count() >= MAX_PROMO_CODES:
        raise ValidationError(TOO_MANY_CODES, params={"n": MAX_PROMO_CODES}, code="limit")
    chosen = _clean_code(code) if code else ""
    for attempt in range(5):
        candidate = chosen or random_code(6)
        if not _code_is_free(candidate):
            if chosen:
                raise ValidationError(CODE_TAKEN, code="taken")
            continue
        try:
            with transaction.atomic():
                promo = PromoCode.objects.create(
                    tenant=tenant, program=program, partner=partner, code=candidate
                )
                if actor is not None:
                    audit_record(
                        tenant=tenant,
                        actor=actor,
                        action="promo_code.create",
                        obj=promo,
                        after={"partner": str(partner), "code": candidate},
                    )
                return promo
        except IntegrityError:
            if chosen or attempt == 4:
                raise ValidationError(CODE_TAKEN, code="taken") from None
    raise ValidationError(CODE_TAKEN, code="taken")
