"""Signals other apps listen to (the CRM sync pushes partners as contacts)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent with ``tenant_id`` and ``partner_ids`` when partners' tags changed in bulk
# (bulk writes send no post_save).
partners_changed = Signal()
