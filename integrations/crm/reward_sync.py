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
from rewards.signals import ledger_moved, rewards_changed

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
    partner_batches = dict(_partners())
    _partners().clear()
    for tenant_id in partner_batches.keys() - {t for t, _ in batches}:
        batches.append((tenant_id, set()))
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
            lead_ids |= _partner_leads(active, partner_batches.get(tenant_id, set()), reward_ids)
            if lead_ids:
                leads_changed(tenant, sorted(lead_ids))


def _partner_leads(active: Any, partner_ids: set[Any], reward_ids: set[Any]) -> set[str]:
    """The CRM-linked leads of partners whose balances changed (a ledger movement, or
    rewards changed in bulk), where a connection writes those balances (optional
    fields; one query otherwise)."""
    from integrations.crm.reward_values import PARTNER_FIELDS
    from integrations.models import CrmFieldMap, CrmRecordLink
    from rewards.models import Reward

    if not partner_ids and not reward_ids:
        return set()
    writing = CrmFieldMap.objects.filter(
        connection__in=active, prm_field__in=list(PARTNER_FIELDS)
    ).exclude(crm_field="")
    connections = set(writing.values_list("connection_id", flat=True))
    if not connections:
        return set()
    if reward_ids:
        partner_ids = partner_ids | set(
            Reward.objects.filter(pk__in=list(reward_ids)).values_list("partner_id", flat=True)
        )
    return {
        str(lead_id)
        for lead_id in CrmRecordLink.objects.filter(
            connection_id__in=connections, lead__partner_id__in=list(partner_ids)
        ).values_list("lead_id", flat=True)
    }


def _partners() -> dict[Any, set[Any]]:
    if not hasattr(_local, "partners"):
        _local.partners = {}
    return _local.partners


def rewards_touched(tenant_id: Any, reward_ids: list[Any]) -> None:
    # Registered on every touch: after a rollback the callback is gone but the ids may
    # still sit here; the next commit's flush takes them (a lead pushed once more).
    _pending().setdefault(tenant_id, set()).update(reward_ids)
    transaction.on_commit(_flush)


@receiver(post_save, sender=LedgerEntry, dispatch_uid="crm_reward_entry")
def ledger_entry_saved(
    sender: type, instance: LedgerEntry, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw:
        # Any movement changes the partner's balances (payouts too, which have no reward).
        _partners().setdefault(instance.tenant_id, set()).add(instance.partner_id)
        if instance.reward_id:
            rewards_touched(instance.tenant_id, [instance.reward_id])
        else:
            transaction.on_commit(_flush)


@receiver(ledger_moved, dispatch_uid="crm_ledger_moved")
def ledger_moved_in_bulk(
    sender: type, tenant_id: Any, partner_ids: list[Any], **kwargs: Any
) -> None:
    if partner_ids:
        _partners().setdefault(tenant_id, set()).update(partner_ids)
        transaction.on_commit(_flush)


@receiver(rewards_changed, dispatch_uid="crm_rewards_changed")
def rewards_bulk_changed(
    sender: type, tenant_id: Any, reward_ids: list[Any], **kwargs: Any
) -> None:
    if reward_ids:
        rewards_touched(tenant_id, reward_ids)
