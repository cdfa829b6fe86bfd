"""Writes to programs."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from prm.audit import audit_record, snapshot
from prm.models import Tenant, User
from programs.models import Program
from programs.services import lookups

AUDITED = [
    "name",
    "product",
    "kind",
    "status",
    "currency",
    "landing_urls",
    "ref_param",
    "cookie_days",
    "attribution",
    "join_policy",
    "lead_assignment",
    "cookie_domain",
]


@transaction.atomic
def program_save(
    *,
    tenant: Tenant,
    actor: User,
    program: Program,
    changes: dict[str, Any],
    request: HttpRequest | None = None,
) -> Program:
    """Create (unsaved ``program``) or update a program, with an audit row."""
    creating = program._state.adding
    before = {} if creating else snapshot(Program.objects.get(pk=program.pk), AUDITED)
    for field, value in changes.items():
        setattr(program, field, value)
    program.tenant = tenant
    program.save()
    after = snapshot(program, AUDITED)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="program.create" if creating else "program.update",
        obj=program,
        before={k: v for k, v in before.items() if after.get(k) != v},
        after={k: v for k, v in after.items() if creating or before.get(k) != v},
        request=request,
    )
    transaction.on_commit(lambda: lookups.forget_program(program))
    return program
