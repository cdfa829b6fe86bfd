"""The status ↔ stage rules (integrations/crm/stages.py) for every direction, source of
truth and conflict strategy: what the push moves and what an event sets. The checklist
(test_checklist.py) runs them against each fake CRM; this is the conflict matrix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.crm.stages import StageRules, stage_to_push, status_from_crm
from integrations.models import CrmFieldMap, CrmRecordLink, CrmStageMap
from programs.models import Lead

Direction, Master, Strategy = CrmFieldMap.Direction, CrmFieldMap.Master, CrmFieldMap.Strategy
T0 = datetime(2026, 12, 1, tzinfo=UTC)
STAGES = {"p:new": "new", "p:qual": "qualified", "p:lost": "rejected"}


def rules(direction: str = Direction.BOTH, master: str = Master.CRM, strategy: str = "master"):
    fmap = CrmFieldMap(
        prm_field="status", crm_field="stage", direction=direction, master=master, strategy=strategy
    )
    made = StageRules(fmap, default_pipeline="p")
    for key, status in STAGES.items():
        stage = CrmStageMap(pipeline_id="p", stage_id=key[2:], lead_status=status)
        made.by_key[("p", key[2:])] = stage
        made.by_status.setdefault(status, []).append(stage)
    return made


def world(ours: str, theirs_key: str, base: str | None, prm_at=T0, crm_at=T0):
    lead = Lead(status=ours, updated_at=prm_at)
    link = CrmRecordLink(
        stage=theirs_key,
        synced_values={} if base is None else {"status": base},
        remote_updated_at=crm_at,
    )
    return lead, link


@pytest.mark.parametrize(
    ("kw", "prm_at", "crm_at", "push", "take", "back"),
    [
        # (the map, when each side changed) -> the push moves to / the event sets / pushes back
        ({}, T0, T0, None, "rejected", False),  # CRM master: its move wins both ways
        ({"master": Master.PRM}, T0, T0, ("p", "qual"), "", True),
        ({"strategy": Strategy.LAST_WRITE}, T0 + timedelta(1), T0, ("p", "qual"), "", True),
        ({"strategy": Strategy.LAST_WRITE}, T0, T0 + timedelta(1), None, "rejected", False),
        ({"direction": Direction.TO_CRM}, T0, T0, ("p", "qual"), "", False),
        ({"direction": Direction.FROM_CRM}, T0, T0, None, "rejected", False),
    ],
)
def test_both_sides_moved_since_they_agreed(kw, prm_at, crm_at, push, take, back):
    """Agreed on "new"; PRM moved to qualified, the CRM to lost."""
    made = rules(**kw)
    lead, link = world("qualified", "p:new", "new", prm_at, crm_at)
    link_now = CrmRecordLink(
        stage="p:lost", synced_values={"status": "new"}, remote_updated_at=crm_at
    )
    assert stage_to_push(made, lead, link_now) == push
    assert status_from_crm(made, link, lead, "p:lost", "rejected", crm_at) == (take, back)


def test_one_side_moved():
    made = rules()
    # Only PRM moved: the push moves the deal; an event of the unchanged stage sets nothing.
    lead, link = world("qualified", "p:new", "new")
    assert stage_to_push(made, lead, link) == ("p", "qual")
    assert status_from_crm(made, link, lead, "p:new", "new", T0) == ("", False)
    # Only the CRM moved: the push leaves it; its event sets the status.
    lead, link = world("new", "p:new", "new")
    assert status_from_crm(made, link, lead, "p:qual", "qualified", T0) == ("qualified", False)
    link.stage, lead.status = "p:qual", "qualified"  # as the inbound pass leaves them
    assert stage_to_push(made, lead, link) is None
    # Agreeing sides, or a status no stage means: nothing moves.
    lead, link = world("qualified", "p:qual", "new")
    assert stage_to_push(made, lead, link) is None
    assert link.synced_values == {"status": "new"}
    lead, link = world("contacted", "p:new", "new")
    assert stage_to_push(made, lead, link) is None
    # A new record starts in the stage that means its status.
    assert stage_to_push(made, Lead(status="qualified"), None) == ("p", "qual")


def test_without_a_status_map_stages_only_set_the_status():
    made = rules()
    made.status_map = None
    lead, link = world("qualified", "p:new", "new")
    assert stage_to_push(made, lead, link) is None
    assert status_from_crm(made, link, lead, "p:lost", "rejected", T0) == ("rejected", False)
