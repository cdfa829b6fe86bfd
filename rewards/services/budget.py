"""A program's reward budget as the batch accrual spends it: charged once, at the end.

A batch works its rewards out without the budget's lock, as if the budget had no end,
and then adds what it made to the running total with one conditional update that
succeeds only if the total stays within the budget. If it does, no reward of the batch
can have needed capping (every prefix of the batch fits too), so the result is what
capping reward by reward under the lock would have given. If it does not, the batch
takes the lock, reads the room left and works its rewards out again, capping each one
(``accrue_conversions`` does that). Batches of one program thus hold its running-total
row only from their charge to their commit, instead of for the whole transaction.

The per-reward path (``accrual.lock_budget`` / ``accrual._budget_room``) stays for
single lead accruals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from programs.models import Program
from rewards.models import ProgramBudget, Reward
from rewards.services.ledger import ZERO

# The room a batch assumes before its charge: no reward is capped.
UNBOUNDED = Decimal("Infinity")


def budget_ensure(program: Program) -> None:
    """Make the program's running-total row, from what was spent before, the first time
    a budget applies; takes no lock when the row exists."""
    if program.reward_budget is None:
        return
    if ProgramBudget.objects.filter(program=program).exists():
        return
    spent = (
        Reward.objects.filter(program=program)
        .exclude(status=Reward.Status.REJECTED)
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    try:
        with transaction.atomic():
            ProgramBudget.objects.create(tenant_id=program.tenant_id, program=program, spent=spent)
    except IntegrityError:
        pass  # another accrual made it first


def budget_charge(programs: list[Program], added: dict[Any, Decimal]) -> bool:
    """Add ``added[program]`` to each program's running total, in primary-key order (so
    two batches never wait on each other's rows crosswise), if each total stays within
    its budget. False as soon as one would not: the caller rolls the charges back."""
    for program in sorted(programs, key=lambda p: p.pk):
        amount = added.get(program.pk, ZERO)
        if amount <= 0:
            continue
        assert program.reward_budget is not None
        charged = ProgramBudget.objects.filter(
            program=program, spent__lte=program.reward_budget - amount
        ).update(spent=F("spent") + amount)
        if not charged:
            return False
    return True


def budget_lock_rooms(programs: list[Program]) -> dict[Any, Decimal]:
    """Lock the programs' running totals (primary-key order) and return what each
    budget still allows."""
    spent = dict(
        ProgramBudget.objects.select_for_update()
        .filter(program_id__in=[p.pk for p in programs])
        .order_by("program_id")
        .values_list("program_id", "spent")
    )
    return {
        p.pk: max(p.reward_budget - spent.get(p.pk, ZERO), ZERO)  # type: ignore[operator]
        for p in programs
    }


def budget_add(programs: list[Program], added: dict[Any, Decimal]) -> None:
    """Add what a batch spent to the running totals it holds locked."""
    for program in sorted(programs, key=lambda p: p.pk):
        amount = added.get(program.pk, ZERO)
        if amount:
            ProgramBudget.objects.filter(program=program).update(spent=F("spent") + amount)
