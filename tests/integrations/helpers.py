"""Steps the CRM tests share: make leads, let the worker push, deliver CRM events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core import mail  # noqa: F401  (re-exported for tests)

from integrations.crm import engine
from integrations.crm.schedule import POLL_JOB
from integrations.models import CrmConnection, CrmFieldMap, CrmRecordLink
from partners.models import PartnerProfile
from programs.models import Lead, Program
from programs.services.leads import LeadInput, lead_create


def bulk_leads(program: Program, partner: PartnerProfile, count: int, prefix: str) -> None:
    """``count`` leads of ``partner`` inserted at once ("<prefix> <i>",
    <prefix><i>@example.com), without the lead service's side effects."""
    Lead.objects.bulk_create(
        [
            Lead(
                tenant=program.tenant,
                program=program,
                partner=partner,
                source="api",
                name=f"{prefix.title()} {i}",
                email=f"{prefix.lower()}{i}@example.com",
            )
            for i in range(count)
        ],
        batch_size=5000,
    )


def new_lead(
    capture: Callable[..., Any],
    program: Program,
    partner: PartnerProfile | None = None,
    **data: Any,
) -> Lead:
    with capture(execute=True):
        return lead_create(
            tenant=program.tenant,
            program=program,
            source=Lead.Source.CABINET if partner else Lead.Source.CONSOLE,
            data=LeadInput(**data),
            partner=partner,
        )


def crm_key(crm: CrmConnection, prm_field: str) -> str:
    return CrmFieldMap.objects.get(connection=crm, prm_field=prm_field).crm_field


def crm_id_of(crm: CrmConnection, lead: Lead) -> str:
    return CrmRecordLink.objects.get(connection=crm, lead=lead).crm_id


def record(fake: Any, crm_id: str) -> dict[str, Any]:
    return next(r for r in fake.records() if str(r["id"]) == str(crm_id))


def live(fake: Any) -> list[dict[str, Any]]:
    return [r for r in fake.records() if not r.get("deleted")]


def deliver(
    fake: Any,
    crm: CrmConnection,
    crm_id: str,
    kind: str,
    client: Any,
    capture: Callable[..., Any],
) -> None:
    """How the CRM tells us: its webhook (amoCRM, Bitrix24) posted to our event URL, or
    for Salesforce the poll job that asks for everything changed since the cursor."""
    event = fake.event_body(crm_id, kind)
    with capture(execute=True):
        if event is None:
            engine.start_job(POLL_JOB, crm)
            return
        content_type, body = event
        response = client.post(
            f"/hooks/crm/{crm.hook_secret}/", data=body, content_type=content_type
        )
        assert response.status_code == 200, response.content
