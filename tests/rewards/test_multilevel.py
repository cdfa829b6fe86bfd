"""Multi-level: recruiters earn a share of their recruits' rewards."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from partners.models import PartnerProfile
from partners.services import partner_set_recruiter
from rewards.models import Reward
from tests.rewards.helpers import D, make_partner, make_program, pending, rule, sale


@pytest.fixture
def program(in_acme):
    p = make_program(in_acme, levels=3, level_percents=[10, 5])
    rule(p, value=D("20"))
    return p


@pytest.fixture
def chain(in_acme, program):
    """top recruited mid, mid recruited alice."""
    top = make_partner(in_acme, program, "TOP")
    mid = make_partner(in_acme, program, "MID")
    alice = make_partner(in_acme, program, "ALICE")
    partner_set_recruiter(partner=mid, recruiter=top)
    partner_set_recruiter(partner=alice, recruiter=mid)
    return top, mid, alice


def test_levels_earn_their_percent_of_the_level_one_reward(program, chain):
    top, mid, alice = chain
    sale(program, alice, "100")
    assert pending(alice) == D("20.00")
    assert pending(mid) == D("2.00")  # 10 % of 20
    assert pending(top) == D("1.00")  # 5 % of 20
    levels = {r.partner_id: r.level for r in Reward.objects.all()}
    assert levels == {alice.pk: 1, mid.pk: 2, top.pk: 3}


def test_the_number_of_levels_is_configurable(program, chain):
    top, mid, alice = chain
    program.levels = 2
    program.save()
    sale(program, alice, "100")
    assert pending(mid) == D("2.00")
    assert pending(top) == D("0")


def test_a_blocked_recruiter_loses_the_share_but_the_chain_holds(program, chain):
    top, mid, alice = chain
    PartnerProfile.objects.filter(pk=mid.pk).update(status=PartnerProfile.Status.BLOCKED)
    sale(program, alice, "100")
    assert pending(mid) == D("0")
    assert pending(top) == D("1.00")


def test_cycles_are_refused(chain):
    top, mid, alice = chain
    with pytest.raises(ValidationError):
        partner_set_recruiter(partner=top, recruiter=alice)
    with pytest.raises(ValidationError):
        partner_set_recruiter(partner=alice, recruiter=alice)


def test_the_recruit_link_attaches_a_new_partner_to_the_recruiter(client, acme, program, chain):
    top, mid, alice = chain
    response = client.get(f"/recruit/{alice.recruit_code}/", HTTP_HOST="acme.localhost")
    assert response.status_code == 302
    client.post(
        "/accounts/signup/",
        {"email": "newbie@example.com", "password1": "a-Long-pass-9", "password2": "a-Long-pass-9"},
        HTTP_HOST="acme.localhost",
    )
    newbie = PartnerProfile.objects.get(user__email="newbie@example.com")
    assert newbie.recruited_by == alice
    assert client.get("/recruit/nope/", HTTP_HOST="acme.localhost").status_code == 404
