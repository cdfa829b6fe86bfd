"""Signals other apps listen to when rewards change state.

Single changes append a LedgerEntry through ``rewards.services.ledger.post`` (its
post_save is enough to follow them); bulk paths write with ``bulk_create`` or
``update()``, which send no post_save, so they send ``rewards_changed`` instead, once
per batch, with the ids of the rewards they changed."""

from __future__ import annotations

from django.dispatch import Signal

# kwargs: tenant_id, reward_ids (a list). Sent inside the writing transaction; receivers
# that cause side effects defer them to transaction.on_commit.
rewards_changed = Signal()
# kwargs: tenant_id, partner_ids. Sent by the bulk paths that write ledger entries with
# ``bulk_create`` (the partners' balances moved), inside the writing transaction.
ledger_moved = Signal()
