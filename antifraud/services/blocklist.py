"""Writes of the tenant's block lists (values come normalised from the form)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from antifraud.models import BlockEntry
from prm.audit import audit_record
from prm.models import Tenant, User

ALREADY = "already"


def block_add(
    *,
    tenant: Tenant,
    actor: User,
    kind: str,
    value: str,
    note: str = "",
    request: HttpRequest | None = None,
) -> BlockEntry:
    try:
        with transaction.atomic():
            entry = BlockEntry.objects.create(
                tenant=tenant, kind=kind, value=value, note=note[:200], created_by=actor
            )
            audit_record(
                tenant=tenant,
                actor=actor,
                action="antifraud.block",
                obj=entry,
                after={"kind": kind, "value": value, "note": note},
                request=request,
            )
    except IntegrityError:  # added meanwhile by someone else
        raise ValidationError(ALREADY, code=ALREADY) from None
    return entry


def block_remove(
    *, tenant: Tenant, actor: User, entry: BlockEntry, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        deleted, _ = BlockEntry.objects.filter(pk=entry.pk).delete()
        if deleted:
            audit_record(
                tenant=tenant,
                actor=actor,
                action="antifraud.unblock",
                obj=entry,
                before={"kind": entry.kind, "value": entry.value},
                request=request,
            )
