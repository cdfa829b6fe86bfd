"""A lead's status and its CRM deal's stage, both ways.

The stage map (console, "Stages") says which lead status each CRM stage means; the
"status" field map (console, "Fields") says in which direction the two follow each
other, which side is the source of truth and what a conflict does, like any other
field. Both sides remember what they last agreed on: the link's ``stage`` (the CRM's
stage as last seen) and ``synced_values["status"]`` (the status both then meant).

- PRM → CRM (the push): a status changed here moves the deal to a stage that means it
  (in the deal's current pipeline if one does), unless the CRM moved the deal too since
  they agreed and the conflict rule gives it the win.
- CRM → PRM (an event or the poll): a stage moved in the CRM sets the status it means,
  unless the status changed here too and the conflict rule gives this side the win (the
  deal is then pushed back to our stage).

A connection without a "status" map (made before it existed) keeps the older rule: CRM
stages set the status, the status never moves the deal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from integrations.models import CrmConnection, CrmFieldMap, CrmRecordLink, CrmStageMap
from programs.models import Lead

STATUS = "status"  # the PrmField and the synced_values key
STAGE_FIELD = "stage"  # the status map's CRM side: the deal's stage, not a CRM field
WON_LOST = {"won": Lead.Status.CONVERTED, "lost": Lead.Status.REJECTED}


@dataclass
class StageRules:
    """A connection's stage map and status field map, read once per job or chunk."""

    status_map: CrmFieldMap | None
    by_key: dict[tuple[str, str], CrmStageMap] = field(default_factory=dict)
    by_status: dict[str, list[CrmStageMap]] = field(default_factory=dict)
    default_pipeline: str = ""

    @classmethod
    def of(cls, crm: CrmConnection) -> StageRules:
        status_map = (
            CrmFieldMap.objects.filter(connection=crm, prm_field=STATUS)
            .exclude(crm_field="")
            .first()
        )
        rules = cls(status_map, default_pipeline=str(crm.settings.get("pipeline_id") or ""))
        for stage in CrmStageMap.objects.filter(connection=crm):
            rules.by_key[(stage.pipeline_id, stage.stage_id)] = stage
            if stage.lead_status:
                rules.by_status.setdefault(stage.lead_status, []).append(stage)
        return rules

    def status_of(self, pipeline_id: str, stage_id: str, semantic: str = "") -> str:
        """The lead status a CRM stage means ('' if none)."""
        mapped = self.by_key.get((pipeline_id, stage_id))
        if mapped and mapped.lead_status:
            return mapped.lead_status
        return WON_LOST.get(semantic or (mapped.semantic if mapped else ""), "")

    def status_of_key(self, stage_key: str) -> str:
        pipeline_id, _, stage_id = stage_key.partition(":")
        return self.status_of(pipeline_id, stage_id) if stage_key else ""

    def stage_for(self, status: str, current_key: str = "") -> tuple[str, str] | None:
        """A stage that means ``status``: in the deal's current pipeline if one does,
        else in the connection's default pipeline, else the first mapped."""
        candidates = self.by_status.get(status) or []
        if not candidates:
            return None
        pipeline = current_key.partition(":")[0] or self.default_pipeline
        chosen = next((s for s in candidates if s.pipeline_id == pipeline), candidates[0])
        return chosen.pipeline_id, chosen.stage_id


def _prm_wins(fmap: CrmFieldMap, prm_at: datetime | None, crm_at: datetime | None) -> bool:
    """Both sides changed since they agreed: does our status win?"""
    if fmap.strategy == CrmFieldMap.Strategy.LAST_WRITE:
        return crm_at is None or (prm_at is not None and prm_at > crm_at)
    return fmap.master == CrmFieldMap.Master.PRM


def stage_to_push(
    rules: StageRules, lead: Lead, link: CrmRecordLink | None
) -> tuple[str, str] | None:
    """The stage the push moves the deal to, or None to leave it where it is."""
    fmap = rules.status_map
    if fmap is None or not fmap.pushes:
        return None
    ours = lead.status
    if link is None:  # created now: in the stage that means its status, if one does
        return rules.stage_for(ours)
    theirs = rules.status_of_key(link.stage)
    if theirs == ours:
        return None
    if fmap.pulls:
        base = link.synced_values.get(STATUS)
        if base is not None and ours == base:
            return None  # only the CRM moved: its event brings the stage here
        crm_moved = base is not None and theirs != "" and theirs != base
        if crm_moved and not _prm_wins(fmap, lead.updated_at, link.remote_updated_at):
            return None
    return rules.stage_for(ours, link.stage)


def agreed_status(
    rules: StageRules, lead: Lead, link: CrmRecordLink | None, pushed: tuple[str, str] | None
) -> str | None:
    """The status both sides mean after a push (None: they still differ)."""
    if rules.status_map is None:
        return None
    if pushed is not None:
        return lead.status
    if link is not None and rules.status_of_key(link.stage) == lead.status:
        return lead.status
    return None


def status_from_crm(
    rules: StageRules,
    link: CrmRecordLink,
    lead: Lead,
    stage_key: str,
    status: str,
    crm_at: datetime | None,
) -> tuple[str, bool]:
    """What a stage read from the CRM does here: (the status to set or '', whether to
    push our status back). ``link.stage`` is still the stage seen before this one."""
    crm_moved = link.stage != stage_key
    fmap = rules.status_map
    if fmap is None:  # the older rule: CRM → PRM only
        return (status if status and lead.status != status and crm_moved else ""), False
    if not status:
        return "", False
    if lead.status == status:
        link.synced_values = {**link.synced_values, STATUS: status}
        return "", False
    if not fmap.pulls or not crm_moved:
        return "", False  # the status changed here only: the push takes it there
    base = link.synced_values.get(STATUS)
    prm_moved = base is not None and lead.status != base
    if prm_moved and _prm_wins(fmap, lead.updated_at, crm_at):
        return "", fmap.pushes
    link.synced_values = {**link.synced_values, STATUS: status}
    return status, False
