"""Invitations expire: existing ones get PRM_INVITATION_DAYS from when they were sent."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import migrations, models

import prm.models.membership


def backfill(apps, schema_editor):  # type: ignore[no-untyped-def]
    Invitation = apps.get_model("prm", "Invitation")
    days = timedelta(days=settings.PRM_INVITATION_DAYS)
    # A historical model has a plain manager, so this sees every tenant's rows.
    Invitation.objects.update(expires_at=models.F("created_at") + days)


class Migration(migrations.Migration):
    dependencies = [("prm", "0003_tenant_manual_approval_above")]

    operations = [
        migrations.AddField(
            model_name="invitation",
            name="expires_at",
            field=models.DateTimeField(null=True, verbose_name="expires"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="invitation",
            name="expires_at",
            field=models.DateTimeField(
                default=prm.models.membership.invitation_expiry, verbose_name="expires"
            ),
        ),
    ]
