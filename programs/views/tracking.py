"""Public tracking endpoints on the tenant host: the snippet, leads from the snippet,
and the platform-hosted referral link. Clicks (POST /t/c) are taken by
programs.middleware.ClickMiddleware before the rest of the stack."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from prm.access import get_in_tenant_or_404
from prm.audit import client_ip
from prm.inputs import InputError, clean_text, parse_json
from programs.analytics.channel import referrer_domain, utm_from_params, utm_from_url
from programs.models import Enrollment, Lead, Program
from programs.services import lookups, unknown_codes
from programs.services.clicks import MAX_BODY, VISITOR_RE, ClickError, ClickInput, click_accept
from programs.services.leads import LeadInput, lead_create

SNIPPET_SOURCE = Path(settings.BASE_DIR, "static", "snippet", "prm.js")
_snippet_cache: dict[str, Any] = {}
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def cors(response: HttpResponse) -> HttpResponse:
    """Any site may call the tracking endpoints; they carry no cookies of ours."""
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "86400"
    return response


def error(status: int, message: str) -> HttpResponse:
    return cors(JsonResponse({"error": message}, status=status))


def _snippet_source() -> str:
    mtime = SNIPPET_SOURCE.stat().st_mtime
    if _snippet_cache.get("mtime") != mtime:
        _snippet_cache.update(mtime=mtime, text=SNIPPET_SOURCE.read_text().strip())
    return _snippet_cache["text"]


@require_GET
def snippet(request: HttpRequest, key: str) -> HttpResponse:
    info = lookups.program_for_key(key)
    if info is None or info["tenant_id"] != str(request.tenant.pk):  # type: ignore[attr-defined]
        raise Http404("unknown key")
    config = {
        "key": key,
        "endpoint": request.tenant.base_url + "/t",  # type: ignore[attr-defined]
        "param": info["ref_param"],
        "days": info["cookie_days"],
        "model": "first" if info["attribution"] == Program.Attribution.FIRST_CLICK else "last",
        "cookieDomain": info["cookie_domain"],
        # The snippet adds Secure itself on https pages; the tenant host's scheme says
        # nothing about the client site's.
        "secure": False,
    }
    body = f"{_snippet_source()}({json.dumps(config, separators=(',', ':'))});\n"
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = parse_json(request.body, max_bytes=MAX_BODY)  # cleaned, depth-limited
    except InputError as exc:
        raise ClickError(exc.status, exc.message) from None
    if not isinstance(data, dict):
        raise ClickError(400, "body must be a JSON object")
    return data


def _str(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise ClickError(400, f"field {name} must be a string")
    return clean_text(str(value).strip(), limit)


@csrf_exempt
def lead(request: HttpRequest) -> HttpResponse:
    """``prm('lead', {...})`` from the snippet: a lead credited by the visitor's cookie."""
    if request.method == "OPTIONS":
        return cors(HttpResponse(status=204))
    if request.method != "POST":
        return error(405, "use POST")
    tenant = request.tenant  # type: ignore[attr-defined]
    try:
        data = _json_body(request)
        key = _str(data, "k", 40)
        info = lookups.program_for_key(key) if key else None
        if info is None or info["tenant_id"] != str(tenant.pk):
            raise ClickError(404, "unknown key")
        visitor = _str(data, "v", 64)
        if visitor and not VISITOR_RE.match(visitor):
            raise ClickError(400, "invalid visitor id (v)")
        cookie_time = None
        raw_t = data.get("t") or 0
        if isinstance(raw_t, int | float) and raw_t > 0:
            cookie_time = datetime.fromtimestamp(min(raw_t, 4102444800), UTC)
        program = Program.objects.get(pk=info["id"])
        # The page the lead was sent from: its utm_* and the site that sent the visitor
        # (used when no click of the visitor says better).
        utm = utm_from_url(_str(data, "u", 2048))
        new_lead = lead_create(
            tenant=tenant,
            program=program,
            source=Lead.Source.SNIPPET,
            data=LeadInput(
                name=_str(data, "name", 200),
                email=_str(data, "email", 254),
                phone=_str(data, "phone", 40),
                company=_str(data, "company", 200),
                external_id=_str(data, "external_id", 128),
                visitor_id=visitor,
                referral_code=_str(data, "c", 64),
                cookie_time=cookie_time,
                # The visitor's own request: the address as the proxies we trust pass it.
                ip=client_ip(request) or "",
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                **utm.as_dict(),
                referrer_domain=referrer_domain(_str(data, "r", 2048)),
            ),
        )
    except ClickError as exc:
        return error(exc.status, exc.message)
    except ValidationError as exc:
        return error(400, " ".join(str(m) for m in exc.messages))
    return cors(
        JsonResponse(
            {
                "lead": str(new_lead.pk),
                "duplicate": new_lead.is_duplicate,
                "credited": new_lead.partner_id is not None,
            },
            status=201,
        )
    )


