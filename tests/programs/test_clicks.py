"""Click ingestion: POST /t/c, the Redis buffer and the flush."""

from __future__ import annotations

import json

import django_rq
import pytest

from partners.models import PartnerProfile
from prm.tenancy import tenant_scope
from programs.models import Click, Program
from programs.services import clicks as clicks_service
from programs.services.clicks import STREAM, clicks_flush
from programs.services.enrollments import enrollment_create
from tests.factories import PartnerFactory, UserFactory


@pytest.fixture(autouse=True)
def _empty_stream():
    r = django_rq.get_connection("tracking")
    r.delete(STREAM)
    clicks_service.lookups._local.clear()
    from programs import middleware

    middleware._hosts.clear()
    yield
    r.delete(STREAM)


@pytest.fixture
def program(acme):
    return Program.all_tenants_unscoped.create(
        tenant=acme,
        name="Pro",
        currency="USD",
        status=Program.Status.ACTIVE,
        landing_urls="https://shop.example.com/",
    )


@pytest.fixture
def alice(acme, program):
    partner = PartnerFactory(tenant=acme, user=UserFactory(email="alice@example.test"))
    with tenant_scope(acme):
        enrollment_create(tenant=acme, program=program, partner=partner, code="ALICE")
    return partner


CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)


def post(client, body, host="acme.localhost", **extra):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post("/t/c", data, content_type="text/plain", HTTP_HOST=host, **extra)


def click_body(program, code="ALICE", visitor="visitor-0001", **more):
    return {
        "k": program.publishable_key,
        "c": code,
        "v": visitor,
        "u": "https://shop.example.com/?ref=" + code,
        **more,
    }


def stored(acme):
    with tenant_scope(acme):
        return list(Click.objects.order_by("created_at"))


def test_it_accepts_a_click_with_204_and_cors_and_stores_it_after_the_flush(
    client, acme, program, alice
):
    response = post(
        client,
        click_body(program, s="yt", r="https://t.me/x"),
        HTTP_USER_AGENT=CHROME,
        REMOTE_ADDR="198.51.100.77",
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert stored(acme) == []  # buffered in Redis
    assert clicks_flush() == 1
    [click] = stored(acme)
    assert (click.code, click.visitor_id, click.sub_id, click.partner_id) == (
        "ALICE",
        "visitor-0001",
        "yt",
        alice.pk,
    )
    assert click.referrer == "https://t.me/x"
    assert click.browser == "Chrome" and click.os == "Windows"
    assert click.ip == "198.51.100.0"  # truncated by default
    assert click.status == Click.Status.ACCEPTED


def test_codes_are_case_insensitive(client, acme, program, alice):
    assert post(client, click_body(program, code="alice")).status_code == 204
    clicks_flush()
    assert stored(acme)[0].code == "ALICE"


def test_it_drops_repeats_from_the_same_visitor_within_the_window(client, acme, program, alice):
    for _ in range(3):
        assert post(client, click_body(program)).status_code == 204
    post(client, click_body(program, visitor="visitor-0002"))
    clicks_flush()
    assert len(stored(acme)) == 2


def test_it_hashes_ips_when_the_tenant_says_so(client, acme, program, alice):
    acme.click_ip_mode = "hash"
    acme.save()
    post(client, click_body(program), REMOTE_ADDR="198.51.100.77")
    clicks_flush()
    ip = stored(acme)[0].ip
    assert len(ip) == 32 and "198" not in ip


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[1,2]", 400),
        (b'{"k": 5, "c": "ALICE", "v": "visitor-0001"}', 400),
        (b'{"c": "ALICE", "v": "visitor-0001"}', 400),
        (b'{"k": "pk_x", "c": "AL ICE", "v": "visitor-0001"}', 400),
        (b'{"k": "pk_x", "c": "ALICE", "v": "short"}', 400),
        (b'{"k": "pk_unknown", "c": "ALICE", "v": "visitor-0001"}', 404),
        (b"\xff\xfe\x00", 400),
        (b"{" + b'"pad": "' + b"x" * 5000 + b'"}', 413),
    ],
)
def test_bad_input_gets_a_4xx_never_a_500(client, acme, program, alice, body, status):
    response = post(client, body)
    assert response.status_code == status
    assert "error" in json.loads(response.content)
    assert clicks_flush() == 0


