"""Writes to a tenant's team: invitations, roles, removals."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from prm.audit import audit_record
from prm.jobs import job_enqueue
from prm.models import Invitation, Membership, Role, Tenant, User
from prm.models.membership import invitation_expiry, new_invitation_token
from prm.permissions import assignable_roles
from prm.services.errors import (
    ALREADY_INVITED,
    ALREADY_MEMBER,
    INVITATION_EXPIRED,
    INVITATION_NOT_PENDING,
    INVITATION_WRONG_EMAIL,
    LAST_OWNER,
    ONLY_OWNER_GRANTS_OWNER,
    ServiceError,
)


def invitation_send(
    *, tenant: Tenant, actor: Membership, email: str, role: str, request: HttpRequest | None = None
) -> Invitation:
    email = email.strip().lower()
    if Role(role) not in assignable_roles(actor.role):
        raise ServiceError(ONLY_OWNER_GRANTS_OWNER)
    if Membership.objects.filter(user__email__iexact=email).exists():
        raise ServiceError(ALREADY_MEMBER)
    try:
        with transaction.atomic():
            # An expired invitation to the same address still holds the "one pending
            # per address" slot: it is withdrawn, and the new one takes its place.
            _withdraw_expired(tenant=tenant, actor=actor.user, email=email, request=request)
            invitation = Invitation.objects.create(
                tenant=tenant, email=email, role=role, invited_by=actor.user
            )
            audit_record(
                tenant=tenant,
                actor=actor.user,
                action="team.invite",
                obj=invitation,
                after={"email": email, "role": role},
                request=request,
            )
            job_enqueue(
                "prm.emails.send_invitation", tenant=tenant, invitation_id=str(invitation.pk)
            )
    except IntegrityError:
        raise ServiceError(ALREADY_INVITED) from None
    return invitation


def _withdraw_expired(
    *, tenant: Tenant, actor: User, email: str, request: HttpRequest | None
) -> None:
    expired = Invitation.objects.filter(
        email__iexact=email, status=Invitation.Status.PENDING, expires_at__lte=timezone.now()
    ).first()
    if expired is None:
        return
    if Invitation.objects.filter(pk=expired.pk, status=Invitation.Status.PENDING).update(
        status=Invitation.Status.REVOKED
    ):
        audit_record(
            tenant=tenant,
            actor=actor,
            action="team.invite_revoke",
            obj=expired,
            before={"status": "pending", "expired": True},
            after={"status": "revoked"},
            request=request,
        )


@transaction.atomic
def invitation_resend(
    *, tenant: Tenant, actor: Membership, invitation: Invitation, request: HttpRequest | None = None
) -> Invitation:
    """A pending or expired invitation again: a new token (the old link stops working),
    a new expiry date, and the e-mail sent once the transaction commits."""
    if Role(invitation.role) not in assignable_roles(actor.role):
        raise ServiceError(ONLY_OWNER_GRANTS_OWNER)
    locked = (
        Invitation.objects.select_for_update()
        .filter(pk=invitation.pk, status=Invitation.Status.PENDING)
        .first()
    )
    if locked is None:
        raise ServiceError(INVITATION_NOT_PENDING)
    before = {"expires_at": locked.expires_at.isoformat()}
    locked.token = new_invitation_token()
    locked.expires_at = invitation_expiry()
    locked.save(update_fields=["token", "expires_at"])
    audit_record(
        tenant=tenant,
        actor=actor.user,
        action="team.invite_resend",
        obj=locked,
        before=before,
        after={"expires_at": locked.expires_at.isoformat()},
        request=request,
    )
    job_enqueue("prm.emails.send_invitation", tenant=tenant, invitation_id=str(locked.pk))
    return locked


@transaction.atomic
def invitation_revoke(
    *, tenant: Tenant, actor: User, invitation: Invitation, request: HttpRequest | None = None
) -> None:
    updated = Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.PENDING).update(
        status=Invitation.Status.REVOKED
    )
    if not updated:
        raise ServiceError(INVITATION_NOT_PENDING)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="team.invite_revoke",
        obj=invitation,
        before={"status": "pending"},
        after={"status": "revoked"},
        request=request,
    )


@transaction.atomic
def invitation_accept(
    *, tenant: Tenant, user: User, invitation: Invitation, request: HttpRequest | None = None
) -> Membership:
    if invitation.email.lower() != user.email.lower():
        raise ServiceError(INVITATION_WRONG_EMAIL)
    now = timezone.now()
    updated = Invitation.objects.filter(
        pk=invitation.pk, status=Invitation.Status.PENDING, expires_at__gt=now
    ).update(status=Invitation.Status.ACCEPTED, accepted_at=now)
    if not updated:
        still_pending = Invitation.objects.filter(
            pk=invitation.pk, status=Invitation.Status.PENDING
        ).exists()
        raise ServiceError(INVITATION_EXPIRED if still_pending else INVITATION_NOT_PENDING)
    membership, created = Membership.objects.get_or_create(
        tenant=tenant, user=user, defaults={"role": invitation.role}
    )
    if created:
        audit_record(
            tenant=tenant,
            actor=user,
            action="team.join",
            obj=membership,
            after={"email": user.email, "role": membership.role},
            request=request,
        )
    return membership


def _lock_owners(tenant: Tenant) -> int:
    # Locking every owner row serialises concurrent demotions of the last owners.
    return len(list(Membership.objects.select_for_update().filter(role=Role.OWNER)))


@transaction.atomic
def membership_change_role(
    *,
    tenant: Tenant,
    actor: Membership,
    membership: Membership,
    role: str,
    request: HttpRequest | None = None,
) -> Membership:
    allowed = assignable_roles(actor.role)
    if Role(role) not in allowed or Role(membership.role) not in allowed:
        raise ServiceError(ONLY_OWNER_GRANTS_OWNER)
    owners = _lock_owners(tenant)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER and role != Role.OWNER and owners <= 1:
        raise ServiceError(LAST_OWNER)
    before = membership.role
    if before == role:
        return membership
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        tenant=tenant,
        actor=actor.user,
        action="team.role_change",
        obj=membership,
        before={"role": before},
        after={"role": role},
        request=request,
    )
    return membership


@transaction.atomic
def membership_remove(
    *, tenant: Tenant, actor: Membership, membership: Membership, request: HttpRequest | None = None
) -> None:
    if Role(membership.role) not in assignable_roles(actor.role):
        raise ServiceError(ONLY_OWNER_GRANTS_OWNER)
    owners = _lock_owners(tenant)
    if membership.role == Role.OWNER and owners <= 1:
        raise ServiceError(LAST_OWNER)
    audit_record(
        tenant=tenant,
        actor=actor.user,
        action="team.remove",
        obj=membership,
        before={"email": membership.user.email, "role": membership.role},
        request=request,
    )
    membership.delete()
