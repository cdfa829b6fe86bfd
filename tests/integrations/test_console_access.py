"""Who reaches which CRM console page: partners 403, outsiders 404 on acme's host, and
acme's ids on another tenant's host 404; whoever is refused changes nothing. What each
staff role reaches is tests/prm/test_role_matrix.py's job."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from integrations.urls_pages import console_patterns
from tests.integrations.console_world import build, state

P = "/manage/integrations/amocrm"


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    data: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def call(self, client, ids: dict[str, str]):  # type: ignore[no-untyped-def]
        url = self.path.format(**ids)
        if self.method == "GET":
            return client.get(url)
        return client.post(url, self.data)


CASES = [
    Case("integrations", "GET", "/manage/integrations/"),
    Case("integration_detail", "GET", f"{P}/"),
    Case("integration_connect", "GET", f"{P}/connect/"),
    Case("integration_connect", "POST", f"{P}/connect/", {"auth_kind": "token"}),
    Case("integration_oauth_start", "GET", f"{P}/oauth/start/"),
    Case("integration_oauth_callback", "GET", f"{P}/oauth/callback/?code=x&state=y"),
    Case("integration_fields", "GET", f"{P}/fields/"),
    Case("integration_fields", "POST", f"{P}/fields/"),
    Case("integration_stages", "GET", f"{P}/stages/"),
    Case("integration_stages", "POST", f"{P}/stages/"),
    Case("integration_conflicts", "GET", f"{P}/conflicts/"),
    Case(
        "integration_conflict_resolve",
        "POST",
        P + "/conflicts/{conflict}/resolve/",
        {"keep": "crm"},
    ),
    Case("integration_dead_letters", "GET", f"{P}/dead-letters/"),
    Case("integration_dead_letter_retry", "POST", P + "/dead-letters/{dead}/retry/"),
    Case("integration_action", "POST", f"{P}/do/pause/"),
    Case("integration_action", "POST", f"{P}/do/disconnect/"),
]
WITH_IDS = [case for case in CASES if "{" in case.path]


@pytest.fixture
def ids(acme, globex, owner) -> dict[str, str]:  # type: ignore[no-untyped-def]
    build(globex)
    return build(acme)


def test_the_cases_cover_every_page_url():
    assert {case.name for case in CASES} == {p.name for p in console_patterns}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_an_outsider_signed_in_on_acme_gets_404_and_changes_nothing(
    client_for, acme, ids, outsider, case
):
    before = state(acme)
    assert case.call(client_for(outsider, "acme.localhost"), ids).status_code == 404
    assert state(acme) == before


@pytest.mark.parametrize("case", WITH_IDS, ids=str)
def test_acme_ids_on_another_tenants_host_are_a_404(client_for, acme, ids, globex, outsider, case):
    # The outsider owns globex, which has its own amoCRM connection: acme's ids there
    # still answer 404.
    before = state(acme)
    assert case.call(client_for(outsider, "globex.localhost"), ids).status_code == 404
    assert state(acme) == before


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_partner_gets_403(client_for, acme, ids, partner, case):
    before = state(acme)
    assert case.call(client_for(partner), ids).status_code == 403
    assert state(acme) == before
