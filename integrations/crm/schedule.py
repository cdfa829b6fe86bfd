"""The periodic tick of CRM sync (rqcron, every 30 s): for each active connection,
start a push when outbox rows are due (a retry after backoff, or a job lost with its
worker), poll Salesforce (it has no webhooks we can rely on) every
PRM_CRM_POLL_SECONDS, reconcile the others every PRM_CRM_RECONCILE_SECONDS (Bitrix24
does not retry failed deliveries; amoCRM gives up after a while), and check the
monitoring thresholds; once per Bitrix24 connection, re-read the 0.00 conversions
of converted leads (integrations/crm/zero_wins.py)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from integrations.crm import event_queue
from integrations.crm.engine import PUSH_JOB, start_job
from integrations.crm.monitoring import check_alerts
from integrations.crm.partner_sync import PARTNER_JOB, syncs_partners
from integrations.crm.zero_wins import RECHECK_JOB
from integrations.crm.zero_wins import due as zero_wins_due
from integrations.models import CrmConnection, CrmOutbox, CrmPartnerLink
from prm.tenancy import tenant_scope

POLL_JOB = "integrations.crm.inbound.poll"
POLLED = ("salesforce", "hubspot")  # providers whose changes we learn by polling


def tick() -> int:
    now = timezone.now()
    started = 0
    connections = CrmConnection.all_tenants_unscoped.select_related("tenant").filter(
        status=CrmConnection.Status.ACTIVE
    )
    for crm in connections:
        with tenant_scope(crm.tenant):
            if CrmOutbox.objects.filter(
                connection=crm, state=CrmOutbox.State.PENDING, next_attempt_at__lte=now
            ).exists():
                started += start_job(PUSH_JOB, crm)
            if (
                syncs_partners(crm)
                and CrmPartnerLink.objects.filter(
                    connection=crm, pending=True, next_attempt_at__lte=now
                ).exists()
            ):
                started += start_job(PARTNER_JOB, crm)
            every = (
                settings.PRM_CRM_POLL_SECONDS
                if crm.provider in POLLED
                else settings.PRM_CRM_RECONCILE_SECONDS
            )
            if crm.reconciled_at is None or now - crm.reconciled_at >= timedelta(seconds=every):
                started += start_job(POLL_JOB, crm)
            if event_queue.waiting(crm):  # a drain that died, or ids left while paused
                started += start_job(event_queue.DRAIN_JOB, crm)
            if zero_wins_due(crm):
                started += start_job(RECHECK_JOB, crm)
            check_alerts(crm)
    return started
