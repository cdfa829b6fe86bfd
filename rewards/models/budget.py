from __future__ import annotations

from decimal import Decimal

from django.db import models

from prm.tenancy import TenantOwned


class ProgramBudget(TenantOwned):
    """The running total of a budgeted program's rewards (rejected ones excluded),
    updated with each reward, so an accrual reads one row instead of summing the
    program's history. Made (from that history, once) when a budget first applies."""

    program = models.OneToOneField(
        "programs.Program", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    spent = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
