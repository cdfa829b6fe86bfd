"""Fixtures shared by the console tests: a real RQ worker for jobs sent on commit."""

from __future__ import annotations

from collections.abc import Callable

import django_rq
import pytest
from rq import SimpleWorker


@pytest.fixture
def run_jobs() -> Callable[[], None]:
    """Run what is waiting in the default queue with a real (burst) RQ worker.

    Jobs are dispatched on commit, so the code under test must run inside
    ``django_capture_on_commit_callbacks(execute=True)`` first.
    """

    def burst() -> None:
        queue = django_rq.get_queue("default")
        SimpleWorker([queue], connection=django_rq.get_connection("default")).work(burst=True)

    return burst
