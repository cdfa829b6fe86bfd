"""PostgreSQL restarted under traffic: 503 with Retry-After while it is away, then the
same gunicorn workers serve again by themselves.

Real processes: a private PostgreSQL cluster (tests/faults/private_pg.py), migrated and
given two small workspaces by a process of its own (tests/faults/db_world.py), gunicorn
on it with Redis as the click buffer, and a client thread sending a console page, a
console page behind the staff-2FA middleware, a referral link, an API read and snippet
clicks in a loop while the test stops the server (``pg_ctl stop -m fast``) and starts it
again. Clicks answered 204 while the database was away must be stored by the next flush.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any

import httpx
import psycopg
import pytest

from programs.models import Click
from tests.faults.helpers import ROOT, children, start_gunicorn, stop_process_group, wait_for
from tests.faults.private_pg import PrivatePostgres, free_port, postgres_bin

PG_BIN = postgres_bin()
pytestmark = pytest.mark.skipif(PG_BIN is None, reason="needs the PostgreSQL server binaries")

# What each request answers while the database is up.
NORMAL = {"console": 200, "console_2fa": 302, "link": 302, "api": 200, "click": 204}
JSON_ANSWERS = {"api", "click"}
RECOVERY_SECONDS = 5.0


@dataclass
class Answer:
    name: str
    sent: float
    done: float
    status: int | None  # None: no HTTP answer at all (reset, refused, timed out)
    content_type: str = ""
    retry_after: str = ""
    body: bytes = b""
    error: str = ""


class Traffic(threading.Thread):
    """One client sending the five requests round and round until told to stop."""

    def __init__(self, base_url: str, world: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.world = world
        self.answers: list[Answer] = []
        self.clicks: dict[str, Answer] = {}  # visitor id -> its answer
        self.stopping = threading.Event()
        self._visitors = count()

    def _requests(self) -> Iterator[tuple[str, dict[str, Any]]]:
        w = self.world
        yield (
            "console",
            {
                "method": "GET",
                "url": "/manage/",
                "headers": {"Host": w["host"], "Cookie": f"sessionid={w['session']}"},
            },
        )
        yield (
            "console_2fa",
            {
                "method": "GET",
                "url": "/manage/",
                "headers": {"Host": w["strict_host"], "Cookie": f"sessionid={w['strict_session']}"},
            },
        )
        yield "link", {"method": "GET", "url": "/r/ALICE", "headers": {"Host": w["host"]}}
        yield (
            "api",
            {
                "method": "GET",
                "url": f"/api/v1/conversions/{w['order_id']}",
                "headers": {"Host": w["host"], "Authorization": f"Bearer {w['api_key']}"},
            },
        )
        visitor = f"visitor-{next(self._visitors):06d}"
        yield (
            f"click:{visitor}",
            {
                "method": "POST",
                "url": "/t/c",
                "headers": {"Host": w["host"], "Content-Type": "text/plain"},
                "content": json.dumps({"k": w["publishable_key"], "c": "ALICE", "v": visitor}),
            },
        )

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            while not self.stopping.is_set():
                for name, request in self._requests():
                    self._send(client, name, request)

    def _send(self, client: httpx.Client, name: str, request: dict[str, Any]) -> None:
        kind, _, visitor = name.partition(":")
        sent = time.monotonic()
        try:
            r = client.request(**request)
        except httpx.HTTPError as exc:
            answer = Answer(kind, sent, time.monotonic(), None, error=repr(exc))
        else:
            answer = Answer(
                kind,
                sent,
                time.monotonic(),
                r.status_code,
                r.headers.get("content-type", ""),
                r.headers.get("retry-after", ""),
                r.content,
            )
        self.answers.append(answer)
        if visitor:
            self.clicks[visitor] = answer

    def normal_round_since(self, since: float) -> bool:
        """Every kind of request has answered normally, sent after ``since``."""
        fine = {a.name for a in list(self.answers) if a.sent > since and a.status == NORMAL[a.name]}
        return fine == set(NORMAL)


@pytest.fixture
def cluster(django_db_setup: None) -> Iterator[PrivatePostgres]:
    assert PG_BIN is not None
    pg = PrivatePostgres(PG_BIN)
    try:
        pg.init()
        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE prm")
        _copy_migrated_schema(pg)
        yield pg
    finally:
        pg.destroy()


def _copy_migrated_schema(pg: PrivatePostgres) -> None:
    """The suite's own test database is already migrated: a dump of it restores in about
    a second, where running the migrations again takes 10-20 s of CPU (db_world's
    migrate then finds nothing to do)."""
    from django.db import connection

    source = connection.settings_dict
    dump = subprocess.run(
        [
            str(PG_BIN / "pg_dump"),
            "--no-owner",
            "--no-privileges",
            "-h",
            source["HOST"] or "127.0.0.1",
            "-p",
            str(source["PORT"] or 5432),
            "-U",
            source["USER"] or "postgres",
            source["NAME"],
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    subprocess.run(
        [str(PG_BIN / "psql"), "-q", "-v", "ON_ERROR_STOP=1", pg.url("prm")],
        input=dump.stdout,
        capture_output=True,
        check=True,
        timeout=60,
    )


def _manage_env(pg: PrivatePostgres) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prm.settings_test",
        "DATABASE_URL": pg.url("prm"),
    }


def _build_world(pg: PrivatePostgres) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.faults.db_world"],
        cwd=ROOT,
        env=_manage_env(pg),
        capture_output=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)


def _flush_clicks(pg: PrivatePostgres) -> None:
    """The periodic click flush (rqcron runs it every 5 s), once, as a process."""
    code = "from programs.services.clicks import clicks_flush; clicks_flush()"
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=_manage_env(pg),
        check=True,
        timeout=60,
    )


def _assert_unavailable(answer: Answer) -> None:
    assert answer.status == 503, answer
    assert answer.retry_after.isdigit() and int(answer.retry_after) > 0, answer
    if answer.name in JSON_ANSWERS:
        assert answer.content_type == "application/json", answer
        assert json.loads(answer.body)["code"] == "unavailable"
    else:
        assert answer.content_type.startswith("text/html"), answer
        assert b"Temporarily unavailable" in answer.body


def test_a_postgres_restart_answers_503_then_recovers_without_a_gunicorn_restart(
    cluster: PrivatePostgres, tmp_path: Any
) -> None:
    world = _build_world(cluster)
    port = free_port()
    gunicorn = start_gunicorn(cluster.url("prm"), port, tmp_path / "gunicorn.log")
    traffic = Traffic(f"http://127.0.0.1:{port}", world)
    try:
        wait_for(lambda: _answers(port), "gunicorn to listen", timeout=20)
        workers = sorted(children(gunicorn.pid))
        traffic.start()
        wait_for(lambda: traffic.normal_round_since(0), "the first normal answers")
        time.sleep(0.5)

        stop_began = time.monotonic()
        cluster.stop("fast")
        stop_ended = time.monotonic()
        time.sleep(2)
        start_began = time.monotonic()
        cluster.start()
        start_ended = time.monotonic()
        wait_for(
            lambda: traffic.normal_round_since(start_ended),
            "normal answers after the restart",
            timeout=RECOVERY_SECONDS,
        )
        recovered = time.monotonic()
        time.sleep(0.5)
        workers_after = sorted(children(gunicorn.pid))
    finally:
        traffic.stopping.set()
        traffic.join(timeout=15)
        stop_process_group(gunicorn)
    log = (tmp_path / "gunicorn.log").read_text(errors="replace")

    answers = traffic.answers
    # Never a reset connection, never a 500: the normal answer or a clean 503.
    assert [a for a in answers if a.status is None] == []
    assert [a for a in answers if a.status not in (NORMAL[a.name], 503)] == []
    for answer in answers:
        if answer.status == 503:
            _assert_unavailable(answer)
    # Before the stop, all normal.
    assert all(a.status == NORMAL[a.name] for a in answers if a.done < stop_began)
    # While the server was down: every request that needs it got the 503 (clicks are
    # buffered in Redis, so they may still be accepted).
    down = [a for a in answers if a.sent > stop_ended and a.done < start_began]
    assert {a.name for a in down} == set(NORMAL)
    assert all(a.status == 503 for a in down if a.name != "click"), down
    assert all(a.status in (204, 503) for a in down if a.name == "click")
    # After the restart: normal again within seconds, from the very same processes.
    assert recovered - start_ended < RECOVERY_SECONDS
    assert all(a.status == NORMAL[a.name] for a in answers if a.sent > recovered)
    assert workers_after == workers, log  # no worker was restarted

    # Every click answered 204 — also those buffered while the database was away — is
    # stored once by the next flush.
    accepted = {v for v, a in traffic.clicks.items() if a.status == 204}
    assert any(a.status == 204 for a in down if a.name == "click")
    _flush_clicks(cluster)
    with psycopg.connect(cluster.url("prm")) as conn:
        stored = [
            row[0]
            for row in conn.execute(
                f"SELECT visitor_id FROM {Click._meta.db_table} WHERE source = 'snippet'"
            )
        ]
    assert sorted(stored) == sorted(accepted)


def _answers(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
    except httpx.HTTPError:
        return False
    return True
