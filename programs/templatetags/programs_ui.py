"""Template filters of the programs pages: attribution trails in words, masked contacts."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

EVIDENCE_LABELS = {
    "promo_code": _("Promo code"),
    "lead_owner": _("Lead owner"),
    "click": _("Click"),
    "cookie": _("Referral cookie"),
    "registration": _("Deal registration"),
    "rule": _("Rule applied"),
}
EVIDENCE_HELP = {
    "promo_code": _("A promo code used at checkout: the customer named the partner themselves."),
    "lead_owner": _("A partner who brought this customer as a lead within the ownership window."),
    "click": _(
        "The visitor's clicks on referral links within the cookie window, "
        "chosen by the program's first- or last-click rule."
    ),
    "cookie": _("The referral code kept in the snippet's cookie on the customer's browser."),
}
RULE_LABELS = {"first_click": _("First click"), "last_click": _("Last click")}


@register.filter
def evidence_label(kind: Any) -> Any:
    return EVIDENCE_LABELS.get(str(kind), kind)


@register.filter
def evidence_help(kind: Any) -> Any:
    return EVIDENCE_HELP.get(str(kind), "")


@register.filter
def rule_label(rule: Any) -> Any:
    return RULE_LABELS.get(str(rule), rule)


@register.filter
def mask_email(email: Any) -> str:
    """``alice@example.com`` → ``a***@example.com``: enough to recognise, not to copy."""
    local, at, domain = str(email or "").partition("@")
    if not at:
        return ""
    return f"{local[:1]}***@{domain}"


@register.filter
def mask_phone(phone: Any) -> str:
    """``+79123456789`` → ``+7*******89``."""
    phone = str(phone or "")
    if len(phone) < 6:
        return "*" * len(phone)
    return phone[:2] + "*" * (len(phone) - 4) + phone[-2:]


@register.filter
def iso_datetime(value: Any) -> Any:
    """An ISO timestamp stored in a trail, as a datetime for the ``date`` filter."""
    from django.utils.dateparse import parse_datetime

    try:
        return parse_datetime(str(value)) or value
    except ValueError:
        return value


@register.filter
def evidence_rows(trail: Any) -> list[dict[str, Any]]:
    """The trail's evidence, each with ``won`` set on the piece that got the credit."""
    if not isinstance(trail, dict):
        return []
    evidence = [item for item in trail.get("evidence") or [] if isinstance(item, dict)]
    winner = trail.get("winner") or {}
    via, partner_id = winner.get("via"), winner.get("partner_id")
    rows = [{**item, "won": False} for item in evidence]

    def is_candidate(row: dict[str, Any]) -> bool:
        return (
            row.get("type") == via
            and bool(row.get("eligible"))
            and row.get("partner_id", partner_id) == partner_id
        )

    candidates = [row for row in rows if is_candidate(row)]
    rule = next((row for row in rows if row.get("type") == "rule"), None)
    if via == "click" and rule is not None:
        # The rule names the chosen click's code; first or last click by time order.
        candidates = [row for row in candidates if row.get("code") == rule.get("code")]
        if candidates and rule.get("rule") != "first_click":
            candidates = candidates[::-1]
    if candidates:
        candidates[0]["won"] = True
    return rows
