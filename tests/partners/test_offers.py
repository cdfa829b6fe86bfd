"""The public join page states what a partner earns, from the programs' own rules."""

from __future__ import annotations

import pytest

from prm.tenancy import tenant_scope
from programs.models import Program
from rewards.models import PartnerGroup, RewardRule
from tests.rewards.helpers import D, make_program, rule

pytestmark = pytest.mark.django_db


def test_the_welcome_and_join_pages_state_each_open_programs_rewards(
    client_for, acme, globex, outsider
):
    with tenant_scope(acme):
        pro = make_program(acme, name="Pro plan")
        rule(pro, value=D("20"), recurring=RewardRule.Recurring.LIFETIME)
        rule(pro, event=RewardRule.Event.LEAD, kind=RewardRule.Kind.FIXED, value=D("5.00"))
        group = PartnerGroup.objects.create(tenant=acme, name="VIP")
        rule(pro, value=D("40"), group=group)  # a group's deal is not public
        make_program(acme, name="Secret", join_policy=Program.JoinPolicy.INVITATION)
    for client, path in ((client_for(None), "/"), (client_for(outsider), "/join/")):
        html = client.get(path).content.decode()
        offers = html[html.index('id="offers"') :]
        assert "Pro plan" in offers
        assert "20% of the sale, on every payment for the customer&#x27;s lifetime" in offers
        assert "5 USD per lead" in offers
        assert "40%" not in offers and "Secret" not in offers
    # Another tenant's join page does not show acme's programs.
    html = client_for(None, "globex.localhost").get("/").content.decode()
    assert "Pro plan" not in html and 'id="offers"' not in html
