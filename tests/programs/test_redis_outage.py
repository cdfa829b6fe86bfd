"""Redis stopped and restarted under tracking traffic, on a real redis-server: clicks
are still answered 204 (written directly while Redis is away), leads still answer 201,
and every click answered 204 is stored exactly once."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from prm.models import Job
from prm.tenancy import tenant_scope
from programs import middleware as click_middleware
from programs.models import Click, Lead
from programs.services import clicks, lookups
from programs.services.clicks import clicks_flush
from tests.programs.test_clicks import click_body, post

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisProcess:
    """A private redis-server; append-only with fsync on every write, as production
    keeps its data (docker-compose runs Redis with --appendonly yes)."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--daemonize",
                "no",
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 5
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no shutdown save
        self.proc.wait(timeout=5)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path, settings) -> Iterator[RedisProcess]:  # type: ignore[no-untyped-def]
    server = RedisProcess(_free_port(), tmp_path)
    url = f"redis://127.0.0.1:{server.port}/0"
    settings.RQ_QUEUES = {
        name: {**config, "URL": url} for name, config in settings.RQ_QUEUES.items()
    }
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": url},
    }
    clicks._script = None  # registered on the suite's Redis otherwise
    server.start()
    yield server
    if server.proc is not None:
        server.kill()
    clicks._script = None


def _forget_local_copies() -> None:
    # The hot path keeps a few seconds' copy in memory; drop it so each phase really
    # goes through the (dead or restarted) cache.
    lookups._local.clear()
    click_middleware._hosts.clear()


def test_tracking_answers_through_a_redis_outage_and_loses_no_click(
    client, acme, program, alice, enrollment, private_redis, django_capture_on_commit_callbacks
):
    answered: list[str] = []

    def send(phase: str, count: int = 5) -> None:
        for n in range(count):
            visitor = f"{phase}-visitor-{n:04d}"
            response = post(client, click_body(program, visitor=visitor))
            assert response.status_code == 204, (phase, response.content)
            answered.append(visitor)

    send("before")
    private_redis.kill()
    _forget_local_copies()
    send("during")
    # Written at once, not buffered: they are in the database already.
    with tenant_scope(acme):
        assert Click.objects.filter(visitor_id__startswith="during-").count() == 5
    # Pages still answer: the cache misses instead of failing (the sign-in page rate
    # limits through it).
    assert client.get("/accounts/login/", HTTP_HOST="acme.localhost").status_code == 200
    signin = {"login": "nobody@example.com", "password": "wrong-password"}
    assert client.post("/accounts/login/", signin, HTTP_HOST="acme.localhost").status_code == 200
    # A lead from the snippet during the outage: answered, and its jobs wait as rows.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/t/l",
            json.dumps({"k": program.publishable_key, "c": "ALICE", "email": "out@example.com"}),
            content_type="text/plain",
            HTTP_HOST="acme.localhost",
        )
    assert response.status_code == 201, response.content
    lead = Lead.all_tenants_unscoped.get(email="out@example.com")
    assert lead.partner_id == alice.pk
    # Its accrual job could not reach Redis: not lost, a queued row the sweeper dispatches.
    job = Job.objects.get(func="rewards.services.accrual.accrue_lead")
    assert (job.status, job.kwargs) == (Job.Status.QUEUED, {"lead_id": str(lead.pk)})

    private_redis.start()  # same port, same append-only file
    _forget_local_copies()
    send("after")
    clicks_flush()

    with tenant_scope(acme):
        stored = Counter(Click.objects.values_list("visitor_id", flat=True))
    assert set(stored) == set(answered)
    assert set(stored.values()) == {1}  # each exactly once
