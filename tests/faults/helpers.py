"""Real processes for the fault tests: an RQ worker run as ``manage.py rqworker`` on
the test database, killed with SIGKILL while its job waits on a lock the test holds;
gunicorn serving the application on a database the test may stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )


def side_connection() -> psycopg.Connection:
    """A second session on the test database (the test's own lock holder)."""
    return psycopg.connect(database_url().replace("postgres://", "postgresql://", 1))


def start_worker(*queues: str, burst: bool = False) -> subprocess.Popen:
    """``manage.py rqworker`` in its own process group (the horse it forks dies too)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prm.settings_test",
        "DATABASE_URL": database_url(),
    }
    args = [sys.executable, "manage.py", "rqworker", *queues]
    if burst:
        args.append("--burst")
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def start_gunicorn(database_url: str, port: int, log: Path, workers: int = 2) -> subprocess.Popen:
    """``gunicorn prm.wsgi`` as production runs it (sync workers), on ``database_url``;
    its log goes to a file (a pipe nobody reads would fill up and stall it)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prm.settings_test",
        "DATABASE_URL": database_url,
    }
    args = [
        *(sys.executable, "-m", "gunicorn", "prm.wsgi:application"),
        *("--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "30"),
    ]
    with log.open("ab") as sink:
        return subprocess.Popen(
            args, cwd=ROOT, env=env, start_new_session=True, stdout=sink, stderr=sink
        )


def stop_process_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found


def kill(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and its work horse (RQ puts the horse in a session of its
    own, so the process group alone would leave it running), as a lost machine would."""
    for pid in [*_descendants(worker.pid), worker.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait(timeout=10)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def someone_waits_on_a_lock() -> bool:
    """Another session of the test database is blocked on a lock (the worker's job)."""
    with side_connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return bool(row and row[0])


def close_django_connection() -> None:
    connection.close()
