"""Cabinet money pages: earnings, payout details, withdrawals and monthly statements."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from partners.models import PartnerProfile
from prm.crypto import decrypt
from prm.models import AuditEntry
from programs.services.enrollments import enrollment_create
from rewards.models import LedgerEntry, PayoutDetails, PayoutMethod, PayoutRequest, Reward
from rewards.payout_details import CARD_CHECKSUM, IBAN_CHECKSUM
from rewards.services.approvals import ledger_adjust, reward_approve, reward_hold, reward_reject
from rewards.services.ledger import balance
from rewards.services.payouts import (
    payout_approve,
    payout_mark_paid,
    payout_reject,
    payout_request,
)
from rewards.statements import month_entries, month_of, monthly_statement
from tests.factories import PartnerFactory, UserFactory
from tests.programs.helpers import messages_of, profile_of
from tests.rewards.helpers import D, make_program, rule, sale

CARD = "4242 4242 4242 4242"
IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture
def program(in_acme):
    p = make_program(in_acme, name="Pro", hold_days=30, levels=2, level_percents=[10])
    rule(p, value=D("10"), referred_reward="discount", referred_value=D("15"))
    return p


@pytest.fixture
def alice(in_acme, program, partner):
    profile = profile_of(in_acme, partner)
    enrollment_create(tenant=in_acme, program=program, partner=profile, code="ALICE")
    return profile


@pytest.fixture
def bob(in_acme, program):
    profile = PartnerFactory(
        tenant=in_acme, display_name="Bob", user=UserFactory(email="bob@example.test")
    )
    enrollment_create(tenant=in_acme, program=program, partner=profile, code="BOB")
    return profile


@pytest.fixture
def card(in_acme):
    return PayoutMethod.objects.create(
        tenant=in_acme,
        kind=PayoutMethod.Kind.CARD,
        name="Visa card",
        currency="USD",
        fee_fixed=D("1.00"),
        fee_percent=D("2"),
        minimum=D("20"),
    )


@pytest.fixture
def iban(in_acme):
    return PayoutMethod.objects.create(
        tenant=in_acme, kind=PayoutMethod.Kind.BANK, name="SEPA", currency="EUR"
    )


def earn(program, partner, amount="1000"):
    """A sale whose reward is approved at once: 10 % of ``amount`` becomes available."""
    conversion = sale(program, partner, amount)
    reward = Reward.objects.get(conversion=conversion, partner=partner)
    reward_approve(reward=reward)
    return reward


def add_card(partner, method, number="4242424242424242"):
    return PayoutDetails.objects.create(
        tenant=partner.tenant,
        partner=partner,
        method=method,
        encrypted="x",
        masked=f"•••• {number[-4:]}",
    )


def section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    end = html.find("</section>", start)
    return html[start:end]


# /earnings/


def test_it_shows_balances_rewards_in_every_state_and_the_statement(
    client_for, partner, program, alice
):
    earn(program, alice, "1000")  # 100 approved
    sale(program, alice, "200")  # 20 on hold
    rejected = Reward.objects.get(conversion=sale(program, alice, "300"))
    reward_reject(reward=rejected, actor=None, reason="The order was cancelled.")
    held = Reward.objects.get(conversion=sale(program, alice, "400"))
    reward_hold(reward=held, reason="velocity rule 7 tripped")
    html = client_for(partner).get("/earnings/").content.decode()

    balances = html[html.index('id="balances"') : html.index('id="recruiting"')]
    assert "100.00 USD" in balances  # available
    assert "60.00 USD" in balances  # on hold: 20 + 40 (held)
    rewards = section(html, "rewards")
    assert "Approved" in rewards
    on_hold_until = Reward.objects.get(amount=D("20.00")).available_at.strftime("%Y-%m-%d")
    assert f"On hold until {on_hold_until}" in rewards
    assert "Rejected" in rewards and "The order was cancelled." in rewards
    assert "Held for review" in rewards
    assert "velocity rule 7" not in html  # antifraud notes stay in the console
    assert "your own" in rewards
    ledger = section(html, "ledger")
    for words in (
        "Reward earned, on hold",
        "Reward approved: now available",
        "Reward rejected",
        "Reward held for review",
    ):
        assert words in ledger


def test_it_shows_the_recruit_link_recruits_and_upline_rewards(
    client_for, in_acme, partner, program, alice
):
    recruit = PartnerFactory(tenant=in_acme, recruited_by=alice)
    enrollment_create(tenant=in_acme, program=program, partner=recruit, code="CAROL")
    sale(program, recruit, "1000")  # 100 to Carol, 10 % of that to Alice
    html = client_for(partner).get("/earnings/").content.decode()
    link = section(html, "recruiting")
    assert f"http://acme.localhost/recruit/{alice.recruit_code}/" in link
    assert "You have recruited 1 partner." in link
    rewards = section(html, "rewards")
    assert "from your recruit" in rewards and "10.00 USD" in rewards


def test_it_tells_what_referred_customers_get_per_program(
    client_for, in_acme, partner, program, alice
):
    plain = make_program(in_acme, name="Basic")
    rule(plain, value=D("5"))
    enrollment_create(tenant=in_acme, program=plain, partner=alice, code="ALICE2")
    credit = make_program(in_acme, name="Credits", currency="EUR")
    rule(credit, referred_reward="credit", referred_value=D("25"))
    enrollment_create(tenant=in_acme, program=credit, partner=alice, code="ALICE3")
    offers = section(client_for(partner).get("/earnings/").content.decode(), "referred-offers")
    assert "A 15% discount with your promo code." in offers
    assert "25 EUR of account credit." in offers
    assert "Nothing extra" in offers


def test_a_negative_available_balance_is_netted_against_future_earnings(
    client_for, in_acme, partner, owner, program, alice
):
    ledger_adjust(
        tenant=in_acme,
        partner=alice,
        currency="USD",
        amount=D("12.50"),
        kind=LedgerEntry.Kind.PENALTY,
        reason="Brand bidding in search ads.",
        actor=owner,
        key="penalty-1",
    )
    html = client_for(partner).get("/earnings/").content.decode()
    balances = html[html.index('id="balances"') : html.index('id="recruiting"')]
    assert "-12.50 USD" in balances
    assert "to be netted against future earnings" in balances
    ledger = section(html, "ledger")
    assert "Penalty" in ledger and "Brand bidding in search ads." in ledger


def test_the_earnings_page_has_a_query_budget(
    client_for, partner, program, alice, django_assert_max_num_queries
):
    for _ in range(5):
        earn(program, alice, "100")
        sale(program, alice, "100")
    client = client_for(partner)
    # +1: the menu's unread-news count (partners.news).
    with django_assert_max_num_queries(13):
        response = client.get("/earnings/")
    assert response.status_code == 200


# /payouts/


def test_it_lists_methods_masked_details_history_and_statement_months(
    client_for, partner, owner, program, alice, card, iban
):
    earn(program, alice, "3000")  # 300 available
    details = add_card(alice, card)
    paid = payout_request(tenant=alice.tenant, partner=alice, method=card, amount=D("100"))
    payout_approve(payout=paid, actor=owner)
    payout_mark_paid(payout=paid, actor=owner)
    rejected = payout_request(tenant=alice.tenant, partner=alice, method=card, amount=D("50"))
    payout_reject(payout=rejected, actor=owner, reason="The card was declined.")
    failed = payout_request(tenant=alice.tenant, partner=alice, method=card, amount=D("40"))
    payout_approve(payout=failed, actor=owner)
    payout_reject(payout=failed, actor=None, reason="Provider error 51.", failed=True)
    approved = payout_request(tenant=alice.tenant, partner=alice, method=card, amount=D("30"))
    payout_approve(payout=approved, actor=owner)
    payout_request(tenant=alice.tenant, partner=alice, method=card, amount=D("20"))
    html = client_for(partner).get("/payouts/").content.decode()

    methods = section(html, "payout-details")
    assert "Visa card" in methods and "SEPA" in methods
    assert details.masked in methods
    assert "not added yet" in methods  # SEPA
    history = section(html, "payout-history")
    assert history.count("<tr data-payout") == 5
    assert f"on {paid.paid_at:%Y-%m-%d}" in history
    assert "The card was declined." in history and "Provider error 51." in history
    for status in ("Requested", "Approved", "Rejected", "Failed"):
        assert status in history
    assert "97.00 USD" in history  # 100 less 1 + 2 %
    months = section(html, "statements")
    assert f'href="/payouts/statement.pdf?month={paid.created_at:%Y-%m}"' in months
    withdraw = section(html, "withdraw")
    assert 'value="150.00"' in withdraw  # the available balance, by default


def test_the_payouts_page_has_a_query_budget(
    client_for, partner, owner, program, alice, card, iban, django_assert_max_num_queries
):
    earn(program, alice, "3000")
    add_card(alice, card)
    for _ in range(5):
        payout_request(tenant=alice.tenant, partner=alice, method=card, amount=D("20"))
    client = client_for(partner)
    # +1: the menu's unread-news count (partners.news); +1: the courses that must be
    # passed before a payout (partners.training, one query whatever their number).
    with django_assert_max_num_queries(15):
        response = client.get("/payouts/")
    assert response.status_code == 200


def test_card_details_are_stored_encrypted_and_shown_masked(client_for, partner, alice, card):
    client = client_for(partner)
    response = client.post(
        f"/payouts/details/{card.pk}/",
        {f"details-{card.pk}-account": CARD, f"details-{card.pk}-holder": "Alice Smith"},
    )
    assert response.status_code == 302
    assert messages_of(response) == ["Payout details for Visa card saved."]
    details = PayoutDetails.objects.get(partner=alice, method=card)
    assert details.masked == "•••• 4242"
    assert details.holder == "Alice Smith"
    assert "4242424242424242" not in details.encrypted
    assert decrypt(details.encrypted) == "4242424242424242"
    html = client.get("/payouts/").content.decode()
    assert "•••• 4242" in html
    assert "4242424242424242" not in html and CARD not in html
    [entry] = AuditEntry.all_tenants_unscoped.filter(action="payout_details.set")
    assert entry.after["masked"] == "•••• 4242" and "4242424242424242" not in str(entry.after)


def test_saving_details_again_replaces_them(client_for, partner, alice, card):
    client = client_for(partner)
    client.post(f"/payouts/details/{card.pk}/", {f"details-{card.pk}-account": CARD})
    client.post(f"/payouts/details/{card.pk}/", {f"details-{card.pk}-account": "5555555555554444"})
    [details] = PayoutDetails.objects.filter(partner=alice)
    assert details.masked == "•••• 4444"
    assert decrypt(details.encrypted) == "5555555555554444"
    assert "Replace details" in client.get("/payouts/").content.decode()


@pytest.mark.parametrize(
    ("method", "value", "error"),
    [
        ("card", "4242 4242 4242 4241", CARD_CHECKSUM),
        ("iban", "DE89 3704 0044 0532 0130 01", IBAN_CHECKSUM),
        ("card", "", "Enter your payout details."),
    ],
)
def test_invalid_details_are_refused_with_the_error_on_the_field(
    request, client_for, partner, alice, method, value, error
):
    method = request.getfixturevalue(method)
    response = client_for(partner).post(
        f"/payouts/details/{method.pk}/", {f"details-{method.pk}-account": value}
    )
    assert response.status_code == 200
    html = response.content.decode()
    block = html[html.index(f'id="method-{method.pk}"') :]
    field = block[block.index('class="field has-error"') : block.index("</form>")]
    assert f'<p class="error">{error}</p>' in field
    assert not PayoutDetails.objects.filter(partner=alice).exists()


def test_details_of_an_inactive_or_unknown_method_are_a_404(client_for, partner, alice, card):
    card.is_active = False
    card.save()
    client = client_for(partner)
    data = {f"details-{card.pk}-account": CARD}
    assert client.post(f"/payouts/details/{card.pk}/", data).status_code == 404
    assert client.post("/payouts/details/not-a-uuid/", data).status_code == 404


# Withdrawals


def test_a_withdrawal_is_confirmed_with_its_fee_then_requested_once(
    client_for, partner, program, alice, card
):
    earn(program, alice, "1000")  # 100 available
    add_card(alice, card)
    client = client_for(partner)
    step = client.post("/payouts/withdraw/", {"method": card.pk, "amount": "80"})
    assert step.status_code == 200
    html = step.content.decode()
    confirm = section(html, "confirm-payout")
    assert "80.00 USD" in confirm
    assert "2.60 USD" in confirm  # 1 + 2 %
    assert "77.40 USD" in confirm
    assert not PayoutRequest.objects.exists()  # nothing happens before "Confirm"
    token = html.split('name="token" value="')[1].split('"')[0]
    data = {"method": card.pk, "amount": "80.00", "token": token}

    response = client.post("/payouts/withdraw/confirm/", data)
    assert response.status_code == 302 and response["Location"] == "/payouts/"
    assert messages_of(response) == [
        "Payout of 80.00 USD requested. You will see here when it is paid."
    ]
    again = client.post("/payouts/withdraw/confirm/", data)  # a double click
    assert messages_of(again)[-1] == "This withdrawal was already requested."
    [payout] = PayoutRequest.objects.all()
    assert (payout.partner, payout.amount, payout.fee, payout.status) == (
        alice,
        D("80.00"),
        D("2.60"),
        PayoutRequest.Status.REQUESTED,
    )
    assert payout.details_masked == "•••• 4242"
    assert balance(alice, "USD").available == D("20.00")
    history = section(client.get("/payouts/").content.decode(), "payout-history")
    assert "Requested" in history


def withdrawal_errors(response) -> str:
    html = response.content.decode()
    return section(html, "withdraw")


def test_a_withdrawal_above_the_balance_is_refused(client_for, partner, program, alice, card):
    earn(program, alice, "300")  # 30 available
    add_card(alice, card)
    client = client_for(partner)
    step = client.post("/payouts/withdraw/", {"method": card.pk, "amount": "30.01"})
    assert "You can withdraw at most 30.00 USD." in withdrawal_errors(step)
    # The final step checks again (a tampered form, or money spent meanwhile).
    cache.clear()
    data = {"method": card.pk, "amount": "30.01", "token": "t" * 32}
    response = client.post("/payouts/withdraw/confirm/", data)
    assert response.status_code == 200
    assert "You can withdraw at most 30.00 USD." in withdrawal_errors(response)
    assert not PayoutRequest.objects.exists()


def test_a_second_confirmation_that_would_overdraw_is_refused(
    client_for, partner, program, alice, card
):
    earn(program, alice, "500")  # 50 available
    add_card(alice, card)
    client = client_for(partner)
    first = {"method": card.pk, "amount": "40", "token": "a" * 32}
    second = {"method": card.pk, "amount": "40", "token": "b" * 32}
    assert client.post("/payouts/withdraw/confirm/", first).status_code == 302
    response = client.post("/payouts/withdraw/confirm/", second)
    assert "You can withdraw at most 10.00 USD." in withdrawal_errors(response)
    assert PayoutRequest.objects.count() == 1


def test_a_withdrawal_below_the_minimum_or_without_details_is_refused(
    client_for, partner, program, alice, card, iban
):
    earn(program, alice, "1000")
    add_card(alice, card)
    client = client_for(partner)
    below = client.post("/payouts/withdraw/", {"method": card.pk, "amount": "19.99"})
    assert "The minimum payout for this method is 20.00 USD." in withdrawal_errors(below)
    no_details = client.post("/payouts/withdraw/", {"method": iban.pk, "amount": "10"})
    assert "Add your payout details for this method first." in withdrawal_errors(no_details)
    assert not PayoutRequest.objects.exists()


# /payouts/statement.pdf


def test_the_monthly_statement_is_a_pdf(client_for, partner, program, alice, card):
    earn(program, alice, "1000")
    add_card(alice, card)
    payout_request(tenant=alice.tenant, partner=alice, method=card, amount=D("50"))
    month = f"{Reward.objects.get(partner=alice).created_at:%Y-%m}"
    response = client_for(partner).get(f"/payouts/statement.pdf?month={month}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert f'filename="statement-{month}.pdf"' in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    "month", ["", "2024-13", "24-01", "2999-01", "9999-12", "0000-01", "2024-01-01"]
)
def test_a_statement_of_no_real_month_is_a_404(client_for, partner, alice, month):
    assert client_for(partner).get(f"/payouts/statement.pdf?month={month}").status_code == 404


def test_a_statement_holds_the_partners_own_month_only(in_acme, program, alice, bob, card):
    reward = earn(program, alice, "1000")
    add_card(alice, card)
    payout_request(tenant=in_acme, partner=alice, method=card, amount=D("50"))
    earn(program, bob, "2000")
    at = reward.created_at
    this = monthly_statement(alice, month_of(at.year, at.month))
    [line] = this.lines
    assert (line.opening.available, line.closing.available) == (D("0.00"), D("50.00"))
    assert (line.closing.processing, line.closing.pending) == (D("50.00"), D("0.00"))
    kinds = [(row.what, row.count) for row in this.summary]
    assert kinds == [
        ("Reward earned, on hold", 1),
        ("Reward approved: now available", 1),
        ("Withdrawal requested", 1),
    ]  # one day: ordered by kind
    assert this.entry_count == 3
    assert [e.kind for e in month_entries(alice, this.month)] == ["accrual", "approval", "payout"]
    assert {e.partner_id for e in month_entries(alice, this.month)} == {alice.pk}
    assert len(this.payouts) == 1
    before = monthly_statement(alice, month_of(at.year - 1, at.month))
    assert (before.lines, before.summary, before.payouts) == ([], [], [])


# Who sees what


def test_another_partners_money_never_shows(client_for, partner, program, alice, bob, card):
    earn(program, bob, "7770")  # 777 to Bob
    add_card(bob, card, number="5555555555554444")
    payout_request(tenant=bob.tenant, partner=bob, method=card, amount=D("333"))
    client = client_for(partner)
    for url in ("/earnings/", "/payouts/"):
        html = client.get(url).content.decode()
        for secret in ("777", "333", "4444", "BOB"):
            assert secret not in html, (url, secret)
    assert client.post("/payouts/withdraw/", {"method": card.pk, "amount": "20"}).status_code == 200
    assert not PayoutRequest.objects.filter(partner=alice).exists()


@pytest.mark.parametrize("url", ["/earnings/", "/payouts/", "/payouts/statement.pdf?month=2024-01"])
def test_staff_without_a_partner_profile_are_sent_to_join(client_for, owner, url):
    response = client_for(owner).get(url)
    assert response.status_code == 302 and response["Location"] == "/join/"


def test_an_outsider_is_sent_to_join_and_gets_404_on_object_urls(
    client_for, outsider, card, partner
):
    client = client_for(outsider)
    assert client.get("/earnings/")["Location"] == "/join/"
    assert client.get("/payouts/")["Location"] == "/join/"
    assert (
        client.post("/payouts/withdraw/", {"method": card.pk, "amount": "1"})["Location"]
        == "/join/"
    )
    data = {f"details-{card.pk}-account": CARD}
    assert client.post(f"/payouts/details/{card.pk}/", data).status_code == 404
    assert client.get(f"/payouts/details/{card.pk}/").status_code == 404
    assert not PayoutDetails.objects.exists()


def test_signed_out_visitors_are_asked_to_sign_in(client_for, acme):
    response = client_for(None).get("/payouts/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("status", "notice"),
    [
        (PartnerProfile.Status.PENDING, "waiting for approval"),
        (PartnerProfile.Status.BLOCKED, "blocked"),
    ],
)
def test_pending_and_blocked_partners_see_a_notice(
    client_for, partner, program, alice, card, status, notice
):
    earn(program, alice, "1000")
    PartnerProfile.objects.filter(pk=alice.pk).update(status=status)
    client = client_for(partner)
    for url in ("/earnings/", "/payouts/"):
        response = client.get(url)
        assert response.status_code == 200
        assert notice in section(response.content.decode(), "partner-notice")
        assert "100.00" not in response.content.decode()
    data = {f"details-{card.pk}-account": CARD}
    assert client.post(f"/payouts/details/{card.pk}/", data).status_code == 403
    response = client.post("/payouts/withdraw/confirm/", {"method": card.pk, "amount": "50"})
    assert response.status_code == 403
    assert not PayoutDetails.objects.exists() and not PayoutRequest.objects.exists()
