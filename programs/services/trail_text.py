"""The texts stored in attribution trails. They are kept in English in the database
(a trail is a record) and translated when a page shows them: each is marked here with
gettext_noop so that it is in the catalogue, and templates use {% translate %} on it."""

from __future__ import annotations

from django.utils.translation import gettext_noop

UNKNOWN_CODE = gettext_noop("unknown code")
PROMO_DISABLED = gettext_noop("promo code is disabled")
OWNERSHIP_EXPIRED = gettext_noop("ownership window expired")
OUTSIDE_WINDOW = gettext_noop("outside the cookie window")
NOT_ENROLLED = gettext_noop("partner is not enrolled in this program")

PROGRAM_STATUS = {
    "draft": gettext_noop("program is draft"),
    "paused": gettext_noop("program is paused"),
    "archived": gettext_noop("program is archived"),
}
PARTNER_STATUS = {
    "pending": gettext_noop("partner is pending"),
    "blocked": gettext_noop("partner is blocked"),
}
ENROLLMENT_STATUS = {
    "pending": gettext_noop("enrollment is pending"),
    "rejected": gettext_noop("enrollment is rejected"),
}
CLICK_REJECTED = {
    "program_draft": gettext_noop("click rejected: program_draft"),
    "program_paused": gettext_noop("click rejected: program_paused"),
    "program_archived": gettext_noop("click rejected: program_archived"),
    "partner_pending": gettext_noop("click rejected: partner_pending"),
    "partner_blocked": gettext_noop("click rejected: partner_blocked"),
    "enrollment_pending": gettext_noop("click rejected: enrollment_pending"),
    "enrollment_rejected": gettext_noop("click rejected: enrollment_rejected"),
}
REASONS = {
    "promo_code": gettext_noop("A promo code was used; it outranks leads and cookies."),
    "lead_owner": gettext_noop("The customer is a lead this partner brought within the window."),
    "first_click": gettext_noop("The visitor's first click within the window."),
    "last_click": gettext_noop("The visitor's last click within the window."),
    "cookie": gettext_noop("The referral cookie on the customer's browser names this partner."),
    "none_eligible": gettext_noop("No eligible evidence: nobody is credited."),
    "no_evidence": gettext_noop("No referral evidence at all."),
    "registration": gettext_noop("The partner registered this deal in the cabinet."),
    "by_staff": gettext_noop("Staff credited this lead to the partner by hand."),
    "duplicate": gettext_noop(
        "Duplicate: this customer was already brought in; not credited twice."
    ),
}


def status_note(table: dict[str, str], status: str, fallback: str) -> str:
    return table.get(status, fallback)
