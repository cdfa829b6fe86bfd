"""Run CRM sync now, in this process (a worker is not needed):

manage.py crm_sync --tenant acme --provider bitrix24            # push what waits
manage.py crm_sync --tenant acme --provider bitrix24 --full     # queue every lead, push
manage.py crm_sync --tenant acme --provider bitrix24 --reconcile  # pull CRM changes
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from integrations.crm import engine, inbound
from integrations.management.commands._common import add_target, get_connection, get_tenant
from integrations.models import CrmOutbox
from prm.tenancy import tenant_scope


class Command(BaseCommand):
    help = "Push pending leads to the CRM (--full: all leads), or --reconcile from the CRM."

    def add_arguments(self, parser: CommandParser) -> None:
        add_target(parser)
        parser.add_argument("--full", action="store_true", help="queue every lead first")
        parser.add_argument(
            "--reconcile", action="store_true", help="pull changes from the CRM instead of pushing"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        tenant = get_tenant(opts["tenant"])
        with tenant_scope(tenant):
            crm = get_connection(opts["provider"])
            result: dict[str, Any] = {"provider": crm.provider}
            if opts["reconcile"]:
                result["applied"] = inbound.poll(str(crm.pk))
            else:
                if opts["full"]:
                    result["queued"] = engine.sync_all(crm)
                # Here, unlike a worker's job, the whole backlog in one go.
                result["pushed"] = engine.push_connection(str(crm.pk), slice_seconds=10**9)
            crm.refresh_from_db()
            result["status"] = crm.status
            # Without Redis the queued push already ran inline; these count what is left.
            states = CrmOutbox.objects.filter(connection=crm).values_list("state", flat=True)
            result["outbox"] = {state: 0 for state in CrmOutbox.State.values}
            for state in states:
                result["outbox"][state] += 1
            self.stdout.write(json.dumps(result))
