"""A CRM world for the console tests: acme connected to amoCRM, with a lead, a conflict
and a dead letter; globex with its own connection."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from integrations.models import CrmConflict, CrmConnection, CrmOutbox, CrmStageMap
from integrations.services.connections import connection_save
from prm.models import Tenant
from prm.tenancy import tenant_scope
from programs.models import Lead
from tests.rewards.helpers import make_program


def build(tenant: Tenant) -> dict[str, str]:
    """No CRM is called by the pages these tests open, so the connection is only saved
    (with stages and fields as a test of the connection would have stored them)."""
    with tenant_scope(tenant):
        program = make_program(tenant, name=f"{tenant.slug} program")
        crm = connection_save(
            tenant=tenant,
            provider="amocrm",
            auth_kind="token",
            base_url=f"https://{tenant.slug}.amocrm.ru",
            credentials={"access_token": f"{tenant.slug}-token"},
            settings={"fields": [{"key": "email", "label": "E-mail", "standard": True}]},
            program_id=program.pk,
        )
        CrmStageMap.objects.create(
            tenant=tenant,
            connection=crm,
            pipeline_id="1",
            stage_id="142",
            pipeline_name="Main",
            stage_name="Won",
            semantic="won",
            lead_status="converted",
        )
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
