"""Rescore a tenant's leads, conversions and partners after a rule change.

    manage.py antifraud_rescore --tenant acme [--since 2026-01-01] [--batch 500]

Batched (each batch of subjects runs every signal once, set-based); a subject whose
result did not change is not written. Prints how many were scored and every level
change as from→to.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from antifraud.services.scoring import BATCH, Outcome, score
from partners.models import PartnerProfile
from prm.models import Tenant
from prm.tenancy import tenant_scope
from programs.models import Conversion, Lead


class Command(BaseCommand):
    help = "Rescore a tenant's leads, conversions and partners; print what changed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="the workspace's slug")
        parser.add_argument("--since", help="only subjects created on or after YYYY-MM-DD")
        parser.add_argument("--batch", type=int, default=BATCH)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"no workspace {options['tenant']!r}")
        since = None
        if options["since"]:
            try:
                day = datetime.strptime(options["since"], "%Y-%m-%d").date()
            except ValueError:
                raise CommandError("--since takes a date: YYYY-MM-DD") from None
            since = timezone.make_aware(datetime.combine(day, time.min))
        total = Outcome()
        batch = max(1, options["batch"])
        with tenant_scope(tenant):
            for subject, model in (("lead", Lead), ("conversion", Conversion)):
                qs = model.objects.order_by("created_at", "pk")
                if since is not None:
                    qs = qs.filter(created_at__gte=since)
                ids = list(qs.values_list("pk", flat=True))
                for start in range(0, len(ids), batch * 10):
                    total.add(score(subject, ids[start : start + batch * 10], batch=batch))
            # Partners last: their history is their leads' and conversions' levels.
            partners = PartnerProfile.objects.order_by("created_at", "pk")
            if since is not None:
                partners = partners.filter(pk__in=set(total.partners)) | partners.filter(
                    created_at__gte=since
                )
            total.add(score("partner", list(partners.values_list("pk", flat=True)), batch=batch))
        self.stdout.write(f"{total.scored} scored, {total.written} written")
        if not total.changes:
            self.stdout.write("no level changed")
        for (old, new), n in sorted(total.changes.items()):
            self.stdout.write(f"{old}→{new}: {n}")
