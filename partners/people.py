"""Writes to a partner's profile, notes, tags and application (the partner page, the
partner's own profile page and the application form). Every staff change is audited."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from partners.models import (
    PartnerNote,
    PartnerProfile,
    PartnerTag,
    PartnerTagging,
    SignupQuestion,
    TermsAcceptance,
    TermsVersion,
)
from partners.signals import partners_changed
from prm.audit import audit_record, client_ip, snapshot
from prm.models import AuditEntry, Tenant, User
from programs.models import Program
from rewards.models import PartnerGroup

PROFILE_FIELDS = ["display_name", "company", "country", "websites", "social_links", "details"]


@transaction.atomic
def partner_update(
    *,
    tenant: Tenant,
    actor: User,
    partner: PartnerProfile,
    changes: dict[str, Any],
    request: HttpRequest | None = None,
) -> PartnerProfile:
    """Change profile fields (staff on the partner page, or the partner in the cabinet:
    then ``actor`` is the partner's user). Audited with the fields that changed."""
    locked = PartnerProfile.objects.select_for_update(no_key=True).get(pk=partner.pk)
    fields = [f for f in PROFILE_FIELDS if f in changes]
    before = snapshot(locked, fields)
    for name in fields:
        value = changes[name]
        if name == "details":
            value = {**locked.details, **value}
        setattr(locked, name, value)
    after = snapshot(locked, fields)
    changed = [f for f in fields if before[f] != after[f]]
    if not changed:
        return locked
    locked.save(update_fields=changed)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="partner.update",
        obj=locked,
        before={f: before[f] for f in changed},
        after={f: after[f] for f in changed},
        request=request,
    )
    return locked


@transaction.atomic
def note_add(
    *,
    tenant: Tenant,
    actor: User,
    partner: PartnerProfile,
    body: str,
    request: HttpRequest | None = None,
) -> PartnerNote:
    note = PartnerNote.objects.create(tenant=tenant, partner=partner, author=actor, body=body)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="partner.note",
        obj=partner,
        after={"note": body[:200]},
        request=request,
    )
    return note


@transaction.atomic
def tag_save(
    *, tenant: Tenant, actor: User, tag: PartnerTag, request: HttpRequest | None = None
) -> PartnerTag:
    creating = tag._state.adding
    before = {} if creating else {"name": PartnerTag.objects.get(pk=tag.pk).name}
    tag.tenant = tenant
    tag.save()
    audit_record(
        tenant=tenant,
        actor=actor,
        action=f"partner_tag.{'create' if creating else 'update'}",
        obj=tag,
        before=before,
        after={"name": tag.name},
        request=request,
    )
    return tag


def _audit_tag_changes(
    *,
    tenant: Tenant,
    actor: User | None,
    tag: PartnerTag,
    partner_ids: Iterable[Any],
    added: bool,
    source: str = "",
    request: HttpRequest | None = None,
) -> None:
    """One audit row per partner whose tags changed (bulk inserted)."""
    ip = client_ip(request)
    action = "partner.tag_add" if added else "partner.tag_remove"
    state = {"tag": tag.name, **({"by": source} if source else {})}
    AuditEntry.all_tenants_unscoped.bulk_create(
        [
            AuditEntry(
                tenant=tenant,
                actor=actor,
                actor_email=actor.email if actor else "",
                action=action,
                object_type="partnerprofile",
                object_id=str(pk),
                object_repr="",
                before={} if added else state,
                after=state if added else {},
                ip=ip,
            )
            for pk in partner_ids
        ],
        batch_size=1000,
    )


@transaction.atomic
def tags_assign(
    *,
    tenant: Tenant,
    actor: User,
    tag: PartnerTag,
    partners: Iterable[PartnerProfile],
    request: HttpRequest | None = None,
) -> int:
    """Tag the partners who do not have ``tag`` yet; returns how many were tagged."""
    ids = {p.pk for p in partners}
    have = set(
        PartnerTagging.objects.filter(tag=tag, partner_id__in=ids).values_list(
            "partner_id", flat=True
        )
    )
    new = sorted(ids - have, key=str)
    PartnerTagging.objects.bulk_create(
        [PartnerTagging(tenant=tenant, tag=tag, partner_id=pk) for pk in new],
        ignore_conflicts=True,
    )
    _audit_tag_changes(
        tenant=tenant, actor=actor, tag=tag, partner_ids=new, added=True, request=request
    )
    partners_changed.send(sender=PartnerTagging, tenant_id=tenant.pk, partner_ids=new)
    return len(new)


