from __future__ import annotations

import json

import django_rq


def test_it_reports_database_redis_and_queue_depths(db, client):
    django_rq.get_queue("tracking").empty()
    django_rq.get_queue("tracking").enqueue("prm.jobs.sweep_stale_jobs")
    response = client.get("/healthz", HTTP_HOST="localhost")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] == "ok"
    assert set(body["queues"]) == {"default", "tracking", "crm", "antifraud", "webhooks"}
    assert body["queues"]["tracking"]["queued"] == 1
    django_rq.get_queue("tracking").empty()


def test_it_answers_503_when_redis_is_down(db, client, settings):
    settings.RQ_QUEUES = {name: {"URL": "redis://127.0.0.1:1/0"} for name in settings.PRM_QUEUES}
    response = client.get("/healthz", HTTP_HOST="localhost")
    assert response.status_code == 503
    assert json.loads(response.content)["redis"].startswith("error")
