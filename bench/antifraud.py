"""Antifraud benchmark: `make bench` (or `python bench/antifraud.py`).

On a fresh PostgreSQL database of its own: one tenant with BENCH_AF_PARTNERS (1,000)
partners, BENCH_AF_LEADS (100,000) leads over 30 days, BENCH_AF_CLICKS (1,000,000)
clicks and 10,000 sales, generated with INSERT … SELECT generate_series (their
creation is not what is measured). About one lead in eight comes from a hot IP
address, so the burst signals fire and assessments, signals and holds are written.

1. Throughput per worker: ``antifraud.services.scoring.score_leads`` (the code the
   scoring job runs) over the newest BENCH_AF_SCORE (20,000) leads, batches of 500,
   in one process: a first pass (every assessment written) and a rescore (nothing
   changed: digests equal, nothing written). Also the statements one batch costs and
   the time of each signal on one batch of 500 (what limits it).
2. Commit-to-score latency: a real ``rqworker antifraud`` runs (RQ's forking Worker,
   as ``make run`` starts it, then SimpleWorker); conversions are recorded through
   ``conversion_record`` (the API's service) at each of BENCH_AF_RATES (1 and 5) per
   second for BENCH_AF_SECONDS (30); for each, the time from its commit to its first
   stored assessment: p50, p95, max. A scoring job takes over the jobs
   waiting behind it, so a worker that falls behind catches up in batches.
Beside them, pgbench's select-only rate on the same server in the same run (the
reference: what the server answers to the simplest indexed look-up), and the load
average before and after. Figures go into the "Antifraud" section of BENCHMARKS.md.

Knobs: BENCH_AF_DATABASE_URL (postgres://postgres@127.0.0.1:5432/prm_bench_antifraud,
dropped and created), BENCH_AF_REDIS_URL (redis://127.0.0.1:6379/11, flushed),
BENCH_AF_LEADS, BENCH_AF_CLICKS, BENCH_AF_PARTNERS, BENCH_AF_SCORE, BENCH_AF_RATES,
BENCH_AF_SECONDS, BENCH_AF_KEEP (1: keep the database), BENCH_WRITE (1), BENCH_LOAD_NOTE.
"""

# ruff: noqa: S603, S607, S608, E501 - local tools (psql, pgbench, rqworker); wide tables

from __future__ import annotations

import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REPORT = ROOT / "BENCHMARKS.md"
START = "<!-- bench/antifraud.py: start -->"
END = "<!-- bench/antifraud.py: end -->"

DATABASE_URL = os.environ.get(
    "BENCH_AF_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prm_bench_antifraud"
)
REDIS_URL = os.environ.get("BENCH_AF_REDIS_URL", "redis://127.0.0.1:6379/11")
LEADS = int(os.environ.get("BENCH_AF_LEADS", "100000"))
CLICKS = int(os.environ.get("BENCH_AF_CLICKS", "1000000"))
PARTNERS = int(os.environ.get("BENCH_AF_PARTNERS", "1000"))
SCORE = int(os.environ.get("BENCH_AF_SCORE", "20000"))
# Sales per second offered to the worker, each for BENCH_AF_SECONDS.
RATES = [float(r) for r in os.environ.get("BENCH_AF_RATES", "1,5").split(",")]
SECONDS = int(os.environ.get("BENCH_AF_SECONDS", "30"))
# RQ's default worker forks a work horse per job (as `make run` starts it);
# SimpleWorker runs jobs in its own process. Both are measured.
WORKER_CLASSES = ("", "rq.worker.SimpleWorker")
WRITE = os.environ.get("BENCH_WRITE", "1") == "1"
LOAD_NOTE = os.environ.get("BENCH_LOAD_NOTE", "")
DB_NAME = urlsplit(DATABASE_URL).path.lstrip("/")
PGBENCH_DB = f"{DB_NAME}_pgbench"
BATCH = 500

os.environ.update(
    DJANGO_SETTINGS_MODULE="prm.settings",
    DATABASE_URL=DATABASE_URL,
    REDIS_URL=REDIS_URL,  # jobs go through RQ to a real worker (step 2)
    DEBUG="0",
    SECRET_KEY="bench-only-" + "s" * 40,
    LOG_LEVEL="WARNING",
)


