"""Ledger invariants: every balance and every reward and payout must add up.

Each invariant is one aggregate query that returns only the rows breaking it, so the
check costs PostgreSQL's scan, not a Python object per entry: it runs as a job
(``ledger_check_run``), scheduled nightly and on demand from the console, and the page
shows the last result.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from prm.models import Tenant
from prm.tenancy import tenant_scope
from rewards.models import LedgerCheck, LedgerEntry, PayoutRequest, Reward
from rewards.services.approvals import clawback_due
from rewards.services.ledger import ZERO

# Which balance columns each kind may move, and in which direction (+1/-1; 0 = either).
SIGNS: dict[str, dict[str, int]] = {
    "accrual": {"pending": +1},
    "hold": {},
    "approval": {"pending": -1, "available": +1},
    "rejection": {"pending": -1},
    "adjustment": {"available": 0},
    "penalty": {"available": -1},
    "clawback": {"pending": -1, "available": -1},
    "payout": {"available": -1, "processing": +1},
    "payout_return": {"available": +1, "processing": -1},
    "fee": {"processing": -1},
    "payout_paid": {"processing": -1, "paid": +1},
}
COLUMNS = ("pending", "available", "processing", "paid")
# Enough to act on; a ledger with more mismatches than this has one cause to find.
MAX_PER_CHECK = 200
MONEY = DecimalField(max_digits=16, decimal_places=2)


def _sum(expression: str | F, **condition: object) -> Coalesce:
    flt = Q(**condition) if condition else None
    return Coalesce(Sum(expression, filter=flt), Value(ZERO), output_field=MONEY)


def _bad_movement(kind: str, column: str, sign: int | None) -> Q:
    if sign is None:  # this kind never moves this column
        return Q(kind=kind) & ~Q(**{column: 0})
    if sign > 0:
        return Q(kind=kind, **{f"{column}__lt": 0})
    if sign < 0:
        return Q(kind=kind, **{f"{column}__gt": 0})
    return Q(pk__in=[])  # either direction is fine


def check_entries() -> list[str]:
    """Every entry moves only the columns its kind may move, in their direction."""
    wrong = Q(pk__in=[])
    for kind, allowed in SIGNS.items():
        for column in COLUMNS:
            wrong |= _bad_movement(kind, column, allowed.get(column))
    wrong |= ~Q(kind__in=list(SIGNS))
    problems = []
    for entry in LedgerEntry.objects.filter(wrong).values("pk", "kind", *COLUMNS)[:MAX_PER_CHECK]:
        allowed = SIGNS.get(entry["kind"])
        if allowed is None:
            problems.append(f"entry {entry['pk']}: unknown kind {entry['kind']}")
            continue
        for column in COLUMNS:
            value, sign = entry[column], allowed.get(column)
            if value and (sign is None or (sign and (value > 0) != (sign > 0))):
                problems.append(f"entry {entry['pk']} ({entry['kind']}): {column} moved by {value}")
    return problems


def _rewards_with_sums() -> QuerySet[Reward]:
    return Reward.objects.annotate(
        accruals=Count("entries", filter=Q(entries__kind="accrual")),
        accrued=_sum("entries__pending", entries__kind="accrual"),
        decided=Count("entries", filter=Q(entries__kind__in=["approval", "rejection"])),
        pending_left=_sum("entries__pending"),
        clawed=-_sum(F("entries__pending") + F("entries__available"), entries__kind="clawback"),
    )


def check_rewards() -> list[str]:
    """Each reward accrued once for its amount, decided at most once, its pending money
    matching its status, never clawed back beyond its amount."""
    pending = Q(status=Reward.Status.PENDING)
    broken = (
        ~Q(accruals=1)
        | ~Q(accrued=F("amount"))
        | Q(decided__gt=1)
        | (pending & Q(pending_left__lt=0))
        | (~pending & ~Q(pending_left=0))
        | (pending & ~Q(decided=0))
        | (~pending & Q(decided=0))
        | Q(clawed__gt=F("amount"))
    )
    problems = []
    rows = (
        _rewards_with_sums()
        .filter(broken)
        .values(
            "pk", "status", "amount", "accruals", "accrued", "decided", "pending_left", "clawed"
        )
    )
    for r in rows[:MAX_PER_CHECK]:
        pk = r["pk"]
        if r["accruals"] != 1:
            problems.append(f"reward {pk}: {r['accruals']} accruals")
            continue
        if r["accrued"] != r["amount"]:
            problems.append(f"reward {pk}: accrual {r['accrued']} != {r['amount']}")
        if r["decided"] > 1:
            problems.append(f"reward {pk}: approved/rejected {r['decided']} times")
        is_pending = r["status"] == Reward.Status.PENDING
        if is_pending and r["pending_left"] < 0:
            problems.append(f"reward {pk}: negative pending {r['pending_left']}")
        if not is_pending and r["pending_left"] != 0:
            problems.append(f"reward {pk} is {r['status']} but {r['pending_left']} still pending")
        if is_pending != (r["decided"] == 0):
            problems.append(f"reward {pk}: status {r['status']} vs {r['decided']} decisions")
        if r["clawed"] > r["amount"]:
            problems.append(f"reward {pk}: clawed back {r['clawed']} of {r['amount']}")
    return problems


def check_refunds() -> list[str]:
    """Every refund's share was taken back, to the cent, whichever of the accrual and
    the clawback jobs ran first. Only rewards of refunded conversions are read."""
    problems = []
    rows = (
        _rewards_with_sums()
        .filter(conversion__refunded_amount__gt=0)
        .exclude(status=Reward.Status.REJECTED)
        .select_related("conversion")
        .only("pk", "amount", "conversion__amount", "conversion__refunded_amount")
    )
    for reward in rows.iterator(chunk_size=2000):
        due = clawback_due(reward, reward.conversion)  # type: ignore[arg-type]
        if reward.clawed != due:  # type: ignore[attr-defined]
            conversion = reward.conversion
            problems.append(
                f"reward {reward.pk}: clawed back {reward.clawed}, but the refunds of "  # type: ignore[attr-defined]
                f"{conversion.refunded_amount} of {conversion.amount} take {due}"  # type: ignore[union-attr]
            )
            if len(problems) >= MAX_PER_CHECK:
                break
    return problems


def check_payouts() -> list[str]:
    """Every payout's money is where its status says."""
    S = PayoutRequest.Status
    sound = (
        (Q(status__in=[S.REQUESTED, S.APPROVED]) & Q(processing_sum=F("amount"), paid_sum=0))
        | (Q(status=S.PAID) & Q(processing_sum=0, paid_sum=F("amount") - F("fee")))
        | (Q(status__in=[S.REJECTED, S.FAILED]) & Q(processing_sum=0, paid_sum=0))
    )
    rows = (
        PayoutRequest.objects.annotate(
            processing_sum=_sum("entries__processing"), paid_sum=_sum("entries__paid")
        )
        .exclude(sound)
        .values("pk", "status", "amount", "fee", "processing_sum", "paid_sum")
    )
    problems = []
    for p in rows[:MAX_PER_CHECK]:
        expected = {
            S.REQUESTED: (p["amount"], ZERO),
            S.APPROVED: (p["amount"], ZERO),
            S.PAID: (ZERO, p["amount"] - p["fee"]),
            S.REJECTED: (ZERO, ZERO),
            S.FAILED: (ZERO, ZERO),
        }[S(p["status"])]
        got = (p["processing_sum"], p["paid_sum"])
        problems.append(f"payout {p['pk']} ({p['status']}): processing/paid {got} != {expected}")
    return problems


