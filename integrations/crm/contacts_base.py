"""What a partner looks like on its way to a CRM contact (integrations/crm/partner_sync.py
builds these; integrations/crm/<provider>/contacts.py writes them)."""

from __future__ import annotations

from dataclasses import dataclass, field

# The custom field a CRM contact carries our partner id in, where the CRM has one
# (matched by its label, as leads carry "PRM lead id").
PARTNER_ID_LABEL = "PRM partner id"
CONTACT_BATCH = 50  # contacts per write request (amoCRM's and Bitrix24 batch's bound)


@dataclass
class ContactRecord:
    key: str  # our partner id
    name: str
    email: str = ""
    phone: str = ""
    tags: list[str] = field(default_factory=list)  # tag names, segments' tags included
    segments: list[str] = field(default_factory=list)  # names of the segments it is in
    crm_id: str = ""  # the contact already linked: update it, never create

    def summary(self) -> str:
        """The tags and segments as one line of text (for CRMs without contact tags)."""
        parts = []
        if self.tags:
            parts.append("Tags: " + ", ".join(self.tags))
        if self.segments:
            parts.append("Segments: " + ", ".join(self.segments))
        return "PRM partner. " + "; ".join(parts) if parts else "PRM partner."
