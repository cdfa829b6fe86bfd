"""Token expiry mid-push and mid-poll, with two worker processes using one connection.

Each CRM's fake expires every access token on demand and rotates refresh tokens
(Bitrix24 spends the old one on use; amoCRM keeps it until the new one is used;
Salesforce here with rotation switched on; HubSpot keeps it). Two worker processes
build the connector from the stored (committed) connection, as the push thread and the
poll job do, and push their own half of the leads in three chunks; between chunks the
parent expires the tokens, so both processes hit 401 at the same moment; at the end
both poll after one more expiry. Each expiry must cost exactly one refresh (the second
process takes the pair the first one stored), no process may call the connection
broken, and every lead
must be in the CRM exactly once. No tenant scope is active in the children: the refresh
enters the connection's own.

The workers come from a forkserver, not a plain fork: a fork copies the locks other
threads hold at that moment (the fake servers' threads, pytest-xdist's execnet receiver
thread) into a child that has only the forking thread, and under the loaded xdist suite
a child would now and then block for ever on one of them before reaching the barrier.
The forkserver forks from a process that never ran a thread; each child boots Django
and points it at this test's database.
"""

from __future__ import annotations

import io
import json
import multiprocessing
from collections import Counter
from typing import Any

from django.core.management import call_command
from django.db import connections

from integrations.models import CrmConnection
from tests.integrations import race_worker
from tests.integrations.conftest import connect, make_fake

CHUNKS, PER_CHUNK = race_worker.CHUNKS, race_worker.PER_CHUNK


def test_two_processes_refresh_once_per_expiry(transactional_db: Any, in_acme: Any) -> None:
    # One committed world (one flush) for the four CRMs.
    for provider in ("amocrm", "bitrix24", "salesforce", "hubspot"):
        _walk(provider, in_acme)


def _walk(provider: str, in_acme: Any) -> None:
    fake = make_fake(provider)
    if provider == "bitrix24":
        fake.auth_kind = "oauth"
    if provider == "salesforce":
        fake.rotate_refresh = True
    fake.start()
    try:
        crm = connect(in_acme, fake)
        before = fake.token_refreshes
        half = CHUNKS * PER_CHUNK
        connections.close_all()  # the children must not share the parent's socket
        ctx = multiprocessing.get_context("forkserver")
        # The server imports the heavy libraries once; each child still runs setup().
        ctx.set_forkserver_preload(["django.db.models", "django.contrib.admin", "httpx", "redis"])
        database = connections["default"].settings_dict["NAME"]
        barrier, out = ctx.Barrier(3), ctx.Queue()
        workers = [
            ctx.Process(target=race_worker.work, args=(database, str(crm.pk), first, barrier, out))
            for first in (0, half)
        ]
        for worker in workers:
            worker.start()
        for _ in range(CHUNKS):
            barrier.wait(timeout=60)
            fake.expire_tokens()
            barrier.wait(timeout=60)
        answers = [out.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)

        problems = [p for _, got in answers for p in got]
        assert problems == []
        assert sorted(k for keys, _ in answers for k in keys) == sorted(
            f"race-{n}" for n in range(2 * half)
        )
        emails = Counter(r["email"] for r in fake.records() if r["email"].startswith("race"))
        assert len(emails) == 2 * half and set(emails.values()) == {1}  # 0 lost, 0 twice
        assert fake.token_refreshes - before == CHUNKS  # once per expiry, not per worker
        crm.refresh_from_db()
        assert crm.status == CrmConnection.Status.ACTIVE
        assert crm.credentials.get("refreshed_at")
        # Point 7: crm_health shows the refresh and what the CRM took from us this hour.
        out_json = io.StringIO()
        call_command("crm_health", tenant=in_acme.slug, provider=provider, stdout=out_json)
        health = json.loads(out_json.getvalue())
        assert health["token_refreshed_at"]
        assert health["requests_last_hour"] >= 2 * CHUNKS
        assert health["rate_bound_per_hour"] > health["requests_last_hour"]
    finally:
        fake.stop()
