"""The recruitment widget's door: ``prm('recruit', …)`` on a client's site shows the
program's offer and a sign-up form, and posts it here with the program's publishable key.

GET ``/t/<key>/recruit`` gives what the widget shows (offer, branding, its texts in the
visitor's language); POST registers the visitor as a partner of the program, as the API's
partner sign-up does, with an e-mail to set a password. Only pages on the program's allowed
landing URLs may call it (CORS by origin), a hidden honeypot field catches form-filling
bots and each address may try ``ACCOUNT_RATE_LIMITS["recruit"]`` times.

An address that already has an account gets the same answer as a new one and nothing is
written: the form must not tell a stranger who is a partner here.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from partners.invites import partner_register
from partners.offers import rule_text
from prm.branding import branding_for
from prm.inputs import InputError, clean_text, parse_json
from prm.ratelimits import TOO_MANY_ATTEMPTS, limit_hit, retry_after
from programs.models import Program
from programs.services import lookups
from rewards.models import RewardRule

log = logging.getLogger(__name__)

WIDGET_SOURCE = Path(settings.BASE_DIR, "static", "snippet", "recruit.js")
MAX_BODY = 8 * 1024
HONEYPOT = "website"  # a field people never see; bots fill every input they find
_source_cache: dict[str, Any] = {}


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def _allowed_origins(program: Program, tenant_base_url: str) -> set[str]:
    origins = {_origin_of(u) for u in program.landing_url_list}
    origins.add(_origin_of(tenant_base_url))  # the workspace's own pages
    return origins - {""}


def _answer(
    request: HttpRequest, allowed: set[str], body: dict[str, Any], status: int
) -> HttpResponse:
    response = JsonResponse(body, status=status)
    origin = request.headers.get("Origin", "").lower()
    if origin in allowed:
        # Only the program's own sites may read the answer (or post: see below).
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "86400"
    response["Vary"] = "Origin, Accept-Language"
    return response


def _error(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    # The API's error shape (README "API errors").
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _program(request: HttpRequest, key: str) -> Program:
    info = lookups.program_for_key(key)
    if info is None or info["tenant_id"] != str(request.tenant.pk):  # type: ignore[attr-defined]
        raise Http404("unknown key")
    program = Program.objects.filter(pk=info["id"]).first()
    if program is None or program.status != Program.Status.ACTIVE:
        raise Http404("program not open")
    if program.join_policy == Program.JoinPolicy.INVITATION:
        raise Http404("program not open")
    return program


def _language(request: HttpRequest) -> str:
    wanted = request.GET.get("lang", "")[:8].lower().split("-")[0]
    codes = {code for code, _name in settings.LANGUAGES}
    return wanted if wanted in codes else translation.get_language_from_request(request)


def _texts() -> dict[str, str]:
    return {
        "title": _("Become our partner"),
        "intro": _("Recommend us and earn a reward for every customer you bring."),
        "name": _("Your name"),
        "email": _("E-mail"),
        "consent": _("I agree to the partner program terms and to receive e-mails about it."),
        "submit": _("Join the program"),
        "sending": _("Sending…"),
        "thanks": _(
            "Thank you! Check your inbox: we sent you a link to set your password and open "
            "your partner cabinet."
        ),
        "failed": _("Something went wrong. Please try again later."),
        "close": _("Close"),
        "after_approval": _("We review every application and confirm it by e-mail."),
    }


def _offer(request: HttpRequest, program: Program) -> dict[str, Any]:
    tenant = request.tenant  # type: ignore[attr-defined]
    brand = branding_for(tenant)
    rules = RewardRule.objects.filter(
        program=program, group__isnull=True, partner__isnull=True, is_active=True
    ).order_by("event", "-created_at")[:5]
    return {
        "program": program.name,
        "product": program.product,
        "workspace": brand.title,
        "rewards": [rule_text(r, program.currency) for r in rules],
        "after_approval": program.join_policy == Program.JoinPolicy.APPROVAL,
        "brand": {
            "primary": brand.primary,
            "primary_dark": brand.primary_dark,
            "accent": brand.accent,
            "font": brand.font_stack,
            "logo": tenant.base_url + brand.logo_url if brand.logo_url else "",
        },
        "texts": _texts(),
        "honeypot": HONEYPOT,
    }


@csrf_exempt  # no cookies of ours are read or set: the origin check is the guard
def recruit(request: HttpRequest, key: str) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    try:
        program = _program(request, key)
    except Http404:
        return JsonResponse(_error("not_found", "unknown key or program not open"), status=404)
    allowed = _allowed_origins(program, tenant.base_url)
    with translation.override(_language(request)):
        if request.method == "OPTIONS":
            return _answer(request, allowed, {}, 204 if _origin_allowed(request, allowed) else 403)
        if request.method == "GET":
            return _answer(request, allowed, _offer(request, program), 200)
        if request.method != "POST":
            return _answer(request, allowed, _error("method_not_allowed", "use GET or POST"), 405)
        if not _origin_allowed(request, allowed):
            return _answer(
                request,
                allowed,
                _error("forbidden_origin", _("This site may not sign up partners here.")),
                403,
            )
        if limit_hit(request, action="recruit"):
            response = _answer(
                request, allowed, _error("rate_limited", str(TOO_MANY_ATTEMPTS)), 429
            )
            response["Retry-After"] = str(retry_after(request, action="recruit"))
            return response
        return _sign_up(request, program, allowed)


def _origin_allowed(request: HttpRequest, allowed: set[str]) -> bool:
    return request.headers.get("Origin", "").lower() in allowed


def _sign_up(request: HttpRequest, program: Program, allowed: set[str]) -> HttpResponse:
    try:
        data = parse_json(request.body, max_bytes=MAX_BODY)
    except InputError as exc:
        return _answer(request, allowed, _error("invalid_json", exc.message), exc.status)
    if not isinstance(data, dict):
        return _answer(request, allowed, _error("invalid_json", "body must be a JSON object"), 400)
    done = {"ok": True, "after_approval": program.join_policy == Program.JoinPolicy.APPROVAL}
    if data.get(HONEYPOT):
        log.info("recruit widget: honeypot filled, nothing written")
        return _answer(request, allowed, done, 200)  # the bot learns nothing
    fields: dict[str, list[str]] = {}
    email = clean_text(str(data.get("email") or "").strip(), 254).lower()
    name = clean_text(str(data.get("name") or "").strip(), 120)
    try:
        validate_email(email)
    except ValidationError:
        fields["email"] = [_("Enter a valid e-mail address.")]
    if not name:
        fields["name"] = [_("Enter your name.")]
    if data.get("consent") is not True:
        fields["consent"] = [_("Please accept the terms to join.")]
    if fields:
        return _answer(
            request, allowed, _error("invalid", _("Please correct the fields below."), fields), 400
        )
    if not get_user_model().objects.filter(email__iexact=email).exists():
        with suppress(IntegrityError), transaction.atomic():  # the same address twice at once
            partner_register(
                tenant=request.tenant,  # type: ignore[attr-defined]
                email=email,
                display_name=name,
                program=program,
                invite=True,
                via="widget",
            )
    return _answer(request, allowed, done, 200)


def widget_source(request: HttpRequest) -> HttpResponse:
    """``/t/recruit.js``: the widget itself, loaded by the snippet when a page asks for it."""
    mtime = WIDGET_SOURCE.stat().st_mtime
    if _source_cache.get("mtime") != mtime:
        _source_cache.update(mtime=mtime, text=WIDGET_SOURCE.read_text())
    response = HttpResponse(
        _source_cache["text"], content_type="application/javascript; charset=utf-8"
    )
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response
