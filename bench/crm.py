"""CRM push benchmark (issue 5): `make bench` (or `python bench/crm.py`).

Per CRM (amoCRM, Bitrix24, Salesforce, HubSpot), on a fresh PostgreSQL database of its own: a
tenant with BENCH_CRM_RECORDS leads (bulk-inserted; not measured) connected to that
CRM's fake server (tests/fakes/, real HTTP on 127.0.0.1) with the CRM's real rate limit
switched on and our throttle at its real rate (PRM_CRM_RATE_SCALE=1). Then
1. every lead is queued (engine.sync_all, the console's "push everything now") and the
   crm queue's job, engine.push_connection, is called until the outbox is empty: that
   is the measured time, against the bound the CRM's limit allows (requests per second
   x records per request); the target is at least 80 % of it;
2. the fake is compared with the platform: records in the fake vs mapping links vs
   leads, duplicates (records in the fake sharing an e-mail), lost leads (no record);
3. a re-sync: everything queued and pushed again, which must create nothing.
Then partners as CRM contacts (integrations/crm/partner_sync.py), per CRM against a
fresh fake of its own: a tenant with BENCH_CRM_PARTNERS partners (bulk-inserted, a
third of them tagged; not measured), the connection's ``sync_partners`` setting turned
on (which queues every partner) and the ``push_partners`` job called until no partner
row is pending; then the setting turned off and on again, which queues everyone again
and, the contacts' content hashes being unchanged, must create nothing and write
(nearly) nothing.
Requests the fake received are split into writes, look-ups and refusals for rate, and
the time is split between the connector (HTTP, throttle sleeps) and the engine's own
database work around it. Figures go into the "CRM push" section of BENCHMARKS.md.

Knobs: BENCH_CRM_RECORDS (10000), BENCH_CRM_PARTNERS (10000), BENCH_CRM_PASSES
(leads,partners: which passes run; each rewrites only its own part of BENCHMARKS.md),
BENCH_CRM_PROVIDERS (amocrm,bitrix24,salesforce,hubspot),
BENCH_CRM_DATABASE_URL (postgres://postgres@127.0.0.1:5432/prm_bench_crm, dropped and
created), BENCH_CRM_REDIS_URL (redis://127.0.0.1:6379/9, that database is flushed
before and after; never database 0), BENCH_CRM_TIMEOUT (1800 s per pass),
BENCH_WRITE (1).
"""

# ruff: noqa: S603, S607 - a local driver of local tools (psql)

from __future__ import annotations

import datetime
import importlib
import multiprocessing
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REPORT = ROOT / "BENCHMARKS.md"
START = "<!-- bench/crm.py: start -->"
END = "<!-- bench/crm.py: end -->"
P_START = "<!-- bench/crm.py partners: start -->"
P_END = "<!-- bench/crm.py partners: end -->"

DATABASE_URL = os.environ.get(
    "BENCH_CRM_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prm_bench_crm"
)
REDIS_URL = os.environ.get("BENCH_CRM_REDIS_URL", "redis://127.0.0.1:6379/9")
RECORDS = int(os.environ.get("BENCH_CRM_RECORDS", "10000"))
PARTNER_COUNT = int(os.environ.get("BENCH_CRM_PARTNERS", "10000"))
PASSES = {
    p.strip() for p in os.environ.get("BENCH_CRM_PASSES", "leads,partners").split(",") if p.strip()
}
PROVIDERS = [
    p.strip()
    for p in os.environ.get("BENCH_CRM_PROVIDERS", "amocrm,bitrix24,salesforce,hubspot").split(",")
    if p.strip()
]
TIMEOUT = float(os.environ.get("BENCH_CRM_TIMEOUT", "1800"))
WRITE = os.environ.get("BENCH_WRITE", "1") == "1"
PREFILL = {
    "bitrix24": 45,
    "amocrm": 6,
    "hubspot": 90,
}  # requests already in the CRM's bucket/window
PARTNERS = 100  # the leads are spread over them (referral and promo codes per partner)
TARGET = 80.0  # % of the bound, issue 5

FAKES = {
    "amocrm": ("tests.fakes.amocrm", "FakeAmo"),
    "bitrix24": ("tests.fakes.bitrix24", "FakeBitrix"),
    "salesforce": ("tests.fakes.salesforce", "FakeSalesforce"),
    "hubspot": ("tests.fakes.hubspot", "FakeHubSpot"),
}
NAMES = {
    "amocrm": "amoCRM",
    "bitrix24": "Bitrix24",
    "salesforce": "Salesforce",
    "hubspot": "HubSpot",
}

os.environ.update(
    DJANGO_SETTINGS_MODULE="prm.settings",
    DATABASE_URL=DATABASE_URL,
    REDIS_URL=REDIS_URL,  # the throttle is shared through Redis; no RQ worker runs
    DEBUG="0",
    SECRET_KEY="bench-only-" + "s" * 40,
    LOG_LEVEL="WARNING",
    PRM_HTTP_ALLOW_PRIVATE="1",  # the fakes listen on 127.0.0.1
    PRM_CRM_RATE_SCALE="1",  # our throttle at the CRMs' real rates
)

# Where the time goes, summed over one pass (see instrument()).
PROFILE: dict[str, float] = {}


def say(text: str) -> None:
    print(f"[bench/crm] {text}", file=sys.stderr, flush=True)


def psql(sql: str) -> None:
    server = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", server, "-qc", sql], check=True)


def flush_redis() -> None:
    import redis

    if urlsplit(REDIS_URL).path.strip("/") in ("", "0"):
        raise SystemExit("BENCH_CRM_REDIS_URL must name a database of its own, not 0")
    redis.Redis.from_url(REDIS_URL).flushdb()


