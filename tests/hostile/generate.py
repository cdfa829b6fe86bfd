"""Writes tests/hostile/corpus.json: hostile requests for every public endpoint.

Run from the repository root: ``python tests/hostile/generate.py`` (no Django needed;
the output is deterministic, so a diff shows exactly what a change added).

A case is ``{"id", "route", "method", "path", "query", "headers", "content_type",
"body"}``. ``route`` is the endpoint's URL pattern as Django prints it, prefixed by its
host kind (``tenant:t/l``, ``platform:accounts/login/``); the test checks that every
public pattern has cases. ``path`` and ``query`` are percent-encoded (hostile bytes as
``%00``, ``%ED%A0%80``); ``{KEY}``, ``{CODE}``, ``{API_KEY}``, ``{HOOK_<provider>}``,
``{B24_TOKEN}``, ``{AMO_ACCOUNT}``, ``{SF_ORG}``, ``{ORDER}``, ``{INVITE}`` and
``{PARTNER_INVITE}`` are
filled in by the test with its fixtures' values. ``body`` is one of ``{"json": value}``
(sent with json.dumps, so lone surrogates travel as ``\\ud800`` escapes), ``{"text": s}``
(UTF-8 with surrogates passed through, i.e. invalid UTF-8), ``{"repeat": [prefix, unit,
times, suffix]}`` (huge or deep bodies without a huge file), or absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

OUT = Path(__file__).with_name("corpus.json")

# Values that go where a string is expected.
TEXTS: dict[str, Any] = {
    "nul": "nul\u0000inside",
    "nul_only": "\u0000",
    "surrogate": "\ud800",
    "surrogate_pair_broken": "a\udfffb\ud800",
    "long": "{LONG}",  # 5,000 characters, filled in by the test
    "rtl_and_emoji": "\u202eevil\U0001f4a9",
    "html": "<script>alert(1)</script>",
    "newlines": "a\r\nSet-Cookie: x=1",
}
# Values of the wrong type.
WRONG_TYPES: dict[str, Any] = {
    "number": 12345,
    "float": 1.5e308,
    "huge_int": int("9" * 400),
    "bool": True,
    "null": None,
    "array": ["a", "b"],
    "object": {"nested": "x"},
    "deep_array": [[[[[[[["x"]]]]]]]],
}
# Values for the URL: percent-encoded as they appear on the wire.
PATH_VALUES: dict[str, str] = {
    "nul": "a%00b",
    "surrogate_bytes": "%ED%A0%80",
    "bad_utf8": "%FF%FE",
    "long": "{LONG}",
    "dotdot": "..%2F..%2Fetc",
    "unicode": quote("ключ", safe=""),
    "space_and_quote": "a%20%27%22",
}
QUERY_VALUES: dict[str, str] = {**PATH_VALUES, "empty": ""}
# The few that matter for a form field (the rest are covered by the JSON endpoints).
FORM_VALUES = {k: QUERY_VALUES[k] for k in ("nul", "surrogate_bytes", "bad_utf8", "long")}
HEADERS: dict[str, dict[str, str]] = {
    "ua_nul": {"User-Agent": "Mozilla\u0000/5.0"},
    "ua_long": {"User-Agent": "U{LONG}{LONG}{LONG}{LONG}"},
    "ua_surrogate": {"User-Agent": "agent\ud800"},
    "referer_nul": {"Referer": "https://ref.example/\u0000"},
    "referer_long": {"Referer": "https://ref.example/{LONG}{LONG}"},
}
BAD_BODIES: dict[str, dict[str, Any]] = {
    "empty": {"text": ""},
    "not_json": {"text": "this is not json"},
    "truncated_json": {"text": '{"k": "abc'},
    "bad_utf8": {"text": '{"k": "\udcff\ud800"}'},
    "nan": {"text": '{"k": NaN}'},
    "infinity": {"text": '{"k": Infinity, "v": -Infinity}'},
    "bom": {"text": '\ufeff{"k": "x"}'},
    "top_level_array": {"json": [1, 2, 3]},
    "top_level_string": {"json": "just a string"},
    "top_level_null": {"json": None},
    "deep_1100": {"repeat": ["", "[", 1100, ""]},
    "deep_objects_1100": {"repeat": ["", '{"a":', 1100, ""]},
    "deep_100k": {"repeat": ["", "[", 100_000, ""]},
    "deep_inside_field": {"repeat": ['{"k": ', "[", 2000, ""]},
    "huge_5mb": {"repeat": ['{"k": "', "x", 5_000_000, '"}']},
    "huge_64k": {"repeat": ['{"k": "', "x", 65_536, '"}']},
    "many_keys": {"repeat": ["{", '"k": 1, ', 2000, '"z": 2}']},
}
CONTENT_TYPES = [
    "text/plain",
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "application/json; charset=latin-1",
    "",
    "garbage/\u0000",
]

cases: list[dict[str, Any]] = []


def add(
    route: str,
    name: str,
    method: str,
    path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    content_type: str = "",
    body: dict[str, Any] | None = None,
) -> None:
    case: dict[str, Any] = {"id": f"{route} | {method} | {name}", "route": route}
    case.update(method=method, path=path, query=query, headers=headers or {})
    case.update(content_type=content_type, body=body)
    cases.append(case)


def json_fields(
    route: str, path: str, valid: dict[str, Any], content_type: str, **extra: Any
) -> None:
    """Each field of a valid JSON body, in turn, given each hostile text and wrong type;
    then bodies that are not what the endpoint reads at all."""
    every = {**TEXTS, **WRONG_TYPES}
    core = {k: every[k] for k in ("nul", "surrogate", "long", "number", "array", "object", "null")}
    for n, field in enumerate(valid):
        # The whole set on the first two fields, the core of it on every other one.
        for label, value in (every if n < 2 else core).items():
            add(
                route,
                f"field {field} = {label}",
                "POST",
                path,
                content_type=content_type,
                body={"json": {**valid, field: value}},
                **extra,
            )
    add(route, "valid", "POST", path, content_type=content_type, body={"json": valid}, **extra)
    add(
        route,
        "hostile keys",
        "POST",
        path,
        content_type=content_type,
        body={"json": {**valid, "\u0000": "x", "\ud800": "y", "k" * 3000: 1}},
        **extra,
    )
    for label, body in BAD_BODIES.items():
        add(route, f"body {label}", "POST", path, content_type=content_type, body=body, **extra)
    for ctype in CONTENT_TYPES:
        add(
            route,
            f"content type {ctype!r}",
            "POST",
            path,
            content_type=ctype,
            body={"json": valid},
            **extra,
        )


def header_cases(route: str, method: str, path: str, **extra: Any) -> None:
    for label, headers in HEADERS.items():
        add(route, f"header {label}", method, path, headers=headers, **extra)


def methods(route: str, path: str, names: tuple[str, ...], label: str = "") -> None:
    for method in names:
        add(route, f"{label}method {method}", method, path)


def path_param(route: str, template: str, method: str = "GET") -> None:
    """``template`` has one ``{}`` where the hostile path value goes."""
    for label, value in PATH_VALUES.items():
        add(route, f"path param {label}", method, template.format(value))


def query_params(route: str, path: str, names: tuple[str, ...], method: str = "GET") -> None:
    for name in names:
        for label, value in QUERY_VALUES.items():
            add(route, f"query {name} = {label}", method, path, query=f"{name}={value}")
    add(route, "query repeated", method, path, query="&".join(f"{names[0]}=x" for _ in range(500)))
    add(route, "query key nul", method, path, query="%00=1&a%ED%A0%80=2")


def form_fields(route: str, path: str, fields: tuple[str, ...], valid: dict[str, str]) -> None:
    """A url-encoded form: each field given hostile bytes, then bad bodies."""
    ctype = "application/x-www-form-urlencoded"

    def encode(values: dict[str, str]) -> str:
        return "&".join(f"{k}={v}" for k, v in values.items())

    for field in fields:
        for label, value in FORM_VALUES.items():
            body = {"text": encode({**valid, field: value})}
            add(route, f"form {field} = {label}", "POST", path, content_type=ctype, body=body)
        body = {"text": encode(valid) + f"&{field}=again&{field}[]=array"}
        add(route, f"form {field} repeated", "POST", path, content_type=ctype, body=body)
    add(route, "form valid", "POST", path, content_type=ctype, body={"text": encode(valid)})
    for label in ("empty", "bad_utf8", "deep_1100", "huge_5mb"):
        add(route, f"form body {label}", "POST", path, content_type=ctype, body=BAD_BODIES[label])
    for ctype_other in ("multipart/form-data; boundary=xyz", "application/json", "text/plain"):
        add(
            route,
            f"form content type {ctype_other!r}",
            "POST",
            path,
            content_type=ctype_other,
            body={"text": '--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n\u0000\r\n--'},
        )


# ----------------------------------------------------------------------------- tracking

CLICK = {
    "k": "{KEY}",
    "c": "{CODE}",
    "v": "visitor-0001",
    "s": "",
    "u": "https://shop.example.com/",
    "r": "",
}
json_fields("tenant:t/c", "/t/c", CLICK, "text/plain")
header_cases("tenant:t/c", "POST", "/t/c", content_type="text/plain", body={"json": CLICK})
methods("tenant:t/c", "/t/c", ("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))

LEAD = {
    "k": "{KEY}",
    "c": "{CODE}",
    "v": "visitor-0002",
    "name": "Ann",
    "email": "ann@example.com",
    "phone": "+15550100",
    "company": "Co",
    "external_id": "x-1",
    "t": 1700000000,
}
json_fields("tenant:t/l", "/t/l", LEAD, "text/plain")
header_cases("tenant:t/l", "POST", "/t/l", content_type="text/plain", body={"json": LEAD})
methods("tenant:t/l", "/t/l", ("GET", "HEAD", "OPTIONS", "PUT"))

path_param("tenant:t/<str:key>.js", "/t/{}.js")
add("tenant:t/<str:key>.js", "valid", "GET", "/t/{KEY}.js")
add("tenant:t/<str:key>.js", "valid HEAD", "HEAD", "/t/{KEY}.js")
query_params("tenant:t/<str:key>.js", "/t/{KEY}.js", ("v", "callback"))
methods("tenant:t/<str:key>.js", "/t/{KEY}.js", ("POST", "PUT"))

# The recruitment widget: its script, its offer (GET) and its sign-up (POST) from the
# program's own site (the test world's program allows https://shop.example.com/).
add("tenant:t/recruit.js", "valid", "GET", "/t/recruit.js")
methods("tenant:t/recruit.js", "/t/recruit.js", ("POST", "PUT"))
RECRUIT = {"email": "newt@example.com", "name": "Newt", "consent": True, "website": ""}
SITE = {"Origin": "https://shop.example.com"}
json_fields("tenant:t/<str:key>/recruit", "/t/{KEY}/recruit", RECRUIT, "text/plain", headers=SITE)
path_param("tenant:t/<str:key>/recruit", "/t/{}/recruit")
query_params("tenant:t/<str:key>/recruit", "/t/{KEY}/recruit", ("lang",))
header_cases("tenant:t/<str:key>/recruit", "GET", "/t/{KEY}/recruit")
methods("tenant:t/<str:key>/recruit", "/t/{KEY}/recruit", ("HEAD", "OPTIONS", "PUT", "DELETE"))

path_param("tenant:r/<str:code>", "/r/{}")
query_params("tenant:r/<str:code>", "/r/{CODE}", ("sub", "to", "utm_source", "utm_campaign", "m"))
header_cases("tenant:r/<str:code>", "GET", "/r/{CODE}")
add("tenant:r/<str:code>", "valid HEAD", "HEAD", "/r/{CODE}")
methods("tenant:r/<str:code>", "/r/{CODE}", ("POST",))

# ----------------------------------------------------------------------------- CRM events

HOOK = "tenant:hooks/crm/<str:secret>/"
# Each event reaching a connector costs a connector (and its HTTP clients): the bodies
# that matter, in each CRM's own content type and one it does not send.
HOOK_BODIES = ("empty", "bad_utf8", "deep_1100", "deep_100k", "huge_5mb", "top_level_array")
NATIVE = {
    "amocrm": "application/x-www-form-urlencoded",
    "bitrix24": "application/json",
    "salesforce": "text/xml",
    "hubspot": "application/json",
}
path_param(HOOK, "/hooks/crm/{}/", "POST")
for provider, ctype in NATIVE.items():
    path = f"/hooks/crm/{{HOOK_{provider}}}/"
    for label in HOOK_BODIES:
        add(
            HOOK,
            f"{provider} body {label}",
            "POST",
            path,
            content_type=ctype,
            body=BAD_BODIES[label],
        )
    other = "application/json" if provider != "bitrix24" else "text/xml"
    add(
        HOOK,
        f"{provider} body deep_1100 as {other}",
        "POST",
        path,
        content_type=other,
        body=BAD_BODIES["deep_1100"],
    )
    methods(HOOK, path, ("GET", "HEAD", "PUT"), label=f"{provider} ")
amo_form = "account[id]={AMO_ACCOUNT}&leads[update][0][id]=%s"
for label in ("nul", "surrogate_bytes", "long"):
    value = FORM_VALUES[label]
    add(
        HOOK,
        f"amocrm lead id = {label}",
        "POST",
        "/hooks/crm/{HOOK_amocrm}/",
        content_type="application/x-www-form-urlencoded",
        body={"text": amo_form % value},
    )
    add(
        HOOK,
        f"amocrm account = {label}",
        "POST",
        "/hooks/crm/{HOOK_amocrm}/",
        content_type="application/x-www-form-urlencoded",
        body={"text": f"account[id]={value}&leads[add][0][id]=1"},
    )
B24 = {
    "event": "ONCRMDEALUPDATE",
    "data": {"FIELDS": {"ID": "1"}},
    "auth": {"application_token": "{B24_TOKEN}", "member_id": "m1"},
}
B24_VALUES = {k: {**TEXTS, **WRONG_TYPES}[k] for k in ("nul", "surrogate", "array", "null")}
for label, value in B24_VALUES.items():
    for where in ("event", "auth"):
        add(
            HOOK,
            f"bitrix24 json {where} = {label}",
            "POST",
            "/hooks/crm/{HOOK_bitrix24}/",
            content_type="application/json",
            body={"json": {**B24, where: value}},
        )
    add(
        HOOK,
        f"bitrix24 json id = {label}",
        "POST",
        "/hooks/crm/{HOOK_bitrix24}/",
        content_type="application/json",
        body={"json": {**B24, "data": {"FIELDS": {"ID": value}}}},
    )
add(
    HOOK,
    "bitrix24 deep event",
    "POST",
    "/hooks/crm/{HOOK_bitrix24}/",
    content_type="application/json",
    body={"repeat": ['{"event": "ONCRMDEALUPDATE", "data": ', '{"a":', 1100, ""]},
)
add(
    HOOK,
    "bitrix24 install from nowhere",
    "POST",
    "/hooks/crm/{HOOK_bitrix24}/",
    content_type="application/x-www-form-urlencoded",
    body={"text": "event=ONAPPINSTALL&auth[application_token]=%00x&auth[member_id]=%ED%A0%80"},
)
SF = (
    '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
    "<OrganizationId>{SF_ORG}</OrganizationId><Notification><Id>04l1</Id>"
    '<sObject xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>%s</sf:Id></sObject>'
    "</Notification></notifications></soapenv:Body></soapenv:Envelope>"
)
for label in ("nul", "surrogate"):
    value = TEXTS[label]
    add(
        HOOK,
        f"salesforce lead id = {label}",
        "POST",
        "/hooks/crm/{HOOK_salesforce}/",
        content_type="text/xml",
        body={"text": SF % ("00Q" + value)},
    )
add(
    HOOK,
    "salesforce entity expansion",
    "POST",
    "/hooks/crm/{HOOK_salesforce}/",
    content_type="text/xml",
    body={"text": '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx">]><a>&x;&x;</a>'},
)
add(
    HOOK,
    "salesforce deep xml",
    "POST",
    "/hooks/crm/{HOOK_salesforce}/",
    content_type="text/xml",
    body={"repeat": ["", "<a>", 50_000, ""]},
)
HS_EVENT = '[{"portalId": 1, "subscriptionType": "deal.propertyChange", "objectId": %s}]'
for label in ("nul", "surrogate"):
    add(
        HOOK,
        f"hubspot deal id = {label}, forged signature",
        "POST",
        "/hooks/crm/{HOOK_hubspot}/",
        content_type="application/json",
        body={"text": HS_EVENT % json.dumps(TEXTS[label])},
        headers={
            "X-HubSpot-Signature-v3": TEXTS[label],
            "X-HubSpot-Request-Timestamp": "99999999999999999999999",
        },
    )

# ----------------------------------------------------------------------------- API v1

AUTH = {"Authorization": "Bearer {API_KEY}"}
HOSTILE_AUTH = {
    "none": {},
    "nul": {"Authorization": "Bearer sk_\u0000abc"},
    "surrogate": {"Authorization": "Bearer sk_\ud800"},
    "long": {"Authorization": "Bearer sk_{LONG}{LONG}"},
    "basic": {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"},
    "empty_bearer": {"Authorization": "Bearer "},
    "revoked_shape": {"Authorization": "Bearer sk_0000000000000000"},
    "latin1": {"Authorization": "Bearer sk_\u00ff\u00fe"},
}
API_LEAD = {
    "name": "Ann",
    "email": "ann@example.com",
    "phone": "+15550100",
    "company": "Co",
    "external_id": "api-1",
    "visitor_id": "visitor-0003",
    "referral_code": "{CODE}",
    "program": "00000000-0000-0000-0000-000000000000",
    "ip": "203.0.113.9",
    "user_agent": "Mozilla/5.0",
}
API_CONVERSION = {
    "order_id": "order-9",
    "amount": "10.00",
    "currency": "USD",
    "kind": "sale",
    "customer_email": "c@example.com",
    "customer_id": "c-1",
    "visitor_id": "visitor-0004",
    "promo_code": "",
    "referral_code": "{CODE}",
    "occurred_at": "2026-01-01T00:00:00Z",
    "ip": "2001:db8::1",
    "user_agent": "Mozilla/5.0",
    "payer": {"card_bin": "411111", "card_last4": "1111"},
}
API_REFUND = {"refund_id": "r-1", "amount": "1.00", "reason": "changed mind"}
API_ROUTES = [
    ("tenant:api/v1/leads", "/api/v1/leads", API_LEAD),
    ("tenant:api/v1/conversions", "/api/v1/conversions", API_CONVERSION),
    (
        "tenant:api/v1/conversions/<str:order_id>/refunds",
        "/api/v1/conversions/{ORDER}/refunds",
        API_REFUND,
    ),
]
for route, path, valid in API_ROUTES:
    json_fields(route, path, valid, "application/json", headers=AUTH)
    for label, headers in HOSTILE_AUTH.items():
        add(
            route,
            f"auth {label}",
            "POST",
            path,
            headers=headers,
            content_type="application/json",
            body={"json": valid},
        )
    methods(route, path, ("GET", "HEAD", "PUT", "DELETE"))
REFUNDS = "tenant:api/v1/conversions/<str:order_id>/refunds"
for label, value in PATH_VALUES.items():
    add(
        REFUNDS,
        f"path order {label}",
        "POST",
        f"/api/v1/conversions/{value}/refunds",
        headers=AUTH,
        content_type="application/json",
        body={"json": API_REFUND},
    )
DETAIL = "tenant:api/v1/conversions/<str:order_id>"
for label, value in PATH_VALUES.items():
    add(DETAIL, f"path order {label}", "GET", f"/api/v1/conversions/{value}", headers=AUTH)
for label, value in QUERY_VALUES.items():
    add(
        DETAIL,
        f"query program = {label}",
        "GET",
        "/api/v1/conversions/{ORDER}",
        query=f"program={value}",
        headers=AUTH,
    )
for label, headers in HOSTILE_AUTH.items():
    add(DETAIL, f"auth {label}", "GET", "/api/v1/conversions/{ORDER}", headers=headers)
add(DETAIL, "valid", "GET", "/api/v1/conversions/{ORDER}", headers=AUTH)
add(DETAIL, "HEAD", "HEAD", "/api/v1/conversions/{ORDER}", headers=AUTH)
add(
    DETAIL,
    "POST with a deep body",
    "POST",
    "/api/v1/conversions/{ORDER}",
    headers=AUTH,
    content_type="application/json",
    body=BAD_BODIES["deep_1100"],
)
LEAD_DETAIL = "tenant:api/v1/leads/<uuid:lead_id>"
LEAD_ID = "00000000-0000-0000-0000-000000000000"
for label, value in PATH_VALUES.items():
    add(LEAD_DETAIL, f"path lead {label}", "GET", f"/api/v1/leads/{value}", headers=AUTH)
for label, headers in HOSTILE_AUTH.items():
    add(LEAD_DETAIL, f"auth {label}", "GET", f"/api/v1/leads/{LEAD_ID}", headers=headers)
add(LEAD_DETAIL, "valid", "GET", f"/api/v1/leads/{LEAD_ID}", headers=AUTH)
methods(LEAD_DETAIL, f"/api/v1/leads/{LEAD_ID}", ("POST", "PUT", "DELETE"))
SCHEMA = "tenant:api/v1/schema/"
add(SCHEMA, "valid", "GET", "/api/v1/schema/")
query_params(SCHEMA, "/api/v1/schema/", ("format", "lang"))
header_cases(SCHEMA, "GET", "/api/v1/schema/")
for label, headers in HOSTILE_AUTH.items():
    add(SCHEMA, f"auth {label}", "GET", "/api/v1/schema/", headers=headers)

# The wider API: partners, promo codes, lists with filters, PATCH, rewards, payouts.
API_PARTNER = {"email": "new-partner@example.com", "name": "Newt", "invite": False}
API_PROMO = {"partner": "{PARTNER}", "code": "NEWT10"}
API_WRITES = [
    ("tenant:api/v1/partners", "/api/v1/partners", API_PARTNER),
    ("tenant:api/v1/promo-codes", "/api/v1/promo-codes", API_PROMO),
]
for route, path, valid in API_WRITES:
    json_fields(route, path, valid, "application/json", headers=AUTH)
    for label in ("none", "nul", "basic"):
        add(
            route,
            f"auth {label}",
            "POST",
            path,
            headers=HOSTILE_AUTH[label],
            content_type="application/json",
            body={"json": valid},
        )
    add(
        route,
        "idempotency key long",
        "POST",
        path,
        headers={**AUTH, "Idempotency-Key": "{LONG}"},
        content_type="application/json",
        body={"json": valid},
    )
    methods(route, path, ("PUT", "DELETE"))
API_LISTS = {
    "tenant:api/v1/partners": "/api/v1/partners",
    "tenant:api/v1/leads": "/api/v1/leads",
    "tenant:api/v1/conversions": "/api/v1/conversions",
    "tenant:api/v1/rewards": "/api/v1/rewards",
    "tenant:api/v1/payouts": "/api/v1/payouts",
    "tenant:api/v1/programs": "/api/v1/programs",
}
LIST_VALUES = {k: QUERY_VALUES[k] for k in ("nul", "surrogate_bytes", "long", "unicode")}
for route, path in API_LISTS.items():
    add(route, "list valid", "GET", path, headers=AUTH)
    for name in ("status", "program", "partner", "created_after", "cursor", "limit"):
        for label, value in LIST_VALUES.items():
            add(route, f"list {name} = {label}", "GET", path, query=f"{name}={value}", headers=AUTH)
    add(route, "list limit huge", "GET", path, query="limit=99999999999999999999", headers=AUTH)
    add(route, "list auth none", "GET", path)
API_DETAILS = {
    "tenant:api/v1/partners/<uuid:partner_id>": "/api/v1/partners/{}",
    "tenant:api/v1/rewards/<uuid:reward_id>": "/api/v1/rewards/{}",
    "tenant:api/v1/payouts/<uuid:payout_id>": "/api/v1/payouts/{}",
    "tenant:api/v1/promo-codes/<str:code>": "/api/v1/promo-codes/{}",
}
for route, template in API_DETAILS.items():
    for label, value in PATH_VALUES.items():
        add(route, f"path {label}", "GET", template.format(value), headers=AUTH)
    add(route, "auth none", "GET", template.format(LEAD_ID))
    add(route, "valid", "GET", template.format(LEAD_ID), headers=AUTH)
add(
    "tenant:api/v1/promo-codes/<str:code>",
    "known code",
    "GET",
    "/api/v1/promo-codes/ALICE10",
    headers=AUTH,
)
PATCHES = {
    "tenant:api/v1/partners/<uuid:partner_id>": (
        "/api/v1/partners/{PARTNER}",
        {"status": "blocked", "reason": "spam"},
    ),
    "tenant:api/v1/leads/<uuid:lead_id>": (f"/api/v1/leads/{LEAD_ID}", {"status": "qualified"}),
}
for route, (path, valid) in PATCHES.items():
    for field in valid:
        for label, value in {**TEXTS, **WRONG_TYPES}.items():
            add(
                route,
                f"patch {field} = {label}",
                "PATCH",
                path,
                headers=AUTH,
                content_type="application/json",
                body={"json": {**valid, field: value}},
            )
    for label in ("not_json", "top_level_array", "deep_1100", "huge_64k"):
        add(
            route,
            f"patch body {label}",
            "PATCH",
            path,
            headers=AUTH,
            content_type="application/json",
            body=BAD_BODIES[label],
        )
NOT_FOUND = "tenant:^api/"
for label, value in PATH_VALUES.items():
    add(NOT_FOUND, f"path {label}", "GET", f"/api/v1/leads/{value}x/more", headers=AUTH)
add(NOT_FOUND, "unknown version", "GET", "/api/v2/leads", headers=AUTH)
methods(NOT_FOUND, "/api/", ("GET", "POST", "PATCH", "DELETE"))
DOCS = "tenant:api/docs/"
add(DOCS, "valid", "GET", "/api/docs/")
query_params(DOCS, "/api/docs/", ("lang", "version"))
methods(DOCS, "/api/docs/", ("POST", "DELETE"))
API_WEBHOOK = {
    "url": "http://127.0.0.1:9/hooks",
    "events": ["lead.created", "reward.approved"],
    "description": "CRM",
    "enabled": True,
}
WEBHOOKS = "tenant:api/v1/webhooks"
json_fields(WEBHOOKS, "/api/v1/webhooks", API_WEBHOOK, "application/json", headers=AUTH)
for label, headers in HOSTILE_AUTH.items():
    add(WEBHOOKS, f"auth {label}", "GET", "/api/v1/webhooks", headers=headers)
    add(
        WEBHOOKS,
        f"auth {label} POST",
        "POST",
        "/api/v1/webhooks",
        headers=headers,
        content_type="application/json",
        body={"json": API_WEBHOOK},
    )
add(WEBHOOKS, "list", "GET", "/api/v1/webhooks", headers=AUTH)
for label, value in QUERY_VALUES.items():
    add(
        WEBHOOKS,
        f"query cursor = {label}",
        "GET",
        "/api/v1/webhooks",
        query=f"cursor={value}",
        headers=AUTH,
    )
    add(
        WEBHOOKS,
        f"query limit = {label}",
        "GET",
        "/api/v1/webhooks",
        query=f"limit={value}",
        headers=AUTH,
    )
methods(WEBHOOKS, "/api/v1/webhooks", ("PUT", "PATCH", "DELETE"))
WEBHOOK = "tenant:api/v1/webhooks/<uuid:endpoint_id>"
WEBHOOK_ROTATE = "tenant:api/v1/webhooks/<uuid:endpoint_id>/rotate-secret"
for label, value in PATH_VALUES.items():
    for method in ("GET", "DELETE"):
        add(WEBHOOK, f"path {label} {method}", method, f"/api/v1/webhooks/{value}", headers=AUTH)
    add(
        WEBHOOK_ROTATE,
        f"path {label}",
        "POST",
        f"/api/v1/webhooks/{value}/rotate-secret",
        headers=AUTH,
    )
for label, body in BAD_BODIES.items():
    add(
        WEBHOOK,
        f"PATCH body {label}",
        "PATCH",
        f"/api/v1/webhooks/{LEAD_ID}",
        headers=AUTH,
        content_type="application/json",
        body=body,
    )
for label, headers in HOSTILE_AUTH.items():
    add(WEBHOOK, f"auth {label}", "GET", f"/api/v1/webhooks/{LEAD_ID}", headers=headers)
    add(
        WEBHOOK_ROTATE,
        f"auth {label}",
        "POST",
        f"/api/v1/webhooks/{LEAD_ID}/rotate-secret",
        headers=headers,
    )
methods(WEBHOOK, f"/api/v1/webhooks/{LEAD_ID}", ("POST", "PUT"))
methods(WEBHOOK_ROTATE, f"/api/v1/webhooks/{LEAD_ID}/rotate-secret", ("GET", "PUT", "DELETE"))
WEBHOOK_LOG = "tenant:api/v1/webhooks/<uuid:endpoint_id>/deliveries"
WEBHOOK_RESEND = "tenant:api/v1/webhooks/deliveries/<uuid:delivery_id>/resend"
for label, value in PATH_VALUES.items():
    add(WEBHOOK_LOG, f"path {label}", "GET", f"/api/v1/webhooks/{value}/deliveries", headers=AUTH)
    add(
        WEBHOOK_RESEND,
        f"path {label}",
        "POST",
        f"/api/v1/webhooks/deliveries/{value}/resend",
        headers=AUTH,
    )
for label, value in QUERY_VALUES.items():
    for name in ("status", "cursor", "limit"):
        add(
            WEBHOOK_LOG,
            f"query {name} = {label}",
            "GET",
            f"/api/v1/webhooks/{LEAD_ID}/deliveries",
            query=f"{name}={value}",
            headers=AUTH,
        )
for label, headers in HOSTILE_AUTH.items():
    add(
        WEBHOOK_LOG,
        f"auth {label}",
        "GET",
        f"/api/v1/webhooks/{LEAD_ID}/deliveries",
        headers=headers,
    )
    add(
        WEBHOOK_RESEND,
        f"auth {label}",
        "POST",
        f"/api/v1/webhooks/deliveries/{LEAD_ID}/resend",
        headers=headers,
    )
methods(WEBHOOK_LOG, f"/api/v1/webhooks/{LEAD_ID}/deliveries", ("POST", "PUT", "DELETE"))
methods(WEBHOOK_RESEND, f"/api/v1/webhooks/deliveries/{LEAD_ID}/resend", ("GET", "PUT"))

# ----------------------------------------------------------------------------- forms and pages

WORKSPACE = {
    "name": "Hostile Co",
    "slug": "hostile-co",
    "email": "new@example.com",
    "password": "a-long-passphrase-1",
}
form_fields("platform:", "/", ("name", "slug", "email", "password"), WORKSPACE)
query_params("platform:", "/", ("next", "lang"))
header_cases("platform:", "GET", "/")
# The pages of the e-mailed workspace link: sent, confirm (a signed token), ready.
for step in ("sent", "ready"):
    add(f"platform:workspace/{step}/", "valid", "GET", f"/workspace/{step}/")
    query_params(f"platform:workspace/{step}/", f"/workspace/{step}/", ("next",))
CONFIRM = "platform:workspace/confirm/<str:token>/"
for label, token in {
    "forged": "forged-token",
    "nul": "a%00b",
    "surrogate": "%ED%A0%80",
    "long": "x" * 3000,
    "signed-looking": "eyJ.abc:def:ghi",
}.items():
    add(CONFIRM, f"GET token {label}", "GET", f"/workspace/confirm/{token}/")
form_fields(
    CONFIRM,
    "/workspace/confirm/forged-token/",
    ("password1", "password2"),
    {"password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"},
)

LOGIN = {"login": "someone@example.com", "password": "wrong-password", "remember": "on"}
SIGNUP = {
    "email": "new2@example.com",
    "password1": "a-long-passphrase-1",
    "password2": "a-long-passphrase-1",
}
RESET = {"email": "someone@example.com"}
SET_LANG = {"language": "ru", "next": "/"}
for host in ("platform", "tenant"):
    form_fields(f"{host}:accounts/login/", "/accounts/login/", tuple(LOGIN), LOGIN)
    query_params(f"{host}:accounts/login/", "/accounts/login/", ("next",))
    form_fields(f"{host}:accounts/signup/", "/accounts/signup/", tuple(SIGNUP), SIGNUP)
    form_fields(f"{host}:accounts/password/reset/", "/accounts/password/reset/", ("email",), RESET)
    form_fields(f"{host}:i18n/setlang/", "/i18n/setlang/", tuple(SET_LANG), SET_LANG)
    reset_key = f"{host}:accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$"
    path_param(reset_key, "/accounts/password/reset/key/1-{}/")
    form_fields(
        reset_key,
        "/accounts/password/reset/key/1-abc/",
        ("password1", "password2"),
        {"password1": "x", "password2": "x"},
    )
    confirm = f"{host}:accounts/^confirm-email/(?P<key>[-:\\w]+)/$"
    path_param(confirm, "/accounts/confirm-email/{}/")
    form_fields(confirm, "/accounts/confirm-email/abc/", ("key",), {"key": "abc"})
    # The other allauth pages anonymous visitors can open: a GET, a hostile query and
    # a hostile form each.
    for page in (
        "accounts/logout/",
        "accounts/inactive/",
        "accounts/confirm-email/",
        "accounts/login/code/confirm/",
        "accounts/password/reset/done/",
        "accounts/password/reset/key/done/",
        "accounts/reauthenticate/",
        "accounts/reauthenticate/code/",
        "accounts/reauthenticate/code/confirm/",
        "accounts/2fa/authenticate/",
        "accounts/2fa/reauthenticate/",
        "accounts/email/",
        "accounts/password/change/",
        "accounts/password/set/",
    ):
        route = f"{host}:{page}"
        add(route, "GET", "GET", f"/{page}")
        for label, value in FORM_VALUES.items():
            add(route, f"query next = {label}", "GET", f"/{page}", query=f"next={value}")
            add(
                route,
                f"form code = {label}",
                "POST",
                f"/{page}",
                content_type="application/x-www-form-urlencoded",
                body={"text": f"code={value}&email={value}"},
            )

# Operators' pages that answer anonymous visitors themselves (the RQ statistics take a
# token; the admin's logout page).
STATS = "platform:ops/admin/django_rq/dashboard/^stats.json/?$"
add(STATS, "GET", "GET", "/ops/admin/django_rq/dashboard/stats.json/")
header_cases(STATS, "GET", "/ops/admin/django_rq/dashboard/stats.json/")
STATS_TOKEN = "platform:ops/admin/django_rq/dashboard/^stats.json/(?P<token>[\\w]+)?/?$"
path_param(STATS_TOKEN, "/ops/admin/django_rq/dashboard/stats.json/{}/")
add("platform:ops/admin/logout/", "GET", "GET", "/ops/admin/logout/")
form_fields("platform:ops/admin/logout/", "/ops/admin/logout/", ("next",), {"next": "/"})
add("platform:healthz", "GET", "GET", "/healthz")
query_params("platform:healthz", "/healthz", ("x",))
methods("platform:healthz", "/healthz", ("HEAD", "POST"))

# Tenant pages anonymous visitors reach: the partner home (sign-up), joining, recruiting
# and invitation links.
for route, path in (("tenant:", "/"), ("tenant:join/", "/join/")):
    add(route, "GET", "GET", path)
    query_params(route, path, ("next", "ref", "program"))
    form_fields(
        route,
        path,
        ("email", "name", "program", "password"),
        {"email": "p@example.com", "name": "P", "program": "x", "password": "a-long-passphrase-1"},
    )
path_param("tenant:recruit/<str:code>/", "/recruit/{}/")
add("tenant:recruit/<str:code>/", "valid", "GET", "/recruit/{CODE}/")
query_params("tenant:recruit/<str:code>/", "/recruit/{CODE}/", ("next",))
path_param("tenant:invite/<str:token>/", "/invite/{}/")
path_param("tenant:invite/<str:token>/", "/invite/{}/", "POST")
add("tenant:invite/<str:token>/", "valid", "GET", "/invite/{INVITE}/")
form_fields(
    "tenant:invite/<str:token>/",
    "/invite/{INVITE}/",
    ("password1", "password2", "email"),
    {"password1": "x", "password2": "x", "email": "e@x.y"},
)
# The unsubscribe link of notification e-mails: a signed token, no sign-in.
UNSUB = "tenant:notifications/unsubscribe/<str:token>/"
path_param(UNSUB, "/notifications/unsubscribe/{}/")
path_param(UNSUB, "/notifications/unsubscribe/{}/", "POST")
add(UNSUB, "valid", "GET", "/notifications/unsubscribe/{UNSUB}/")
add(UNSUB, "valid POST", "POST", "/notifications/unsubscribe/{UNSUB}/")
add(UNSUB, "signature altered", "POST", "/notifications/unsubscribe/{UNSUB}x/")
add(UNSUB, "signature cut", "GET", "/notifications/unsubscribe/{UNSUB_CUT}/")
add(UNSUB, "another salt's token", "POST", "/notifications/unsubscribe/{INVITE}/")
add(UNSUB, "not base64 json", "POST", "/notifications/unsubscribe/W10:1abc:def/")
add(UNSUB, "huge", "GET", "/notifications/unsubscribe/{LONG}{LONG}/")
header_cases(UNSUB, "POST", "/notifications/unsubscribe/{UNSUB}/")
methods(UNSUB, "/notifications/unsubscribe/{UNSUB}/", ("PUT", "DELETE"))
form_fields(
    UNSUB,
    "/notifications/unsubscribe/{UNSUB}/",
    ("List-Unsubscribe",),
    {"List-Unsubscribe": "One-Click"},
)
# The tenant's branding (public: the sign-in and join pages use it): the stylesheet and
# the two images, with hostile versions, validators and methods.
for route, path in (
    ("tenant:brand/theme.css", "/brand/theme.css"),
    ("tenant:brand/logo", "/brand/logo"),
    ("tenant:brand/favicon", "/brand/favicon"),
):
    add(route, "GET", "GET", path)
    query_params(route, path, ("v",))
    header_cases(route, "GET", path)
    methods(route, path, ("HEAD", "POST", "PUT", "DELETE"))
    for label, etag in {
        "nul": '"b1\u0000"',
        "long": "{LONG}",
        "star": "*",
        "surrogate": "\ud800",
    }.items():
        add(route, f"if-none-match {label}", "GET", path, headers={"If-None-Match": etag})
# A banner's image (partners/materials), public: partners embed it on their sites.
MATERIAL_IMAGE = "tenant:m/<uuid:material_id>/image"
path_param(MATERIAL_IMAGE, "/m/{}/image")
add(MATERIAL_IMAGE, "nobody's id", "GET", "/m/7e57c0de-0000-4000-8000-000000000000/image")
query_params(MATERIAL_IMAGE, "/m/7e57c0de-0000-4000-8000-000000000000/image", ("s",))
header_cases(MATERIAL_IMAGE, "GET", "/m/7e57c0de-0000-4000-8000-000000000000/image")
methods(MATERIAL_IMAGE, "/m/7e57c0de-0000-4000-8000-000000000000/image", ("HEAD", "POST", "PUT"))
# A partner invitation (issue 13): the link signs a person up into a program.
PARTNER_INVITE = "tenant:join/invite/<str:token>/"
path_param(PARTNER_INVITE, "/join/invite/{}/")
path_param(PARTNER_INVITE, "/join/invite/{}/", "POST")
add(PARTNER_INVITE, "valid", "GET", "/join/invite/{PARTNER_INVITE}/")
form_fields(
    PARTNER_INVITE,
    "/join/invite/{PARTNER_INVITE}/",
    ("display_name", "password1", "password2"),
    {"display_name": "P", "password1": "x", "password2": "y"},
)
methods(PARTNER_INVITE, "/join/invite/{PARTNER_INVITE}/", ("PUT", "DELETE"))
add("tenant:security/2fa-required/", "GET", "GET", "/security/2fa-required/")
query_params("tenant:security/2fa-required/", "/security/2fa-required/", ("next",))


def main() -> None:
    ids = [case["id"] for case in cases]
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates, sorted(duplicates)[:5]
    # ensure_ascii: NUL and lone surrogates are written as \u escapes, so the file is
    # plain ASCII and loads back to exactly these strings.
    # One case a line: a change to the generator shows as changed lines.
    lines = [json.dumps(case, ensure_ascii=True, sort_keys=True) for case in cases]
    OUT.write_text('{"cases": [\n' + ",\n".join(lines) + "\n]}\n")
    print(f"{len(cases)} cases written to {OUT}")


if __name__ == "__main__":
    main()
