"""Print a connection's health as JSON (for scripts and monitoring agents):

manage.py crm_health --tenant acme --provider amocrm
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from integrations.crm.monitoring import THRESHOLDS, connection_health
from integrations.crm.usage import token_and_rate
from integrations.management.commands._common import add_target, get_connection, get_tenant
from prm.tenancy import tenant_scope


class Command(BaseCommand):
    help = "Print a CRM connection's health (last hour) and its thresholds as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        add_target(parser)

    def handle(self, *args: Any, **opts: Any) -> None:
        tenant = get_tenant(opts["tenant"])
        with tenant_scope(tenant):
            crm = get_connection(opts["provider"])
            health = connection_health(crm).as_dict()
            health.update(
                provider=crm.provider,
                account=crm.account_name,
                status_reason=crm.status_reason,
                thresholds=THRESHOLDS,
                **token_and_rate(crm),
            )
            self.stdout.write(json.dumps(health, indent=2))