def _with_params(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, v) for k, v in params.items() if v]
    return urlunsplit(parts._replace(query=urlencode(query)))


@require_GET
def referral_redirect(request: HttpRequest, code: str) -> HttpResponse:
    """``/r/CODE``: record the click server-side, then go to an allowed landing URL."""
    try:
        enrollment = get_in_tenant_or_404(
            Enrollment.objects.select_related("program"), code__iexact=code
        )
    except Http404:
        return _unknown_code(request, code)
    program = enrollment.program
    target = request.GET.get("to", "")
    if not target or not program.allows_url(target):
        target = program.default_landing_url  # never an open redirect
    if not target:
        raise Http404("program has no landing URL")
    visitor = secrets.token_urlsafe(16)
    sub = request.GET.get("sub", "")[:64]
    utm = utm_from_params(request.GET)
    material = _material_id(request.GET.get("m", ""))
    try:
        click_accept(
            ClickInput(
                key=program.publishable_key,
                code=enrollment.code,
                visitor=visitor,
                sub=sub,
                url=target,
                referrer=request.META.get("HTTP_REFERER", "")[:2048],
                **utm.as_dict(),
                material=material,
            ),
            tenant_id=str(request.tenant.pk),  # type: ignore[attr-defined]
            ip=client_ip(request) or "",
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            source="link",
        )
    except ClickError:
        raise Http404("unknown referral code") from None
    params = {program.ref_param: enrollment.code, "prm_vid": visitor, "sub": sub}
    return _landing(request, target, params)


def _material_id(value: str) -> str:
    """The ``m`` parameter of a material's link, if it is a UUID ('' otherwise). Not
    looked up: a click costs no extra query; stats join it to the tenant's materials."""
    try:
        return str(uuid.UUID(value[:36])) if value else ""
    except ValueError:
        return ""


def _landing(request: HttpRequest, target: str, params: dict[str, str]) -> HttpResponse:
    params.update({k: request.GET[k][:200] for k in UTM_KEYS if k in request.GET})
    response = HttpResponseRedirect(_with_params(target, params))
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer-when-downgrade"
    return response


def _unknown_code(request: HttpRequest, code: str) -> HttpResponse:
    """A link with a code no partner has (mistyped, or a removed partner's): the visitor
    still reaches the program's landing page, crediting nobody, and the visit is kept
    as a rejected click. 404 only when no program of the tenant has a landing URL."""
    program = unknown_codes.fallback_program(hint=request.GET.get("p", ""))
    if program is None:
        raise Http404("unknown referral code")
    target = request.GET.get("to", "")
    if not target or not program.allows_url(target):
        target = program.default_landing_url  # never an open redirect
    tenant = request.tenant  # type: ignore[attr-defined]
    unknown_codes.unknown_click_record(
        program=program,
        code=code,
        visitor=secrets.token_urlsafe(16),
        sub=request.GET.get("sub", "")[:64],
        url=target,
        referrer=request.META.get("HTTP_REFERER", "")[:2048],
        ip=client_ip(request) or "",
        ip_mode=tenant.click_ip_mode,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    # No referral parameter and no visitor id: the landing page must not credit anyone.
    return _landing(request, target, {"sub": request.GET.get("sub", "")[:64]})
