"""Writes to a tenant's team: invitations, roles, removals."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from prm.audit import audit_record
from prm.jobs import job_enqueue
from prm.models import Invitation, Membership, Role, Tenant, User
from prm.permissions import assignable_roles
from prm.services.errors import (
    ALREADY_INVITED,
    ALREADY_MEMBER,
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
    updated = Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.PENDING).update(
        status=Invitation.Status.ACCEPTED, accepted_at=timezone.now()
    )
    if not updated:
        raise ServiceError(INVITATION_NOT_PENDING)
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
