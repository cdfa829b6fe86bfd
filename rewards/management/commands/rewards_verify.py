"""Check every ledger invariant of every tenant; exit 1 and list mismatches if any."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from prm.models import Tenant
from prm.tenancy import tenant_scope
from rewards.services.verify import verify


class Command(BaseCommand):
    help = "Verify the rewards ledger of every tenant (or --tenant SLUG)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tenant", help="only this tenant's slug")

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = Tenant.objects.all()
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
        problems = 0
        for tenant in tenants:
            with tenant_scope(tenant):
                found = verify()
            problems += len(found)
            for line in found:
                self.stdout.write(f"{tenant.slug}: {line}")
        if problems:
            raise CommandError(f"{problems} ledger mismatch(es)")
        self.stdout.write(
            self.style.SUCCESS(f"Ledger verified: {tenants.count()} tenant(s), no mismatch.")
        )
