"""The partner's home: link with copy button and QR code, balances and next payout date,
this month's numbers, next steps ticked from real data; bounded queries."""

from __future__ import annotations

from datetime import date

import pytest

from partners.home import next_schedule_day
from partners.models import PartnerProfile
from prm.tenancy import tenant_scope
from rewards.models import PayoutDetails, PayoutMethod
from tests.programs.factories import ClickFactory
from tests.rewards.helpers import D, make_program, rule, sale

pytestmark = pytest.mark.django_db


def profile(acme, user) -> PartnerProfile:  # type: ignore[no-untyped-def]
    with tenant_scope(acme):
        return PartnerProfile.objects.get(user=user)


def test_a_new_partner_sees_next_steps_and_no_link_yet(client_for, acme, partner):
    html = client_for(partner).get("/").content.decode()
    assert 'id="next-steps"' in html
    assert "Join a program" in html and "Add your payout details" in html
    assert 'class="done"' not in html
    assert "Join a program to get your link." in html
    assert 'id="news"' not in html  # no news source yet: no empty box


def test_an_enrolled_partner_sees_link_qr_balance_month_and_ticked_steps(
    client_for, acme, partner, django_assert_max_num_queries
):
    alice = profile(acme, partner)
    with tenant_scope(acme):
        program = make_program(acme, name="Pro plan")
        rule(program, value=D("10"))
        from programs.services.enrollments import enrollment_create

        enrollment = enrollment_create(tenant=acme, program=program, partner=alice, code="ALICE")
        sale(program, alice, "200.00")
        ClickFactory(enrollment=enrollment)
        method = PayoutMethod.objects.create(
            tenant=acme,
            kind=PayoutMethod.Kind.CARD,
            name="Card",
            currency="USD",
            schedule=PayoutMethod.Schedule.MONTHLY,
        )
        PayoutDetails.objects.create(
            tenant=acme, partner=alice, method=method, encrypted="x", masked="•• 42"
        )
    client = client_for(partner)
    client.get("/")  # warm the host and session caches
    with django_assert_max_num_queries(16):
        html = client.get("/").content.decode()
    assert "http://acme.localhost/r/ALICE" in html
    assert 'class="js-copy' in html
    assert 'src="data:image/svg+xml;base64,' in html
    assert "20.00 USD" in html  # 10 % of 200, on hold
    assert "Next automatic payout" in html
    # All four steps are done: the card is gone.
    assert 'id="next-steps"' not in html, html[html.index('id="next-steps"') :][:1500]
    this_month = html[html.index('id="this-month"') :]
    values = [v.split("<")[0] for v in this_month.split('class="stat-value">')[1:]]
    assert values[:3] == ["1", "0", "1"]


def test_the_home_shows_only_the_partners_own_link(client_for, acme, partner):
    alice = profile(acme, partner)
    with tenant_scope(acme):
        program = make_program(acme)
        from programs.services.enrollments import enrollment_create
        from tests.factories import PartnerFactory, UserFactory

        bob = PartnerFactory(tenant=acme, user=UserFactory(email="bob@acme.test"))
        enrollment_create(tenant=acme, program=program, partner=bob, code="BOB")
        enrollment_create(tenant=acme, program=program, partner=alice, code="ALICE")
    html = client_for(partner).get("/").content.decode()
    assert "/r/ALICE" in html and "/r/BOB" not in html


def test_another_tenants_partner_gets_no_home_here(client_for, acme, globex):
    from tests.factories import PartnerFactory, UserFactory

    stranger = PartnerFactory(tenant=globex, user=UserFactory(email="s@globex.test")).user
    response = client_for(stranger).get("/")
    assert response.status_code == 302 and response["Location"] == "/join/"


@pytest.mark.parametrize(
    ("schedule", "today", "expected"),
    [
        ("monthly", date(2026, 1, 20), date(2026, 2, 1)),
        ("monthly", date(2026, 12, 31), date(2027, 1, 1)),
        ("biweekly", date(2026, 1, 2), date(2026, 1, 15)),
        ("biweekly", date(2026, 1, 15), date(2026, 2, 1)),
        ("request", date(2026, 1, 2), None),
    ],
)
def test_the_next_payout_date_follows_the_methods_schedule(schedule, today, expected):
    assert next_schedule_day(schedule, today) == expected
