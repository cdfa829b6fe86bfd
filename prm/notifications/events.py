"""The events that send e-mails, one function each, called where the change is written.

Each runs inside the transaction of its change and only writes outbox rows (see
notifications.services.notify); the e-mails go out after commit. Payloads keep ids and
the figures of the moment; names are read when the e-mail is rendered. Event keys are
the announced row's id wherever one exists, so the same change announced twice (a
retried job, accrual run again, a rescore) is one e-mail.

Hooks (one place per event):

- partners.services.partner_join → ``application_received`` (staff)
- partners.services.partner_set_status → ``partner_status_changed``
- programs.services.enrollments.enrollment_set_status → ``enrollment_approved``
- rewards.services.accrual._create and accrual_batch.accrue_conversions →
  ``rewards_created``
- rewards.services.approvals.reward_approve and approve_batch → ``rewards_approved``;
  ``_reject_locked`` (every rejection) → ``reward_rejected``
- rewards.services.payouts: payout_request and scheduled_batch → ``payouts_requested``
  (partner and staff); payout_approve, payout_mark_paid, payout_reject →
  ``payout_decided``
- integrations.crm.monitoring._send → ``crm_alert``
- antifraud.services.scoring._store → ``risk_flagged``
- the news feature (to come) → ``news_posted``
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prm.notifications.kinds import Kind
from prm.notifications.services import notify, notify_staff

if TYPE_CHECKING:
    from partners.models import PartnerProfile
    from prm.models import Tenant


def _partner_users(partner_ids: Iterable[Any]) -> dict[Any, Any]:
    """partner id → user id of the current tenant's partners (erased ones get nothing)."""
    from partners.models import PartnerProfile

    return dict(
        PartnerProfile.objects.filter(pk__in=set(partner_ids), erased_at__isnull=True)
        .order_by()
        .values_list("pk", "user_id")
    )


def _to_partners(tenant: Tenant, kind: Kind, events: list[tuple[Any, str, dict[str, Any]]]) -> int:
    """``(partner id, event key, payload)`` → rows for the partners' users."""
    if not events:
        return 0
    users = _partner_users(p for p, _, _ in events)
    return notify(
        tenant=tenant,
        kind=kind,
        items=[(users.get(p), key, payload) for p, key, payload in events],
    )


def application_received(*, partner: PartnerProfile) -> None:
    """A partner signed up and waits for approval: to those who approve partners."""
    notify_staff(
        tenant=partner.tenant,
        kind=Kind.STAFF_APPLICATION,
        events=[(str(partner.pk), {"partner": str(partner.pk)})],
    )


def partner_status_changed(
    *, partner: PartnerProfile, before: str, after: str, reason: str = ""
) -> None:
    """Approved (or unblocked), or blocked / refused with ``reason``."""
    from partners.models import PartnerProfile

    if after == PartnerProfile.Status.ACTIVE:
        kind = Kind.APPLICATION_APPROVED
    elif after in (PartnerProfile.Status.BLOCKED, PartnerProfile.Status.REJECTED):
        kind = Kind.APPLICATION_REJECTED
    else:
        return
    # Each change is its own event (block, unblock, block again); the service writes it
    # once, under its conditional status change.
    key = f"{partner.pk}:{after}:{uuid.uuid4().hex}"
    _to_partners(
        partner.tenant,
        kind,
        [(partner.pk, key, {"before": before, "reason": reason[:300]})],
    )


def enrollment_approved(*, enrollment: Any) -> None:
    _to_partners(
        enrollment.tenant,
        Kind.ENROLLMENT_APPROVED,
        [
            (
                enrollment.partner_id,
                str(enrollment.pk),
                {"program": str(enrollment.program_id), "code": enrollment.code},
            )
        ],
    )


def _reward_payload(reward: Any, reason: str = "") -> dict[str, Any]:
    return {
        "amount": str(reward.amount),
        "currency": reward.currency,
        "program": str(reward.program_id),
        "reward_kind": reward.kind,
        "reason": reason[:300],
    }


