"""Background jobs: a Job row per job, dispatched to RQ only after commit.

``job_enqueue`` is the only way code starts a job. It writes the Job row in the
caller's transaction and dispatches after commit; without Redis (PRM_JOBS_INLINE) the
job runs inline right after commit. ``run_job`` re-enters the tenant's scope and calls
the function with the keyword arguments (ids, never model instances), so a job given
twice, or retried, must be safe to repeat.
"""

from __future__ import annotations

import importlib
import logging
import traceback
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from prm.models import Job, Tenant
from prm.tenancy import tenant_scope

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=5)
# RQ kills a job at its timeout (RQ_QUEUES' DEFAULT_TIMEOUT, 600 s); a row still
# RUNNING well past it belongs to a worker that died (SIGKILL, OOM, a lost machine).
DEAD_AFTER = timedelta(minutes=15)
KEEP_FINISHED = timedelta(days=30)


def job_enqueue(
    func: str, *, queue: str = "default", tenant: Tenant | None = None, **kwargs: Any
) -> Job:
    if queue not in settings.PRM_QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    _resolve(func)  # fail now, in the caller, on a typo
    job = Job.objects.create(tenant=tenant, queue=queue, func=func, kwargs=kwargs)
    transaction.on_commit(lambda: dispatch(job.pk))
    return job


def dispatch(job_id: Any) -> None:
    if settings.PRM_JOBS_INLINE:
        run_job(str(job_id))
        return
    import django_rq
    from rq import Retry

    job = Job.objects.get(pk=job_id)
    try:
        queue = django_rq.get_queue(job.queue)
        waiting = queue.fetch_job(f"prm-{job.pk}")
        if waiting is not None and not (waiting.is_failed or waiting.is_finished):
            return  # already in Redis (the sweeper saw a long queue, not a lost job)
        queue.enqueue(
            run_job,
            str(job.pk),
            job_id=f"prm-{job.pk}",
            retry=Retry(max=3, interval=[10, 60, 300]),
        )
    except Exception:
        # Redis unavailable: the row stays queued and the sweeper dispatches it later.
        log.exception("could not dispatch job %s; the sweeper will retry", job.pk)


def _resolve(path: str) -> Any:
    module_name, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def run_job(job_id: str) -> None:
    """Entry point of every RQ job (and of inline runs)."""
    job = Job.objects.select_related("tenant").filter(pk=job_id).first()
    if job is None:
        return  # gone: nothing to do
    # Claim the job with a conditional update so two deliveries never both run it.
    claimed = Job.objects.filter(
        pk=job.pk, status__in=[Job.Status.QUEUED, Job.Status.FAILED]
    ).update(status=Job.Status.RUNNING, started_at=timezone.now(), attempts=job.attempts + 1)
    if not claimed:
        return  # done already, or running in another worker
    try:
        with tenant_scope(job.tenant):
            _resolve(job.func)(**job.kwargs)
    except Exception:
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED,
            error=traceback.format_exc()[-4000:],
            finished_at=timezone.now(),
        )
        if settings.PRM_JOBS_INLINE:
            log.exception("inline job %s failed", job.pk)
            return
        raise  # let RQ record the failure and retry
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.DONE, error="", finished_at=timezone.now()
    )


def run_periodic(func: str) -> None:
    """What rqcron enqueues: records a Job row for the periodic run, then runs it."""
    job = Job.objects.create(queue="default", func=func, status=Job.Status.QUEUED)
    run_job(str(job.pk))


def _release_abandoned() -> None:
    """Let RQ retire jobs whose worker died: each is retried or moved to failed.

    Workers do this in their maintenance every few minutes; the sweeper does it too so
    a lone dead worker's job is not left waiting for another worker's turn.
    """
    import django_rq

    for name in settings.PRM_QUEUES:
        try:
            django_rq.get_queue(name).started_job_registry.cleanup()
        except Exception:
            log.exception("could not clean the started registry of queue %s", name)


def sweep_stale_jobs() -> int:
    """Periodic: re-dispatch jobs whose dispatch after commit was lost, or whose
    worker died mid-job (the row stays RUNNING and nothing else would run it again).

    Jobs are written to be repeated (see the module docstring); a killed worker's
    transaction was rolled back by PostgreSQL, so running the job again is safe.
    """
    now = timezone.now()
    if not settings.PRM_JOBS_INLINE:
        _release_abandoned()
    for job_id, started_at in Job.objects.filter(
        status=Job.Status.RUNNING, started_at__lt=now - DEAD_AFTER
    ).values_list("pk", "started_at")[:500]:
        # Conditional: a job that a retry has just claimed again keeps running.
        Job.objects.filter(pk=job_id, status=Job.Status.RUNNING, started_at=started_at).update(
            status=Job.Status.QUEUED
        )
    cutoff = now - STALE_AFTER
    ids = list(
        Job.objects.filter(status=Job.Status.QUEUED, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:500]
    )
    for job_id in ids:
        dispatch(job_id)
    return len(ids)


def prune_finished_jobs() -> int:
    """Periodic: forget finished job rows after a month."""
    cutoff = timezone.now() - KEEP_FINISHED
    deleted, _ = Job.objects.filter(status=Job.Status.DONE, finished_at__lt=cutoff).delete()
    return deleted
