"""The texts stored in attribution trails. They are kept in English in the database
(a trail is a record) and translated when a page shows them: each is marked here with
gettext_noop so that it is in the catalogue, and templates use {% translate %} on it."""

from __future__ import annotations

from django.utils.translation import gettext_noop as N

UNKNOWN_CODE = N("unknown code")
PROMO_DISABLED = N("promo code is disabled")
OWNERSHIP_EXPIRED = N("ownership window expired")
OUTSIDE_WINDOW = N("outside the cookie window")
NOT_ENROLLED = N("partner is not enrolled in this program")

PROGRAM_STATUS = {
    "draft": N("program is draft"),
    "paused": N("program is paused"),
    "archived": N("program is archived"),
}
PARTNER_STATUS = {
    "pending": N("partner is pending"),
    "blocked": N("partner is blocked"),
}
ENROLLMENT_STATUS = {
    "pending": N("enrollment is pending"),
    "rejected": N("enrollment is rejected"),
}
CLICK_REJECTED = {
    "program_draft": N("click rejected: program_draft"),
    "program_paused": N("click rejected: program_paused"),
    "program_archived": N("click rejected: program_archived"),
    "partner_pending": N("click rejected: partner_pending"),
    "partner_blocked": N("click rejected: partner_blocked"),
    "enrollment_pending": N("click rejected: enrollment_pending"),
    "enrollment_rejected": N("click rejected: enrollment_rejected"),
}
REASONS = {
    "promo_code": N("A promo code was used; it outranks leads and cookies."),
    "lead_owner": N("The customer is a lead this partner brought within the window."),
    "first_click": N("The visitor's first click within the window."),
    "last_click": N("The visitor's last click within the window."),
    "cookie": N("The referral cookie on the customer's browser names this partner."),
    "none_eligible": N("No eligible evidence: nobody is credited."),
    "no_evidence": N("No referral evidence at all."),
    "registration": N("The partner registered this deal in the cabinet."),
    "by_staff": N("Staff credited this lead to the partner by hand."),
    "duplicate": N("Duplicate: this customer was already brought in; not credited twice."),
}


def status_note(table: dict[str, str], status: str, fallback: str) -> str:
    return table.get(status, fallback)
