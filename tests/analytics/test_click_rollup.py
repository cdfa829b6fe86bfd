"""The click flush keeps ClickDay current: one upsert per batch, each click once, a
visitor once a day per program and partner, and the same rows as a rebuild."""

from __future__ import annotations

import json

import django_rq
import pytest
from django.db.models import Sum

from prm.tenancy import tenant_scope
from programs.analytics.refresh import rollups_rebuild
from programs.models import Click, ClickDay, Program
from programs.services import clicks as clicks_service
from programs.services.clicks import STREAM, clicks_flush
from programs.services.enrollments import enrollment_create
from tests.factories import PartnerFactory, UserFactory


@pytest.fixture(autouse=True)
def _empty_stream():
    r = django_rq.get_connection("tracking")
    r.delete(STREAM)
    clicks_service.lookups._local.clear()
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


def post(client, program, visitor, query="", referrer=""):  # type: ignore[no-untyped-def]
    body = {
        "k": program.publishable_key,
        "c": "ALICE",
        "v": visitor,
        "s": "post-1",
        "u": f"https://shop.example.com/?via=ALICE&{query}",
        "r": referrer,
    }
    response = client.post(
        "/t/c", json.dumps(body), content_type="text/plain", HTTP_HOST="acme.localhost"
    )
    assert response.status_code == 204


def forget_repeats() -> None:
    """As if the 30-second repeat window had passed."""
    r = django_rq.get_connection("tracking")
    for key in r.scan_iter("prm:clk:dd:*"):
        r.delete(key)


def rows(acme):  # type: ignore[no-untyped-def]
    with tenant_scope(acme):
        return sorted(
            ClickDay.objects.values_list(
                "day", "utm_source", "utm_medium", "sub_id", "referrer_domain", "clicks", "visitors"
            )
        )


def test_it_rolls_up_each_batch_with_the_channel_of_the_landing_page(client, acme, program, alice):
    post(client, program, "visitor-0001", "utm_source=Newsletter&utm_medium=email")
    post(client, program, "visitor-0002", "utm_source=newsletter&utm_medium=email")
    post(client, program, "visitor-0003", referrer="https://www.Blog.example/post?x=1")
    assert clicks_flush() == 3
    [newsletter] = [r for r in rows(acme) if r[1] == "newsletter"]
    assert newsletter[2:] == ("email", "post-1", "", 2, 2)
    [blog] = [r for r in rows(acme) if r[4] == "blog.example"]
    assert blog[5:] == (1, 1)
    with tenant_scope(acme):
        assert Click.objects.filter(utm_source="newsletter", utm_medium="email").count() == 2


def test_a_returning_visitor_counts_once_a_day_in_the_channel_they_first_came_by(
    client, acme, program, alice
):
    post(client, program, "visitor-0001", "utm_source=ads")
    clicks_flush()
    forget_repeats()
    post(client, program, "visitor-0001", "utm_source=blog")
    post(client, program, "visitor-0002", "utm_source=blog")
    clicks_flush()
    with tenant_scope(acme):
        assert ClickDay.objects.aggregate(c=Sum("clicks"), v=Sum("visitors")) == {"c": 3, "v": 2}
        assert ClickDay.objects.get(utm_source="ads").visitors == 1
        assert ClickDay.objects.get(utm_source="blog").visitors == 1
    kept = rows(acme)
    rollups_rebuild(acme)
    assert rows(acme) == kept


def test_a_flush_that_died_after_committing_is_not_counted_twice(client, acme, program, alice):
    post(client, program, "visitor-0001")
    post(client, program, "visitor-0002")
    r = django_rq.get_connection("tracking")
    clicks_flush(batch=1, max_batches=0)
    [[_, entries]] = r.xreadgroup("flush", "dead-worker", {STREAM: ">"}, count=10)
    # The dead flusher stored the batch and its rollup, then died before XACK.
    batch = [clicks_service._row(e[0].decode(), json.loads(e[1][b"d"])) for e in entries]
    clicks_service._store(r, batch)
    assert clicks_flush(claim_idle_ms=0) == 2
    with tenant_scope(acme):
        assert Click.objects.count() == 2
        assert ClickDay.objects.aggregate(c=Sum("clicks"), v=Sum("visitors")) == {"c": 2, "v": 2}


def test_rejected_clicks_are_kept_but_not_counted(client, acme, program, alice):
    Program.all_tenants_unscoped.filter(pk=program.pk).update(status=Program.Status.PAUSED)
    clicks_service.lookups._local.clear()
    from django.core.cache import cache

    cache.clear()
    post(client, program, "visitor-0001")
    clicks_flush()
    with tenant_scope(acme):
        assert Click.objects.filter(status=Click.Status.REJECTED).count() == 1
        assert not ClickDay.objects.exists()


def test_a_referral_link_keeps_its_utm_parameters(client, acme, program, alice, settings):
    settings.PRM_JOBS_INLINE = True  # the click is written at once, and rolled up with it
    response = client.get(
        "/r/ALICE?utm_source=YouTube&utm_campaign=spring&sub=vid-9", HTTP_HOST="acme.localhost"
    )
    assert response.status_code == 302
    with tenant_scope(acme):
        click = Click.objects.get()
        assert (click.utm_source, click.utm_campaign, click.sub_id) == (
            "youtube",
            "spring",
            "vid-9",
        )
        day = ClickDay.objects.get()
        assert (day.utm_source, day.utm_campaign, day.clicks, day.visitors) == (
            "youtube",
            "spring",
            1,
            1,
        )


def test_a_snippet_lead_without_a_click_takes_the_channel_of_its_page(client, acme, program, alice):
    body = {
        "k": program.publishable_key,
        "v": "visitor-lead-01",
        "c": "ALICE",
        "email": "new@example.test",
        "u": "https://shop.example.com/signup?utm_source=Podcast&utm_campaign=ep12",
        "r": "https://www.news.example/item",
    }
    response = client.post(
        "/t/l", json.dumps(body), content_type="text/plain", HTTP_HOST="acme.localhost"
    )
    assert response.status_code == 201
    from programs.models import Lead

    with tenant_scope(acme):
        lead = Lead.objects.get()
        assert (lead.utm_source, lead.utm_campaign, lead.referrer_domain) == (
            "podcast",
            "ep12",
            "news.example",
        )
        assert lead.partner_id == alice.pk  # credited by the cookie's code


def test_the_program_totals_follow_the_flush_and_equal_a_rebuild(client, acme, program, alice):
    from programs.models import ChannelDay, ProgramDay

    post(client, program, "visitor-0001", "utm_source=ads")
    clicks_flush()
    forget_repeats()
    post(client, program, "visitor-0001", "utm_source=blog")
    post(client, program, "visitor-0002")
    clicks_flush()
    with tenant_scope(acme):
        row = ProgramDay.objects.get()
        assert (row.clicks, row.visitors, row.kind, row.currency) == (3, 2, "link", "")
        kept = list(ProgramDay.objects.values_list("day", "clicks", "visitors"))
        channels = sorted(ChannelDay.objects.values_list("utm_source", "clicks", "visitors"))
        # A visitor counts once a day per partner: in the channel of their first click.
        assert channels == [("", 1, 1), ("ads", 1, 1), ("blog", 1, 0)]
        rollups_rebuild(acme)
        assert list(ProgramDay.objects.values_list("day", "clicks", "visitors")) == kept
        assert (
            sorted(ChannelDay.objects.values_list("utm_source", "clicks", "visitors")) == channels
        )