def check_balances() -> list[str]:
    """No partner's pending, processing or paid balance is below zero."""
    rows = (
        LedgerEntry.objects.values("partner_id", "currency")
        .annotate(pending=Sum("pending"), processing=Sum("processing"), paid=Sum("paid"))
        .filter(Q(pending__lt=0) | Q(processing__lt=0) | Q(paid__lt=0))
        .order_by()
    )
    problems = []
    for row in rows[:MAX_PER_CHECK]:
        for column in ("pending", "processing", "paid"):
            if row[column] < 0:
                problems.append(
                    f"partner {row['partner_id']} {row['currency']}: {column} is {row[column]}"
                )
    return problems


CHECKS: tuple[Callable[[], list[str]], ...] = (
    check_entries,
    check_rewards,
    check_refunds,
    check_payouts,
    check_balances,
)


def verify(progress: Callable[[int, int], None] | None = None) -> list[str]:
    """All mismatches in the active tenant's ledger (an empty list means it is sound)."""
    problems: list[str] = []
    for done, check in enumerate(CHECKS, start=1):
        problems += check()
        if progress is not None:
            progress(done, len(CHECKS))
    return problems


def ledger_check_start(*, tenant: Tenant, actor: object | None = None) -> LedgerCheck:
    """Queue a check of the tenant's ledger (one at a time: a running one is reused)."""
    from prm.jobs import job_enqueue

    running = LedgerCheck.objects.filter(
        status__in=[LedgerCheck.Status.QUEUED, LedgerCheck.Status.RUNNING]
    ).first()
    if running is not None:
        return running
    check = LedgerCheck.objects.create(tenant=tenant, requested_by=actor)  # type: ignore[misc]
    job_enqueue("rewards.services.verify.ledger_check_run", tenant=tenant, check_id=str(check.pk))
    return check


def ledger_check_run(*, check_id: str) -> int:
    """Job: run every check, saving the progress after each, then the result."""
    check = LedgerCheck.objects.filter(pk=check_id).first()
    if check is None or check.status == LedgerCheck.Status.DONE:
        return 0
    LedgerCheck.objects.filter(pk=check.pk).update(
        status=LedgerCheck.Status.RUNNING, started_at=timezone.now(), progress=0
    )

    def progress(done: int, total: int) -> None:
        LedgerCheck.objects.filter(pk=check.pk).update(progress=round(100 * done / total))

    try:
        problems = verify(progress)
    except Exception:
        LedgerCheck.objects.filter(pk=check.pk).update(
            status=LedgerCheck.Status.FAILED, finished_at=timezone.now()
        )
        raise
    LedgerCheck.objects.filter(pk=check.pk).update(
        status=LedgerCheck.Status.DONE,
        finished_at=timezone.now(),
        progress=100,
        problem_count=len(problems),
        problems=problems[: MAX_PER_CHECK * len(CHECKS)],
    )
    return len(problems)


def ledger_check_all() -> int:
    """Periodic (nightly): check every active tenant's ledger."""
    count = 0
    for tenant in Tenant.objects.filter(is_active=True):
        with tenant_scope(tenant):
            check = LedgerCheck.objects.create(tenant=tenant)
            ledger_check_run(check_id=str(check.pk))
            count += 1
    return count
