"""Deal fields of a converted Lead: Salesforce makes a converted Lead read-only, and the
deal lives on as its Opportunity, so the "Reward on this lead" fields are written there
(the Opportunity carries custom fields of the same API names as the Lead's)."""

from __future__ import annotations

from typing import Any

from integrations.crm.base import CrmRecord


def opportunity_payload(record: CrmRecord, row: dict[str, Any]) -> dict[str, Any]:
    """The deal fields for the Opportunity the Lead ``row`` became; {} when it has none.
    Blank values are written too: a reward rejected to nothing clears the field."""
    opportunity = str(row.get("ConvertedOpportunityId") or "")
    changes = {key: record.values.get(key, "") or None for key in sorted(record.deal_keys)}
    if not opportunity or not changes:
        return {}
    return {"attributes": {"type": "Opportunity"}, "id": opportunity, **changes}
