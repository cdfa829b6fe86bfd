"""No URL answers a reload with a blank 405: every pattern of the tenant and platform
URLconfs is fetched with GET as a signed-in owner; POST-only form actions redirect to
the page their form lives on (PRG). JSON endpoints (tracking, API, CRM events) answer
a JSON 405 instead, which is fine for machines."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from prm.models import Tenant, User

CONVERTERS = {"uuid": str(uuid.uuid4()), "int": "1", "slug": "x", "str": "x", "path": "x"}
PARAM = re.compile(r"<(?:(\w+):)?\w+>")


def routes(patterns: list, prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        route = str(pattern.pattern)
        if route.startswith("^"):  # a regex pattern (DRF's format suffixes): drop anchors
            route = route.strip("^$").replace("\\.", ".")
            if "(" in route or "[" in route:
                continue
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + route)
        elif isinstance(pattern, URLPattern):
            yield "/" + PARAM.sub(lambda m: CONVERTERS[m.group(1) or "str"], prefix + route)


def _blank_405s(client, host: str, urlconf: str) -> tuple[list[str], int]:  # type: ignore[no-untyped-def]
    bad, seen = [], 0
    for path in sorted(set(routes(get_resolver(urlconf).url_patterns))):
        seen += 1
        response = client.get(path, HTTP_HOST=host)
        if response.status_code == 405 and "json" not in response.get("Content-Type", ""):
            bad.append(path)
    return bad, seen


@pytest.mark.django_db
def test_no_tenant_url_answers_a_reload_with_a_blank_405(client, acme: Tenant, owner: User) -> None:
    client.force_login(owner)
    bad, seen = _blank_405s(client, "acme.localhost", "prm.urls_tenant")
    assert seen > 100  # the walk really covers the URLconf
    assert bad == []


@pytest.mark.django_db
def test_no_platform_url_answers_a_reload_with_a_blank_405(client, owner: User) -> None:
    client.force_login(owner)
    bad, seen = _blank_405s(client, "localhost", "prm.urls_platform")
    assert seen > 5
    assert bad == []


@pytest.mark.django_db
def test_a_reloaded_form_action_goes_to_its_page(client, acme: Tenant, owner: User) -> None:
    client.force_login(owner)
    response = client.get("/manage/team/invite/", HTTP_HOST="acme.localhost")
    assert (response.status_code, response["Location"]) == (302, "/manage/team/")
    response = client.get(
        f"/manage/settings/domains/{uuid.uuid4()}/remove/", HTTP_HOST="acme.localhost"
    )
    assert response["Location"] == "/manage/settings/"  # past the POST-only parent
    # Other methods are still refused.
    assert client.put("/manage/team/invite/", HTTP_HOST="acme.localhost").status_code == 405