def instrument() -> None:
    """Time the connectors' calls (push, and fetch for merged notes) and the throttle's
    sleeps, without changing what they do: the rest of the wall time is the engine's."""
    from integrations.crm.partner_sync import WRITERS
    from integrations.crm.registry import PROVIDERS as ALL
    from integrations.crm.registry import module
    from integrations.crm.throttle import Throttle

    throttle_wait = Throttle.wait

    def wait(self: Throttle) -> float:
        slept = throttle_wait(self)
        PROFILE["throttle_s"] = PROFILE.get("throttle_s", 0.0) + slept
        return slept

    Throttle.wait = wait  # type: ignore[method-assign]
    for provider in ALL:
        cls = module(provider, "sync").CONNECTOR
        for name in ("push", "fetch"):
            setattr(cls, name, _timed(getattr(cls, name)))
    # The partner job looks its writer's push_contacts up on every chunk.
    for name in WRITERS.values():
        writer = importlib.import_module(name)
        writer.push_contacts = _timed_writer(writer.push_contacts)


def _timed_writer(inner: Any) -> Any:
    def timed(connector: Any, records: Any) -> Any:
        waited = connector.stats.throttled_seconds
        t0 = time.perf_counter()
        try:
            return inner(connector, records)
        finally:
            PROFILE["connector_s"] = PROFILE.get("connector_s", 0.0) + time.perf_counter() - t0
            PROFILE["waited_s"] = (
                PROFILE.get("waited_s", 0.0) + connector.stats.throttled_seconds - waited
            )

    return timed


def _timed(inner: Any) -> Any:
    def timed(self: Any, records: Any) -> Any:
        waited = self.stats.throttled_seconds
        t0 = time.perf_counter()
        try:
            return inner(self, records)
        finally:
            PROFILE["connector_s"] = PROFILE.get("connector_s", 0.0) + time.perf_counter() - t0
            PROFILE["waited_s"] = (
                PROFILE.get("waited_s", 0.0) + self.stats.throttled_seconds - waited
            )

    return timed


def populate(provider: str) -> tuple[Any, Any]:
    """A tenant with RECORDS leads spread over PARTNERS partners: (tenant, program)."""
    from partners.models import PartnerProfile
    from prm.models import Tenant, User
    from prm.tenancy import tenant_scope
    from programs.models import Enrollment, Lead, Program, PromoCode

    tenant = Tenant.objects.create(name=f"Bench {NAMES[provider]}", slug=f"bench-{provider}")
    with tenant_scope(tenant):
        program = Program.objects.create(
            tenant=tenant,
            name="Bench plan",
            currency="USD",
            status="active",
            landing_urls="https://shop.example/",
            hold_days=30,
        )
        users = User.objects.bulk_create(
            [User(email=f"{provider}-p{i}@bench.test", password="!") for i in range(PARTNERS)]
        )
        partners = PartnerProfile.objects.bulk_create(
            [
                PartnerProfile(
                    tenant=tenant, user=u, display_name=f"Agency {i}", recruit_code=f"rc{i}"
                )
                for i, u in enumerate(users)
            ]
        )
        Enrollment.objects.bulk_create(
            [
                Enrollment(tenant=tenant, program=program, partner=p, code=f"P{i}")
                for i, p in enumerate(partners)
            ]
        )
        PromoCode.objects.bulk_create(
            [
                PromoCode(tenant=tenant, program=program, partner=p, code=f"PROMO{i}")
                for i, p in enumerate(partners)
            ]
        )
        Lead.objects.bulk_create(
            [
                Lead(
                    tenant=tenant,
                    program=program,
                    partner=partners[i % PARTNERS],
                    source=Lead.Source.API,
                    name=f"Customer {i}",
                    email=f"customer{i}@example.com",
                    phone=f"+7900{i:07d}",
                    company=f"Company {i}",
                )
                for i in range(RECORDS)
            ],
            batch_size=2000,
        )
    return tenant, program


def connect(tenant: Any, program: Any, provider: str, config: dict[str, Any]) -> Any:
    """Connect the tenant to the fake as an admin would (tests/integrations/conftest)."""
    from integrations.services.connections import connection_save, connection_test
    from prm.tenancy import tenant_scope

    config.setdefault("settings", {})["currency"] = "USD"
    with tenant_scope(tenant):
        crm = connection_save(
            tenant=tenant,
            provider=provider,
            auth_kind=config["auth_kind"],
            base_url=config["base_url"],
            auth_url=config.get("auth_url", ""),
            credentials=config["credentials"],
            settings=config.get("settings", {}),
            program_id=program.pk,
        )
        ok, message = connection_test(crm)
        if not ok:
            raise SystemExit(f"{NAMES[provider]}: connection test failed: {message}")
        crm.refresh_from_db()
    return crm


def classify(provider: str, request: Any) -> str:
    """What one request was: "write", "lookup", "refused" (for rate) or "other"."""
    if provider == "amocrm":
        if request.status == 429:
            return "refused"
        if not request.path.startswith("/api/"):
            return "other"
        return "write" if request.method in ("POST", "PATCH", "DELETE") else "lookup"
    if provider == "bitrix24":
        if request.status == 503:  # QUERY_LIMIT_EXCEEDED, the only 503 without faults
            return "refused"
        if request.path.startswith("/oauth/"):
            return "other"
        cmd = request.params.get("cmd") if request.api_method == "batch" else None
        methods = (
            [str(c).partition("?")[0] for c in cmd.values()]
            if isinstance(cmd, dict)
            else [request.api_method]
        )
        writes = (".add", ".update", ".delete")
        return "write" if any(m.endswith(writes) for m in methods) else "lookup"
    if provider == "hubspot":
        if request.status == 429:
            return "refused"
        if request.path.startswith("/oauth/"):
            return "other"
        writes = ("/batch/create", "/batch/update", "/batch/upsert", "/batch/associate/default")
        return "write" if request.path.endswith(writes) else "lookup"
    if request.status == 403:  # REQUEST_LIMIT_EXCEEDED: the daily allowance
        return "refused"
    if "/oauth2/" in request.path:
        return "other"
    if request.method in ("POST", "PATCH") and request.path.endswith("/composite/sobjects"):
        return "write"
    return "lookup"  # query, queryAll, and /composite carrying a long query


