"""Fixtures shared by the console tests: a real RQ worker for jobs sent on commit."""

from __future__ import annotations

from collections.abc import Callable

import django_rq
import pytest
from rq import SimpleWorker


class BurstWorker(SimpleWorker):
    """A real RQ worker in the test's process, minus the command channel: joining its
    listener thread at shutdown can hold a burst up for a second."""

    def subscribe(self) -> None:
        pass


@pytest.fixture
def run_jobs() -> Callable[[], None]:
    """Run what is waiting in the default queue with a real (burst) RQ worker.

    Jobs are dispatched on commit, so the code under test must run inside
    ``django_capture_on_commit_callbacks(execute=True)`` first.
    """

    def burst() -> None:
        queue = django_rq.get_queue("default")
        BurstWorker([queue], connection=django_rq.get_connection("default")).work(burst=True)

    return burst
