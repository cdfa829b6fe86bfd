"""Outbound webhooks end to end: the write services emit after commit, the webhooks
queue's jobs (a real RQ worker) deliver to a real receiver on 127.0.0.1, which checks
signatures and handles each event id once in any order; retries, final answers,
private addresses, auto-disable; the console and the API, tenant by tenant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone

from prm.jobs import run_job
from prm.models import ApiKey, AuditEntry, Job
from prm.notifications.models import Notification
from prm.tenancy import tenant_scope
from prm.webhooks import delivery as D
from prm.webhooks.events import DELIVER_JOB, emit, subscribed
from prm.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from prm.webhooks.services import endpoint_create
from programs.services.leads import lead_set_status
from tests.prm.conftest import BurstWorker
from tests.programs.factories import LeadFactory, ProgramFactory
from tests.webhooks.receiver import Receiver, verify

Status = WebhookDelivery.Status


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def work() -> None:
    """Run what waits on the webhooks queue with a real (burst) RQ worker."""
    queue = django_rq.get_queue("webhooks")
    BurstWorker([queue], connection=queue.connection).work(burst=True)


def endpoint_for(tenant, owner, url: str, events: list[str]) -> tuple[WebhookEndpoint, str]:  # type: ignore[no-untyped-def]
    with tenant_scope(tenant):
        return endpoint_create(tenant=tenant, actor=owner, url=url, events=events)


def test_signed_retried_and_handled_once_in_any_order(
    acme, owner, receiver, django_capture_on_commit_callbacks
):
    endpoint, secret = endpoint_for(acme, owner, receiver.url, ["lead.status_changed"])
    receiver.secret = secret
    lead = LeadFactory(program=ProgramFactory(tenant=acme))
    receiver.answers = [500]  # the first request fails
    with tenant_scope(acme):
        with django_capture_on_commit_callbacks(execute=True):
            # One transaction, two changes: two events, one job.
            from django.db import transaction

            with transaction.atomic():
                lead_set_status(tenant=acme, lead=lead, status="qualified", actor=None)
                lead_set_status(tenant=acme, lead=lead, status="rejected", actor=None)
        assert Job.objects.filter(func=DELIVER_JOB).count() == 1
        first, second = WebhookEvent.objects.order_by("created_at")
        work()
        # 500 on the first: retried later; the endpoint's other events wait with it.
        rows = {d.event_id: d for d in WebhookDelivery.objects.all()}
        assert rows[first.pk].status == Status.PENDING and rows[first.pk].attempts == 1
        assert rows[first.pk].last_status_code == 500
        assert rows[first.pk].next_attempt_at > timezone.now() + timedelta(seconds=30)
        assert rows[second.pk].attempts == 0
        assert WebhookEndpoint.objects.get().failing_since is not None

        # An hour later (time-travel): the sweeper starts the workspace's job.
        WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        with django_capture_on_commit_callbacks(execute=True):
            assert D.sweep() == 1
        work()
        assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {Status.DELIVERED}
        assert WebhookEndpoint.objects.get().failing_since is None

        # The batch's job run again: nothing is sent twice.
        job = Job.objects.get(func=DELIVER_JOB)
        Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED)
        run_job(str(job.pk))
        assert len(receiver.requests) == 3

        # Out of order: the older event sent again by hand, after the newer one.
        older = WebhookDelivery.objects.get(event=first)
        with django_capture_on_commit_callbacks(execute=True):
            from prm.webhooks.services import delivery_resend

            delivery_resend(tenant=acme, actor=owner, delivery=older)
        work()

    assert receiver.bad_signatures == 0
    assert len(receiver.requests) == 4
    assert set(receiver.handled) == {first.public_id, second.public_id}
    assert receiver.duplicates == 1  # the re-send: same id, handled once
    assert receiver.state[str(lead.pk)][1]["status"] == "rejected"  # the newest wins
    assert receiver.state[str(lead.pk)][1]["previous_status"] == "qualified"
    headers, body = receiver.requests[-1]
    # The exact signed string: "<t>.<raw body>".
    t = headers["PRM-Signature"].split(",")[0].removeprefix("t=")
    signed = f"{t}.".encode() + body
    import hashlib
    import hmac

    assert (
        f"v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"
        in (headers["PRM-Signature"])
    )
    assert headers["PRM-Event-Id"] == first.public_id
    assert not verify(headers["PRM-Signature"], body + b" ", secret)


def test_nobody_listening_costs_one_cache_read_and_writes_nothing(
    acme, owner, django_assert_num_queries, django_capture_on_commit_callbacks
):
    lead = LeadFactory(program=ProgramFactory(tenant=acme))
    with tenant_scope(acme):
        assert emit(acme, "lead.created", [lead]) == 0  # fills the cache
        with django_assert_num_queries(0):
            assert emit(acme, "lead.created", [lead]) == 0
        endpoint_for(acme, owner, "https://hooks.example.com/a", ["reward.created"])
        assert emit(acme, "lead.created", [lead]) == 0
        assert not Job.objects.filter(func=DELIVER_JOB).exists()
        assert not WebhookEvent.objects.exists()
        # Subscribing drops the cached answer at once.
        endpoint = WebhookEndpoint.objects.get()
        from prm.webhooks.services import endpoint_update

        endpoint_update(
            tenant=acme, actor=owner, endpoint=endpoint, changes={"events": ["lead.created"]}
        )
        assert subscribed(acme.pk) == {"lead.created"}
        assert emit(acme, "lead.created", [lead, lead]) == 2
        assert Job.objects.filter(func=DELIVER_JOB).count() == 1


@pytest.mark.parametrize(
    ("answer", "status", "retried"),
    [(400, Status.FAILED, False), (410, Status.FAILED, False), (429, Status.PENDING, True)],
)
def test_client_errors_are_final_except_408_and_429(acme, owner, receiver, answer, status, retried):
    endpoint, receiver.secret = endpoint_for(acme, owner, receiver.url, ["lead.created"])
    receiver.answers = [answer]
    with tenant_scope(acme):
        emit(acme, "lead.created", [LeadFactory(program=ProgramFactory(tenant=acme))])
        D.fan_out(list(WebhookEvent.objects.all()))
        D.deliver_due()
        row = WebhookDelivery.objects.get()
    assert (row.status, row.last_status_code) == (status, answer)
    assert (row.next_attempt_at is not None) == retried


@pytest.mark.parametrize(
    ("answer", "retry_after", "seconds"),
    [
        (429, "120", 120),  # the receiver's own pace, not our 60 s backoff
        (503, "30", 30),
        (429, "HTTP-DATE+300", 300),
        (503, "31536000", 6 * 3600),  # a year: capped at PRM_WEBHOOK_RETRY_AFTER_CAP
        (429, "soon", 60),  # unreadable: our backoff
        (500, "120", 60),  # only 429 and 503 carry a wait that counts
    ],
)
def test_a_receivers_retry_after_sets_the_next_attempt(
    acme, owner, receiver, answer, retry_after, seconds
):
    from email.utils import format_datetime

    endpoint, receiver.secret = endpoint_for(acme, owner, receiver.url, ["lead.created"])
    receiver.answers = [answer]
    receiver.retry_after = retry_after.replace(
        "HTTP-DATE+300", format_datetime(timezone.now() + timedelta(seconds=300), usegmt=True)
    )
    with tenant_scope(acme):
        emit(acme, "lead.created", [LeadFactory(program=ProgramFactory(tenant=acme))])
        D.fan_out(list(WebhookEvent.objects.all()))
        D.deliver_due()
        row = WebhookDelivery.objects.get()
    assert row.status == Status.PENDING
    waited = (row.next_attempt_at - row.last_attempt_at).total_seconds()
    assert seconds - 2 <= waited <= seconds + 1, waited


def test_the_api_lists_an_endpoints_deliveries_and_sends_one_again(
    acme, globex, owner, receiver, client
):
    endpoint, receiver.secret = endpoint_for(acme, owner, receiver.url, ["lead.created"])
    receiver.answers = [500]
    with tenant_scope(acme):
        program = ProgramFactory(tenant=acme)
        emit(acme, "lead.created", [LeadFactory(program=program), LeadFactory(program=program)])
        D.fan_out(list(WebhookEvent.objects.all()))
        D.deliver_due()
    keys = {}
    for tenant in (acme, globex):
        secret, prefix, digest = ApiKey.generate()
        ApiKey.all_tenants_unscoped.create(tenant=tenant, name="k", prefix=prefix, key_hash=digest)
        keys[tenant.slug] = f"Bearer {secret}"

    def get(path: str, slug: str = "acme"):  # type: ignore[no-untyped-def]
        return client.get(path, HTTP_HOST=f"{slug}.localhost", HTTP_AUTHORIZATION=keys[slug])

    path = f"/api/v1/webhooks/{endpoint.pk}/deliveries"
    listed = get(path)
    assert listed.status_code == 200, listed.content
    rows = listed.json()["results"]
    # The failure holds the endpoint's other event back (order kept) until the retry.
    assert sorted((r["status"], r["attempts"], r["response_code"] or 0) for r in rows) == [
        ("pending", 0, 0),
        ("pending", 1, 500),
    ]
    assert all(r["event_type"] == "lead.created" and r["event_id"] for r in rows)
    assert get(path + "?status=delivered").json()["results"] == []
    [failed] = [r for r in get(path + "?status=pending").json()["results"] if r["attempts"]]
    assert failed["next_attempt_at"]
    assert get(path + "?status=nope").status_code == 400
    assert get(path, "globex").status_code == 404
    resend = f"/api/v1/webhooks/deliveries/{failed['id']}/resend"
    other = client.post(resend, HTTP_HOST="globex.localhost", HTTP_AUTHORIZATION=keys["globex"])
    assert other.status_code == 404
    again = client.post(resend, HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION=keys["acme"])
    assert again.status_code == 202 and again.json()["status"] == "pending"
    with tenant_scope(acme):
        D.deliver_due()
        assert WebhookDelivery.objects.get(pk=failed["id"]).status == Status.DELIVERED
    assert list(receiver.handled) == [failed["event_id"]]


def test_private_addresses_are_refused_when_not_allowed(
    acme, owner, receiver, settings, client_for
):
    settings.PRM_HTTP_ALLOW_PRIVATE = False
    response = client_for(owner).post(
        "/manage/webhooks/new/",
        {"url": "https://127.0.0.1/hooks", "events": ["lead.created"]},
    )
    assert response.status_code == 200
    assert "private or reserved" in response.content.decode()
    assert not WebhookEndpoint.all_tenants_unscoped.exists()
    # One made while it resolved elsewhere: the connection refuses, for good.
    endpoint, receiver.secret = endpoint_for(acme, owner, receiver.url, ["lead.created"])
    with tenant_scope(acme):
        emit(acme, "lead.created", [LeadFactory(program=ProgramFactory(tenant=acme))])
        D.deliver_batch(batch=str(WebhookEvent.objects.get().batch))
        row = WebhookDelivery.objects.get()
    assert row.status == Status.FAILED and "private" in row.last_error
    assert receiver.requests == []


def test_failing_for_three_days_turns_the_endpoint_off_and_tells_its_owner(
    acme, owner, admin, receiver
):
    endpoint, receiver.secret = endpoint_for(acme, owner, receiver.url, ["lead.created"])
    receiver.answers = [503, 503]
    with tenant_scope(acme):
        emit(acme, "lead.created", [LeadFactory(program=ProgramFactory(tenant=acme))])
        D.fan_out(list(WebhookEvent.objects.all()))
        D.deliver_due()
        assert WebhookEndpoint.objects.get().enabled  # failing, not for long yet
        # Three days of failures (time-travel): the next failure turns it off.
        WebhookEndpoint.objects.update(failing_since=timezone.now() - timedelta(days=3, minutes=1))
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        D.deliver_due()
        endpoint = WebhookEndpoint.objects.get()
        assert not endpoint.enabled
        assert endpoint.disabled_reason == WebhookEndpoint.Disabled.FAILING
        assert subscribed(acme.pk) == frozenset()
        told = Notification.objects.get(kind="staff_webhook_disabled")
        assert told.recipient == owner  # the owner, not every admin
        assert AuditEntry.objects.filter(action="webhook.disabled").count() == 1
        # Off: the sweeper leaves its deliveries alone.
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        assert D.sweep() == 0


# Console and API


def test_console_story_secret_once_test_event_edit_rotate_delete(
    acme, owner, client_for, receiver, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    assert client.get("/manage/webhooks/").status_code == 200
    response = client.post(
        "/manage/webhooks/new/",
        {"url": receiver.url, "description": "CRM", "events": ["lead.created", "payout.paid"]},
    )
    html = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = html.split('<code id="secret">')[1].split("</code>")[0]
    assert secret.startswith("whsec_")
    receiver.secret = secret
    with tenant_scope(acme):
        endpoint = WebhookEndpoint.objects.get()
        assert endpoint.secret() == secret and secret not in endpoint.secret_encrypted
    page = f"/manage/webhooks/{endpoint.pk}/"
    assert secret not in client.get(page).content.decode()  # shown once
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{page}test/").status_code == 302
    work()
    html = client.get(page).content.decode()
    assert "webhook.test" in html and "delivered" in html.lower()
    assert receiver.bad_signatures == 0 and len(receiver.handled) == 1
    response = client.post(
        f"{page}edit/", {"url": receiver.url, "events": ["lead.created"], "enabled": ""}
    )
    assert response.status_code == 302
    with tenant_scope(acme):
        endpoint.refresh_from_db()
    assert endpoint.events == ["lead.created"] and not endpoint.enabled
    rotated = client.post(f"{page}rotate/").content.decode()
    new_secret = rotated.split('<code id="secret">')[1].split("</code>")[0]
    assert new_secret != secret
    with tenant_scope(acme):
        endpoint.refresh_from_db()
        assert endpoint.signing_secrets(timezone.now()) == [new_secret, secret]
        delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/manage/webhooks/deliveries/{delivery.pk}/resend/").status_code == 302
    work()
    assert receiver.duplicates == 1  # signed with both secrets; the receiver knows the id
    assert client.post(f"{page}delete/").status_code == 302
    with tenant_scope(acme):
        assert not WebhookEndpoint.objects.exists()


@pytest.fixture
def acme_endpoint(acme, owner):  # type: ignore[no-untyped-def]
    endpoint, _ = endpoint_for(acme, owner, "https://hooks.example.com/acme", ["lead.created"])
    with tenant_scope(acme):
        event = WebhookEvent.objects.create(
            tenant=acme, type="lead.created", data={}, batch=endpoint.pk
        )
        delivery = WebhookDelivery.objects.create(tenant=acme, endpoint=endpoint, event=event)
    return endpoint, delivery


CONSOLE = [
    ("GET", "/manage/webhooks/{e}/"),
    ("GET", "/manage/webhooks/{e}/edit/"),
    ("POST", "/manage/webhooks/{e}/edit/"),
    ("POST", "/manage/webhooks/{e}/delete/"),
    ("POST", "/manage/webhooks/{e}/rotate/"),
    ("POST", "/manage/webhooks/{e}/test/"),
    ("POST", "/manage/webhooks/deliveries/{d}/resend/"),
]


@pytest.mark.parametrize(("method", "path"), CONSOLE)
def test_another_workspace_gets_404_for_acme_endpoints(
    acme_endpoint, outsider, client_for, method, path
):
    endpoint, delivery = acme_endpoint
    url = path.format(e=endpoint.pk, d=delivery.pk)
    for host in ("acme.localhost", "globex.localhost"):
        client = client_for(outsider, host)
        response = client.get(url) if method == "GET" else client.post(url, {})
        assert response.status_code == 404, (host, method, url)
    with tenant_scope(endpoint.tenant):
        assert WebhookEndpoint.objects.get().secret_encrypted == endpoint.secret_encrypted
        assert WebhookDelivery.objects.get().attempts == 0


def test_api_registers_lists_changes_and_deletes_endpoints(acme, globex, acme_endpoint, client):
    def key(tenant) -> str:  # type: ignore[no-untyped-def]
        secret, prefix, digest = ApiKey.generate()
        ApiKey.all_tenants_unscoped.create(tenant=tenant, name="k", prefix=prefix, key_hash=digest)
        return f"Bearer {secret}"

    acme_key, globex_key = key(acme), key(globex)

    def call(method: str, path: str, auth: str, host: str = "acme.localhost", **data):  # type: ignore[no-untyped-def]
        return getattr(client, method)(
            path, data, content_type="application/json", HTTP_HOST=host, HTTP_AUTHORIZATION=auth
        )

    created = call(
        "post",
        "/api/v1/webhooks",
        acme_key,
        url="http://127.0.0.1:9/b",
        events=["payout.paid"],
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["payout.paid"]
    listed = call("get", "/api/v1/webhooks", acme_key).json()
    assert {r["id"] for r in listed["results"]} == {body["id"], str(acme_endpoint[0].pk)}
    assert all("secret" not in r for r in listed["results"])
    bad = call("post", "/api/v1/webhooks", acme_key, url="http://127.0.0.1:9/x", events=["nope"])
    assert bad.status_code == 400
    changed = call("patch", f"/api/v1/webhooks/{body['id']}", acme_key, enabled=False)
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    # Another workspace's endpoint: 404, on its own host and on acme's with its key.
    other = f"/api/v1/webhooks/{body['id']}"
    assert call("get", other, globex_key, host="globex.localhost").status_code == 404
    assert call("delete", other, globex_key, host="globex.localhost").status_code == 404
    assert (
        call("get", "/api/v1/webhooks", globex_key, host="globex.localhost").json()["results"] == []
    )
    assert call("delete", other, acme_key).status_code == 204
    assert call("get", other, acme_key).status_code == 404


def test_money_events_are_one_insert_and_one_job_per_batch(
    acme, owner, django_capture_on_commit_callbacks
):
    from rewards.services.accrual_batch import accrue_conversions
    from rewards.services.approvals import approve_batch
    from tests.rewards.helpers import make_partner, make_program, rule, sale

    events = ["conversion.created", "reward.created", "reward.approved"]
    endpoint_for(acme, owner, "https://hooks.example.com/money", events)
    with tenant_scope(acme):
        program = make_program(acme)
        rule(program)
        alice = make_partner(acme, program, "ALICE")
        with django_capture_on_commit_callbacks(execute=True):  # each its own commit
            sales = [sale(program, alice, "50.00", accrue=False) for _ in range(3)]
        assert WebhookEvent.objects.filter(type="conversion.created").count() == 3
        jobs = Job.objects.filter(func=DELIVER_JOB).count()
        with django_capture_on_commit_callbacks(execute=True):
            rewards = accrue_conversions([c.pk for c in sales])
        assert Job.objects.filter(func=DELIVER_JOB).count() == jobs + 1
        created = WebhookEvent.objects.filter(type="reward.created")
        assert sorted(e.data["id"] for e in created) == sorted(str(r.pk) for r in rewards)
        assert {e.data["amount"] for e in created} == {"10.00"}
        with django_capture_on_commit_callbacks(execute=True):
            approve_batch(tenant=acme, reward_ids=[r.pk for r in rewards])
        assert Job.objects.filter(func=DELIVER_JOB).count() == jobs + 2
        approved = WebhookEvent.objects.filter(type="reward.approved")
        assert {e.data["status"] for e in approved} == {"approved"} and approved.count() == 3


def test_console_pages_cost_the_same_queries_for_a_long_log(acme, owner, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    endpoint, _ = endpoint_for(acme, owner, "https://hooks.example.com/log", ["lead.created"])
    client = client_for(owner)

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(path).status_code == 200
        return len(ctx.captured_queries)

    def deliveries(n: int) -> None:
        with tenant_scope(acme):
            for _ in range(n):
                event = WebhookEvent.objects.create(
                    tenant=acme, type="lead.created", data={"id": "x"}, batch=endpoint.pk
                )
                WebhookDelivery.objects.create(tenant=acme, endpoint=endpoint, event=event)

    pages = ["/manage/webhooks/", f"/manage/webhooks/{endpoint.pk}/"]
    deliveries(2)
    [queries(p) for p in pages]  # warm: the first requests fill caches
    few = [queries(p) for p in pages]
    deliveries(30)
    assert [queries(p) for p in pages] == few
    assert max(few) <= 12


def test_a_batching_block_is_one_job_across_its_transactions(
    acme, owner, django_capture_on_commit_callbacks
):
    from prm.webhooks.events import batching

    endpoint_for(acme, owner, "https://hooks.example.com/bulk", ["lead.status_changed"])
    leads = [LeadFactory(program=ProgramFactory(tenant=acme)) for _ in range(3)]
    with tenant_scope(acme):
        with django_capture_on_commit_callbacks(execute=True), batching():
            for lead in leads:  # one transaction each
                with django_capture_on_commit_callbacks(execute=True):
                    lead_set_status(tenant=acme, lead=lead, status="qualified", actor=None)
            assert not Job.objects.filter(func=DELIVER_JOB).exists()  # at the block's end
        job = Job.objects.get(func=DELIVER_JOB)
        assert WebhookEvent.objects.filter(batch=job.kwargs["batch"]).count() == 3
