"""The shared throttle's two shapes, read without sleeping (``reserve`` gives the wait)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from integrations.crm.throttle import Throttle, last_hour


@pytest.fixture(autouse=True)
def _real_rates(settings) -> None:
    settings.PRM_CRM_RATE_SCALE = 1.0


def test_the_amocrm_window_takes_seven_at_once_and_never_an_eighth_in_the_window() -> None:
    throttle = Throttle(f"t-{uuid.uuid4()}", rate=7, burst=7, window=1.08)
    waits = [throttle.reserve() for _ in range(15)]
    assert max(waits[:7]) < 0.05
    # The 8th comes one window after the 1st, the 15th one window after the 8th.
    assert 1.02 < waits[7] <= 1.09
    assert 2.1 < waits[14] <= 2.17


def test_a_refusal_spends_the_burst_and_slows_every_worker_to_the_sustained_rate() -> None:
    key = f"t-{uuid.uuid4()}"
    throttle = Throttle(key, rate=2, burst=50)
    assert max(throttle.reserve() for _ in range(10)) < 0.05  # the burst
    other_worker = Throttle(key, rate=2, burst=50)
    other_worker.penalize(1.0)  # the portal answered 503 QUERY_LIMIT_EXCEEDED
    first, second = throttle.reserve(), throttle.reserve()
    assert 0.95 < first <= 1.05
    assert 0.95 + throttle.interval < second <= 1.05 + throttle.interval


def test_requests_and_refusals_are_counted_for_the_last_hour() -> None:
    key = f"t-{uuid.uuid4()}"
    throttle = Throttle(key, rate=7)
    for refused in (False, False, True):
        throttle.count(refused=refused)
    assert last_hour(key) == {"requests": 3, "refused": 1}


def test_the_window_counts_each_request_until_a_window_after_its_answer(settings) -> None:
    """Three threads send 28 requests with a slow answer each: the first 7 go at once
    (the burst), and no request is sent while 7 others may still count in the CRM's
    window, i.e. were sent before it and answered less than a window before it."""
    settings.PRM_CRM_RATE_SCALE = 20.0  # a 50 ms window, so the test takes ~0.3 s
    throttle = Throttle(f"t-{uuid.uuid4()}", rate=7, burst=7, window=1.0)
    window, lock = throttle.window, threading.Lock()
    log: list[tuple[float, float]] = []  # (sent, answered) per request
    waits: list[float] = []

    def sender() -> None:
        for _ in range(28 // 4):
            slept = throttle.wait()
            sent = time.monotonic()
            time.sleep(0.005)  # the CRM's work
            answered = time.monotonic()
            throttle.answered()
            with lock:
                log.append((sent, answered))
                waits.append(slept)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(log) == 28
    assert sorted(waits)[6] == 0.0  # the burst: 7 went without waiting
    for sent, _ in log:
        counting = [1 for s, a in log if s < sent and a > sent - window]
        assert len(counting) < 7