@transaction.atomic
def tags_unassign(
    *,
    tenant: Tenant,
    actor: User,
    tag: PartnerTag,
    partners: Iterable[PartnerProfile],
    request: HttpRequest | None = None,
) -> int:
    ids = {p.pk for p in partners}
    gone = list(
        PartnerTagging.objects.filter(tag=tag, partner_id__in=ids).values_list(
            "partner_id", flat=True
        )
    )
    PartnerTagging.objects.filter(tag=tag, partner_id__in=gone).delete()
    _audit_tag_changes(
        tenant=tenant, actor=actor, tag=tag, partner_ids=gone, added=False, request=request
    )
    partners_changed.send(sender=PartnerTagging, tenant_id=tenant.pk, partner_ids=gone)
    return len(gone)


@transaction.atomic
def group_save(
    *,
    tenant: Tenant,
    actor: User,
    group: PartnerGroup,
    default_for: Iterable[Program] | None = None,
    request: HttpRequest | None = None,
) -> PartnerGroup:
    """Create or edit a group; ``default_for``: the programs whose new partners land in
    it (programs that named it before and are not listed any more stop doing so)."""
    from rewards.writes import GROUP_FIELDS, record_save

    group = record_save(
        tenant=tenant,
        actor=actor,
        obj=group,
        fields=GROUP_FIELDS,
        action="partner_group",
        request=request,
    )
    if default_for is not None:
        wanted = {p.pk for p in default_for}
        current = set(Program.objects.filter(default_group=group).values_list("pk", flat=True))
        if wanted != current:
            Program.objects.filter(pk__in=current - wanted).update(default_group=None)
            Program.objects.filter(pk__in=wanted - current).update(default_group=group)
            audit_record(
                tenant=tenant,
                actor=actor,
                action="partner_group.default_for",
                obj=group,
                before={"programs": sorted(str(pk) for pk in current)},
                after={"programs": sorted(str(pk) for pk in wanted)},
                request=request,
            )
    return group


@transaction.atomic
def groups_move(
    *,
    tenant: Tenant,
    actor: User,
    group: PartnerGroup | None,
    partners: Iterable[PartnerProfile],
    request: HttpRequest | None = None,
) -> int:
    """Move partners into ``group`` (None: out of any group), one audit row each."""
    from rewards.writes import partner_set_group

    moved = 0
    for partner in partners:
        if partner.group_id != (group.pk if group else None):
            partner_set_group(
                tenant=tenant, actor=actor, partner=partner, group=group, request=request
            )
            moved += 1
    return moved


# Applications


def current_terms() -> TermsVersion | None:
    return TermsVersion.objects.order_by("-version").first()


@transaction.atomic
def terms_publish(
    *, tenant: Tenant, actor: User, text: str, request: HttpRequest | None = None
) -> TermsVersion:
    """A new version of the terms (versions are never edited: acceptances name one)."""
    last = TermsVersion.objects.select_for_update().order_by("-version").first()
    terms = TermsVersion.objects.create(
        tenant=tenant, version=(last.version + 1) if last else 1, text=text, created_by=actor
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="terms.publish",
        obj=terms,
        after={"version": terms.version},
        request=request,
    )
    return terms


@transaction.atomic
def question_save(
    *, tenant: Tenant, actor: User, question: SignupQuestion, request: HttpRequest | None = None
) -> SignupQuestion:
    from rewards.writes import record_save

    return record_save(
        tenant=tenant,
        actor=actor,
        obj=question,
        fields=[
            "label",
            "kind",
            "choices",
            "required",
            "on_application",
            "in_profile",
            "position",
            "is_active",
        ],
        action="signup_question",
        request=request,
    )


@transaction.atomic
def application_submit(
    *,
    tenant: Tenant,
    partner: PartnerProfile,
    answers: dict[str, str],
    terms: TermsVersion | None,
    request: HttpRequest | None = None,
) -> PartnerProfile:
    """The applicant's answers (merged into their details) and their acceptance of the
    current terms, with time and address."""
    if answers:
        partner_update(
            tenant=tenant,
            actor=partner.user,
            partner=partner,
            changes={"details": answers},
            request=request,
        )
    if terms is not None:
        TermsAcceptance.objects.get_or_create(
            tenant=tenant, partner=partner, terms=terms, defaults={"ip": client_ip(request)}
        )
    return partner
