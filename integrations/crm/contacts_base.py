"""What a partner looks like on its way to a CRM contact (integrations/crm/partner_sync.py
builds these; integrations/crm/<provider>/contacts.py writes them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from integrations.crm.base import PushResult

# The custom field a CRM contact carries our partner id in, where the CRM has one
# (matched by its label, as leads carry "PRM lead id").
PARTNER_ID_LABEL = "PRM partner id"
CONTACT_BATCH = 50  # contacts per write request (amoCRM's and Bitrix24 batch's bound)
# Contact fields an admin may add to the CRM, found by label: our partner id, the
# partner's tags and segments (for CRMs without contact tags) and its balances (the
# same labels as the balance fields of leads).
CONTACT_LABELS = {
    "partner_id": PARTNER_ID_LABEL,
    "tags": "PRM partner tags",
    "partner_accrued": "PRM partner accrued",
    "partner_approved": "PRM partner approved",
    "partner_paid": "PRM partner paid",
}
BALANCES = ("partner_accrued", "partner_approved", "partner_paid")
_BALANCE_WORDS = {
    "partner_accrued": "On hold",
    "partner_approved": "Approved",
    "partner_paid": "Paid",
}


def fields_by_label(fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """{role: the CRM's field key} for the (key, label) pairs whose label is one of
    CONTACT_LABELS (case and surrounding spaces ignored); the first such field wins."""
    wanted = {label.lower(): role for role, label in CONTACT_LABELS.items()}
    found: dict[str, str] = {}
    for key, label in fields:
        role = wanted.get(str(label or "").strip().lower())
        if role and role not in found:
            found[role] = str(key)
    return found


ERASED_NAME = "Erased partner"


@dataclass
class ContactRecord:
    key: str  # our partner id
    name: str
    email: str = ""
    phone: str = ""
    tags: list[str] = field(default_factory=list)  # tag names, segments' tags included
    segments: list[str] = field(default_factory=list)  # names of the segments it is in
    # "150.00 USD; 0.00 EUR" per BALANCES role ('' when the ledger has nothing yet)
    balances: dict[str, str] = field(default_factory=dict)
    crm_id: str = ""  # the contact already linked: update it, never create
    erased: bool = False  # the partner was erased: the contact keeps nothing personal

    @property
    def first_name(self) -> str:
        first, _, rest = (self.name or "").strip().partition(" ")
        return first if rest.strip() else ""

    @property
    def last_name(self) -> str:
        """The name's last part (the whole name when it is one word; the e-mail when
        there is no name: CRMs that require a last name get one)."""
        first, _, rest = (self.name or "").strip().partition(" ")
        return rest.strip() or first or self.email or self.key

    def tag_line(self) -> str:
        parts = []
        if self.tags:
            parts.append("Tags: " + ", ".join(self.tags))
        if self.segments:
            parts.append("Segments: " + ", ".join(self.segments))
        return "; ".join(parts)

    def summary(self) -> str:
        """Tags, segments and balances as text, one line each (for CRMs without contact
        tags or a field for them)."""
        lines = ["PRM partner."]
        if self.tags:
            lines.append("Tags: " + ", ".join(self.tags))
        if self.segments:
            lines.append("Segments: " + ", ".join(self.segments))
        lines += [
            f"{_BALANCE_WORDS[role]}: {self.balances[role]}"
            for role in BALANCES
            if self.balances.get(role)
        ]
        return "\n".join(lines)


def retry_later(key: str, exc: Exception, *, sent: bool) -> PushResult:
    """The result of a contact a transient failure kept from the CRM (charged an
    attempt only when a request carrying it went out)."""
    return PushResult(
        key=key,
        ok=False,
        error_kind="retryable",
        error=str(exc)[:2000],
        retry_after=getattr(exc, "retry_after", 0.0),
        sent=sent,
    )


def stopped(
    results: dict[int, PushResult],
    records: list[ContactRecord],
    steps: list[tuple[str, list[int]]],
    failed_step: int,
    exc: Exception,
) -> None:
    """A write request failed transiently: its contacts were sent (charged an attempt),
    the later steps' were not; all wait for the next try."""
    for n, (_, indexes) in enumerate(steps[failed_step:]):
        for i in indexes:
            results[i] = retry_later(records[i].key, exc, sent=n == 0)