def psql(sql: str, db: str = "postgres") -> None:
    url = urlsplit(DATABASE_URL)
    subprocess.run(
        ["psql", "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
        + ["-U", url.username or "postgres", "-d", db, "-qc", sql],
        check=True,
    )


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def setup() -> str:
    """Schema, then the tenant's rows in bulk; returns the tenant id."""
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection

    from partners.models import PartnerProfile
    from prm.models import Tenant, User
    from prm.tenancy import tenant_scope
    from programs.models import Enrollment, Program

    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.create(name="Bench", slug="bench")
    password = make_password(None)
    with tenant_scope(tenant):
        program = Program.objects.create(
            tenant=tenant,
            name="Bench",
            currency="USD",
            status="active",
            landing_urls="https://shop.example/",
        )
        users = User.objects.bulk_create(
            [User(email=f"partner{i}@bench.example", password=password) for i in range(PARTNERS)]
        )
        partners = PartnerProfile.objects.bulk_create(
            [PartnerProfile(tenant=tenant, user=u, status="active") for u in users]
        )
        enrollments = Enrollment.objects.bulk_create(
            [
                Enrollment(tenant=tenant, program=program, partner=p, code=f"P{i:05d}")
                for i, p in enumerate(partners)
            ]
        )
    params = {
        "t": str(tenant.pk),
        "p": str(program.pk),
        "partners": [str(p.pk) for p in partners],
        "enrollments": [str(e.pk) for e in enrollments],
        "n": PARTNERS,
    }
    # One lead every 26 s over 30 days; 6 in 50 from one hot address (a burst every
    # hour), the rest spread over 51,200 networks; a visitor id shared with ~10 clicks.
    hot = "(g %% 50 < 6)"
    ip = f"CASE WHEN {hot} THEN '203.0.113.0' ELSE '198.' || (g %% 200) || '.' || (g / 200 %% 256) || '.0' END"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO programs_lead (id, tenant_id, program_id, partner_id, status, source,
                name, email, phone, company, external_id, visitor_id, attribution,
                created_at, updated_at, ip, net, device, user_agent, email_key,
                utm_source, utm_medium, utm_campaign, sub_id, referrer_domain)
            SELECT gen_random_uuid(), %(t)s, %(p)s,
                (%(partners)s::uuid[])[1 + g %% %(n)s], 'new', 'snippet', '',
                'c' || g || '@example.com', '', '', '', 'v' || (g %% 100000), '{{}}',
                now() - g * interval '26 seconds', now(),
                {ip}, {ip} || '/24', left(md5({ip} || (g %% 7)), 32), 'Bench UA',
                'c' || g || '@example.com', '', '', '', '', ''
            FROM generate_series(1, {LEADS}) g
            """,
            params,
        )
        cursor.execute(
            f"""
            INSERT INTO programs_click (ingest_id, tenant_id, program_id, enrollment_id,
                partner_id, status, reject_reason, code, visitor_id, sub_id, landing_url,
                referrer, source, browser, os, device, ip, paid_click, created_at,
                utm_source, utm_medium, utm_campaign)
            SELECT 'b' || g, %(t)s, %(p)s, (%(enrollments)s::uuid[])[1 + g %% %(n)s],
                (%(partners)s::uuid[])[1 + g %% %(n)s], 'accepted', '',
                'P' || lpad((g %% %(n)s)::text, 5, '0'), 'v' || (g %% 100000), '',
                'https://shop.example/', 'https://blog.example/', 'snippet', 'Firefox',
                'Linux', 'Other', '198.' || (g %% 200) || '.' || (g / 200 %% 256) || '.0',
                '', now() - g * interval '2.6 seconds', '', '', ''
            FROM generate_series(1, {CLICKS}) g
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO programs_conversion (id, tenant_id, program_id, partner_id,
                external_id, kind, status, amount, currency, refunded_amount,
                customer_email, customer_external_id, visitor_id, promo_code, payer,
                attribution, occurred_at, created_at, ip, net, device, user_agent, email_key)
            SELECT gen_random_uuid(), %(t)s, %(p)s, (%(partners)s::uuid[])[1 + g %% %(n)s],
                'seed-' || g, 'sale', 'attributed', 20 + (g %% 180), 'USD', 0,
                'b' || g || '@example.com', '', '', '', '', '{}',
                now() - g * interval '260 seconds', now() - g * interval '260 seconds',
                '', '', '', '', 'b' || g || '@example.com'
            FROM generate_series(1, 10000) g
            """,
            params,
        )
        cursor.execute("ANALYZE")
    return str(tenant.pk)


def pgbench_reference() -> float:
    """pgbench's built-in select-only script (2 clients, 10 s) on the same server: the
    rate of single indexed look-ups, each a round trip."""
    url = urlsplit(DATABASE_URL)
    conn = ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
    conn += ["-U", url.username or "postgres"]
    psql(f"DROP DATABASE IF EXISTS {PGBENCH_DB}")
    psql(f"CREATE DATABASE {PGBENCH_DB}")
    subprocess.run(
        ["pgbench", *conn, "-i", "-s", "1", "-q", PGBENCH_DB], check=True, capture_output=True
    )
    out = subprocess.run(
        ["pgbench", *conn, "-n", "-S", "-c", "2", "-j", "2", "-T", "10", PGBENCH_DB],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    psql(f"DROP DATABASE IF EXISTS {PGBENCH_DB}")
    return float(re.search(r"tps = ([0-9.]+)", out).group(1))  # type: ignore[union-attr]


def throughput(tenant_id: str) -> dict[str, object]:
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    from antifraud.config import effective, settings_for
    from antifraud.models import RiskAssessment
    from antifraud.services.scoring import _load, score_leads
    from antifraud.signals import REGISTRY, Batch
    from prm.models import Tenant
    from prm.tenancy import tenant_scope
    from programs.models import Lead

    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        ids = list(Lead.objects.order_by("-created_at").values_list("pk", flat=True)[:SCORE])
        t0 = time.perf_counter()
        first = score_leads(ids, batch=BATCH)
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = score_leads(ids, batch=BATCH)
        again_s = time.perf_counter() - t0
        levels = dict(
            RiskAssessment.objects.filter(subject="lead")
            .values_list("level")
            .annotate(n=Count("pk"))
            .order_by()
        )
        # One more batch, counted, and each signal timed on it.
        sample = ids[:BATCH]
        RiskAssessment.objects.filter(lead_id__in=sample).delete()
        with CaptureQueriesContext(connection) as queries:
            score_leads(sample, batch=BATCH)
        confs = effective(settings_for(tenant))
        objs = _load("lead", sample)
        per_signal = []
        for code, signal in REGISTRY.items():
            if "lead" not in signal.subjects:
                continue
            batch = Batch("lead", objs, tenant, cache={"settings": settings_for(tenant)})
            t0 = time.perf_counter()
            hits = signal.evaluate_many(batch, confs[code])  # type: ignore[misc]
            per_signal.append((code, (time.perf_counter() - t0) * 1000, len(hits)))
    return {
        "first": (first.scored, first.written, first_s),
        "again": (again.scored, again.written, again_s),
        "levels": levels,
        "statements": len(queries),
        "per_signal": per_signal,
    }


def latency(tenant_id: str, worker_class: str, rate: float) -> dict[str, float]:
    import django_rq
    import redis

    from antifraud.models import RiskAssessment
    from prm.models import Tenant
    from prm.tenancy import tenant_scope
    from programs.models import Program
    from programs.services.conversions import ConversionInput, conversion_record

    redis.Redis.from_url(REDIS_URL).flushdb()
    extra = ["--worker-class", worker_class] if worker_class else []
    since = datetime.datetime.now(datetime.UTC)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", *extra, "antifraud"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The worker's start-up (Django, Redis registration) is not what is measured.
        from rq import Worker

        queue = django_rq.get_queue("antifraud")
        for _ in range(600):
            if Worker.all(queue=queue):
                break
            time.sleep(0.1)
        time.sleep(1)
        tenant = Tenant.objects.get(pk=tenant_id)
        committed: dict[str, float] = {}
        with tenant_scope(tenant):
            program = Program.objects.get()
            start = time.time()
            for i in range(int(rate * SECONDS)):
                target = start + i / rate
                time.sleep(max(0.0, target - time.time()))
                conversion, _ = conversion_record(
                    tenant=tenant,
                    program=program,
                    data=ConversionInput(
                        external_id=f"lat-{worker_class or 'fork'}-{rate}-{i}",
                        amount=Decimal("49.00"),
                        currency="USD",
                        customer_email=f"lat{i}@example.com",
                        # Ordinary traffic: many partners, addresses in many networks.
                        referral_code=f"P{i % PARTNERS:05d}",
                        ip=f"100.{64 + i % 60}.{i // 60 % 256}.7",
                        user_agent="Bench",
                    ),
                )
                committed[str(conversion.pk)] = time.time()  # returned = committed
            deadline = time.time() + 120
            scored: dict[str, float] = {}
            while len(scored) < len(committed) and time.time() < deadline:
                # created_at: when the assessment was first stored (a later rescore,
                # e.g. of a burst's earlier members, moves scored_at).
                for pk, at in RiskAssessment.objects.filter(
                    conversion_id__in=[k for k in committed if k not in scored]
                ).values_list("conversion_id", "created_at"):
                    scored[str(pk)] = at.timestamp()
                time.sleep(0.2)
        backlog = django_rq.get_queue("antifraud").count
    finally:
        worker.terminate()
        worker.wait(10)
    waits = sorted(scored[k] - committed[k] for k in scored)
    from prm.models import Job

    runs = sorted(
        (j.finished_at - j.started_at).total_seconds()
        for j in Job.objects.filter(
            func="antifraud.jobs.score_subjects", finished_at__isnull=False, created_at__gte=since
        ).exclude(kwargs__conversions=[])
    )
    return {
        "run_p50": statistics.median(runs) if runs else 0.0,
        "n": len(waits),
        "missing": len(committed) - len(waits),
        "p50": statistics.median(waits),
        "p95": waits[int(len(waits) * 0.95) - 1],
        "max": waits[-1],
        "backlog": backlog,
    }


def write(section: str) -> None:
    if not WRITE:
        return
    text = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n"
    if START in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    REPORT.write_text(text)


def main() -> None:
    if urlsplit(REDIS_URL).path.strip("/") in ("", "0"):
        raise SystemExit("BENCH_AF_REDIS_URL must name a database of its own, not 0")
    load_before = uptime()
    psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    psql(f"CREATE DATABASE {DB_NAME}")
    t0 = time.perf_counter()
    tenant_id = setup()
    setup_s = time.perf_counter() - t0
    reference = pgbench_reference()
    tp = throughput(tenant_id)
    lats = {(wc, r): latency(tenant_id, wc, r) for wc in WORKER_CLASSES for r in RATES}
    load_after = uptime()

    scored, written, first_s = tp["first"]  # type: ignore[misc]
    again_n, again_w, again_s = tp["again"]  # type: ignore[misc]
    per_signal = sorted(tp["per_signal"], key=lambda r: -r[1])  # type: ignore[arg-type]
    signal_rows = "\n".join(f"| `{code}` | {ms:,.1f} | {hits} |" for code, ms, hits in per_signal)
    latency_rows = "\n".join(
        f"| commit → stored score, one `rqworker antifraud` "
        f"({wc.rpartition('.')[2] if wc else 'Worker, forking'}), {r:g} sales/s for {SECONDS} s "
        f"| p50 {lat['p50']:.2f} s, **p95 {lat['p95']:.2f} s**, max {lat['max']:.2f} s; "
        f"a job's run: median {lat['run_p50'] * 1000:,.0f} ms "
        f"({lat['missing']} unscored after 2 min) | p95 < 2 s |"
        for (wc, r), lat in lats.items()
    )
    levels = ", ".join(f"{k}: {v:,}" for k, v in sorted(tp["levels"].items()))  # type: ignore[union-attr]
    section = f"""{START}
## Antifraud

`python bench/antifraud.py` on {datetime.date.today().isoformat()}, {platform.machine()},
{os.cpu_count()} cores shared with other work{f" ({LOAD_NOTE})" if LOAD_NOTE else ""}.
Load before: `{load_before}`; after: `{load_after}`.
Tenant: {PARTNERS:,} partners, {LEADS:,} leads over 30 days, {CLICKS:,} clicks, 10,000
sales (generated in {setup_s:,.0f} s with INSERT … SELECT generate_series; not measured).

| measure | figure | target |
|---|---|---|
| reference: pgbench select-only, 2 clients (same server, same run) | {reference:,.0f} look-ups/s | |
| scoring, first pass (every assessment written), one process | **{scored / first_s:,.0f} leads/s** ({scored:,} in {first_s:,.1f} s, {written:,} written) | ≥ 1,000 |
| rescore, nothing changed (nothing written), one process | {again_n / again_s:,.0f} leads/s ({again_n:,} in {again_s:,.1f} s, {again_w:,} written) | |
| statements for one batch of {BATCH} leads | {tp["statements"]} | constant |
{latency_rows}

Levels after the first pass: {levels}.

Time of each signal on one batch of {BATCH} leads (one or two set-based statements each):

| signal | ms | fired |
|---|---|---|
{signal_rows}

What limits it: the scorer is bound by PostgreSQL executing the signals' correlated
look-ups (one index range scan per lead per windowed signal; the slowest signals are
at the top of the table) and, in the first pass, by the writes (assessments, their
signals, the holds' partner locks); a rescore that changes nothing writes nothing. On
these 2 shared cores every figure moves with the other work: compare the pgbench
reference of the same run (an idle run of this machine gave ~34,000 look-ups/s).
Commit-to-score latency is the job's path: the Job row, dispatch to Redis after
commit, the worker (the forking Worker adds a fork per job), Django's per-job set-up,
then a batch of one — about two dozen statements, each a round trip to a busy server.
When sales arrive faster than one job runs, a job takes over the jobs waiting behind
it and scores their sales as one batch, so the queue drains at the batch rate.
{END}"""
    print(section)
    write(section)
    from django.db import connection

    connection.close()
    if os.environ.get("BENCH_AF_KEEP") != "1":
        psql(f"DROP DATABASE IF EXISTS {DB_NAME}")


if __name__ == "__main__":
    main()
