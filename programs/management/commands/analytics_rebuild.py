"""Rebuild the analytics rollups of one tenant (or all) from the raw rows."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from prm.models import Tenant
from prm.tenancy import tenant_scope
from programs.analytics.refresh import rollups_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the daily rollups (clicks, leads, conversions, money) from the raw rows: "
        "--tenant SLUG (or --all-tenants), optionally --since YYYY-MM-DD (a local day)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tenant", help="the tenant's slug")
        parser.add_argument("--all-tenants", action="store_true", help="every tenant")
        parser.add_argument("--since", help="first local day to rebuild (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["tenant"]) == bool(options["all_tenants"]):
            raise CommandError("give --tenant SLUG or --all-tenants")
        since = None
        if options["since"]:
            try:
                since = date.fromisoformat(options["since"])
            except ValueError:
                raise CommandError("--since must be a date, YYYY-MM-DD") from None
        tenants = Tenant.objects.order_by("slug")
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"no tenant {options['tenant']!r}")
        for tenant in tenants:
            started = time.monotonic()
            with tenant_scope(tenant):
                counts = rollups_rebuild(tenant, since=since)
            self.stdout.write(
                f"{tenant.slug}: {counts['clicks']} click rows, {counts['activity']} activity "
                f"rows in {time.monotonic() - started:.1f} s"
            )
        # A rebuild rewrites whole tables: until they are vacuumed no page is known to be
        # all-visible, and the reports' index-only reads (PartnerPeriod's rank indexes,
        # ClickDay's covering index) visit the heap for every row. Outside a transaction.
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            started = time.monotonic()
            with connection.cursor() as cursor:
                cursor.execute(
                    "VACUUM (ANALYZE) programs_clickday, programs_activityday, "
                    "programs_programday, programs_channelday, programs_partnerperiod, "
                    "programs_partneractivity"
                )
            self.stdout.write(f"vacuumed the rollups in {time.monotonic() - started:.1f} s")