def requests_since(provider: str, fake: Any, start: int) -> dict[str, int]:
    counts = {"write": 0, "lookup": 0, "refused": 0, "other": 0}
    for request in list(fake.requests)[start:]:
        counts[classify(provider, request)] += 1
    return counts


def fake_state(provider: str, fake: Any) -> dict[str, Any]:
    """Live records, duplicates by e-mail, their e-mails and ids, requests so far."""
    live = [r for r in fake.records() if not r.get("deleted")]
    emails = [str(r.get("email") or "").strip().lower() for r in live]
    return {
        "count": len(live),
        "duplicates": len(emails) - len(set(emails)),
        "emails": set(emails),
        "ids": {str(r["id"]) for r in live},
        "requests": len(fake.requests),
        "api_used": getattr(fake, "api_used", 0),
        "daily_max": getattr(fake, "daily_max", 0),
        "max_level": getattr(fake, "max_level", 0.0),
        "refused": getattr(fake, "refused", 0),
    }


def fake_contacts(provider: str, fake: Any) -> list[tuple[str, list[str], str]]:
    """The fake's live contacts as (id, e-mails, our partner id)."""
    if provider == "amocrm":
        return [(str(c["id"]), c["emails"], c["partner_id"]) for c in fake.contacts()]
    if provider == "bitrix24":
        rows = list(fake.tables["contact"].rows.values())
        return [
            (
                str(r["ID"]),
                [str(v.get("VALUE")) for v in r.get("EMAIL") or [] if isinstance(v, dict)],
                str(r.get("ORIGIN_ID") or ""),
            )
            for r in rows
        ]
    if provider == "salesforce":
        rows = [r for r in list(fake.objects["Contact"].values()) if not r.get("IsDeleted")]
        return [
            (str(r["Id"]), [r["Email"]] if r.get("Email") else [], r.get("PRM_Partner_Id__c") or "")
            for r in rows
        ]
    rows = [r for r in list(fake.objects["contacts"].values()) if not r["archived"]]
    return [
        (
            str(r["id"]),
            [r["properties"]["email"]] if r["properties"].get("email") else [],
            str(r["properties"].get("prm_partner_id") or ""),
        )
        for r in rows
    ]


def contact_state(provider: str, fake: Any) -> dict[str, Any]:
    """Live contacts, duplicates (by e-mail, by partner id), their partner ids and ids."""
    live = fake_contacts(provider, fake)
    emails = [e.strip().lower() for _, es, _ in live for e in es[:1]]
    keys = [k for _, _, k in live if k]
    return {
        "count": len(live),
        "duplicates": max(len(emails) - len(set(emails)), len(keys) - len(set(keys))),
        "keys": set(keys),
        "ids": {i for i, _, _ in live},
        "requests": len(fake.requests),
        "api_used": getattr(fake, "api_used", 0),
        "refused": getattr(fake, "refused", 0),
    }


def serve_fake(provider: str, pipe: Any) -> None:
    """The fake CRM in a process of its own, as a real CRM would be: its work and memory
    are not billed to the process that runs the job. Answers the parent's questions."""
    module_name, class_name = FAKES[provider]
    fake = getattr(importlib.import_module(module_name), class_name)().start()
    fake.rate_limit = True  # the CRM's real limit, from the very first request
    try:
        while True:
            question, args = pipe.recv()
            if question == "stop":
                return
            if question == "config":
                pipe.send(fake.connection_config())
            elif question == "state":
                pipe.send(fake_state(provider, fake))
            elif question == "contacts":
                pipe.send(contact_state(provider, fake))
            elif question == "prefill":
                if hasattr(fake, "prefill"):
                    fake.prefill(*args)
                pipe.send(None)
            else:
                pipe.send(requests_since(provider, fake, *args))
    finally:
        fake.stop()


class FakeProcess:
    def __init__(self, provider: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=serve_fake, args=(provider, child), daemon=True)
        self.process.start()

    def ask(self, question: str, *args: Any) -> Any:
        self.pipe.send((question, args))
        return self.pipe.recv()

    def stop(self) -> None:
        self.pipe.send(("stop", ()))
        self.process.join(timeout=10)


def push_until_empty(crm: Any) -> tuple[float, int]:
    """Call the job until no row is pending: (seconds, job calls)."""
    from django.utils import timezone

    from integrations.crm import engine
    from integrations.models import CrmOutbox

    pending = CrmOutbox.objects.filter(connection=crm, state=CrmOutbox.State.PENDING)
    t0 = time.perf_counter()
    calls = 0
    while True:
        engine.push_connection(str(crm.pk))
        calls += 1
        soon = pending.order_by("next_attempt_at").values_list("next_attempt_at", flat=True)
        due = soon.first()
        if due is None:
            return time.perf_counter() - t0, calls
        if time.perf_counter() - t0 > TIMEOUT:
            say(f"gave up after {TIMEOUT:.0f} s with {pending.count()} rows pending")
            return time.perf_counter() - t0, calls
        # The job returns when the next retry is over 30 s away (the periodic tick would
        # start it again): wait for it here instead.
        time.sleep(max((due - timezone.now()).total_seconds(), 0.0))


