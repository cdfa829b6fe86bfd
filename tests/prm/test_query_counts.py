"""No console list, program page or cabinet page makes more queries when the tenant has
more rows: each page is rendered for a tenant built by ``prm_bigdata`` at scale N and
at 3N (the same shape, three times the partners, leads, conversions, rewards …), and
the two renders must make the same number of queries.

Pages stay below one page of rows at both scales, so a query per row (an N+1) shows as
a difference; deep pages use the keys-first paginator from the first row here
(``KEYS_FIRST_FROM`` = 0), so its two steps are counted too. A new list page goes in
``PAGES`` (ids by placeholder, resolved per tenant).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from partners.models import PartnerProfile
from prm import pagination
from prm.models import Tenant, User
from prm.tenancy import tenant_scope
from programs.models import Conversion, Enrollment, Lead, Program

SCALE = 0.0001  # 1 partner, 10 leads, 3 conversions, 12 rewards; 3N: 3, 30, 9, 36

CONSOLE_PAGES = [
    "/manage/",
    "/manage/partners/",
    "/manage/partners/?q=partner&status=active",
    "/manage/partners/search/?q=p",
    "/manage/partners/search/?q=&program={program}&enrolled=active",
    "/manage/programs/",
    "/manage/programs/{program}/",
    "/manage/programs/{program}/rewards/",
    "/manage/programs/{program}/rewards/rules/new/",
    "/manage/leads/",
    "/manage/leads/?sort=name",
    "/manage/leads/?sort=-status&partner={partner}",
    "/manage/leads/new/",
    "/manage/leads/{lead}/",
    "/manage/conversions/",
    "/manage/conversions/?partner={partner}",
    "/manage/conversions/{conversion}/",
    "/manage/rewards/",
    "/manage/rewards/?status=pending",
    "/manage/rewards/?partner={partner}",
    "/manage/rewards/corrections/",
    "/manage/partners/{partner}/ledger/",
    "/manage/payouts/",
    "/manage/payouts/methods/",
    "/manage/rates/",
    "/manage/audit/",
    "/manage/team/",
    "/manage/api-keys/",
]
CABINET_PAGES = [
    "/",
    "/programs/",
    "/programs/{enrollment}/",
    "/stats/",
    "/earnings/",
    "/payouts/",
]


@dataclass
class Built:
    tenant: Tenant
    owner: User
    partner_user: User
    ids: dict[str, str]


def build(slug: str, scale: float) -> Built:
    call_command("prm_bigdata", scale=scale, tenant_slug=slug, small_tenants=0, verbosity=0)
    tenant = Tenant.objects.get(slug=slug)
    with tenant_scope(tenant):
        main = Program.objects.get(name="Main")
        partner = PartnerProfile.objects.select_related("user").get(recruit_code="r1")
        ids = {
            "program": str(main.pk),
            "partner": str(partner.pk),
            "enrollment": str(Enrollment.objects.get(program=main, partner=partner).pk),
            "lead": str(Lead.objects.filter(partner=partner).earliest("created_at").pk),
            "conversion": str(Conversion.objects.earliest("occurred_at").pk),
        }
    return Built(tenant, User.objects.get(email=f"owner@{slug}.bench.test"), partner.user, ids)


@pytest.fixture
def worlds(db, monkeypatch) -> tuple[Built, Built]:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(pagination, "KEYS_FIRST_FROM", 0)
    return build("qc-small", SCALE), build("qc-large", SCALE * 3)


def queries_of(world: Built, user: User, path: str) -> tuple[int, int]:
    client = Client(HTTP_HOST=f"{world.tenant.slug}.localhost")
    client.force_login(user)
    url = path.format(**world.ids)
    client.get(url)  # warm the per-host caches (tenant look-up) first
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return len(captured.captured_queries), response.status_code


def test_the_worlds_differ_in_size(worlds):
    small, large = worlds
    with tenant_scope(small.tenant):
        n = Lead.objects.count(), PartnerProfile.objects.count()
    with tenant_scope(large.tenant):
        assert (Lead.objects.count(), PartnerProfile.objects.count()) == (n[0] * 3, n[1] * 3)


@pytest.mark.parametrize("path", CONSOLE_PAGES)
def test_a_console_page_makes_as_many_queries_for_three_times_the_rows(worlds, path):
    small, large = worlds
    assert queries_of(small, small.owner, path) == queries_of(large, large.owner, path)


@pytest.mark.parametrize("path", CABINET_PAGES)
def test_a_cabinet_page_makes_as_many_queries_for_three_times_the_rows(worlds, path):
    small, large = worlds
    assert queries_of(small, small.partner_user, path) == queries_of(
        large, large.partner_user, path
    )
