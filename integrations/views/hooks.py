"""Inbound CRM events: /hooks/crm/<secret>/ on the tenant's host.

The secret in the URL names the connection (amoCRM webhooks carry no signature); the
connector then verifies the body (amoCRM's account id, Bitrix24's application token).
An event is only a hint: the records it names are re-read from the CRM by a job, so the
answer goes back at once (amoCRM wants it within 2 seconds). The ids gather per
connection and one job reads them together (integrations/crm/event_queue.py), leaving
out the echoes of our own writes (what the event reports of each record goes with it)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from integrations.crm import event_queue
from integrations.crm.base import CrmAuthError, CrmError
from integrations.crm.registry import connector_for
from integrations.models import CrmConnection, CrmSyncLog
from integrations.services.connections import event_url
from prm.access import request_tenant
from prm.inputs import clean_text
from prm.jobs import job_enqueue

MAX_BODY = 1_000_000


@csrf_exempt
def crm_event(request: HttpRequest, secret: str) -> JsonResponse:
    tenant = request_tenant(request)
    if request.method != "POST":
        response = JsonResponse(
            {"error": "method_not_allowed", "detail": "CRM events are POSTed."}, status=405
        )
        response["Allow"] = "POST"
        return response
    crm = CrmConnection.objects.filter(hook_secret=secret).first()
    if crm is None:
        return JsonResponse({"error": "not_found", "detail": "Unknown hook."}, status=404)
    if not crm.is_active:
        # Accepted and dropped: the reconciliation after reconnecting picks changes up,
        # and a CRM that sees errors may disable the hook (amoCRM does after 100).
        return JsonResponse({"ok": True, "ignored": crm.status})
    if len(request.body) > MAX_BODY:
        return JsonResponse({"error": "too_large", "detail": "Body too large."}, status=413)
    try:
        connector = connector_for(crm)
    except CrmAuthError as exc:
        # The stored credentials no longer decrypt: the event cannot be verified. The
        # connection is marked broken (admins are alerted); reconciliation after the
        # fix picks the change up, so the CRM gets an answer it will not retry.
        from integrations.crm.engine import credentials_unreadable

        credentials_unreadable(crm, exc)
        return JsonResponse({"ok": True, "ignored": CrmConnection.Status.BROKEN})
    try:
        ids = connector.parse_request(
            request.body,
            request.content_type or "",
            method=request.method or "POST",
            uris=[request.build_absolute_uri(), event_url(crm)],
            headers=request.headers,
        )
        versions = connector.event_versions(request.body, request.content_type or "")
    except CrmAuthError as exc:
        CrmSyncLog.objects.create(
            tenant=tenant,
            connection=crm,
            kind=CrmSyncLog.Kind.EVENT,
            failed=1,
            message=clean_text(f"event refused: {exc}", 2000),
        )
        return JsonResponse({"error": "forbidden", "detail": str(exc)}, status=403)
    except (CrmError, ValueError, KeyError, TypeError) as exc:
        # Not something the CRM sends (UnicodeDecodeError is a ValueError too).
        return JsonResponse({"error": "bad_event", "detail": str(exc)[:300]}, status=400)
    finally:
        connector.close()
    # The ids go into the job's arguments (jsonb): cleaned like any outside text.
    ids = list(dict.fromkeys(clean_text(str(i), 128) for i in ids))[:500]
    if ids:
        # What the event reports of each record tells the echo of our own write apart.
        reported = {i: clean_text(str(versions[i]), 64) for i in ids if i in versions}
        if event_queue.add(crm, ids, reported):  # read with whatever else has gathered
            return JsonResponse({"ok": True, "records": len(ids)})
        job_enqueue(
            "integrations.crm.inbound.pull_records",
            queue="crm",
            tenant=tenant,
            connection_id=str(crm.pk),
            crm_ids=ids,
            **({"versions": reported} if reported else {}),
        )
    return JsonResponse({"ok": True, "records": len(ids)})
