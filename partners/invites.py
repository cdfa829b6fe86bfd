"""Partner invitations: staff invite people by e-mail into a program, or add a partner by
hand (who then gets a link to set a password). Same rules as staff invitations
(prm.services.team): a link expires, can be re-sent with a new token (the old one stops
working) and is used once."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.models import PartnerInvitation, PartnerProfile
from prm.audit import audit_record
from prm.jobs import job_enqueue
from prm.models import Tenant, User
from prm.models.membership import invitation_expiry, new_invitation_token
from programs.models import Program
from rewards.models import PartnerGroup

ALREADY_PARTNER = _("%(email)s is already a partner.")
ALREADY_INVITED = _("%(email)s already has a pending invitation.")
INVITATION_USED = _("This invitation was already used or withdrawn.")
INVITATION_EXPIRED = _("This invitation has expired; ask for a new one.")
WRONG_ACCOUNT = _("This invitation was sent to another e-mail address.")


def _enqueue_email(tenant: Tenant, invitation: PartnerInvitation) -> None:
    job_enqueue(
        "partners.emails.send_partner_invitation",
        tenant=tenant,
        invitation_id=str(invitation.pk),
    )


def _withdraw_expired(*, email: str) -> None:
    # An expired invitation still holds the "one pending per address" slot.
    PartnerInvitation.objects.filter(
        email__iexact=email,
        status=PartnerInvitation.Status.PENDING,
        expires_at__lte=timezone.now(),
    ).update(status=PartnerInvitation.Status.REVOKED)


def partner_invite(
    *,
    tenant: Tenant,
    actor: User,
    emails: Iterable[str],
    program: Program | None,
    group: PartnerGroup | None = None,
    request: HttpRequest | None = None,
) -> tuple[list[PartnerInvitation], list[str]]:
    """Invite each address into ``program``; returns the invitations sent and, for the
    addresses skipped, why (already a partner, already invited)."""
    sent: list[PartnerInvitation] = []
    skipped: list[str] = []
    for raw in emails:
        email = raw.strip().lower()
        if PartnerProfile.objects.filter(user__email__iexact=email).exists():
            skipped.append(str(ALREADY_PARTNER % {"email": email}))
            continue
        try:
            with transaction.atomic():
                _withdraw_expired(email=email)
                invitation = PartnerInvitation.objects.create(
                    tenant=tenant, email=email, program=program, group=group, invited_by=actor
                )
                audit_record(
                    tenant=tenant,
                    actor=actor,
                    action="partner.invite",
                    obj=invitation,
                    after={"email": email, "program": str(program) if program else None},
                    request=request,
                )
                _enqueue_email(tenant, invitation)
        except IntegrityError:
            skipped.append(str(ALREADY_INVITED % {"email": email}))
            continue
        sent.append(invitation)
    return sent, skipped


@transaction.atomic
def partner_add(
    *,
    tenant: Tenant,
    actor: User,
    email: str,
    display_name: str,
    programs: Iterable[Program],
    group: PartnerGroup | None,
    request: HttpRequest | None = None,
) -> PartnerProfile:
    """Create the user (without a password) and an active partner profile, enroll them,
    and e-mail a link to set their password."""
    from programs.services.enrollments import enrollment_create

    email = email.strip().lower()
    if PartnerProfile.objects.filter(user__email__iexact=email).exists():
        raise ValidationError(ALREADY_PARTNER, params={"email": email}, code="exists")
    users = get_user_model().objects
    user = users.filter(email__iexact=email).first()
    if user is None:
        user = users.create_user(email=email, password=None)
    partner = PartnerProfile.objects.create(
        tenant=tenant,
        user=user,
        status=PartnerProfile.Status.ACTIVE,
        display_name=display_name.strip(),
        group=group,
    )
    programs = list(programs)
    for program in programs:
        enrollment_create(
            tenant=tenant, program=program, partner=partner, by_staff=True, actor=actor
        )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="partner.add",
        obj=partner,
        after={
            "email": email,
            "name": partner.display_name,
            "programs": [str(p) for p in programs],
            "group": str(group) if group else None,
        },
        request=request,
    )
    _withdraw_expired(email=email)
    PartnerInvitation.objects.filter(
        email__iexact=email, status=PartnerInvitation.Status.PENDING
    ).update(status=PartnerInvitation.Status.REVOKED)
    invitation = PartnerInvitation.objects.create(
        tenant=tenant,
        email=email,
        program=programs[0] if programs else None,
        group=group,
        partner=partner,
        invited_by=actor,
    )
    _enqueue_email(tenant, invitation)
    from prm.webhooks.events import emit as webhook_emit

    webhook_emit(tenant, "partner.created", [partner])
    return partner


@transaction.atomic
def partner_invitation_resend(
    *,
    tenant: Tenant,
    actor: User,
    invitation: PartnerInvitation,
    request: HttpRequest | None = None,
) -> PartnerInvitation:
    locked = (
        PartnerInvitation.objects.select_for_update()
        .filter(pk=invitation.pk, status=PartnerInvitation.Status.PENDING)
        .first()
    )
    if locked is None:
        raise ValidationError(INVITATION_USED, code="used")
    before = {"expires_at": locked.expires_at.isoformat()}
    locked.token = new_invitation_token()
    locked.expires_at = invitation_expiry()
    locked.save(update_fields=["token", "expires_at"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action="partner.invite_resend",
        obj=locked,
        before=before,
        after={"expires_at": locked.expires_at.isoformat()},
        request=request,
    )
    _enqueue_email(tenant, locked)
    return locked


@transaction.atomic
def partner_invitation_revoke(
    *,
    tenant: Tenant,
    actor: User,
    invitation: PartnerInvitation,
    request: HttpRequest | None = None,
) -> None:
    updated = PartnerInvitation.objects.filter(
        pk=invitation.pk, status=PartnerInvitation.Status.PENDING
    ).update(status=PartnerInvitation.Status.REVOKED)
    if not updated:
        raise ValidationError(INVITATION_USED, code="used")
    audit_record(
        tenant=tenant,
        actor=actor,
        action="partner.invite_revoke",
        obj=invitation,
        before={"status": "pending"},
        after={"status": "revoked"},
        request=request,
    )


@transaction.atomic
def partner_invitation_accept(
    *,
    tenant: Tenant,
    invitation: PartnerInvitation,
    user: User,
    request: HttpRequest | None = None,
) -> PartnerProfile:
    """Use the link once: the person becomes an (active) partner, enrolled in the
    invitation's program and put in its group. A second use is refused."""
    from partners.services import partner_join
    from programs.services.enrollments import enrollment_create

    if invitation.email.lower() != user.email.lower():
        raise ValidationError(WRONG_ACCOUNT, code="account")
    now = timezone.now()
    updated = PartnerInvitation.objects.filter(
        pk=invitation.pk, status=PartnerInvitation.Status.PENDING, expires_at__gt=now
    ).update(status=PartnerInvitation.Status.ACCEPTED, accepted_at=now)
    if not updated:
        pending = PartnerInvitation.objects.filter(
            pk=invitation.pk, status=PartnerInvitation.Status.PENDING
        ).exists()
        raise ValidationError(INVITATION_EXPIRED if pending else INVITATION_USED, code="used")
    partner = partner_join(tenant=tenant, user=user)
    if partner.status == PartnerProfile.Status.PENDING:
        # Staff invited them: the invitation is the approval.
        PartnerProfile.objects.filter(pk=partner.pk).update(status=PartnerProfile.Status.ACTIVE)
        partner.status = PartnerProfile.Status.ACTIVE
        from prm.webhooks.events import emit as webhook_emit

        webhook_emit(tenant, "partner.approved", [partner], previous_status="pending")
    group = invitation.group or (invitation.program.default_group if invitation.program else None)
    if group is not None and partner.group_id is None:
        PartnerProfile.objects.filter(pk=partner.pk).update(group=group)
        partner.group = group
    if invitation.program is not None and partner.status == PartnerProfile.Status.ACTIVE:
        enrollment_create(tenant=tenant, program=invitation.program, partner=partner, by_staff=True)
    audit_record(
        tenant=tenant,
        actor=user,
        action="partner.invite_accept",
        obj=partner,
        after={"program": str(invitation.program) if invitation.program else None},
        request=request,
    )
    return partner