def one_pass(fake: FakeProcess, crm: Any) -> dict[str, Any]:
    from integrations.crm import engine
    from integrations.models import CrmOutbox, CrmRecordLink
    from programs.models import Lead

    before = fake.ask("state")
    PROFILE.clear()
    queued = engine.sync_all(crm)
    seconds, jobs = push_until_empty(crm)
    requests = fake.ask("requests", before["requests"])
    after = fake.ask("state")
    lead_emails = {e.lower() for e in Lead.objects.values_list("email", flat=True)}
    links = CrmRecordLink.objects.filter(connection=crm)
    link_ids = {str(i) for i in links.values_list("crm_id", flat=True)}
    states = dict.fromkeys(CrmOutbox.State.values, 0)
    for state in CrmOutbox.objects.filter(connection=crm).values_list("state", flat=True):
        states[state] += 1
    return {
        "queued": queued,
        "seconds": seconds,
        "jobs": jobs,
        "requests": requests,
        "count": after["count"],
        "new": after["count"] - before["count"],
        "duplicates": after["duplicates"],
        "lost": len(lead_emails - after["emails"]),
        "links": links.count(),
        "dangling": len(link_ids - after["ids"]),
        "leads": len(lead_emails),
        "states": states,
        "api_used": after["api_used"] - before["api_used"],
        "profile": dict(PROFILE),
        "fake": {k: v for k, v in after.items() if k not in ("emails", "ids")},
    }


def bound(provider: str) -> tuple[float, float, int]:
    """(allowed requests/s, our throttle's requests/s, records per write request)."""
    from integrations.crm.amocrm import client as amo
    from integrations.crm.amocrm.sync import WRITE_BATCH
    from integrations.crm.bitrix24 import client as bitrix
    from integrations.crm.hubspot import client as hs
    from integrations.crm.hubspot.sync import BATCH as HS_BATCH
    from integrations.crm.salesforce import client as sf
    from integrations.crm.salesforce.sync import SalesforceConnector

    if provider == "amocrm":
        return amo.RATE, amo.RATE / amo.WINDOW, WRITE_BATCH  # integrations/crm/*/client.py
    if provider == "bitrix24":
        return bitrix.RATE, bitrix.RATE * 0.97, bitrix.MAX_BATCH
    if provider == "hubspot":
        ours = int(hs.WINDOW_LIMIT * hs.WINDOW_MARGIN) / hs.WINDOW
        return hs.WINDOW_LIMIT / hs.WINDOW, ours, HS_BATCH
    return sf.RATE, sf.RATE * 0.97, SalesforceConnector.batch_size


def run(provider: str) -> dict[str, Any]:
    from django.db import connection

    from prm.tenancy import tenant_scope

    fake = FakeProcess(provider)
    try:
        t0 = time.perf_counter()
        tenant, program = populate(provider)
        with connection.cursor() as cursor:
            # Fresh statistics after the bulk load, as autovacuum would soon give them.
            cursor.execute("ANALYZE")
        crm = connect(tenant, program, provider, fake.ask("config"))
        setup_s = time.perf_counter() - t0
        say(f"{NAMES[provider]}: {RECORDS:,} leads and a connection in {setup_s:.1f} s")
        with tenant_scope(tenant):
            first = one_pass(fake, crm)
            say(f"{NAMES[provider]}: first push {first['seconds']:.1f} s {first['requests']}")
            again = one_pass(fake, crm)
            say(f"{NAMES[provider]}: re-sync {again['seconds']:.1f} s {again['requests']}")
            # Another integration has just used the CRM: Bitrix24's bucket 45/50 full,
            # amoCRM's current one-second window holding 6 of its 7 requests.
            fake.ask("prefill", PREFILL.get(provider, 0))
            full = one_pass(fake, crm)
            say(f"{NAMES[provider]}: pre-filled {full['seconds']:.1f} s {full['requests']}")
        return {
            "provider": provider,
            "setup_s": setup_s,
            "first": first,
            "again": again,
            "full": full,
        }
    finally:
        fake.stop()


# ---------------------------------------------------------------- partners as contacts

TAGS = ("VIP", "Reseller", "Agency", "Blogger", "Cashback")


