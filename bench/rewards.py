"""Rewards benchmark: `make bench` (or `python bench/rewards.py`).

On a fresh PostgreSQL database of its own: 10,000 partners and 100,000 attributed
conversions (bulk-inserted; their creation is not what is measured), then
1. accrue the rewards of every conversion through the real job function
   (rewards.services.accrual.accrue_conversion), in BENCH_ACCRUAL_WORKERS processes
   like RQ workers would;
2. approve every reward whose hold ended (rewards.services.approvals.approve_due);
3. run the monthly scheduled payout for the 10,000 partners
   (rewards.services.payouts.scheduled_payouts);
4. verify the ledger (rewards.services.verify).
Each step's wall time and the process's peak memory (max RSS) go into the "Rewards"
section of BENCHMARKS.md.

Knobs: BENCH_REWARDS_DATABASE_URL (postgres://postgres@127.0.0.1:5432/prm_bench_rewards,
dropped and created), BENCH_CONVERSIONS (100000), BENCH_PARTNERS (10000),
BENCH_ACCRUAL_WORKERS (2), BENCH_WRITE (1).
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
WORKERS = int(os.environ.get("BENCH_ACCRUAL_WORKERS", "2"))
WRITE = os.environ.get("BENCH_WRITE", "1") == "1"

os.environ.update(
    DJANGO_SETTINGS_MODULE="prm.settings",
    DATABASE_URL=DATABASE_URL,
    DEBUG="0",
    SECRET_KEY="bench-only-" + "s" * 40,
    LOG_LEVEL="WARNING",
)
os.environ.pop("REDIS_URL", None)  # jobs are called directly; no queue in between


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
        program = Program.objects.create(
            tenant=tenant,
            name="Bench",
            currency="USD",
            status="active",
            landing_urls="https://shop.example/",
            hold_days=0,
            levels=2,
            level_percents=[10],
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
                Enrollment(tenant=tenant, program=program, partner=p, code=f"C{i}")
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
                    program=program,
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
    return str(tenant.pk), str(program.pk)


def accrue_slice(args: tuple[str, int, int]) -> int:
    import django

    django.setup()
    from prm.models import Tenant
    from prm.tenancy import tenant_scope
    from programs.models import Conversion
    from rewards.services.accrual import accrue_conversion

    tenant_id, index, count = args
    tenant = Tenant.objects.get(pk=tenant_id)
    done = 0
    with tenant_scope(tenant):
        ids = Conversion.objects.order_by("occurred_at").values_list("pk", flat=True)
        for n, pk in enumerate(ids.iterator(chunk_size=5000)):
            if n % count == index:
                accrue_conversion(conversion_id=str(pk))
                done += 1
    return done


def approve_slice(args: tuple[str, int, int]) -> int:
    """Approve the due rewards of one partition with the same service approve_due uses."""
    import django

    django.setup()
    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from prm.models import Tenant
    from prm.tenancy import tenant_scope
    from rewards.models import Reward
    from rewards.services.approvals import reward_approve

    tenant_id, index, count = args
    tenant = Tenant.objects.get(pk=tenant_id)
    done = 0
    with tenant_scope(tenant):
        due = Reward.objects.select_related("partner", "tenant").filter(
            status=Reward.Status.PENDING, flagged=False, available_at__lte=timezone.now()
        )
        for n, reward in enumerate(due.order_by("pk").iterator(chunk_size=2000)):
            if n % count != index:
                continue
            try:
                reward_approve(reward=reward)
            except ValidationError:
                continue
            done += 1
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
    psql("DROP DATABASE IF EXISTS prm_bench_rewards")
    psql("CREATE DATABASE prm_bench_rewards")
    t0 = time.perf_counter()
    tenant_id, _ = setup()
    setup_s = time.perf_counter() - t0

    from django.db import connection

    connection.close()  # not shared with the forked workers
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
        accrued = sum(pool.map(accrue_slice, [(tenant_id, i, WORKERS) for i in range(WORKERS)]))
    accrue_s = time.perf_counter() - t0
    import resource as r

    children_peak = r.getrusage(r.RUSAGE_CHILDREN).ru_maxrss / 1024

    from django.utils import timezone

    from prm.models import Tenant
    from prm.tenancy import tenant_scope
    from rewards.models import LedgerEntry, PayoutRequest, Reward
    from rewards.services.approvals import approve_due
    from rewards.services.payouts import scheduled_payouts
    from rewards.services.verify import verify

    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
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
    section = f"""{START}
## Rewards

Measured {datetime.date.today().isoformat()} on {os.cpu_count()} cores, Python
{platform.python_version()}, PostgreSQL on the same machine, with:

    make bench        # or: .venv/bin/python bench/rewards.py

| step | time | rate | peak memory (max RSS) |
|---|---|---|---|
{table}

{accrued:,} conversions accrued into {rewards:,} rewards (level 1, upline shares of
every tenth partner's recruiter, monthly bonuses); {payouts:,} scheduled payouts made
({requested:,} payout requests in all); ledger check: {verdict}.
Each accrual is the real job: it reads the rule, the partner's month (tiers, caps,
bonuses), locks the partner, writes the reward and its ledger entry, and the upline's.
{END}"""
    print(section)
    write(section)
    if problems:
        raise SystemExit(f"ledger mismatches: {problems[:5]}")


if __name__ == "__main__":
    main()
