"""``/r/UNKNOWN``: a link with a code no partner of the tenant has sends the visitor to
the program's landing page (crediting nobody) and records a rejected click, through
the Redis stream and its flush as any click, or at once without Redis."""

from __future__ import annotations

import django_rq
import pytest

from prm.tenancy import tenant_scope
from programs.models import Click, Program
from programs.services.clicks import STREAM, clicks_flush
from tests.rewards.helpers import make_partner, make_program


@pytest.fixture(autouse=True)
def _empty_stream():
    r = django_rq.get_connection("tracking")
    r.delete(STREAM)
    yield
    r.delete(STREAM)


def _clicks(tenant) -> list[Click]:
    with tenant_scope(tenant):
        return list(Click.objects.order_by("created_at"))


def test_an_unknown_code_lands_on_the_program_page_with_a_rejected_click(client, acme) -> None:
    with tenant_scope(acme):
        program = make_program(acme, landing_urls="https://shop.example.com/\nhttps://x.test/")
        make_partner(acme, program, "ALICE")
    response = client.get(
        "/r/NOBODY?sub=s1&utm_source=blog&to=https://x.test/deal",
        HTTP_HOST="acme.localhost",
        HTTP_REFERER="https://blog.example/post",
    )
    assert response.status_code == 302
    # An allowed ?to= is honoured; no referral parameter, no visitor id to credit anyone.
    assert response["Location"] == "https://x.test/deal?sub=s1&utm_source=blog"
    assert response["Cache-Control"] == "no-store"
    assert _clicks(acme) == []  # buffered in the stream until the flush
    assert clicks_flush() == 1
    (click,) = _clicks(acme)
    assert (click.status, click.reject_reason, click.code) == ("rejected", "unknown_code", "NOBODY")
    assert (click.program_id, click.enrollment_id, click.partner_id) == (program.pk, None, None)
    assert (click.source, click.sub_id, click.landing_url) == ("link", "s1", "https://x.test/deal")
    assert click.referrer == "https://blog.example/post"


def test_a_known_code_is_still_credited_beside_an_unknown_one(client, acme) -> None:
    with tenant_scope(acme):
        program = make_program(acme)
        make_partner(acme, program, "ALICE")
    client.get("/r/NOBODY", HTTP_HOST="acme.localhost")
    known = client.get("/r/ALICE", HTTP_HOST="acme.localhost")
    assert known["Location"].startswith("https://shop.example.com/?ref=ALICE&prm_vid=")
    assert clicks_flush() == 2
    got = sorted((c.code, c.status, c.partner_id is not None) for c in _clicks(acme))
    assert got == [("ALICE", "accepted", True), ("NOBODY", "rejected", False)]


def test_the_active_program_wins_and_a_hint_picks_another(client, acme, settings) -> None:
    settings.PRM_JOBS_INLINE = True  # without Redis the click is written at once
    with tenant_scope(acme):
        make_program(acme, name="Old draft", status=Program.Status.DRAFT)
        live = make_program(acme, name="Live", landing_urls="https://live.test/")
        other = make_program(acme, name="Other", landing_urls="https://other.test/")
    assert client.get("/r/NOPE", HTTP_HOST="acme.localhost")["Location"] == "https://live.test/"
    hinted = client.get(f"/r/NOPE?p={other.publishable_key}", HTTP_HOST="acme.localhost")
    assert hinted["Location"] == "https://other.test/"
    # A hint naming nothing of this tenant falls back to the default program.
    bad = client.get("/r/NOPE?p=pk_nothing", HTTP_HOST="acme.localhost")
    assert bad["Location"] == "https://live.test/"
    assert [c.program_id for c in _clicks(acme)] == [live.pk, other.pk, live.pk]


@pytest.mark.parametrize(
    ("code", "kept"),
    [
        ("%00", ""),
        ("a%00b", "ab"),  # the NUL is removed at the edge (prm.inputs); the rest is a code
        ("%ED%A0%80", ""),
        ("x" * 300, ""),
        ("bad code!", ""),
    ],
)
def test_hostile_codes_land_too_and_never_break_the_flush(client, acme, code, kept) -> None:
    with tenant_scope(acme):
        make_program(acme)
    response = client.get(f"/r/{code}?sub=%00x%ED%A0%80", HTTP_HOST="acme.localhost")
    assert response.status_code == 302
    assert clicks_flush() == 1
    (click,) = _clicks(acme)
    assert (click.code, click.reject_reason) == (kept, "unknown_code")


def test_404_only_when_no_program_has_a_landing_url(client, acme, globex) -> None:
    with tenant_scope(acme):
        make_program(acme, landing_urls="")
    assert client.get("/r/NOBODY", HTTP_HOST="acme.localhost").status_code == 404
    assert client.get("/r/NOBODY", HTTP_HOST="globex.localhost").status_code == 404
    assert clicks_flush() == 0
