"""What each kind of e-mail says, from its outbox rows (one, or several for a digest).

A builder returns a ``Message``; the one base template pair (emails/notifications/
base.html and base.txt) lays it out as HTML and as plain text. Builders run inside the
recipient's language and the tenant's scope, and read names (programs, partners,
payout methods) in one query per e-mail.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from prm.models import Tenant
from prm.notifications.kinds import Kind
from prm.notifications.models import Notification
from prm.public_urls import tenant_url
from rewards.templatetags.money import money

# A digest lists this many items, then says how many more there are.
DIGEST_LINES = 20


@dataclass
class Message:
    subject: str
    intro: str
    lines: list[str] = field(default_factory=list)
    more: int = 0
    reason: str = ""
    action_label: str = ""
    action_url: str = ""


def _url(tenant: Tenant, name: str, *args: Any) -> str:
    return tenant_url(tenant, reverse(name, args=args, urlconf="prm.urls_tenant"))


def _amount(payload: dict[str, Any]) -> str:
    return f"{money(payload.get('amount'))} {payload.get('currency', '')}".strip()


def _totals(rows: list[Notification]) -> str:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        sums[row.payload.get("currency", "")] += Decimal(row.payload.get("amount") or "0")
    return ", ".join(f"{money(total)} {cur}".strip() for cur, total in sorted(sums.items()))


def _names(model: Any, ids: set[str]) -> dict[str, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {
        str(pk): str(name)
        for pk, name in model.objects.filter(pk__in=ids).values_list("pk", "name")
    }


def _program_names(rows: list[Notification]) -> dict[str, str]:
    from programs.models import Program

    return _names(Program, {r.payload.get("program", "") for r in rows})


def _partner_names(rows: list[Notification]) -> dict[str, str]:
    from partners.models import PartnerProfile

    ids = {r.payload.get("partner", "") for r in rows} - {""}
    return {
        str(p.pk): str(p) for p in PartnerProfile.objects.select_related("user").filter(pk__in=ids)
    }


def _listed(rows: list[Notification], line: Callable[[Notification], str]) -> tuple[list[str], int]:
    return [line(r) for r in rows[:DIGEST_LINES]], max(len(rows) - DIGEST_LINES, 0)


def _application(tenant: Tenant, rows: list[Notification], kind: str) -> Message:
    row = rows[0]
    if kind == Kind.APPLICATION_APPROVED:
        if row.payload.get("before") == "blocked":
            intro = _("Your partner account at %(name)s is active again.")
        else:
            intro = _("Your application to become a partner of %(name)s is approved.")
        return Message(
            subject=_("%(name)s: you are in") % {"name": tenant.name},
            intro=intro % {"name": tenant.name},
            lines=[_("Join a program to get your referral link.")],
            action_label=_("Open your cabinet"),
            action_url=_url(tenant, "partners:home"),
        )
    if row.payload.get("before") == "pending":
        subject = _("%(name)s: your application was not accepted")
        intro = _("Your application to become a partner of %(name)s was not accepted.")
    else:
        subject = _("%(name)s: your partner account is blocked")
        intro = _("Your partner account at %(name)s is blocked.")
    return Message(
        subject=subject % {"name": tenant.name},
        intro=intro % {"name": tenant.name},
        reason=row.payload.get("reason", ""),
    )


def _enrollments(tenant: Tenant, rows: list[Notification], kind: str) -> Message:
    names = _program_names(rows)
    lines, more = _listed(
        rows,
        lambda r: (
            _("%(program)s, referral code %(code)s")
            % {
                "program": names.get(r.payload.get("program", ""), "?"),
                "code": r.payload.get("code"),
            }
        ),
    )
    return Message(
        subject=ngettext(
            "%(name)s: you were accepted into a program",
            "%(name)s: you were accepted into %(count)d programs",
            len(rows),
        )
        % {"name": tenant.name, "count": len(rows)},
        intro=_("You can now share your referral link and earn rewards:"),
        lines=lines,
        more=more,
        action_label=_("Your programs"),
        action_url=_url(tenant, "partners:programs"),
    )


def _rewards(tenant: Tenant, rows: list[Notification], kind: str) -> Message:
    names = _program_names(rows)
    count, total = len(rows), _totals(rows)
    lines, more = _listed(
        rows,
        lambda r: (
            f"{names.get(r.payload.get('program', ''), '?')}: {_amount(r.payload)}"
            + (
                f" ({r.payload['reason']})"
                if kind == Kind.REWARD_REJECTED and r.payload.get("reason")
                else ""
            )
        ),
    )
    if kind == Kind.REWARD_NEW:
        subject = ngettext(
            "%(name)s: a new reward of %(total)s",
            "%(name)s: %(count)d new rewards, %(total)s",
            count,
        )
        intro = _("You earned (on hold until approved):")
    elif kind == Kind.REWARD_APPROVED:
        subject = ngettext(
            "%(name)s: a reward of %(total)s approved",
            "%(name)s: %(count)d rewards approved, %(total)s",
            count,
        )
        intro = _("These rewards are approved and added to your available balance:")
    else:
        subject = ngettext(
            "%(name)s: a reward of %(total)s rejected",
            "%(name)s: %(count)d rewards rejected, %(total)s",
            count,
        )
        intro = _("These rewards were rejected:")
    reasons = {r.payload.get("reason", "") for r in rows}
    return Message(
        subject=subject % {"name": tenant.name, "count": count, "total": total},
        intro=intro,
        lines=lines,
        more=more,
        # One reason for all (a bulk rejection): said once, not on every line.
        reason=next(iter(reasons)) if kind == Kind.REWARD_REJECTED and len(reasons) == 1 else "",
        action_label=_("Your earnings"),
        action_url=_url(tenant, "partners:earnings"),
    )


def _payout(tenant: Tenant, rows: list[Notification], kind: str) -> Message:
    from rewards.models import PayoutMethod

    row = rows[0]
    p = row.payload
    method = _names(PayoutMethod, {p.get("method", "")}).get(p.get("method", ""), "")
    amount = _amount(p)
    texts = {
        Kind.PAYOUT_REQUESTED: (
            _("%(name)s: payout of %(amount)s requested"),
            _(
                "A payout of %(amount)s to %(method)s was requested. We will let you know "
                "when it is approved."
            ),
        ),
        Kind.PAYOUT_APPROVED: (
            _("%(name)s: payout of %(amount)s approved"),
            _("Your payout of %(amount)s to %(method)s is approved and will be paid soon."),
        ),
        Kind.PAYOUT_PAID: (
            _("%(name)s: payout of %(amount)s paid"),
            _("Your payout of %(amount)s to %(method)s was paid."),
        ),
        Kind.PAYOUT_RETURNED: (
            _("%(name)s: payout of %(amount)s returned"),
            _(
                "Your payout of %(amount)s to %(method)s was not made; the money is back "
                "in your available balance."
            ),
        ),
    }
    subject, intro = texts[kind]  # type: ignore[index]
    params = {"name": tenant.name, "amount": amount, "method": method}
    lines = []
    if Decimal(p.get("fee") or "0") > 0:
        lines.append(_("Fee: %(fee)s") % {"fee": f"{money(p['fee'])} {p.get('currency', '')}"})
    return Message(
        subject=subject % params,
        intro=intro % params,
        lines=lines,
        reason=p.get("reason", "") if kind == Kind.PAYOUT_RETURNED else "",
        action_label=_("Your payouts"),
        action_url=_url(tenant, "partners:payouts"),
    )


def _news(tenant: Tenant, rows: list[Notification], kind: str) -> Message:
    p = rows[0].payload
    return Message(
        subject=f"{tenant.name}: {p.get('title', '')}",
        intro=p.get("title", ""),
        lines=[p["summary"]] if p.get("summary") else [],
        action_label=_("Read it") if p.get("url") else "",
        action_url=p.get("url", ""),
    )


def _staff_applications(tenant: Tenant, rows: list[Notification], kind: str) -> Message:
    names = _partner_names(rows)
    lines, more = _listed(rows, lambda r: names.get(r.payload.get("partner", ""), "?"))
    return Message(
        subject=ngettext(
            "%(name)s: a new partner application",
            "%(name)s: %(count)d new partner applications",
            len(rows),
        )
        % {"name": tenant.name, "count": len(rows)},
        intro=_("Waiting for your approval:"),
        lines=lines,
        more=more,
        action_label=_("Open the partner list"),
        action_url=_url(tenant, "console:partners") + "?status=pending",
    )


def _staff_payouts(tenant: Tenant, rows: list[Notification], kind: str) -> Message:
    names = _partner_names(rows)
    lines, more = _listed(
        rows, lambda r: f"{names.get(r.payload.get('partner', ''), '?')}: {_amount(r.payload)}"
    )
    return Message(
        subject=ngettext(
            "%(name)s: a payout request of %(total)s",
            "%(name)s: %(count)d payout requests, %(total)s",
            len(rows),
        )
        % {"name": tenant.name, "count": len(rows), "total": _totals(rows)},
        intro=_("Waiting for approval:"),
        lines=lines,
        more=more,
        action_label=_("Open the payout queue"),
        action_url=_url(tenant, "console:payouts"),
    )


def _staff_crm(tenant: Tenant, rows: list[Notification], kind: str) -> Message:
    from integrations.crm.monitoring import LABELS
    from integrations.models.connection import Provider

    p = rows[0].payload
    crm = dict(Provider.choices).get(p.get("provider", ""), p.get("provider", ""))
    return Message(
        subject=_("%(name)s: %(crm)s sync needs attention") % {"name": tenant.name, "crm": crm},
        intro=_("The %(crm)s connection crossed a monitoring threshold:") % {"crm": crm},
        lines=[str(LABELS.get(n, n)) for n in p.get("problems", [])]
        + ([p["detail"]] if p.get("detail") else []),
        action_label=_("Open the connection"),
        action_url=_url(tenant, "console:integration_detail", p.get("provider", "")),
    )


def _staff_risk(tenant: Tenant, rows: list[Notification], kind: str) -> Message:
    from antifraud.models import RiskAssessment

    names = _partner_names(rows)
    subjects = dict(RiskAssessment.Subject.choices)
    levels = dict(RiskAssessment.Level.choices)
    lines, more = _listed(
        rows,
        lambda r: (
            _("%(subject)s of %(partner)s: %(level)s, score %(score)s")
            % {
                "subject": subjects.get(r.payload.get("subject"), ""),
                "partner": names.get(r.payload.get("partner", ""), "—"),
                "level": levels.get(r.payload.get("level"), ""),
                "score": r.payload.get("score"),
            }
        ),
    )
    return Message(
        subject=ngettext(
            "%(name)s: an item flagged for review",
            "%(name)s: %(count)d items flagged for review",
            len(rows),
        )
        % {"name": tenant.name, "count": len(rows)},
        intro=_("Antifraud held these until someone looks at them:"),
        lines=lines,
        more=more,
        action_label=_("Open the review queue"),
        action_url=_url(tenant, "console:antifraud"),
    )


def _staff_webhook(tenant: Tenant, rows: list[Notification], kind: str) -> Message:
    p = rows[0].payload
    return Message(
        subject=_("%(name)s: a webhook endpoint was turned off") % {"name": tenant.name},
        intro=_(
            "Every delivery to %(url)s has failed since %(since)s, so the endpoint was "
            "turned off. Fix the receiver, send a test event, then turn the endpoint on "
            "again: the deliveries still waiting resume."
        )
        % {"url": p.get("url", ""), "since": p.get("since", "")},
        action_label=_("Open the endpoint"),
        action_url=_url(tenant, "console:webhook_detail", p.get("endpoint", "")),
    )


BUILDERS: dict[str, Callable[[Tenant, list[Notification], str], Message]] = {
    Kind.APPLICATION_APPROVED: _application,
    Kind.APPLICATION_REJECTED: _application,
    Kind.ENROLLMENT_APPROVED: _enrollments,
    Kind.REWARD_NEW: _rewards,
    Kind.REWARD_APPROVED: _rewards,
    Kind.REWARD_REJECTED: _rewards,
    Kind.PAYOUT_REQUESTED: _payout,
    Kind.PAYOUT_APPROVED: _payout,
    Kind.PAYOUT_PAID: _payout,
    Kind.PAYOUT_RETURNED: _payout,
    Kind.NEWS_POST: _news,
    Kind.STAFF_APPLICATION: _staff_applications,
    Kind.STAFF_PAYOUT_REQUESTED: _staff_payouts,
    Kind.STAFF_CRM_ALERT: _staff_crm,
    Kind.STAFF_RISK_FLAGGED: _staff_risk,
    Kind.STAFF_WEBHOOK_DISABLED: _staff_webhook,
}


def build(tenant: Tenant, rows: list[Notification]) -> Message:
    kind = rows[0].kind
    return BUILDERS[kind](tenant, rows, kind)
