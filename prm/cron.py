"""Periodic jobs, read by ``manage.py rqcron prm/cron.py`` (the scheduler process)."""

from __future__ import annotations

from rq import cron

from integrations.crm.schedule import tick as crm_tick
from prm.jobs import run_periodic
from programs.services.clicks import clicks_flush

cron.register(run_periodic, queue_name="default", args=("prm.jobs.sweep_stale_jobs",), interval=60)
cron.register(
    run_periodic, queue_name="default", args=("prm.jobs.prune_finished_jobs",), cron="17 3 * * *"
)
# API Idempotency-Key answers are kept a day.
cron.register(
    run_periodic,
    queue_name="default",
    args=("prm.api_support.prune_idempotency_keys",),
    cron="27 * * * *",
)
# Buffered clicks: every few seconds, straight to the tracking queue. No Job row per
# run here: at this frequency the rows would drown the useful ones.
cron.register(clicks_flush, queue_name="tracking", interval=5)
# Analytics buckets whose recompute job was lost (each change enqueues its own).
cron.register(
    run_periodic, queue_name="default", args=("programs.analytics.refresh.drain_all",), interval=300
)
cron.register(
    run_periodic,
    queue_name="default",
    args=("rewards.services.approvals.approve_due",),
    interval=3600,
)
cron.register(
    run_periodic,
    queue_name="default",
    args=("rewards.services.payouts.scheduled_payouts",),
    cron="5 6 * * *",
)
# CRM sync: due retries, Salesforce polling, reconciliation, monitoring alerts. Like
# clicks, no Job row per tick; the jobs it starts have theirs.
cron.register(crm_tick, queue_name="crm", interval=30)
# The ledger check reads every tenant's whole ledger: at night.
cron.register(
    run_periodic,
    queue_name="default",
    args=("rewards.services.verify.ledger_check_all",),
    cron="40 2 * * *",
)
# Last month's statements, built once the month is closed (then served as stored).
cron.register(
    run_periodic,
    queue_name="default",
    args=("rewards.statements.statements_build_closed_month",),
    cron="30 3 1 * *",
)
# Notification e-mails that failed: tried again with backoff (sent ones never again).
cron.register(
    run_periodic,
    queue_name="default",
    args=("prm.notifications.sending.retry_failed",),
    interval=300,
)
# Automatic partner segments: tag (or move to a group) who matches, untag who no longer does.
cron.register(
    run_periodic,
    queue_name="default",
    args=("partners.segments.segments_run_all",),
    cron="20 * * * *",
)
# Scheduled exports: each period's delivery is started once (see prm.dataio.scheduled).
cron.register(
    run_periodic,
    queue_name="default",
    args=("prm.dataio.scheduled.scheduled_tick",),
    interval=900,
)
cron.register(
    run_periodic,
    queue_name="default",
    args=("prm.dataio.exports.prune_expired_exports",),
    cron="23 3 * * *",
)
cron.register(
    run_periodic,
    queue_name="default",
    args=("prm.dataio.imports.prune_old_imports",),
    cron="29 3 * * *",
)
# Webhooks: due retries and batches whose job was lost; old events forgotten at night.
cron.register(
    run_periodic, queue_name="default", args=("prm.webhooks.delivery.sweep",), interval=60
)
cron.register(
    run_periodic, queue_name="default", args=("prm.webhooks.delivery.prune",), cron="47 3 * * *"
)
# Scheduled news posts whose time has come: published (and e-mailed if asked).
cron.register(
    run_periodic,
    queue_name="default",
    args=("partners.news.services.publish_due",),
    interval=60,
)
