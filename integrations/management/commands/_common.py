"""Shared by the crm_* commands: find the tenant and its connection."""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from integrations.crm.registry import PROVIDERS
from integrations.models import CrmConnection
from prm.models import Tenant


def add_target(parser: CommandParser) -> None:
    parser.add_argument("--tenant", required=True, help="the tenant's slug, e.g. acme")
    parser.add_argument("--provider", required=True, choices=PROVIDERS)


def get_tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise CommandError(f"no tenant with slug {slug!r}")
    return tenant


def get_connection(provider: str) -> CrmConnection:
    crm = CrmConnection.objects.select_related("tenant").filter(provider=provider).first()
    if crm is None:
        raise CommandError(f"this tenant has no {provider} connection (see crm_connect)")
    return crm
