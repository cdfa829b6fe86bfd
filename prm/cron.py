"""Periodic jobs, read by ``manage.py rqcron prm/cron.py`` (the scheduler process)."""

from __future__ import annotations

from rq import cron

from prm.jobs import run_periodic

cron.register(run_periodic, queue_name="default", args=("prm.jobs.sweep_stale_jobs",), interval=60)
cron.register(
    run_periodic, queue_name="default", args=("prm.jobs.prune_finished_jobs",), cron="17 3 * * *"
)