def test_an_unknown_code_is_a_404(client, acme, program, alice):
    response = post(client, click_body(program, code="NOBODY"))
    assert response.status_code == 404


def test_a_key_of_another_tenant_is_unknown_on_this_host(client, acme, globex, program, alice):
    assert post(client, click_body(program), host="globex.localhost").status_code == 404
    assert post(client, click_body(program), host="nowhere.localhost").status_code == 404


def test_only_post_is_allowed_and_preflight_is_answered(client, acme, program):
    assert client.get("/t/c", HTTP_HOST="acme.localhost").status_code == 405
    response = client.options("/t/c", HTTP_HOST="acme.localhost")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"


def test_clicks_of_a_paused_program_are_kept_as_rejected(client, acme, program, alice):
    Program.all_tenants_unscoped.filter(pk=program.pk).update(status=Program.Status.PAUSED)
    from django.core.cache import cache

    cache.clear()  # what program_save does on commit
    clicks_service.lookups._local.clear()
    assert post(client, click_body(program)).status_code == 204
    clicks_flush()
    [click] = stored(acme)
    assert click.status == Click.Status.REJECTED
    assert click.reject_reason == "program_paused"


def test_clicks_of_a_blocked_partner_are_kept_as_rejected(
    client, acme, owner, program, alice, client_for, django_capture_on_commit_callbacks
):
    staff = client_for(owner)
    assert post(client, click_body(program)).status_code == 204  # warms the caches
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(
            f"/manage/partners/{alice.pk}/status/", {"status": PartnerProfile.Status.BLOCKED}
        )
    clicks_service.lookups._local.clear()  # other processes' local copies expire in seconds
    post(client, click_body(program, visitor="visitor-0002"))
    clicks_flush()
    by_visitor = {c.visitor_id: c for c in stored(acme)}
    assert by_visitor["visitor-0001"].status == Click.Status.ACCEPTED
    assert by_visitor["visitor-0002"].status == Click.Status.REJECTED
    assert by_visitor["visitor-0002"].reject_reason == "partner_blocked"


def test_a_flush_killed_midway_loses_and_duplicates_nothing(client, acme, program, alice):
    for i in range(5):
        post(client, click_body(program, visitor=f"visitor-{i:04d}"))
    r = django_rq.get_connection("tracking")
    clicks_flush(batch=1, max_batches=0)  # creates the group, handles nothing
    # A flusher reads two entries and dies before acknowledging them.
    r.xreadgroup("flush", "dead-worker", {STREAM: ">"}, count=2)
    # The next flush takes the new entries; the dead one's wait for the idle timeout.
    assert clicks_flush() == 3
    assert len(stored(acme)) == 3
    # Once they have been idle long enough, they are claimed and written.
    assert clicks_flush(claim_idle_ms=0) == 2
    assert len(stored(acme)) == 5
    assert r.xlen(STREAM) == 0


def test_a_flush_that_died_after_writing_does_not_write_twice(client, acme, program, alice):
    post(client, click_body(program))
    r = django_rq.get_connection("tracking")
    clicks_flush(batch=1, max_batches=0)
    [[_, entries]] = r.xreadgroup("flush", "dead-worker", {STREAM: ">"}, count=10)
    # It committed the rows but died before XACK.
    rows = [clicks_service._row(e[0].decode(), json.loads(e[1][b"d"])) for e in entries]
    Click.all_tenants_unscoped.bulk_create(rows)
    assert clicks_flush(claim_idle_ms=0) == 1
    assert len(stored(acme)) == 1


def test_the_flush_runs_as_a_job_on_a_real_worker(client, acme, program, alice):
    from rq import SimpleWorker

    post(client, click_body(program))
    queue = django_rq.get_queue("tracking")
    queue.enqueue(clicks_flush)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert len(stored(acme)) == 1


def test_without_redis_clicks_are_written_at_once(client, acme, program, alice, settings):
    settings.PRM_JOBS_INLINE = True
    assert post(client, click_body(program)).status_code == 204
    assert post(client, click_body(program)).status_code == 204  # a repeat
    assert len(stored(acme)) == 1
