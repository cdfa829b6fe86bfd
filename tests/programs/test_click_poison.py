"""One bad click never holds back another: cleaned at the edge, cleaned again at the
flush, and what the database still refuses goes to the dead letters with its reason."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import django_rq
import pytest

from prm.tenancy import tenant_scope
from programs.models import Click, Enrollment
from programs.services.clicks import DEAD_LETTERS, STREAM, clicks_flush
from tests.programs.test_clicks import click_body, post


@pytest.fixture(autouse=True)
def _empty_stream():
    r = django_rq.get_connection("tracking")
    r.delete(STREAM, DEAD_LETTERS)
    yield
    r.delete(STREAM, DEAD_LETTERS)


def _record(enrollment: Enrollment, **changes: object) -> dict[str, object]:
    record = {
        "t": str(enrollment.tenant_id),
        "p": str(enrollment.program_id),
        "e": str(enrollment.pk),
        "pa": str(enrollment.partner_id),
        "c": enrollment.code,
        "v": f"direct-{uuid.uuid4().hex[:12]}",
        "s": "",
        "u": "https://shop.example.com/",
        "r": "",
        "ua": "curl/8",
        "ip": "",
        "x": "",
        "src": "snippet",
        "at": datetime.now(UTC).timestamp(),
    }
    record.update(changes)
    return record


def test_fifteen_valid_clicks_are_stored_beside_fifteen_poisoned_ones(
    client, acme, program, enrollment
):
    r = django_rq.get_connection("tracking")
    nul = "poison\u0000x"
    # Poison through the endpoint: NUL and lone surrogates in s, u and r (cleaned at the edge).
    edge_poison = [
        {"s": nul},
        {"u": "https://shop.example.com/" + nul},
        {"r": "https://ref.example.com/" + nul},
        {"s": "\ud800"},
        {"r": "https://ref.example.com/\udfff"},
    ]
    responses = []
    for n in range(15):
        responses.append(post(client, click_body(program, visitor=f"valid-visitor-{n:04d}")))
        if n < len(edge_poison):
            body = click_body(program, visitor=f"edge-poison-{n:04d}", **edge_poison[n])
            responses.append(post(client, json.dumps(body)))
    assert {resp.status_code for resp in responses} == {204}
    # Poison written straight into the stream, past the edge: NUL and surrogates the flush
    # cleans, and records no cleaning can save.
    fixable = [
        _record(enrollment, s=nul),
        _record(enrollment, u="https://x.example/" + nul, r=nul),
        _record(enrollment, ua="\ud800" * 600),
        _record(enrollment, c="ALICE\u0000", v="v\u0000" * 100),
        _record(enrollment, s=12345),
    ]
    for record in fixable:
        r.xadd(STREAM, {"d": json.dumps(record)})
    broken = [
        b"not json at all",
        json.dumps({"t": "x"}).encode(),  # fields missing
        json.dumps(_record(enrollment, t="not-a-uuid")).encode(),
        json.dumps(_record(enrollment, at="yesterday")).encode(),
        json.dumps(_record(enrollment, t=str(uuid.uuid4()))).encode(),  # no such tenant
    ]
    for raw in broken:
        r.xadd(STREAM, {"d": raw})

    clicks_flush()

    with tenant_scope(acme):
        visitors = set(Click.objects.values_list("visitor_id", flat=True))
        texts = list(Click.objects.values_list("sub_id", "landing_url", "referrer", "code"))
    assert {f"valid-visitor-{n:04d}" for n in range(15)} <= visitors
    assert {f"edge-poison-{n:04d}" for n in range(5)} <= visitors
    assert len(visitors) == 15 + 5 + len(fixable)
    assert not any("\x00" in t for row in texts for t in row)
    dead = [json.loads(entry) for entry in r.lrange(DEAD_LETTERS, 0, -1)]
    assert len(dead) == len(broken)
    assert all(entry["reason"] and entry["id"] for entry in dead)
    assert any("refused by the database" in entry["reason"] for entry in dead)
    assert r.xlen(STREAM) == 0  # everything acknowledged: nothing is re-claimed forever
    assert clicks_flush() == 0
