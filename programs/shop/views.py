"""A small client website that embeds the tracking snippet, as a customer of the
platform would: its sign-up posts a lead and its "buy" button posts a sale to the
platform's API from the server, with the secret API key."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from prm import http
from prm.models import Tenant
from prm.post_only import post_only
from programs.demo import DEMO_SHOP_SECRET
from programs.models import Program

PRICE = "49.00"


def _demo() -> tuple[Tenant, Program]:
    tenant = Tenant.objects.filter(slug="acme").first()
    # The shop is outside any tenant: it finds the demo program like a configured site.
    program = (
        Program.all_tenants_unscoped.filter(tenant=tenant, name="Pro plan").first()
        if tenant
        else None
    )
    if tenant is None or program is None:
        raise Http404("the demo is not loaded: run manage.py prm_demo")
    return tenant, program


def _origin(request: HttpRequest, tenant: Tenant) -> str:
    # The snippet's address is the one the console shows the client: the public URL.
    return tenant.base_url


def _page(
    request: HttpRequest, template: str, context: dict[str, Any] | None = None
) -> HttpResponse:
    tenant, program = _demo()
    origin = _origin(request, tenant)
    response = render(
        request,
        template,
        {
            "snippet_src": f"{origin}/t/{program.publishable_key}.js",
            "customer": request.session.get("shop_customer"),
            **(context or {}),
        },
    )
    # Like any client site: its CSP allows the platform's tenant host.
    response._csp_update = {  # type: ignore[attr-defined]
        "script-src": [origin],
        "connect-src": [origin],
        "img-src": [origin],  # the recruitment widget shows the workspace's logo
    }
    return response


def _api(request: HttpRequest, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Server-to-server call to the platform, as the client's backend makes it."""
    tenant, program = _demo()
    response = http.request(
        "POST",
        f"http://127.0.0.1:{request.get_port()}{path}",
        json={"program": str(program.pk), **payload},
        headers={
            "Host": f"{tenant.host}:{request.get_port()}",
            "Authorization": f"Bearer {DEMO_SHOP_SECRET}",
        },
    )
    return response.status_code, response.json()


def home(request: HttpRequest) -> HttpResponse:
    return _page(request, "shop/home.html")


def pricing(request: HttpRequest) -> HttpResponse:
    return _page(request, "shop/pricing.html")


@post_only
def signup(request: HttpRequest) -> HttpResponse:
    email = request.POST.get("email", "").strip()
    name = request.POST.get("name", "").strip()
    visitor = request.POST.get("prm_visitor", "")
    status, body = _api(
        request,
        "/api/v1/leads",
        {
            "name": name,
            "email": email,
            "visitor_id": visitor,
            "referral_code": request.POST.get("prm_ref", ""),
        },
    )
    if status != 201:
        error = _error(body)
        return _page(
            request,
            "shop/home.html",
            {"error": error.get("message"), "fields": error.get("fields")},
        )
    request.session["shop_customer"] = {
        "email": email,
        "name": name,
        "visitor": visitor,
        "ref": request.POST.get("prm_ref", ""),
    }
    return redirect("shop_account")


def account(request: HttpRequest) -> HttpResponse:
    if not request.session.get("shop_customer"):
        return redirect("shop_home")
    return _page(request, "shop/account.html", {"price": PRICE})


@post_only
def buy(request: HttpRequest) -> HttpResponse:
    customer = request.session.get("shop_customer")
    if not customer:
        return redirect("shop_home")
    status, body = _api(
        request,
        "/api/v1/conversions",
        {
            "order_id": f"shop-{uuid.uuid4().hex[:12]}",
            "amount": PRICE,
            "currency": "USD",
            "kind": "subscription",
            "customer_email": customer["email"],
            "visitor_id": customer["visitor"],
            "referral_code": customer["ref"],
            "promo_code": request.POST.get("promo_code", "").strip(),
        },
    )
    ok = status in (200, 201)
    context = {"ok": ok, "result": body, "error": "" if ok else _error(body).get("message")}
    return _page(request, "shop/thanks.html", context)


def _error(body: dict) -> dict:
    """The API's error as {message, fields}: the current shape, or the flat one that keys
    made before it keep (README "API errors")."""
    error = body.get("error")
    if isinstance(error, dict):
        return error
    return {"message": error, "fields": body.get("fields")}
