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
    chosen = _clean_code(code) if code else ""
    for attempt in range(5):
        candidate = chosen or random_code()
        if chosen and not _code_is_free(candidate):
            raise ValidationError(CODE_TAKEN, code="taken")
        try:
            with transaction.atomic():
                return Enrollment.objects.create(
                    tenant=tenant, program=program, partner=partner, code=candidate, status=status
                )
        except IntegrityError:
            if chosen or attempt == 4:
                raise ValidationError(CODE_TAKEN, code="taken") from None
    raise AssertionError("unreachable")


@transaction.atomic
def enrollment_set_status(
    *, tenant: Tenant, enrollment: Enrollment, status: str, actor: User, request: object = None
) -> Enrollment:
    before = enrollment.status
    Enrollment.objects.filter(pk=enrollment.pk).update(status=status)
    enrollment.status = status
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
    *, tenant: Tenant, program: Program, partner: PartnerProfile, code: str = ""
) -> PromoCode:
    chosen = _clean_code(code) if code else ""
    for attempt in range(5):
        candidate = chosen or random_code(6)
        if not _code_is_free(candidate):
            if chosen:
                raise ValidationError(CODE_TAKEN, code="taken")
            continue
        try:
            with transaction.atomic():
                return PromoCode.objects.create(
                    tenant=tenant, program=program, partner=partner, code=candidate
                )
        except IntegrityError:
            if chosen or attempt == 4:
                raise ValidationError(CODE_TAKEN, code="taken") from None
    raise ValidationError(CODE_TAKEN, code="taken")
