"""Create or update a tenant's CRM connection without the console, then test it.

    manage.py crm_connect --tenant acme --provider amocrm --auth-kind token \\
        --base-url https://acme.amocrm.ru --credential token=eyJ0... --setting currency=RUB

Credentials not given keep their saved values. Exit status 1 when the test fails."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.management.commands._common import add_target, get_tenant
from integrations.models import CrmConnection
from integrations.services.connections import (
    connection_save,
    connection_subscribe,
    connection_test,
    event_url,
)
from prm.tenancy import tenant_scope
from programs.models import Program


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--{what} takes KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


class Command(BaseCommand):
    help = "Create or update a tenant's CRM connection (non-interactive) and test it."

    def add_arguments(self, parser: CommandParser) -> None:
        add_target(parser)
        parser.add_argument("--auth-kind", help="oauth, token (amoCRM) or webhook (Bitrix24)")
        parser.add_argument("--base-url", help="the CRM's API base URL")
        parser.add_argument("--auth-url", default=None, help="the authorization server URL")
        parser.add_argument("--credential", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--program", help="name of the program for leads made in the CRM")
        parser.add_argument(
            "--subscribe",
            action="store_true",
            help="also ask the CRM to send its events to this workspace's event URL",
        )
        parser.add_argument("--no-test", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        tenant = get_tenant(opts["tenant"])
        with tenant_scope(tenant):
            crm = CrmConnection.objects.filter(provider=opts["provider"]).first()
            if crm is None and not (opts["auth_kind"] and opts["base_url"]):
                raise CommandError("a new connection needs --auth-kind and --base-url")
            program_id = None
            if opts["program"]:
                program = Program.objects.filter(name__iexact=opts["program"]).first()
                if program is None:
                    raise CommandError(f"no program named {opts['program']!r}")
                program_id = program.pk
            credentials = {
                **(crm.credentials if crm else {}),
                **_pairs(opts["credential"], "credential"),
            }
            crm = connection_save(
                tenant=tenant,
                provider=opts["provider"],
                auth_kind=opts["auth_kind"] or crm.auth_kind,  # type: ignore[union-attr]
                base_url=opts["base_url"] or crm.base_url,  # type: ignore[union-attr]
                auth_url=opts["auth_url"]
                if opts["auth_url"] is not None
                else (crm.auth_url if crm else ""),
                credentials=credentials,
                settings=_pairs(opts["setting"], "setting"),
                program_id=program_id,
            )
            result: dict[str, Any] = {
                "connection": str(crm.pk),
                "provider": crm.provider,
                "hook_secret": crm.hook_secret,
            }
            if not opts["no_test"]:
                ok, message = connection_test(crm)
                result.update(ok=ok, account=message if ok else "", error="" if ok else message)
                if not ok:
                    self.stdout.write(json.dumps(result, ensure_ascii=False))
                    raise CommandError(f"connection test failed: {message}")
            if opts["subscribe"]:
                url = event_url(crm)
                done, error = connection_subscribe(crm, url)
                result.update(event_url=url, subscribed=done, subscribe_error=error)
            self.stdout.write(json.dumps(result, ensure_ascii=False))
