"""Every kind of notification e-mail: who receives it and whether it is digested.

A kind is registered here once; events (notifications.events) write rows of a kind,
the sender (notifications.sending) renders them with notifications.messages. Staff
kinds name the permission a member's role needs to receive them (prm.permissions), so
an e-mail never tells a role about something its console pages would not show it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from prm.permissions import Perm


class Kind(models.TextChoices):
    # To partners
    APPLICATION_APPROVED = "application_approved", _("Your application is approved")
    APPLICATION_REJECTED = "application_rejected", _("Your account is blocked or refused")
    ENROLLMENT_APPROVED = "enrollment_approved", _("You were accepted into a program")
    REWARD_NEW = "reward_new", _("New rewards")
    REWARD_APPROVED = "reward_approved", _("Rewards approved")
    REWARD_REJECTED = "reward_rejected", _("Rewards rejected")
    PAYOUT_REQUESTED = "payout_requested", _("Payout requested")
    PAYOUT_APPROVED = "payout_approved", _("Payout approved")
    PAYOUT_PAID = "payout_paid", pgettext_lazy("notification", "Payout paid")
    PAYOUT_RETURNED = "payout_returned", _("Payout rejected or returned")
    NEWS_POST = "news_post", _("News from the program")
    # To staff
    STAFF_APPLICATION = "staff_application", _("New partner applications")
    STAFF_PAYOUT_REQUESTED = "staff_payout_requested", _("New payout requests")
    STAFF_CRM_ALERT = "staff_crm_alert", _("CRM connection alerts")
    STAFF_RISK_FLAGGED = "staff_risk_flagged", _("Items flagged by antifraud")
    STAFF_WEBHOOK_DISABLED = "staff_webhook_disabled", _("Webhook endpoints turned off")


PARTNER, STAFF = "partner", "staff"


@dataclass(frozen=True)
class Spec:
    audience: str
    # Several rows of the kind for one recipient in one send run make one e-mail.
    digest: bool = False
    # Staff kinds: the permission a member's role needs to receive it.
    perm: Perm | None = None


SPECS: dict[str, Spec] = {
    Kind.APPLICATION_APPROVED: Spec(PARTNER),
    Kind.APPLICATION_REJECTED: Spec(PARTNER),
    Kind.ENROLLMENT_APPROVED: Spec(PARTNER, digest=True),
    Kind.REWARD_NEW: Spec(PARTNER, digest=True),
    Kind.REWARD_APPROVED: Spec(PARTNER, digest=True),
    Kind.REWARD_REJECTED: Spec(PARTNER, digest=True),
    Kind.PAYOUT_REQUESTED: Spec(PARTNER),
    Kind.PAYOUT_APPROVED: Spec(PARTNER),
    Kind.PAYOUT_PAID: Spec(PARTNER),
    Kind.PAYOUT_RETURNED: Spec(PARTNER),
    Kind.NEWS_POST: Spec(PARTNER),
    # Managers (and owners, admins) decide applications.
    Kind.STAFF_APPLICATION: Spec(STAFF, digest=True, perm=Perm.PARTNERS_MANAGE),
    # Finance (and owners, admins) approve payouts; the analyst only reads them.
    Kind.STAFF_PAYOUT_REQUESTED: Spec(STAFF, digest=True, perm=Perm.MONEY_MANAGE),
    # CRM connections are the owners' and admins' (credentials, settings).
    Kind.STAFF_CRM_ALERT: Spec(STAFF, perm=Perm.INTEGRATIONS_MANAGE),
    # Those who may release or reject what antifraud holds.
    Kind.STAFF_RISK_FLAGGED: Spec(STAFF, digest=True, perm=Perm.ANTIFRAUD_DECIDE),
    # Webhook endpoints are the owners' and admins' (secrets, URLs); the endpoint's
    # owner is told, or every admin when the owner is gone.
    Kind.STAFF_WEBHOOK_DISABLED: Spec(STAFF, perm=Perm.INTEGRATIONS_MANAGE),
}

PARTNER_KINDS = [k for k in Kind if SPECS[k].audience == PARTNER]
STAFF_KINDS = [k for k in Kind if SPECS[k].audience == STAFF]


def staff_kinds_for(role: str) -> list[Kind]:
    """The staff kinds a member with ``role`` receives (and may turn off)."""
    from prm.permissions import role_has

    return [k for k in STAFF_KINDS if role_has(role, SPECS[k].perm)]  # type: ignore[arg-type]
