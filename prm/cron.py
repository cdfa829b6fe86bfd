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
# Buffered clicks: every few seconds, straight to the tracking queue. No Job row per
# run here: at this frequency the rows would drown the useful ones.
cron.register(clicks_flush, queue_name="tracking", interval=5)
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
# Scheduled exports: each period's delivery is started once (see dataio.scheduled).
cron.register(
    run_periodic,
    queue_name="default",
    args=("dataio.scheduled.scheduled_tick",),
    interval=900,
)
cron.register(
    run_periodic,
    queue_name="default",
    args=("dataio.exports.prune_expired_exports",),
    cron="23 3 * * *",
)
cron.register(
    run_periodic,
    queue_name="default",
    args=("dataio.imports.prune_old_imports",),
    cron="29 3 * * *",
)
