"""amoCRM allows 7 requests per second; the fake enforces it when ``rate_limit`` is on."""

from __future__ import annotations

from integrations.crm.base import CrmRecord


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    return max(
        (sum(1 for t in times[i:] if t - start < 1.0) for i, start in enumerate(times)), default=0
    )


def burst(connect, n: int) -> list:  # type: ignore[no-untyped-def]
    connector = connect()
    results = []
    for i in range(n):
        results += connector.push([CrmRecord(key=f"r{i}", title=f"R{i}", email=f"r{i}@x.ru")])
    return results


def test_at_the_real_rate_a_burst_of_pushes_is_never_refused(amo, connect, settings):
    settings.PRM_CRM_RATE_SCALE = 1.0
    amo.rate_limit = True
    results = burst(connect, 3)
    assert all(r.ok for r in results)
    assert 429 not in {r.status for r in amo.requests}
    accepted = [r.at for r in amo.requests if r.status != 429]
    assert len(accepted) > 7 and most_in_one_second(accepted) <= 7


def test_a_429_is_waited_out_when_we_go_faster_than_the_limit(amo, connect, settings):
    settings.PRM_CRM_RATE_SCALE = 3.0  # 21 requests/s against a limit of 7
    amo.rate_limit = True
    results = burst(connect, 3)
    assert all(r.ok for r in results)
    assert 429 in {r.status for r in amo.requests}  # amo's answer came, and was waited out
    accepted = [r.at for r in amo.requests if r.status != 429]
    assert most_in_one_second(accepted) <= 7
    assert len(amo.records()) == 3
