"""Rewards benchmark: `make bench` (or `python bench/rewards.py`).

On a fresh PostgreSQL database of its own: 10,000 partners and 100,000 attributed
conversions (bulk-inserted; their creation is not what is measured), then
1. accrue the rewards of every conversion with the set-based engine
   (rewards.services.accrual_batch.accrue_conversions, the code the single-conversion
   job also runs), in BENCH_ACCRUAL_WORKERS processes, each taking whole partners'
   conversions in occurred_at order, in batches of 1,000; the
   conversions come in ten blocks of 10 %, alternately of a program without and with
   a reward budget, each block timed on its own with the number of rewards that existed
   before it (the rate must not fall as history grows) and the statements one batch of
   1,000 costs;
2. approve every reward whose hold ended (rewards.services.approvals.approve_batch, what
   approve_due runs, 1,000 rewards a transaction, in BENCH_ACCRUAL_WORKERS processes);
3. run the monthly scheduled payout for the 10,000 partners
   (rewards.services.payouts.scheduled_payouts);
4. verify the ledger (rewards.services.verify).
Beside them, pgbench's insert rate on the same server in the same run (single-row
insert transactions, and 1,000-row insert statements) as the reference.
Each step's wall time and the process's peak memory (max RSS) go into the "Rewards"
section of BENCHMARKS.md.

Knobs: BENCH_REWARDS_DATABASE_URL (postgres://postgres@127.0.0.1:5432/prm_bench_rewards,
dropped and created), BENCH_CONVERSIONS (100000), BENCH_PARTNERS (10000),
BENCH_ACCRUAL_WORKERS (3), BENCH_REWARDS_REDIS_URL (redis://127.0.0.1:6379/12, flushed: the
queue the accrual's own jobs go to), BENCH_WRITE (1), BENCH_LOAD_NOTE (say what else ran).
"""

# ruff: noqa: S603, S607 - a local driver of local tools (psql)

from __future__ import annotations

import datetime
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REPORT = ROOT / "BENCHMARKS.md"
START = "<!-- bench/rewards.py: start -->"
END = "<!-- bench/rewards.py: end -->"

DATABASE_URL = os.environ.get(
    "BENCH_REWARDS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prm_bench_rewards"
)
CONVERSIONS = int(os.environ.get("BENCH_CONVERSIONS", "100000"))
PARTNERS = int(os.environ.get("BENCH_PARTNERS", "10000"))
# Three processes on two cores: each waits on PostgreSQL for part of every batch.
WORKERS = int(os.environ.get("BENCH_ACCRUAL_WORKERS", "3"))
WRITE = os.environ.get("BENCH_WRITE", "1") == "1"
DB_NAME = urlsplit(DATABASE_URL).path.lstrip("/")
PGBENCH_DB = f"{DB_NAME}_pgbench"
LOAD_NOTE = os.environ.get("BENCH_LOAD_NOTE", "")
BATCH = 1000
BLOCKS = 10

