from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone
from rq import SimpleWorker

from prm.jobs import job_enqueue, run_job, sweep_stale_jobs
from prm.models import Job

calls: list[dict] = []


def record_call(**kwargs: object) -> None:
    from prm.tenancy import current_tenant

    tenant = current_tenant()
    calls.append({**kwargs, "tenant": tenant.slug if tenant else None})


def explode(**kwargs: object) -> None:
    raise RuntimeError("boom")


@pytest.fixture(autouse=True)
def _clean_queues():
    calls.clear()
    for name in ("default", "crm"):
        queue = django_rq.get_queue(name)
        queue.empty()
        queue.failed_job_registry.cleanup()
    yield


def burst(*names: str) -> None:
    queues = [django_rq.get_queue(n) for n in names or ("default",)]
    SimpleWorker(queues, connection=queues[0].connection).work(burst=True)


def test_it_enqueues_only_after_commit(acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_enqueue("tests.prm.test_jobs.record_call", tenant=acme, n=1)
        assert django_rq.get_queue("default").count == 0
    assert len(callbacks) == 1
    callbacks[0]()
    assert django_rq.get_queue("default").count == 1
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_a_real_worker_runs_the_job_in_the_tenant_scope(acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_enqueue("tests.prm.test_jobs.record_call", queue="crm", tenant=acme, n=2)
    burst("crm")
    assert calls == [{"n": 2, "tenant": "acme"}]
    job.refresh_from_db()
    assert job.status == Job.Status.DONE
    assert job.attempts == 1
    assert job.finished_at is not None


def test_a_second_delivery_of_a_done_job_does_nothing(acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_enqueue("tests.prm.test_jobs.record_call", tenant=acme, n=3)
    burst()
    run_job(str(job.pk))
    assert len(calls) == 1


def test_a_failing_job_records_its_error_and_is_retried_by_rq(
    acme, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_enqueue("tests.prm.test_jobs.explode", tenant=acme)
    burst()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "RuntimeError: boom" in job.error
    # RQ keeps it for a retry (Retry(max=3)) in the scheduled registry.
    assert django_rq.get_queue("default").scheduled_job_registry.count == 1


def test_it_refuses_unknown_queues_and_functions(acme):
    with pytest.raises(ValueError):
        job_enqueue("tests.prm.test_jobs.record_call", queue="nope")
    with pytest.raises(AttributeError):
        job_enqueue("tests.prm.test_jobs.no_such_function")


def test_the_sweeper_redispatches_jobs_whose_dispatch_was_lost(acme):
    job = Job.objects.create(tenant=acme, func="tests.prm.test_jobs.record_call", kwargs={"n": 4})
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    assert sweep_stale_jobs() == 1
    assert sweep_stale_jobs() == 1  # already waiting in Redis: not enqueued twice
    assert django_rq.get_queue("default").count == 1
    burst()
    assert calls == [{"n": 4, "tenant": "acme"}]


def test_jobs_run_inline_without_redis(acme, settings, django_capture_on_commit_callbacks):
    settings.PRM_JOBS_INLINE = True
    with django_capture_on_commit_callbacks(execute=True):
        job = job_enqueue("tests.prm.test_jobs.record_call", tenant=acme, n=5)
    assert calls == [{"n": 5, "tenant": "acme"}]
    assert Job.objects.get(pk=job.pk).status == Job.Status.DONE
