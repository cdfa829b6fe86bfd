"""Reward changes reach the CRM: the lead a reward belongs to is pushed again (through
the same outbox, batching and throttle as any lead change) after the reward's
transaction commits, so its "Reward on this lead" fields follow created, approved,
rejected and reversed rewards.

Reward ids are collected during the transaction and resolved to leads in one query at
commit; a workspace without an active CRM costs one query per commit, nothing more."""

from __future__ import annotations

import threading
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from rewards.models import LedgerEntry
from rewards.signals import rewards_changed

_local = threading.local()


def _pending() -> dict[Any, set[Any]]:
    if not hasattr(_local, "rewards"):
        _local.rewards = {}
    return _local.rewards


def _flush() -> None:
    from django.db.models import Q

    from integrations.crm.engine import leads_changed
    from integrations.models import CrmConnection
    from prm.models import Tenant
    from prm.tenancy import tenant_scope
    from rewards.models import Reward

    batches = list(_pending().items())
    _pending().clear()
    for tenant_id, reward_ids in batches:
        active = CrmConnection.all_tenants_unscoped.filter(
            tenant_id=tenant_id, status=CrmConnection.Status.ACTIVE
        )
        if not active.exists():
            continue
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None:
            continue
        with tenant_scope(tenant):
            lead_ids = set()
            for lead_id, via_conversion in Reward.objects.filter(
                Q(lead_id__isnull=False) | Q(conversion__lead_id__isnull=False),
                pk__in=list(reward_ids),
            ).values_list("lead_id", "conversion__lead_id"):
                lead_ids.add(str(lead_id or via_conversion))
            if lead_ids:
                leads_changed(tenant, sorted(lead_ids))


def rewards_touched(tenant_id: Any, reward_ids: list[Any]) -> None:
    # Registered on every touch: after a rollback the callback is gone but the ids may
    # still sit here; the next commit's flush takes them (a lead pushed once more).
    _pending().setdefault(tenant_id, set()).update(reward_ids)
    transaction.on_commit(_flush)


@receiver(post_save, sender=LedgerEntry, dispatch_uid="crm_reward_entry")
def ledger_entry_saved(
    sender: type, instance: LedgerEntry, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw and instance.reward_id:
        rewards_touched(instance.tenant_id, [instance.reward_id])


@receiver(rewards_changed, dispatch_uid="crm_rewards_changed")
def rewards_bulk_changed(
    sender: type, tenant_id: Any, reward_ids: list[Any], **kwargs: Any
) -> None:
    if reward_ids:
        rewards_touched(tenant_id, reward_ids)
