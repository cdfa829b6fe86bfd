"""/healthz: database, Redis and queue depths, for load balancers and operators."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    report: dict[str, Any] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        report["database"] = "ok"
    except Exception as exc:
        healthy = False
        report["database"] = f"error: {exc.__class__.__name__}"
    if settings.PRM_JOBS_INLINE:
        report["redis"] = "not configured (jobs run inline)"
    else:
        import django_rq

        try:
            conn = django_rq.get_connection("default")
            conn.ping()
            report["redis"] = "ok"
            report["queues"] = {
                name: {
                    "queued": (q := django_rq.get_queue(name)).count,
                    "failed": q.failed_job_registry.count,
                    "scheduled": q.scheduled_job_registry.count,
                }
                for name in settings.PRM_QUEUES
            }
        except Exception as exc:
            healthy = False
            report["redis"] = f"error: {exc.__class__.__name__}"
    report["status"] = "ok" if healthy else "error"
    return JsonResponse(report, status=200 if healthy else 503)