def populate_partners(provider: str) -> tuple[Any, Any, int]:
    """A tenant with PARTNER_COUNT partners, every third tagged (one or two tags):
    (tenant, program, partners tagged)."""
    from partners.models import PartnerProfile, PartnerTag, PartnerTagging
    from prm.models import Tenant, User
    from prm.tenancy import tenant_scope
    from programs.models import Program

    tenant = Tenant.objects.create(
        name=f"Bench {NAMES[provider]} partners", slug=f"bench-{provider}-partners"
    )
    with tenant_scope(tenant):
        program = Program.objects.create(
            tenant=tenant,
            name="Bench plan",
            currency="USD",
            status="active",
            landing_urls="https://shop.example/",
            hold_days=30,
        )
        users = User.objects.bulk_create(
            [
                User(email=f"{provider}-partner{i}@bench.test", first_name="Partner", password="!")
                for i in range(PARTNER_COUNT)
            ],
            batch_size=2000,
        )
        partners = PartnerProfile.objects.bulk_create(
            [
                PartnerProfile(
                    tenant=tenant,
                    user=u,
                    display_name=f"Partner Agency {i}",
                    recruit_code=f"pc{i}",
                )
                for i, u in enumerate(users)
            ],
            batch_size=2000,
        )
        tags = PartnerTag.objects.bulk_create(
            [PartnerTag(tenant=tenant, name=name) for name in TAGS]
        )
        taggings = [
            PartnerTagging(tenant=tenant, partner=p, tag=tags[(i // 3 + k) % len(tags)])
            for i, p in enumerate(partners)
            if i % 3 == 0
            for k in range(1 + (i % 2))
        ]
        PartnerTagging.objects.bulk_create(taggings, batch_size=2000)
    return tenant, program, len({t.partner_id for t in taggings})


def set_partner_sync(crm: Any, on: bool) -> None:
    """The admin's switch (integrations/services/connections.connection_save): turning
    it on queues every partner after commit."""
    from integrations.services.connections import connection_save

    connection_save(
        tenant=crm.tenant,
        provider=crm.provider,
        auth_kind=crm.auth_kind,
        base_url=crm.base_url,
        auth_url=crm.auth_url,
        credentials=crm.credentials,
        settings={"sync_partners": on},
    )


def push_partners_until_empty(crm: Any) -> tuple[float, int]:
    """Call the partner job until no partner row is pending: (seconds, job calls)."""
    from django.utils import timezone

    from integrations.crm.partner_sync import push_partners
    from integrations.models import CrmPartnerLink

    pending = CrmPartnerLink.objects.filter(connection=crm, pending=True)
    t0 = time.perf_counter()
    calls = 0
    while True:
        push_partners(str(crm.pk))  # one slice (PRM_CRM_SLICE_SECONDS), as the worker would
        calls += 1
        soon = pending.order_by("next_attempt_at").values_list("next_attempt_at", flat=True)
        due = soon.first()
        if due is None:
            return time.perf_counter() - t0, calls
        if time.perf_counter() - t0 > TIMEOUT:
            say(f"gave up after {TIMEOUT:.0f} s with {pending.count()} partners pending")
            return time.perf_counter() - t0, calls
        time.sleep(max((due - timezone.now()).total_seconds(), 0.0))


def partner_pass(fake: FakeProcess, crm: Any, off_first: bool) -> dict[str, Any]:
    from integrations.models import CrmPartnerLink
    from partners.models import PartnerProfile

    before = fake.ask("contacts")
    PROFILE.clear()
    t0 = time.perf_counter()
    if off_first:
        set_partner_sync(crm, False)
    set_partner_sync(crm, True)  # queues every partner (sync_partners_all), after commit
    links = CrmPartnerLink.objects.filter(connection=crm)
    queued = links.filter(pending=True).count()
    queue_s = time.perf_counter() - t0
    push_s, jobs = push_partners_until_empty(crm)
    requests = fake.ask("requests", before["requests"])
    after = fake.ask("contacts")
    partner_keys = {str(pk) for pk in PartnerProfile.objects.values_list("pk", flat=True)}
    link_ids = {i for i in links.exclude(crm_id="").values_list("crm_id", flat=True)}
    return {
        "queued": queued,
        "queue_s": queue_s,
        "push_s": push_s,
        "seconds": queue_s + push_s,
        "jobs": jobs,
        "requests": requests,
        "count": after["count"],
        "new": after["count"] - before["count"],
        "duplicates": after["duplicates"],
        "lost": len(partner_keys - after["keys"]),
        "partners": len(partner_keys),
        "links": len(link_ids),
        "dangling": len(link_ids - after["ids"]),
        "refused_rows": links.exclude(last_error="").count(),
        "api_used": after["api_used"] - before["api_used"],
        "profile": dict(PROFILE),
    }


def contact_bound(provider: str) -> tuple[float, float, int]:
    """(allowed requests/s, our throttle's requests/s, contacts per write request)."""
    from integrations.crm.contacts_base import CONTACT_BATCH
    from integrations.crm.hubspot.sync import BATCH as HS_BATCH
    from integrations.crm.salesforce.contacts import CHUNK as SF_CHUNK

    allowed, ours, _ = bound(provider)
    per_write = {"amocrm": CONTACT_BATCH, "bitrix24": CONTACT_BATCH, "hubspot": HS_BATCH}
    return allowed, ours, per_write.get(provider, SF_CHUNK)


def run_partners(provider: str) -> dict[str, Any]:
    from django.db import connection

    from prm.tenancy import tenant_scope

    fake = FakeProcess(provider)  # a CRM of its own: no lead pass's contacts in it
    try:
        t0 = time.perf_counter()
        tenant, program, tagged = populate_partners(provider)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        crm = connect(tenant, program, provider, fake.ask("config"))
        setup_s = time.perf_counter() - t0
        say(f"{NAMES[provider]}: {PARTNER_COUNT:,} partners and a connection in {setup_s:.1f} s")
        with tenant_scope(tenant):
            first = partner_pass(fake, crm, off_first=False)
            say(f"{NAMES[provider]}: partners {first['seconds']:.1f} s {first['requests']}")
            again = partner_pass(fake, crm, off_first=True)
            say(f"{NAMES[provider]}: partners again {again['seconds']:.1f} s {again['requests']}")
        return {"provider": provider, "tagged": tagged, "first": first, "again": again}
    finally:
        fake.stop()


def partner_report(
    results: list[dict[str, Any]],
    box: dict[str, str],
    loads: tuple,  # type: ignore[type-arg]
) -> str:
    from integrations.crm.partner_sync import CHUNK

    rows, again_rows = [], []
    for r in results:
        name, first, again = NAMES[r["provider"]], r["first"], r["again"]
        allowed, _, per_write = contact_bound(r["provider"])
        sent = first["requests"]["write"] + first["requests"]["lookup"]
        per_s = sent / first["push_s"]
        rate = first["queued"] / first["seconds"]
        prof = first["profile"]
        rows.append(
            f"| {name} | {first['queued']:,} ({r['tagged']:,}) | {first['queue_s']:,.1f} s + "
            f"{first['push_s']:,.1f} s | {split(first['requests'])} | {per_s:,.2f} of "
            f"{allowed:g} (**{100 * per_s / allowed:.0f} %**) | {rate:,.0f} of "
            f"{allowed * per_write:,.0f} ({100 * rate / (allowed * per_write):.0f} %) | "
            f"{prof.get('connector_s', 0.0):,.1f} s / {prof.get('throttle_s', 0.0):,.1f} s | "
            f"{first['new']:,} / {first['links']:,} / {first['partners']:,} | "
            f"{first['duplicates']} | {first['lost']} |"
        )
        again_rows.append(
            f"| {name} | {again['queued']:,} | {again['seconds']:,.1f} s | "
            f"{split(again['requests'])} | {again['new']} | {again['duplicates']} | "
            f"{again['lost']} | {again['count']:,} / {again['links']:,} |"
        )
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    knobs = "BENCH_CRM_PASSES=partners "
    if PARTNER_COUNT != 10000:
        knobs += f"BENCH_CRM_PARTNERS={PARTNER_COUNT} "
    if list(FAKES) != PROVIDERS:
        knobs += f"BENCH_CRM_PROVIDERS={','.join(PROVIDERS)} "
    first_head = header(
        "CRM | partners queued (tagged) | time: queue + push | requests: writes / look-ups "
        "/ refused for rate | requests/s of the bound | contacts/s of the bound | in the "
        "writer / of which throttle sleeps | new contacts / links / partners | duplicates "
        "| lost"
    )
    again_head = header(
        "CRM | queued | time | requests: writes / look-ups / refused | new contacts | "
        "duplicates | lost | contacts / links"
    )
    nl = "\n"
    return f"""{P_START}
### Partners as CRM contacts (issue 16 point 4)

Measured {when} by `{knobs}.venv/bin/python bench/crm.py` on the machine above
({box["cpus"]} CPUs, {box["memory"]} RAM; load average {loads[0]:.2f} before the run,
{loads[1]:.2f} after). Per CRM, a fresh fake (real rate limit, PRM_CRM_RATE_SCALE=1) and
a tenant with {PARTNER_COUNT:,} partners (name, e-mail; every third with one or two
tags; bulk-inserted, not measured). Timed: turning the connection's `sync_partners` on
(`connection_save`, which queues every partner: *queue*) and calling the
`push_partners` job (chunks of {CHUNK} partners through
integrations/crm/<provider>/contacts.py; no RQ worker) until no partner row is pending
(*push*). The bound is the lead pass's: the CRM's requests/s, × contacts per write
request (amoCRM and Bitrix24 50, HubSpot 100, Salesforce 200).

{first_head}
{nl.join(rows)}

Re-sync: the setting turned off and on again, which queues every partner again; the
contacts' content hashes are unchanged, so nothing may be created or written:

{again_head}
{nl.join(again_rows)}
{P_END}"""


def machine() -> dict[str, str]:
    import django
    import redis
    from django.db import connection

    meminfo = Path("/proc/meminfo").read_text()
    kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    return {
        "cpus": str(os.cpu_count()),
        "cpu": model.group(1).strip() if model else platform.processor() or "?",
        "memory": f"{kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgres": postgres,
        "redis": str(redis.Redis.from_url(REDIS_URL).info("server").get("redis_version", "?")),
    }


def split(requests: dict[str, int]) -> str:
    text = f"{requests['write']:,} / {requests['lookup']:,} / {requests['refused']:,}"
    return text + (f" (+{requests['other']} token)" if requests["other"] else "")


def header(columns: str) -> str:
    return f"| {columns} |\n|---" + "|---:" * columns.count(" | ") + "|"


def amo_window() -> float:
    from integrations.crm.amocrm.client import WINDOW

    return WINDOW


def note(r: dict[str, Any]) -> str:
    """How the bound of one CRM is made, and what held this run below it."""
    p, first, again = r["provider"], r["first"], r["again"]
    allowed, ours, per_write = bound(p)
    sent = first["requests"]["write"] + first["requests"]["lookup"]
    ratio = first["queued"] / max(sent, 1)  # records per request actually sent
    slept = first["profile"].get("throttle_s", 0.0)
    odd = ""
    if first["dangling"] or again["dangling"]:
        odd += f" {first['dangling']} links point at no record in the fake."
    if left := {k: v for k, v in again["states"].items() if k != "done" and v}:
        odd += f" Outbox rows not done after the re-sync: {left}."
    if first["jobs"] > 1:
        odd += f" The job ran {first['jobs']} times (a retry was due over 30 s later)."
    if p == "amocrm":
        return (
            f"- **amoCRM**: bound = 7 requests/s (429 beyond, in any one-second window) × 50 "
            f"leads per `POST /api/v4/leads/complex` = 350 records/s. Our throttle is a "
            f"sliding window shared in Redis: a request counts from its send until "
            f"{amo_window():.2f} s after its answer and at most 7 count at once, so no delay "
            f"on the way can put an 8th into one of amo's seconds; the first 7 go at once "
            f"and up to 3 are in flight. The ceiling is 7 requests per ({amo_window():.2f} s "
            f"+ an answer's time): {sent} requests at {ours:.2f}/s would take "
            f"{sent / ours:.1f} s ({first['queued'] * ours / sent:,.0f} records/s, "
            f"{100 * first['queued'] * ours / sent / (allowed * per_write):.0f} % of the "
            f"bound) with instant answers. Throttle sleeps below add up the parallel "
            f"threads' sleeps.{odd}"
        )
    if p == "bitrix24":
        burst = (
            f"its {sent} requests take at least ({sent} − 50) / 2 = {(sent - 50) / 2:.1f} s, "
            f"at most {first['queued'] / ((sent - 50) / 2):,.0f} records/s"
            if sent > 50
            else f"its {sent} requests all fit in the burst"
        )
        return (
            f"- **Bitrix24**: bound = 2 requests/s (the portal's leaky bucket drains 2/s and "
            f"answers 503 QUERY_LIMIT_EXCEEDED above 50) × 50 commands per `batch` = 100 "
            f"records/s. The bucket starts empty and lets the first 50 requests through at "
            f"once, which helps a first sync of {first['queued']:,} records beat the "
            f"sustained bound: {burst}. With the bucket already full (a sync right after "
            f"another) the ceiling is 2 × {ratio:.1f} records per request = "
            f"{allowed * ratio:,.0f} records/s ({100 * ratio / per_write:.0f} % of the "
            f"bound): {ratio:.1f}, not 50, because look-ups are requests too. Highest "
            f"bucket level seen: {again['fake']['max_level']:.1f} of 50.{odd}"
        )
    if p == "hubspot":
        return (
            f"- **HubSpot**: bound = 100 requests per rolling 10 s (a private app on "
            f"Free/Starter; 429 `TEN_SECONDLY_ROLLING` beyond) × 100 inputs per batch "
            f"request = 1,000 records/s. Our throttle is a sliding 10-s window shared in "
            f"Redis at {ours * 10:.0f} requests per window ({ours:.1f}/s). A new lead costs a "
            f"share of five requests per 100 (deals read by our id, contacts read by "
            f"e-mail, deals upsert, contacts upsert, associations), so with the "
            f"{ratio:.1f} records per request sent here the ceiling is {ours * ratio:,.0f} "
            f"records/s ({100 * ours * ratio / (allowed * per_write):.0f} % of the bound); "
            f"429s from the fake: {again['fake']['refused']}.{odd}"
        )
    used, most = again["fake"]["api_used"], again["fake"]["daily_max"]
    return (
        f"- **Salesforce** has no per-second limit: what runs out is the org's rolling "
        f"24-hour API allowance. The bound above is our own politeness cap (RATE = "
        f"{allowed:g} requests/s in integrations/crm/salesforce/client.py, throttled at "
        f"{ours:.2f}/s) × 200 records per sObject Collections request. Every 200 records "
        f"also cost a look-up query (match before create), so even at the cap the ceiling "
        f"with the {ratio:.1f} records per request sent here is {ours * ratio:,.0f} "
        f"records/s ({100 * ours * ratio / (allowed * per_write):.0f} % of the bound); the "
        f"throttle slept {slept:.1f} s, i.e. the cap was never what held the push back. "
        f"Allowance: {first['api_used']:,} calls for the first push, {again['api_used']:,} "
        f"for the re-sync, {used:,} in all with the connection test, of the fake org's "
        f"{most:,} per 24 h ({100 * used / most:.2f} %).{odd}"
    )


def report(results: list[dict[str, Any]], box: dict[str, str], loads: tuple) -> str:  # type: ignore[type-arg]
    from integrations.crm.engine import CHUNK

    rows, again_rows, profile_rows, verdicts, full_rows = [], [], [], [], []
    for r in results:
        name, first, again = NAMES[r["provider"]], r["first"], r["again"]
        allowed, _, per_write = bound(r["provider"])
        rate = first["queued"] / first["seconds"]
        share = 100 * rate / (allowed * per_write)
        met = "yes" if share >= TARGET else "no"
        verdicts.append(f"{name} {share:.0f} % ({met})")
        rows.append(
            f"| {name} | {first['queued']:,} | {split(first['requests'])} | "
            f"{first['seconds']:,.1f} s | {rate:,.0f} | {allowed:g} requests/s × {per_write} "
            f"= {allowed * per_write:,.0f} | **{share:.0f} %** ({met}) | {first['count']:,} "
            f"/ {first['links']:,} / {first['leads']:,} | {first['duplicates']} | "
            f"{first['lost']} |"
        )
        again_rows.append(
            f"| {name} | {again['queued']:,} | {split(again['requests'])} | "
            f"{again['seconds']:,.1f} s | {again['new']} | {again['duplicates']} | "
            f"{again['lost']} | {again['count']:,} / {again['links']:,} |"
        )
        full = r["full"]
        sent = full["requests"]["write"] + full["requests"]["lookup"]
        full_rate = sent / full["seconds"]
        full_rows.append(
            f"| {name} | {PREFILL.get(r['provider'], 0)} | {full['queued']:,} | "
            f"{split(full['requests'])} | {full['seconds']:,.1f} s | {full_rate:,.2f} | "
            f"{allowed:g} | **{100 * full_rate / allowed:.0f} %** | {full['new']} | "
            f"{full['duplicates']} | {full['lost']} |"
        )
        prof = first["profile"]
        connector_s = prof.get("connector_s", 0.0)
        slept, waited = prof.get("throttle_s", 0.0), prof.get("waited_s", 0.0)
        engine_s = first["seconds"] - connector_s
        chunks = -(-first["queued"] // CHUNK)
        profile_rows.append(
            f"| {name} | {first['seconds']:,.1f} s | {connector_s:,.1f} s | {slept:,.1f} s | "
            f"{max(waited - slept, 0.0):,.1f} s | {connector_s - waited:,.1f} s | "
            f"{engine_s:,.1f} s | {1000 * engine_s / chunks:,.0f} ms |"
        )
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    knobs = "" if RECORDS == 10000 else f"BENCH_CRM_RECORDS={RECORDS} "
    if list(FAKES) != PROVIDERS:
        knobs += f"BENCH_CRM_PROVIDERS={','.join(PROVIDERS)} "
    first_head = header(
        "CRM | records | requests: writes / look-ups / refused for rate | time | records/s "
        f"| bound (records/s) | % of bound (target ≥ {TARGET:.0f} %) | in the fake / links / "
        "leads | duplicates | lost"
    )
    again_head = header(
        "CRM | queued | requests: writes / look-ups / refused | time | new records in the "
        "fake | duplicates | lost | in the fake / links"
    )
    full_head = header(
        "CRM | already in the bucket | queued | requests: writes / look-ups / refused | "
        "time | requests/s | bound (requests/s) | % of bound | new records | duplicates | lost"
    )
    profile_head = header(
        "CRM | wall | in the connector | of which throttle sleeps | waits after a refusal "
        f"| HTTP and work | engine, between calls | engine per chunk of {CHUNK}"
    )
    nl = "\n"
    return f"""{START}
## CRM push (issue 5)

Measured {when} by `{knobs}make bench` (bench/crm.py; alone:
`{knobs}.venv/bin/python bench/crm.py`); every figure below comes from that run.

- **Machine**: {box["cpus"]} CPUs ({box["cpu"]}), {box["memory"]} RAM, Linux {box["kernel"]};
  load average {loads[0]:.2f} before the run, {loads[1]:.2f} after (other work shares it).
- **Software**: Python {box["python"]}, Django {box["django"]}, PostgreSQL {box["postgres"]},
  Redis {box["redis"]} (the throttle's shared state, a database of its own), all on loopback.
- **Set-up per CRM**: a tenant with {RECORDS:,} leads (name, e-mail, phone, company; spread
  over {PARTNERS} partners with referral and promo codes) connected to the CRM's fake server
  (tests/fakes/, real HTTP on 127.0.0.1, in a process of its own) with the CRM's real rate
  limit switched on, and PRM_CRM_RATE_SCALE=1 (our throttle at the real rates). Every lead
  is queued with `engine.sync_all`; timed: `engine.push_connection` (the crm queue's job,
  called directly, no RQ worker) until the outbox is empty.

{first_head}
{nl.join(rows)}

*duplicates*: records in the fake sharing an e-mail; *lost*: leads with no record in the
fake. Reached ≥ {TARGET:.0f} % of the bound: {", ".join(verdicts)}.

{nl.join(note(r) for r in results)}

Re-sync: every lead queued again (`engine.sync_all`) and pushed again; nothing changed,
so nothing may be created:

{again_head}
{nl.join(again_rows)}

Pushed again into a CRM that another integration has just used (issue 16): the fake's
Bitrix24 bucket pre-filled to 45 of 50, amoCRM's one-second window holding 6 of its 7
requests. Bitrix24 does not report its bucket level, so our throttle starts with its
burst and must slow down on the portal's first 503 (`Throttle.penalize`: every worker of
the connection drops to the sustained 2/s); the target is at most a couple of refusals and
≥ 80 % of the sustained bound. Nothing changed since the re-sync, so this pass sends the
match look-ups only (no writes): the measure is requests per second against the CRM's
request bound, which is what the bucket limits:

{full_head}
{nl.join(full_rows)}

Where the first push's time went: *in the connector* is the time inside the connector's
calls (`push`, and `fetch` for merged notes): the throttle's sleeps, waits after a
refusal, and the rest (HTTP round trips, the fake's work, the connector's own). *Engine*
is the rest of the wall time: the job's database work around each chunk of {CHUNK} outbox
rows (read the rows with their leads, links and values, file the results, write the links
and the sync log) that the pipeline did not hide. The job sends one chunk on a push
thread while it files the previous one and prepares the next, so what remains is the
first chunk's preparation, the last one's filing, and any filing longer than a push.

{profile_head}
{nl.join(profile_rows)}

Run it again with `make bench` (`BENCH_CRM_RECORDS=1000 BENCH_CRM_PROVIDERS=amocrm` for
a smoke run; BENCH_WRITE=0 leaves this file alone; the other knobs are at the top of
bench/crm.py).
{END}"""


def write(section: str, start: str = START, end: str = END) -> None:
    if not WRITE:
        return
    text = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n"
    if start in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end) :]
    elif start == P_START and END in text:  # under the lead passes' section
        at = text.index(END) + len(END)
        text = text[:at] + "\n\n" + section + text[at:]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    REPORT.write_text(text)


def main() -> None:
    unknown = set(PROVIDERS) - set(FAKES)
    if unknown:
        raise SystemExit(f"unknown CRM in BENCH_CRM_PROVIDERS: {sorted(unknown)}")
    load_before = os.getloadavg()[0]
    name = urlsplit(DATABASE_URL).path.strip("/")
    psql(f"DROP DATABASE IF EXISTS {name}")
    psql(f"CREATE DATABASE {name}")
    flush_redis()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    assert settings.PRM_CRM_RATE_SCALE == 1, "the benchmark runs at the CRMs' real rates"
    call_command("migrate", verbosity=0)
    instrument()
    results, partner_results = [], []
    try:
        for provider in PROVIDERS:
            if "leads" in PASSES:
                results.append(run(provider))
            if "partners" in PASSES:
                partner_results.append(run_partners(provider))
    finally:
        flush_redis()  # the RQ jobs sync_all left behind (no worker runs them)
    box, loads = machine(), (load_before, os.getloadavg()[0])
    if results:
        section = report(results, box, loads)
        print(section)
        write(section)
    if partner_results:
        section = partner_report(partner_results, box, loads)
        print(section)
        write(section, P_START, P_END)
    broken = [
        NAMES[r["provider"]]
        for r in results
        for p in (r["first"], r["again"], r["full"])
        if p["duplicates"] or p["lost"] or p["count"] != p["links"]
    ] + [
        NAMES[r["provider"]] + " (partners)"
        for r in partner_results
        if r["first"]["duplicates"] or r["first"]["lost"] or r["again"]["new"]
    ]
    if broken:
        raise SystemExit(f"duplicates or lost records: {sorted(set(broken))}")


if __name__ == "__main__":
    main()
