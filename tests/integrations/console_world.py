"""A CRM world for the console tests: acme connected to a fake amoCRM, with a lead
pushed, a conflict and a dead letter; globex with its own connection."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from integrations.models import CrmConflict, CrmConnection, CrmOutbox
from prm.models import Tenant
from prm.tenancy import tenant_scope
from programs.models import Lead
from tests.integrations.conftest import connect
from tests.rewards.helpers import make_program


def build(tenant: Tenant, fake: Any) -> dict[str, str]:
    with tenant_scope(tenant):
        program = make_program(tenant, name=f"{tenant.slug} program")
        crm = connect(tenant, fake, program)
        lead = Lead.objects.create(
            tenant=tenant, program=program, source=Lead.Source.CONSOLE, email="x@example.com"
        )
        conflict = CrmConflict.objects.create(
            tenant=tenant,
            connection=crm,
            lead=lead,
            prm_field="email",
            prm_value="x@example.com",
            crm_value="y@example.com",
        )
        dead = CrmOutbox.objects.create(
            tenant=tenant,
            connection=crm,
            lead=lead,
            state=CrmOutbox.State.DEAD,
            attempts=6,
            next_attempt_at=timezone.now(),
            changed_at=timezone.now(),
            done_at=timezone.now(),
            last_error="HTTP 500",
        )
        return {"conflict": str(conflict.pk), "dead": str(dead.pk), "lead": str(lead.pk)}


def state(tenant: Tenant) -> dict[str, Any]:
    with tenant_scope(tenant):
        return {
            "connections": set(
                CrmConnection.objects.values_list(
                    "id", "status", "base_url", "secrets_encrypted", "program_id"
                )
            ),
            "conflicts": set(CrmConflict.objects.values_list("id", "state")),
            "outbox": set(CrmOutbox.objects.values_list("id", "state")),
            "fields": set(
                CrmConnection.objects.values_list(
                    "fields__prm_field", "fields__crm_field", "fields__strategy"
                )
            ),
            "stages": set(CrmConnection.objects.values_list("stages__id", "stages__lead_status")),
        }
