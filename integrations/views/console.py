"""Console pages of CRM integrations: connect, monitor, map fields and stages, settle
conflicts, retry dead letters. Writes go through integrations/services and the engine."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from integrations.crm import engine, partner_sync
from integrations.crm.base import CrmError
from integrations.crm.monitoring import LABELS, THRESHOLDS, connection_health
from integrations.crm.registry import PROVIDERS, module
from integrations.crm.schedule import POLL_JOB
from integrations.crm.usage import token_and_rate
from integrations.forms import FieldMapForm, ProgramForm, StageMapForm
from integrations.models import (
    CrmConflict,
    CrmConnection,
    CrmFieldMap,
    CrmOutbox,
    CrmStageMap,
    CrmSyncLog,
)
from integrations.models.connection import PrmField, Provider
from integrations.services import connections as svc
from prm import http
from prm.access import get_in_tenant_or_404, staff_required
from prm.crypto import KEY_CHANGED, DecryptionError
from prm.permissions import Perm
from prm.post_only import post_only
from prm.redirects import next_or

MANAGE = Perm.INTEGRATIONS_MANAGE


def _provider(provider: str) -> str:
    if provider not in PROVIDERS:
        raise Http404("unknown CRM")
    return provider


def _connection(provider: str) -> CrmConnection:
    return get_in_tenant_or_404(CrmConnection, provider=_provider(provider))


def _hook_url(request: HttpRequest, crm: CrmConnection) -> str:
    return svc.event_url(crm)


@staff_required(MANAGE)
def integration_list(request: HttpRequest) -> HttpResponse:
    saved = {c.provider: c for c in CrmConnection.objects.all()}
    cards = []
    for key, label in Provider.choices:
        crm = saved.get(key)
        cards.append(
            {
                "provider": key,
                "label": label,
                "crm": crm,
                "health": connection_health(crm) if crm else None,
            }
        )
    return render(request, "console/integrations/list.html", {"cards": cards})


@staff_required(MANAGE)
def integration_detail(request: HttpRequest, provider: str) -> HttpResponse:
    crm = CrmConnection.objects.filter(provider=_provider(provider)).first()
    if crm is None:
        return redirect("console:integration_connect", provider=provider)
    if not crm.credentials_readable:
        messages.error(request, KEY_CHANGED)  # it needs reconnecting: say why and how
    health = connection_health(crm)
    metrics = [
        {
            "name": name,
            "label": LABELS[name],
            "value": _show(name, getattr(health, name)),
            "limit": _show(name, limit),
            "crossed": name in health.crossed,
        }
        for name, limit in THRESHOLDS.items()
    ]
    log = Paginator(CrmSyncLog.objects.filter(connection=crm), 25).get_page(request.GET.get("page"))
    hook_url = _hook_url(request, crm)
    return render(
        request,
        "console/integrations/detail.html",
        {
            "crm": crm,
            "health": health,
            "metrics": metrics,
            "log": log,
            "hook_url": hook_url,
            # Subscribed, but the CRM holds another URL than the one we would register now.
            "hook_stale": crm.events_subscribed and crm.events_url != hook_url,
            "unmapped": crm.fields.filter(crm_field="").count(),
            "usage": token_and_rate(crm),
            "partners": partner_sync.progress(crm) if partner_sync.syncs_partners(crm) else None,
        },
    )


def _show(name: str, value: float) -> str:
    if name == "queue_depth":
        return f"{int(value)}"
    if name == "latency_seconds":
        return _("%(minutes).1f min") % {"minutes": value / 60}
    return f"{value * 100:.1f} %"


@staff_required(MANAGE)
def integration_connect(request: HttpRequest, provider: str) -> HttpResponse:
    provider = _provider(provider)
    crm = CrmConnection.objects.filter(provider=provider).first()
    form_class = module(provider, "forms").ConnectionForm
    existing = None
    if crm is not None:
        existing = {
            "auth_kind": crm.auth_kind,
            "base_url": crm.base_url,
            "auth_url": crm.auth_url,
            "credentials": _readable_credentials(request, crm),
            "settings": crm.settings,
        }
    if request.method == "POST":
        form = form_class(request.POST, existing=existing)
        program_form = ProgramForm(request.POST)
        if form.is_valid() and program_form.is_valid() and _addresses_ok(form):
            config = form.config()
            program = program_form.cleaned_data["program"]
            crm = svc.connection_save(
                tenant=request.tenant,  # type: ignore[attr-defined]
                provider=provider,
                auth_kind=config["auth_kind"],
                base_url=config["base_url"],
                auth_url=config.get("auth_url", ""),
                credentials=config["credentials"],
                settings={
                    **config.get("settings", {}),
                    "import_unknown_codes": program_form.cleaned_data["import_unknown_codes"],
                    "sync_partners": program_form.cleaned_data["sync_partners"],
                },
                program_id=program.pk if program else "",
                actor=request.user,  # type: ignore[arg-type]
            )
            if _needs_authorization(crm):
                # Not a redirect to the consent page: CSP's form-action 'self' stops a
                # form whose redirects end on the CRM's host. The page links there.
                messages.info(request, _("Saved. Now authorize access in the CRM."))
                return redirect("console:integration_connect", provider=provider)
            ok, message = svc.connection_test(crm, actor=request.user)  # type: ignore[arg-type]
            _report_test(request, ok, message)
            return redirect("console:integration_detail", provider=provider)
    else:
        form = form_class(existing=existing)
        program_form = ProgramForm(
            initial={
                "program": crm.program_id if crm else None,
                "import_unknown_codes": bool(crm and crm.settings.get("import_unknown_codes")),
                "sync_partners": bool(crm and crm.settings.get("sync_partners")),
            }
        )
    return render(
        request,
        "console/integrations/connect.html",
        {
            "form": form,
            "program_form": program_form,
            "crm": crm,
            "provider": provider,
            "label": Provider(provider).label,
            "authorized": bool(existing and existing["credentials"].get("access_token")),
        },
    )


def _readable_credentials(request: HttpRequest, crm: CrmConnection) -> dict[str, Any]:
    """The stored credentials, or none (with the reason shown) when they no longer
    decrypt: the form then asks for them again, which is the way to reconnect."""
    try:
        return crm.credentials
    except DecryptionError as exc:
        if request.method == "GET":
            messages.error(request, str(exc))
        return {}


def _addresses_ok(form: Any) -> bool:
    """A blocked or unresolvable CRM address is an error on its field, before saving."""
    config = form.config()
    ok = True
    for name in ("base_url", "auth_url"):
        problem = http.address_problem(config.get(name) or "")
        if problem:
            form.add_error(name if name in form.fields else None, problem)
            ok = False
    return ok


def _needs_authorization(crm: CrmConnection) -> bool:
    creds = crm.credentials
    return (
        crm.auth_kind == "oauth" and not creds.get("access_token") and bool(creds.get("client_id"))
    )


def _report_test(request: HttpRequest, ok: bool, message: str) -> None:
    if ok:
        messages.success(request, _("Connected to %s.") % message)
    else:
        messages.error(request, _("The CRM refused the connection: %s") % message)


def _redirect_uri(request: HttpRequest, provider: str) -> str:
    # Registered in the CRM's app beforehand, so it must not depend on the host the
    # console happens to be open on: always the tenant's public (slug) host.
    return request.tenant.base_url + reverse(  # type: ignore[attr-defined]
        "console:integration_oauth_callback", args=[provider]
    )


@staff_required(MANAGE)
def integration_oauth_start(request: HttpRequest, provider: str) -> HttpResponse:
    crm = _connection(provider)
    try:
        creds = crm.credentials
    except DecryptionError as exc:
        messages.error(request, str(exc))
        return redirect("console:integration_connect", provider=provider)
    state = secrets.token_urlsafe(24)
    request.session[f"crm_oauth_{provider}"] = state
    url = module(provider, "client").authorize_url(
        auth_url=crm.auth_url or crm.base_url,
        base_url=crm.base_url,
        client_id=creds.get("client_id", ""),
        redirect_uri=_redirect_uri(request, provider),
        state=state,
    )
    return redirect(url)


@staff_required(MANAGE)
def integration_oauth_callback(request: HttpRequest, provider: str) -> HttpResponse:
    crm = _connection(provider)
    expected = request.session.pop(f"crm_oauth_{provider}", None)
    state = request.GET.get("state", "")
    if not expected or not secrets.compare_digest(expected, state):
        messages.error(request, _("The authorization answer did not match our request; try again."))
        return redirect("console:integration_detail", provider=provider)
    if request.GET.get("error") or not request.GET.get("code"):
        messages.error(
            request,
            _("The CRM did not grant access (%s).") % (request.GET.get("error") or _("no code")),
        )
        return redirect("console:integration_detail", provider=provider)
    try:
        creds = crm.credentials
    except DecryptionError as exc:
        messages.error(request, str(exc))
        return redirect("console:integration_connect", provider=provider)
    try:
        base_url, tokens = module(provider, "client").exchange_code(
            auth_url=crm.auth_url or crm.base_url,
            base_url=crm.base_url,
            client_id=creds.get("client_id", ""),
            client_secret=creds.get("client_secret", ""),
            code=request.GET["code"],
            redirect_uri=_redirect_uri(request, provider),
            query={k: v for k, v in request.GET.items()},
        )
    except CrmError as exc:
        messages.error(request, _("The CRM refused the authorization code: %s") % exc)
        return redirect("console:integration_detail", provider=provider)
    crm = svc.connection_save(
        tenant=request.tenant,  # type: ignore[attr-defined]
        provider=provider,
        auth_kind=crm.auth_kind,
        base_url=base_url or crm.base_url,
        auth_url=crm.auth_url,
        credentials={**creds, **tokens},
        actor=request.user,  # type: ignore[arg-type]
    )
    ok, message = svc.connection_test(crm, actor=request.user)  # type: ignore[arg-type]
    _report_test(request, ok, message)
    return redirect("console:integration_detail", provider=provider)


@staff_required(MANAGE)
@post_only
def integration_action(request: HttpRequest, provider: str, action: str) -> HttpResponse:
    crm = _connection(provider)
    user = request.user
    if action == "test":
        ok, message = svc.connection_test(crm, actor=user)  # type: ignore[arg-type]
        _report_test(request, ok, message)
    elif action == "subscribe":
        done, error = svc.connection_subscribe(crm, _hook_url(request, crm))
        if done:
            messages.success(request, _("The CRM now sends its changes to this workspace."))
        elif error:
            messages.error(request, _("The CRM refused: %s") % error)
        else:
            messages.info(
                request,
                _(
                    "This CRM cannot be subscribed through its API: "
                    "add the event URL in the CRM by hand."
                ),
            )
    elif action == "push_all":
        with transaction.atomic():
            count = engine.sync_all(crm)
        messages.success(
            request,
            ngettext("%(n)d lead queued for the CRM.", "%(n)d leads queued for the CRM.", count)
            % {"n": count},
        )
    elif action == "reconcile":
        engine.start_job(POLL_JOB, crm)
        messages.success(request, _("Reconciliation started."))
    elif action in ("pause", "resume"):
        svc.connection_set_paused(crm, action == "pause", actor=user)  # type: ignore[arg-type]
        if action == "pause":
            messages.success(request, _("Paused: nothing is sent or read until you resume."))
        else:
            messages.success(request, _("Resumed: waiting changes are being sent."))
    elif action == "retry_all":
        count = engine.retry_dead(crm)
        messages.success(
            request,
            ngettext("%(n)d record queued again.", "%(n)d records queued again.", count)
            % {"n": count},
        )
    elif action == "retry_partners":
        # One row (its id posted) or all of them.
        row = request.POST.get("row", "")
        ids = [int(row)] if row.isdigit() else None
        count = partner_sync.retry_refused(crm, ids)
        messages.success(
            request,
            ngettext("%(n)d partner queued again.", "%(n)d partners queued again.", count)
            % {"n": count},
        )
    elif action == "disconnect":
        svc.connection_delete(crm, actor=user)  # type: ignore[arg-type]
        messages.success(request, _("Disconnected."))
        return redirect("console:integrations")
    else:
        raise Http404("unknown action")
    return redirect(next_or(request, reverse("console:integration_detail", args=[provider])))


@staff_required(MANAGE)
def integration_fields(request: HttpRequest, provider: str) -> HttpResponse:
    crm = _connection(provider)
    crm_fields: list[dict[str, Any]] = crm.settings.get("fields", [])
    maps = list(CrmFieldMap.objects.filter(connection=crm))
    forms_ = [
        FieldMapForm(
            request.POST if request.method == "POST" else None,
            instance=m,
            prefix=f"f{m.pk}",
            crm_fields=crm_fields,
        )
        for m in maps
    ]
    if request.method == "POST" and all(f.is_valid() for f in forms_):
        with transaction.atomic():
            for f in forms_:
                svc.field_map_save(
                    CrmFieldMap.objects.get(pk=f.instance.pk), actor=request.user, **f.cleaned_data
                )  # type: ignore[arg-type]
        messages.success(request, _("Field mapping saved."))
        return redirect("console:integration_fields", provider=provider)
    return render(
        request,
        "console/integrations/fields.html",
        {"crm": crm, "rows": forms_, "has_fields": bool(crm_fields)},
    )


@staff_required(MANAGE)
def integration_stages(request: HttpRequest, provider: str) -> HttpResponse:
    crm = _connection(provider)
    stages = list(CrmStageMap.objects.filter(connection=crm))
    rows = [
        (
            s,
            StageMapForm(
                request.POST if request.method == "POST" else None,
                initial={"lead_status": s.lead_status},
                prefix=f"s{s.pk}",
                stage=s,
            ),
        )
        for s in stages
    ]
    if request.method == "POST" and all(f.is_valid() for _s, f in rows):
        with transaction.atomic():
            for stage, f in rows:
                svc.stage_map_save(
                    stage, lead_status=f.cleaned_data["lead_status"], actor=request.user
                )  # type: ignore[arg-type]
        messages.success(request, _("Stage mapping saved."))
        return redirect("console:integration_stages", provider=provider)
    return render(request, "console/integrations/stages.html", {"crm": crm, "rows": rows})


@staff_required(MANAGE)
def integration_conflicts(request: HttpRequest, provider: str) -> HttpResponse:
    crm = _connection(provider)
    state = request.GET.get("state", "open")
    rows = CrmConflict.objects.select_related("lead", "resolved_by").filter(connection=crm)
    rows = (
        rows.filter(state=CrmConflict.State.OPEN)
        if state == "open"
        else rows.exclude(state=CrmConflict.State.OPEN)
    )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    labels = dict(PrmField.choices)
    for c in page:  # the field's name as people read it, not its key
        c.field_label = labels.get(c.prm_field, c.prm_field)  # type: ignore[attr-defined]
    return render(
        request, "console/integrations/conflicts.html", {"crm": crm, "page": page, "state": state}
    )


@staff_required(MANAGE)
@post_only
def integration_conflict_resolve(
    request: HttpRequest, provider: str, conflict_id: int
) -> HttpResponse:
    crm = _connection(provider)
    conflict = get_in_tenant_or_404(CrmConflict, pk=conflict_id, connection=crm)
    keep = request.POST.get("keep")
    if keep not in ("prm", "crm"):
        messages.error(request, _("Choose which value to keep."))
    else:
        svc.conflict_resolve(conflict, keep=keep, actor=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Conflict settled."))
    return redirect("console:integration_conflicts", provider=provider)


@staff_required(MANAGE)
def integration_dead_letters(request: HttpRequest, provider: str) -> HttpResponse:
    crm = _connection(provider)
    rows = (
        CrmOutbox.objects.select_related("lead")
        .filter(connection=crm, state__in=[CrmOutbox.State.DEAD, CrmOutbox.State.SKIPPED])
        .order_by("-done_at")
    )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    partners = Paginator(partner_sync.refused(crm), 50).get_page(request.GET.get("partners"))
    return render(
        request,
        "console/integrations/dead_letters.html",
        {"crm": crm, "page": page, "partners": partners},
    )


@staff_required(MANAGE)
@post_only
def integration_dead_letter_retry(request: HttpRequest, provider: str, row_id: int) -> HttpResponse:
    crm = _connection(provider)
    row = get_in_tenant_or_404(
        CrmOutbox,
        pk=row_id,
        connection=crm,
        state__in=[CrmOutbox.State.DEAD, CrmOutbox.State.SKIPPED],
    )
    engine.retry_dead(crm, [row.pk])
    messages.success(request, _("Queued again."))
    return redirect("console:integration_dead_letters", provider=provider)