def rewards_created(*, tenant: Tenant, rewards: Iterable[Any]) -> None:
    _to_partners(
        tenant,
        Kind.REWARD_NEW,
        [(r.partner_id, str(r.pk), _reward_payload(r)) for r in rewards],
    )


def rewards_approved(*, tenant: Tenant, rewards: Iterable[Any]) -> None:
    _to_partners(
        tenant,
        Kind.REWARD_APPROVED,
        [(r.partner_id, str(r.pk), _reward_payload(r, r.reason or "")) for r in rewards],
    )


def reward_rejected(*, reward: Any, reason: str) -> None:
    _to_partners(
        reward.tenant,
        Kind.REWARD_REJECTED,
        [(reward.partner_id, str(reward.pk), _reward_payload(reward, reason))],
    )


def _payout_payload(payout: Any) -> dict[str, Any]:
    return {
        "amount": str(payout.amount),
        "fee": str(payout.fee),
        "currency": payout.currency,
        "method": str(payout.method_id),
        "partner": str(payout.partner_id),
        "reason": (payout.reason or "")[:300],
        "scheduled": bool(payout.scheduled),
    }


def payouts_requested(*, tenant: Tenant, payouts: list[Any]) -> None:
    """To the partners who asked (or whose schedule asked), and to finance."""
    _to_partners(
        tenant,
        Kind.PAYOUT_REQUESTED,
        [(p.partner_id, str(p.pk), _payout_payload(p)) for p in payouts],
    )
    notify_staff(
        tenant=tenant,
        kind=Kind.STAFF_PAYOUT_REQUESTED,
        events=[(str(p.pk), _payout_payload(p)) for p in payouts],
    )


def payout_decided(*, payout: Any, kind: Kind) -> None:
    """Approved, paid, or rejected / failed at the provider (the money is back)."""
    assert kind in (Kind.PAYOUT_APPROVED, Kind.PAYOUT_PAID, Kind.PAYOUT_RETURNED)
    _to_partners(
        payout.tenant, kind, [(payout.partner_id, str(payout.pk), _payout_payload(payout))]
    )


def crm_alert(*, crm: Any, problems: list[str], detail: str = "") -> None:
    """A monitoring threshold newly crossed, a broken connection, refused records. The
    monitor decides when (once per crossing); each call is one event."""
    from django.utils import timezone

    notify_staff(
        tenant=crm.tenant,
        kind=Kind.STAFF_CRM_ALERT,
        events=[
            (
                f"{crm.pk}:{'+'.join(problems)}:{timezone.now().isoformat()}",
                {"provider": crm.provider, "problems": problems, "detail": detail[:500]},
            )
        ],
    )


def risk_flagged(*, tenant: Tenant, assessments: Iterable[Any]) -> None:
    """Leads, conversions and partners that reached review or reject. One e-mail per
    assessment and level: a rescore at the same level announces nothing again."""
    notify_staff(
        tenant=tenant,
        kind=Kind.STAFF_RISK_FLAGGED,
        events=[
            (
                f"{a.pk}:{a.level}",
                {
                    "assessment": a.pk,
                    "subject": a.subject,
                    "level": a.level,
                    "score": a.score,
                    "partner": str(a.partner_id or ""),
                },
            )
            for a in assessments
        ],
    )


def news_posted(
    *,
    tenant: Tenant,
    post_id: Any,
    title: str,
    summary: str = "",
    url: str = "",
    partner_ids: Iterable[Any] | None = None,
) -> int:
    """For the news feature: announce a published post to its partners (all active
    partners of the workspace unless ``partner_ids`` narrows it). Call it in the
    transaction that publishes the post; publishing twice sends once per partner."""
    from partners.models import PartnerProfile

    partners = PartnerProfile.objects.filter(status=PartnerProfile.Status.ACTIVE)
    if partner_ids is not None:
        partners = partners.filter(pk__in=list(partner_ids))
    payload = {"title": title[:200], "summary": summary[:1000], "url": url[:500]}
    return _to_partners(
        tenant,
        Kind.NEWS_POST,
        [(pk, str(post_id), payload) for pk in partners.values_list("pk", flat=True)],
    )
