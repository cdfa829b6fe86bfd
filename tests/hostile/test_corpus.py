"""The hostile corpus (tests/hostile/corpus.json, written by generate.py) against every
public endpoint, in-process: no case may answer 5xx, every public URL pattern must have
cases (a new public endpoint without them fails here), and valid clicks sent between
the hostile ones are all stored by the flush."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django_rq
import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from integrations.models import CrmConnection
from integrations.models.connection import Provider
from partners.models import PartnerInvitation
from prm.models import ApiKey, Role
from prm.notifications.tokens import unsubscribe_token
from prm.tenancy import tenant_scope
from programs.models import Click, PromoCode
from programs.services.clicks import DEAD_LETTERS, STREAM, clicks_flush
from tests.factories import InvitationFactory, PartnerFactory, UserFactory
from tests.programs.factories import ConversionFactory, EnrollmentFactory, ProgramFactory

# Hostile keys make cache keys memcached could not take; Redis takes them.
pytestmark = pytest.mark.filterwarnings("ignore::django.core.cache.backends.base.CacheKeyWarning")
CORPUS = json.loads(Path(__file__).with_name("corpus.json").read_text())["cases"]
TENANT_HOST = "acme.localhost"
# Endpoints answered by middleware ahead of the URL patterns.
MIDDLEWARE_ENDPOINTS = {"tenant:t/c"}
LONG = "L" * 5000
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def test_the_corpus_is_big_and_the_generator_wrote_it() -> None:
    assert len(CORPUS) >= 500
    assert len({case["id"] for case in CORPUS}) == len(CORPUS)


@pytest.fixture
def world(acme: Any) -> dict[str, str]:
    """What the placeholders of the corpus stand for."""
    program = ProgramFactory(tenant=acme, name="Pro")
    partner = PartnerFactory(tenant=acme, user=UserFactory(email="alice@example.test"))
    EnrollmentFactory(program=program, partner=partner, code="ALICE")
    order = ConversionFactory(program=program, external_id="ORDER-1")
    PromoCode.all_tenants_unscoped.create(
        tenant=acme, program=program, partner=partner, code="ALICE10"
    )
    secret, prefix, digest = ApiKey.generate()
    ApiKey.all_tenants_unscoped.create(tenant=acme, name="t", prefix=prefix, key_hash=digest)
    invitation = InvitationFactory(tenant=acme, email="new@acme.test", role=Role.MANAGER)
    unsub = unsubscribe_token(tenant_id=acme.pk, user_id=partner.user_id, kind="reward_new")
    partner_invitation = PartnerInvitation.all_tenants_unscoped.create(
        tenant=acme, email="invited@example.test", program=program
    )
    hooks = {}
    for provider, values in {
        "amocrm": ({"access_token": "x"}, {"account_id": "31337", "subdomain": "acme"}),
        "bitrix24": (
            {
                "webhook_url": "https://b24.example/rest/1/x/",
                "application_token": "b24tok",
                "member_id": "m1",
            },
            {"entity": "deal"},
        ),
        "salesforce": ({"access_token": "x"}, {"org_id": "00D000000000001AAA"}),
        "hubspot": ({"access_token": "x", "client_secret": "s"}, {"portal_id": "1"}),
    }.items():
        crm = CrmConnection(
            tenant=acme,
            provider=provider,
            auth_kind="webhook" if provider == "bitrix24" else "token",
            base_url=f"https://{provider}.example",
            settings=values[1],
            program=program,
        )
        crm.set_credentials(values[0])
        crm.save()
        hooks[f"HOOK_{provider}"] = crm.hook_secret
    return {
        "KEY": program.publishable_key,
        "CODE": "ALICE",
        "API_KEY": secret,
        "ORDER": order.external_id,
        "PARTNER": str(partner.pk),
        "INVITE": invitation.token,
        "UNSUB": unsub,
        "UNSUB_CUT": unsub[:-5],
        "PARTNER_INVITE": partner_invitation.token,
        "AMO_ACCOUNT": "31337",
        "B24_TOKEN": "b24tok",
        "SF_ORG": "00D000000000001AAA",
        "LONG": LONG,
        **hooks,
    }


@pytest.fixture
def quiet() -> Iterator[None]:
    # Thousands of 4xx warnings would only slow the run down; errors still show.
    loggers = [
        logging.getLogger(n)
        for n in ("django.request", "django.security", "prm", "programs", "integrations")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.fixture
def stream() -> Iterator[Any]:
    r = django_rq.get_connection("tracking")
    r.delete(STREAM, DEAD_LETTERS)
    yield r
    r.delete(STREAM, DEAD_LETTERS)


def _fill(text: str, world: dict[str, str]) -> str:
    return re.sub(r"\{([A-Z_a-z0-9]+)\}", lambda m: world.get(m[1], m[0]), text)


def _body(spec: dict[str, Any] | None, world: dict[str, str]) -> bytes:
    if not spec:
        return b""
    if "json" in spec:
        return _fill(json.dumps(spec["json"]), world).encode()
    if "text" in spec:
        return _fill(spec["text"], world).encode("utf-8", "surrogatepass")
    if "b64" in spec:
        return base64.b64decode(spec["b64"])
    prefix, unit, times, suffix = spec["repeat"]
    return (prefix + unit * times + suffix).encode()


def _send(client: Client, case: dict[str, Any], world: dict[str, str]) -> Any:
    host = TENANT_HOST if case["route"].startswith("tenant:") else settings.PRM_PLATFORM_HOST
    path = _fill(case["path"], world)
    if case["query"]:
        path += "?" + _fill(case["query"], world)
    extra = {
        "HTTP_" + name.upper().replace("-", "_"): _fill(value, world)
        for name, value in case["headers"].items()
    }
    return client.generic(
        case["method"],
        path,
        data=_body(case["body"], world),
        content_type=case["content_type"],
        HTTP_HOST=host,
        **extra,
    )


# In slices, so that parallel test workers share the ~2,500 cases (one slice per worker).
SLICES = 3


@pytest.mark.parametrize("part", range(SLICES))
def test_no_hostile_case_answers_5xx_and_valid_clicks_beside_them_are_all_stored(
    world: dict[str, str], quiet: None, stream: Any, acme: Any, part: int
) -> None:
    client = Client(raise_request_exception=False)
    failures: list[str] = []
    valid_visitors: list[str] = []
    for n, case in enumerate(CORPUS):
        if n % SLICES != part:
            continue
        response = _send(client, case, world)
        if response.status_code >= 500:
            failures.append(f"{case['id']}: {response.status_code} {response.exc_info}")
        if n % 20 == 0:
            visitor = f"valid-visitor-{n:05d}"
            click = {"k": world["KEY"], "c": "ALICE", "v": visitor, "u": "https://x.example/"}
            answer = client.post(
                "/t/c", json.dumps(click), content_type="text/plain", HTTP_HOST=TENANT_HOST
            )
            assert answer.status_code == 204, answer.content
            valid_visitors.append(visitor)
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} in all)"

    clicks_flush()
    with tenant_scope(acme):
        stored = set(Click.objects.values_list("visitor_id", flat=True))
    assert set(valid_visitors) <= stored
    assert stream.xlen(STREAM) == 0


# ------------------------------------------------------------------ coverage of endpoints


def _patterns(urlconf: str) -> Iterator[str]:
    def walk(patterns: list[Any], prefix: str) -> Iterator[str]:
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    yield from walk(get_resolver(urlconf).url_patterns, "")


def _sample_path(route: str) -> str:
    path = re.sub(r"<uuid:\w+>", ZERO_UUID, route)
    path = re.sub(r"<int:\w+>", "1", path)
    path = re.sub(r"<(?:\w+:)?\w+>", "sample", path)
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "abc", path).replace("^", "").replace("$", "")
    return "/" + path.replace("/?", "/")


def _asks_to_sign_in(response: Any) -> bool:
    return response.status_code in (301, 302, 303, 307, 308) and "/login/" in response.get(
        "Location", ""
    )


def test_every_public_url_pattern_has_hostile_cases(world: dict[str, str], quiet: None) -> None:
    """Public = an anonymous visitor is not sent to a sign-in page (API endpoints that
    answer 401 without a key count: anyone can send them hostile keys)."""
    client = Client(raise_request_exception=False)
    public = set(MIDDLEWARE_ENDPOINTS)
    errors = []
    for kind, urlconf, host in (
        ("platform", "prm.urls_platform", settings.PRM_PLATFORM_HOST),
        ("tenant", "prm.urls_tenant", TENANT_HOST),
    ):
        for route in _patterns(urlconf):
            response = client.get(_sample_path(route), HTTP_HOST=host)
            if response.status_code == 405:  # a POST-only action: does it ask to sign in?
                response = client.post(_sample_path(route), HTTP_HOST=host)
            if response.status_code >= 500:
                errors.append(f"{kind}:{route}: {response.status_code}")
            if not _asks_to_sign_in(response):
                public.add(f"{kind}:{route}")
    assert not errors, errors
    covered = {case["route"] for case in CORPUS}
    missing = sorted(public - covered)
    assert not missing, (
        f"public endpoints without hostile cases (add them to generate.py): {missing}"
    )
    # And every kind of CRM connection has its events tried.
    hook_cases = [c for c in CORPUS if c["route"] == "tenant:hooks/crm/<str:secret>/"]
    for provider in Provider.values:
        assert any(f"{{HOOK_{provider}}}" in c["path"] for c in hook_cases), provider
