"""Each event sends exactly one e-mail to the right people, in their language, once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import django_rq
import pytest
from django.core import mail
from django.utils import timezone

from partners.models import PartnerProfile
from partners.services import partner_join, partner_set_status
from prm.models import Role
from prm.notifications.kinds import Kind
from prm.notifications.models import Notification, NotificationPreference
from prm.notifications.sending import retry_failed
from prm.notifications.services import batching
from programs.models import Conversion, Enrollment, Program
from programs.services.enrollments import enrollment_create, enrollment_set_status
from rewards.models import PayoutDetails, PayoutMethod, Reward
from rewards.services.accrual import accrue_conversion
from rewards.services.approvals import approve_batch, reward_reject
from rewards.services.payouts import (
    payout_approve,
    payout_mark_paid,
    payout_reject,
    payout_request,
    scheduled_batch,
)
from tests.factories import MembershipFactory, UserFactory
from tests.notifications.conftest import to
from tests.prm.conftest import BurstWorker
from tests.rewards.console_world import IBAN, details
from tests.rewards.helpers import sale


def html_of(message) -> str:  # type: ignore[no-untyped-def]
    return next(body for body, mime in message.alternatives if mime == "text/html")


@pytest.fixture
def staff(acme):  # type: ignore[no-untyped-def]
    return {
        role: MembershipFactory(
            tenant=acme, role=role, user=UserFactory(email=f"{role.value}@acme.test")
        ).user
        for role in Role
    }


def test_a_new_reward_is_one_email_to_its_partner_in_their_language(
    program, alice, bob, committed, outbox
):
    conversion = committed(sale, program=program, partner=alice, amount="1234.50")
    [message] = outbox
    assert message.to == ["alice@example.test"]
    # Alice chose Russian: the HTML says so, and the amount has Russian separators.
    assert 'lang="ru"' in html_of(message)
    assert "246,90 USD" in message.body
    assert message.from_email == "Acme <noreply@prm.localhost>"
    assert "/notifications/unsubscribe/" in message.extra_headers["List-Unsubscribe"]
    committed(sale, program=program, partner=bob, amount="100")
    assert to("bob@example.test")[0].body.count("20.00 USD") == 1  # English: the workspace's
    assert 'lang="en"' in html_of(to("bob@example.test")[0])
    # Accrual run again (a retried job): nothing new, nothing sent.
    committed(accrue_conversion, conversion_id=str(conversion.pk))
    assert len(outbox) == 2
    assert Notification.objects.filter(kind=Kind.REWARD_NEW).count() == 2


def test_a_kind_turned_off_is_not_sent_and_is_recorded_as_skipped(
    acme, program, bob, committed, outbox
):
    NotificationPreference.objects.create(tenant=acme, user=bob.user, muted=[Kind.REWARD_NEW])
    committed(sale, program=program, partner=bob)
    assert outbox == []
    assert Notification.objects.get(kind=Kind.REWARD_NEW).status == Notification.Status.SKIPPED


def test_bulk_approval_is_one_digest_per_partner(acme, program, alice, bob, committed, outbox):
    for _ in range(25):
        sale(program, bob, "10")
    sale(program, alice, "10")
    ids = list(Reward.objects.values_list("pk", flat=True))
    outbox.clear()

    def approve() -> None:
        with batching():
            approve_batch(tenant=acme, reward_ids=ids[:13], scored_only=False)
            approve_batch(tenant=acme, reward_ids=ids[13:], scored_only=False)

    committed(approve)
    assert sorted(m.to[0] for m in outbox) == ["alice@example.test", "bob@example.test"]
    [digest] = to("bob@example.test")
    assert "25" in digest.subject and "50.00 USD" in digest.subject
    assert digest.body.count("Pro plan: 2.00 USD") == 20  # then "and 5 more"
    assert "and 5 more" in digest.body
    assert (
        Notification.objects.filter(
            kind=Kind.REWARD_APPROVED, status=Notification.Status.SENT
        ).count()
        == 26
    )


def test_a_rejected_reward_tells_the_reason(program, bob, committed, outbox):
    sale(program, bob, "10")
    reward = Reward.objects.get()
    outbox.clear()
    committed(reward_reject, reward=reward, actor=None, reason="Self-referral")
    [message] = outbox
    assert "Self-referral" in message.body and "Self-referral" in html_of(message)


@pytest.fixture
def card(acme, bob):  # type: ignore[no-untyped-def]
    method = PayoutMethod.objects.create(
        tenant=acme, kind="bank", name="Bank", currency="USD", fee_fixed=Decimal("1")
    )
    details(acme, bob, method, IBAN)
    return method


def test_payouts_tell_the_partner_each_step_and_only_money_staff_the_request(
    acme, program, bob, card, staff, committed, outbox
):
    sale(program, bob, "500")
    approve_batch(
        tenant=acme, reward_ids=list(Reward.objects.values_list("pk", flat=True)), scored_only=False
    )
    outbox.clear()
    payout = committed(payout_request, tenant=acme, partner=bob, method=card, amount=Decimal("50"))
    assert len(to("bob@example.test")) == 1
    assert "50.00 USD" in to("bob@example.test")[0].subject
    staff_told = sorted(a for m in outbox for a in m.to if a != "bob@example.test")
    assert staff_told == ["admin@acme.test", "finance@acme.test", "owner@acme.test"]
    outbox.clear()
    committed(payout_approve, payout=payout, actor=staff[Role.FINANCE])
    committed(payout_mark_paid, payout=payout, actor=staff[Role.FINANCE])
    assert [m.to for m in outbox] == [["bob@example.test"]] * 2
    assert "approved" in outbox[0].subject and "paid" in outbox[1].subject
    second = committed(payout_request, tenant=acme, partner=bob, method=card, amount=Decimal("20"))
    outbox.clear()
    committed(payout_reject, payout=second, actor=staff[Role.FINANCE], reason="Wrong IBAN")
    [returned] = outbox
    assert "Wrong IBAN" in returned.body and "returned" in returned.subject


def test_scheduled_payouts_of_a_run_are_one_email_per_finance_member(
    acme, program, alice, bob, card, staff, committed, outbox
):
    details(acme, alice, card, IBAN)
    for partner in (alice, bob):
        sale(program, partner, "500")
    approve_batch(
        tenant=acme, reward_ids=list(Reward.objects.values_list("pk", flat=True)), scored_only=False
    )
    outbox.clear()
    card.schedule = PayoutMethod.Schedule.MONTHLY
    card.save()
    rows = list(PayoutDetails.objects.filter(method=card).order_by("partner_id"))

    def run() -> None:
        with batching():
            scheduled_batch(method=card, details=rows[:1], today=timezone.localdate())
            scheduled_batch(method=card, details=rows[1:], today=timezone.localdate())

    committed(run)
    finance = to("finance@acme.test")
    assert len(finance) == 1 and "2 payout requests" in finance[0].subject
    assert len(to("alice@example.test")) == len(to("bob@example.test")) == 1
    assert to("manager@acme.test") == [] and to("analyst@acme.test") == []


def test_applications_go_to_those_who_approve_partners(acme, staff, committed, outbox):
    acme.partner_signup_open = False
    acme.save()
    user = UserFactory(email="newbie@example.test")
    profile = committed(partner_join, tenant=acme, user=user, display_name="Newbie")
    told = sorted(a for m in outbox for a in m.to)
    assert told == ["admin@acme.test", "manager@acme.test", "owner@acme.test"]
    assert "Newbie" in outbox[0].body
    outbox.clear()
    committed(
        partner_set_status, tenant=acme, actor=staff[Role.MANAGER], partner=profile, status="active"
    )
    [approved] = outbox
    assert approved.to == ["newbie@example.test"] and "approved" in approved.body
    outbox.clear()
    committed(
        partner_set_status,
        tenant=acme,
        actor=staff[Role.MANAGER],
        partner=profile,
        status=PartnerProfile.Status.BLOCKED,
        reason="Spam traffic",
    )
    [blocked] = outbox
    assert "blocked" in blocked.subject and "Spam traffic" in blocked.body
    # The same status again changes nothing and sends nothing.
    committed(
        partner_set_status,
        tenant=acme,
        actor=staff[Role.MANAGER],
        partner=profile,
        status="blocked",
    )
    assert len(outbox) == 1


def test_an_approved_enrollment_is_announced(acme, bob, staff, committed, outbox):
    program = Program.objects.create(
        tenant=acme,
        name="VIP",
        currency="USD",
        join_policy=Program.JoinPolicy.APPROVAL,
        status=Program.Status.ACTIVE,
        landing_urls="https://shop.example.com/",
    )
    enrollment = enrollment_create(tenant=acme, program=program, partner=bob, code="BOBVIP")
    assert enrollment.status == Enrollment.Status.PENDING
    outbox.clear()
    committed(
        enrollment_set_status,
        tenant=acme,
        enrollment=enrollment,
        status="active",
        actor=staff[Role.MANAGER],
    )
    [message] = outbox
    assert message.to == ["bob@example.test"] and "VIP, referral code BOBVIP" in message.body


def test_the_rq_path_sends_through_a_real_worker(program, bob, committed, outbox, settings):
    settings.PRM_JOBS_INLINE = False
    django_rq.get_queue("default").empty()
    committed(sale, program=program, partner=bob, accrue=False)
    conversion = Conversion.objects.get()
    committed(accrue_conversion, conversion_id=str(conversion.pk))
    assert outbox == []  # waiting in Redis
    queue = django_rq.get_queue("default")
    BurstWorker([queue], connection=queue.connection).work(burst=True)
    assert [m.to for m in outbox] == [["bob@example.test"]]
    BurstWorker([queue], connection=queue.connection).work(burst=True)
    assert len(outbox) == 1


def test_a_failed_send_is_retried_later_and_sent_once(program, bob, committed, outbox, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", 9, False
    settings.EMAIL_TIMEOUT = 2
    committed(sale, program=program, partner=bob)
    row = Notification.objects.get()
    assert row.status == Notification.Status.FAILED and row.attempts == 1 and row.error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert retry_failed() == 0  # not yet: it waits its backoff
    Notification.objects.filter(pk=row.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    assert retry_failed() == 1
    assert retry_failed() == 0
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT and row.attempts == 2
    assert len(mail.outbox) == 1