@transaction.atomic
def partner_register(
    *,
    tenant: Tenant,
    email: str,
    display_name: str,
    program: Program,
    invite: bool = False,
    via: str = "api",
) -> tuple[PartnerProfile, bool]:
    """A partner signed up on the client's own site (the API): the account (without a
    password) and the profile as the cabinet's own sign-up would make them (approval when
    the workspace asks for it, scored), enrolled into ``program`` under its join policy.
    Idempotent by e-mail: an existing partner is enrolled and returned (created False).
    ``invite`` e-mails a new partner a link to set a password and reach the cabinet.
    ``via`` names the door in the audit log (``api``, ``widget``)."""
    from partners.services import partner_join
    from programs.services.enrollments import enrollment_create

    email = email.strip().lower()
    partner = (
        PartnerProfile.objects.select_related("user").filter(user__email__iexact=email).first()
    )
    created = partner is None
    if partner is None:
        users = get_user_model().objects
        user = users.filter(email__iexact=email).first()
        if user is None:
            user = users.create_user(email=email, password=None)
        partner = partner_join(tenant=tenant, user=user, display_name=display_name.strip())
    enrolled_in: Program | None = program
    try:
        enrollment_create(tenant=tenant, program=program, partner=partner)
    except ValidationError as exc:
        if exc.code != "training":
            raise
        # The program requires a course: the partner joins it from the cabinet once
        # passed (the invitation below must not enroll them past the gate).
        enrolled_in = None
    if created:
        audit_record(
            tenant=tenant,
            actor=None,
            action=f"partner.register_{via}",
            obj=partner,
            after={"email": email, "name": partner.display_name, "program": str(enrolled_in or "")},
        )
    if created and invite and not partner.user.has_usable_password():
        _withdraw_expired(email=email)
        PartnerInvitation.objects.filter(
            email__iexact=email, status=PartnerInvitation.Status.PENDING
        ).update(status=PartnerInvitation.Status.REVOKED)
        invitation = PartnerInvitation.objects.create(
            tenant=tenant, email=email, program=enrolled_in, partner=partner
        )
        _enqueue_email(tenant, invitation)
    return partner, created