os.environ.update(
    DJANGO_SETTINGS_MODULE="prm.settings",
    DATABASE_URL=DATABASE_URL,
    DEBUG="0",
    SECRET_KEY="bench-only-" + "s" * 40,
    LOG_LEVEL="WARNING",
)
# The accrual jobs are called directly; what they enqueue (reward notifications, antifraud
# scoring) goes to a Redis database of the bench's own, as in production, where other
# workers send it. With no Redis those jobs would run inline, inside the timed batches.
REDIS_URL = os.environ.get("BENCH_REWARDS_REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ["REDIS_URL"] = REDIS_URL


def psql(sql: str) -> None:
    url = urlsplit(DATABASE_URL)
    subprocess.run(
        [
            "psql",
            "-h",
            url.hostname or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            "-d",
            "postgres",
            "-qc",
            sql,
        ],
        check=True,
    )


def load_average() -> str:
    """The machine's load average now (1, 5, 15 min): what else shares the cores."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup() -> tuple[str, str]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from partners.models import PartnerProfile
    from prm.models import Tenant, User
    from prm.tenancy import tenant_scope
    from programs.models import Conversion, Enrollment, Program
    from rewards.models import BonusRule, PayoutDetails, PayoutMethod, RewardRule

    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.create(name="Bench", slug="bench")
    now = timezone.now()
    month_ago = now - datetime.timedelta(days=40)
    with tenant_scope(tenant):
        programs = []
        for name, budget in (("Open", None), ("Budgeted", Decimal("1000000000"))):
            program = Program.objects.create(
                tenant=tenant,
                name=name,
                currency="USD",
                status="active",
                landing_urls="https://shop.example/",
                hold_days=0,
                levels=2,
                level_percents=[10],
                reward_budget=budget,  # never reached: what is measured is its bookkeeping
            )
            RewardRule.objects.create(
                tenant=tenant,
                program=program,
                event="conversion",
                kind="percent",
                value=Decimal("20"),
                tiers=[{"min_conversions": 10, "value": "25"}],
                cap_per_partner_month=Decimal("5000"),
            )
            BonusRule.objects.create(
                tenant=tenant,
                program=program,
                metric="conversions",
                threshold=Decimal("12"),
                amount=Decimal("50"),
            )
            programs.append(program)
        method = PayoutMethod.objects.create(
            tenant=tenant,
            kind="card",
            name="Card",
            currency="USD",
            minimum=Decimal("10"),
            fee_percent=Decimal("1"),
            schedule="monthly",
        )
        users = User.objects.bulk_create(
            [User(email=f"p{i}@bench.test", password="!") for i in range(PARTNERS)]
        )
        partners = PartnerProfile.objects.bulk_create(
            [
                PartnerProfile(tenant=tenant, user=u, recruit_code=f"rc{i}")
                for i, u in enumerate(users)
            ]
        )
        # Every tenth partner was recruited by another: upline shares are accrued too.
        for i in range(10, PARTNERS, 10):
            partners[i].recruited_by = partners[i - 10]
        PartnerProfile.objects.bulk_update(partners, ["recruited_by"], batch_size=2000)
        Enrollment.objects.bulk_create(
            [
                Enrollment(tenant=tenant, program=program, partner=p, code=f"C{n}-{i}")
                for n, program in enumerate(programs)
                for i, p in enumerate(partners)
            ]
        )
        PayoutDetails.objects.bulk_create(
            [
                PayoutDetails(
                    tenant=tenant, partner=p, method=method, encrypted="x", masked="•••• 4242"
                )
                for p in partners
            ]
        )
        batch = []
        for i in range(CONVERSIONS):
            batch.append(
                Conversion(
                    tenant=tenant,
                    # Ten blocks in occurred_at order, alternately without and with
                    # a budget.
                    program=programs[(i * BLOCKS // CONVERSIONS) % 2],
                    partner=partners[i % PARTNERS],
                    external_id=f"o{i}",
                    kind="sale",
                    status="attributed",
                    amount=Decimal(20 + i % 180),
                    currency="USD",
                    customer_email=f"c{i}@example.com",
                    attribution={},
                    occurred_at=month_ago + datetime.timedelta(seconds=i * 20),
                )
            )
            if len(batch) == 5000:
                Conversion.objects.bulk_create(batch)
                batch = []
        Conversion.objects.bulk_create(batch)
    from django.db import connection

    with connection.cursor() as cursor:
        # Fresh statistics after the bulk load, as autovacuum would soon give them.
        cursor.execute("ANALYZE")
    return str(tenant.pk), str(programs[1].pk)


def accrue_batches(args: tuple[str, list[list[str]]]) -> tuple[int, int]:
    """A worker's share of a block: batches of 1,000 conversion ids, each one
    transaction of the batch engine. Returns (conversions, statements of its first batch)."""
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from prm.models import Tenant
    from prm.tenancy import tenant_scope
    from rewards.services.accrual_batch import accrue_conversions

    tenant_id, batches = args
    tenant = Tenant.objects.get(pk=tenant_id)
    done, statements = 0, 0
    with tenant_scope(tenant):
        for n, batch in enumerate(batches):
            if n == 0:
                with CaptureQueriesContext(connection) as queries:
                    accrue_conversions(batch)
                statements = len(queries)
            else:
                accrue_conversions(batch)
            done += len(batch)
    connection.close()
    return done, statements


def pgbench_reference() -> list[tuple[str, float]]:
    """pgbench on the same server, now: single-row insert transactions (2 clients), and
    one 1,000-row insert statement a transaction (2 clients), as rows/s."""
    import re
    import tempfile

    url = urlsplit(DATABASE_URL)
    conn = ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
    conn += ["-U", url.username or "postgres"]
    psql(f"DROP DATABASE IF EXISTS {PGBENCH_DB}")
    psql(f"CREATE DATABASE {PGBENCH_DB}")
    subprocess.run(
        ["pgbench", *conn, "-i", "-s", "1", "-q", PGBENCH_DB],
        check=True,
        capture_output=True,
    )
    scripts = {
        "pgbench: single-row INSERT transactions (2 clients)": (
            1,
            "\\set aid random(1, 100000)\n"
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
            "VALUES (1, 1, :aid, 1, CURRENT_TIMESTAMP);\n",
        ),
        "pgbench: 1,000-row INSERT statements (2 clients)": (
            1000,
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
            "SELECT 1, 1, g, 1, CURRENT_TIMESTAMP FROM generate_series(1, 1000) g;\n",
        ),
    }
    rates = []
    for name, (rows, script) in scripts.items():
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
            f.write(script)
        out = subprocess.run(
            ["pgbench", *conn, "-n", "-c", "2", "-j", "2", "-T", "10", "-f", f.name],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PGDATABASE": PGBENCH_DB},
        ).stdout
        os.unlink(f.name)
        tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))  # type: ignore[union-attr]
        rates.append((name, tps * rows))
    psql(f"DROP DATABASE IF EXISTS {PGBENCH_DB}")
    return rates


def approve_slice(args: tuple[str, int, int]) -> int:
    """Approve the due rewards of one partition with the batch service approve_due uses
    (``approve_batch``: 1,000 rewards a transaction)."""
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from prm.models import Tenant
    from prm.tenancy import tenant_scope
    from rewards.models import Reward
    from rewards.services.approvals import approve_batch

    tenant_id, index, count = args
    tenant = Tenant.objects.get(pk=tenant_id)
    done = 0
    with tenant_scope(tenant):
        due = list(
            Reward.objects.filter(
                status=Reward.Status.PENDING, flagged=False, available_at__lte=timezone.now()
            )
            .order_by("partner_id", "pk")
            .values_list("partner_id", "pk")
        )
        # Each worker takes whole partners, so two workers' batches never wait on each
        # other's partner locks.
        mine = [pk for partner_id, pk in due if partner_id.int % count == index]
        batches = [mine[i : i + BATCH] for i in range(0, len(mine), BATCH)]
        for batch in batches:
            done += approve_batch(tenant=tenant, reward_ids=batch)
    connection.close()
    return done


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
    psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    psql(f"CREATE DATABASE {DB_NAME}")
    if urlsplit(REDIS_URL).path.strip("/") in ("", "0"):
        raise SystemExit("BENCH_REWARDS_REDIS_URL must name a database of its own, not 0")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    loads = [("at the start", load_average())]
    t0 = time.perf_counter()
    tenant_id, _ = setup()
    setup_s = time.perf_counter() - t0
    reference = pgbench_reference()

    from django.db import connection

    from prm.models import Tenant
    from prm.tenancy import tenant_scope
    from programs.models import Conversion
    from rewards.models import Reward

    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        ids = [
            (str(pk), partner_id.int % WORKERS)
            for pk, partner_id in Conversion.objects.order_by("occurred_at", "pk").values_list(
                "pk", "partner_id"
            )
        ]
    blocks = []
    accrue_s = 0.0
    connection.close()  # not shared with the forked workers
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
        for b in range(BLOCKS):
            block = ids[b * len(ids) // BLOCKS : (b + 1) * len(ids) // BLOCKS]
            with tenant_scope(tenant), connection.cursor() as cursor:
                # This server runs with autovacuum off; its ANALYZE, as autovacuum would
                # run it after so many new rows, is not part of the timed work.
                cursor.execute("ANALYZE")
                existing = Reward.objects.count()
            connection.close()
            # Each worker takes whole partners (their conversions in order, as caps and
            # tiers need, and no waiting on the other's partner locks but recruiters').
            shares = [[pk for pk, w in block if w == worker] for worker in range(WORKERS)]
            t0 = time.perf_counter()
            results = pool.map(
                accrue_batches,
                [
                    (tenant_id, [share[i : i + BATCH] for i in range(0, len(share), BATCH)])
                    for share in shares
                ],
            )
            secs = time.perf_counter() - t0
            accrue_s += secs
            blocks.append((b, b % 2 == 1, existing, len(block), secs, results[0][1]))
            print(f"block {b}: {len(block) / secs:,.0f} conversions/s at {existing:,} rewards")
    loads.append(("after the accrual", load_average()))
    accrued = sum(blk[3] for blk in blocks)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool's workers have exited
    children_peak = after.ru_maxrss / 1024
    # The workers' own CPU time (Python and the driver, not PostgreSQL's): unlike the
    # rates, barely moved by what else shares the cores.
    worker_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)

    from django.utils import timezone

    from prm.models import Tenant
    from prm.tenancy import tenant_scope
    from rewards.models import LedgerEntry, PayoutRequest, Reward
    from rewards.services.approvals import approve_due
    from rewards.services.payouts import scheduled_payouts
    from rewards.services.verify import verify

    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant), connection.cursor() as cursor:
        # What the antifraud jobs leave behind (an assessment per conversion, here all
        # "ok"): rewards of unscored conversions never approve on their own. Not timed.
        cursor.execute(
            """
            INSERT INTO antifraud_riskassessment (tenant_id, subject, conversion_id,
                partner_id, score, level, partner_reason, digest, decision, decision_note,
                scored_at, created_at)
            SELECT tenant_id, 'conversion', id, partner_id, 0, 'ok', '', '', '', '', now(),
                now()
            FROM programs_conversion
            """
        )
        cursor.execute("ANALYZE")  # as autovacuum would (see above); not timed
        rewards = Reward.objects.count()
    write(
        f"{START}\n## Rewards\n\nRun in progress: accrued {accrued:,} conversions in "
        f"{accrue_s:,.1f} s ({CONVERSIONS / accrue_s:,.0f}/s, {WORKERS} processes, peak "
        f"{children_peak:.0f} MB per worker); the later steps had not finished.\n{END}"
    )
    connection.close()
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
        approved = sum(pool.map(approve_slice, [(tenant_id, i, WORKERS) for i in range(WORKERS)]))
    approved += approve_due(limit=20000)  # anything left, through the periodic job
    approve_s = time.perf_counter() - t0
    mem_before_payout = peak_mb()
    t0 = time.perf_counter()
    payouts = scheduled_payouts(today=timezone.localdate().replace(day=1))
    payout_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with tenant_scope(tenant):
        problems = verify()
        entries = LedgerEntry.objects.count()
        requested = PayoutRequest.objects.count()
    verify_s = time.perf_counter() - t0
    loads.append(("at the end", load_average()))

    rows = [
        ("setup (bulk insert, not measured work)", setup_s, "", ""),
        (
            f"accrue {CONVERSIONS:,} conversions ({WORKERS} processes)",
            accrue_s,
            f"{CONVERSIONS / accrue_s:,.0f} conversions/s",
            f"{children_peak:.0f} MB per worker",
        ),
        (
            f"approve {approved:,} rewards after the hold",
            approve_s,
            f"{approved / approve_s:,.0f} rewards/s",
            f"{mem_before_payout:.0f} MB",
        ),
        (
            f"monthly payout for {PARTNERS:,} partners",
            payout_s,
            f"{payouts / payout_s:,.0f} payouts/s",
            f"{peak_mb():.0f} MB",
        ),
        (f"verify the ledger ({entries:,} entries)", verify_s, "", f"{peak_mb():.0f} MB"),
    ]
    table = "\n".join(
        f"| {name} | {secs:,.1f} s | {rate} | {mem} |" for name, secs, rate, mem in rows
    )
    verdict = "no mismatch" if not problems else f"{len(problems)} mismatches"
    block_table = "\n".join(
        f"| {b + 1} | {'yes' if budget else 'no'} | {existing:,} | {n:,} | {secs:,.1f} s "
        f"| {n / secs:,.0f} | {statements} |"
        for b, budget, existing, n, secs, statements in blocks
    )
    reference_lines = "\n".join(f"- {name}: {rate:,.0f} rows/s" for name, rate in reference)
    load = "\n\nLoad average (1, 5, 15 min) " + ", ".join(f"{when}: {avg}" for when, avg in loads)
    load += f". {LOAD_NOTE}." if LOAD_NOTE else "."
    section = f"""{START}
## Rewards

Measured {datetime.date.today().isoformat()} on {os.cpu_count()} cores, Python
{platform.python_version()}, PostgreSQL on the same machine, {CONVERSIONS:,} conversions
and {PARTNERS:,} partners, with:

    make bench        # or: .venv/bin/python bench/rewards.py

| step | time | rate | peak memory (max RSS) |
|---|---|---|---|
{table}

{accrued:,} conversions accrued into {rewards:,} rewards (level 1, upline shares of
every tenth partner's recruiter, monthly bonuses); {payouts:,} scheduled payouts made
({requested:,} payout requests in all); ledger check: {verdict}.
Accrual is the set-based engine (rewards/services/accrual_batch.py, also what the
single-conversion job runs with a batch of one): batches of 1,000 conversions, one
transaction each, the conversions' partners locked in one statement, month volumes and
customer histories in one query, rules, bonus rules and rates loaded once, rewards and
ledger entries written with one COPY each; a budgeted program's running total charged
at the batch's end with one conditional update (rewards/services/budget.py), so its
batches hold that row only from the charge to the commit.

The accrual workers used {worker_cpu:,.1f} s of CPU in all (user + system, PostgreSQL's
own work not included): {worker_cpu * 1000 / (accrued / BATCH):,.0f} ms per batch of
{BATCH:,} conversions.

Accrual block by block (10 % of the conversions each, in occurred_at order):

| block | budget | rewards before | conversions | time | conversions/s | statements per batch |
|---|---|---:|---:|---:|---:|---:|
{block_table}

Reference, measured in the same run on the same server:
{reference_lines}{load}
{END}"""
    print(section)
    write(section)
    if problems:
        raise SystemExit(f"ledger mismatches: {problems[:5]}")


if __name__ == "__main__":
    main()
