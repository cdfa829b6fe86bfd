"""A lost database answers 503 with Retry-After, not 500, and the next request reconnects.

While PostgreSQL restarts (or fails over) every request that needs it fails with a
connection error. Those are not bugs: the client should come back in a few seconds, so
they get ``503 Service Unavailable`` and ``Retry-After`` — JSON in the API's shape on
the machine paths, a small page elsewhere. Any other database error (a statement
timeout, a deadlock, a bad query) stays a 500: only the connection itself counts.

Django converts an exception into a response at every middleware boundary, so one
raised by an inner middleware (the session loaded by the 2FA check, a session saved on
the way out) never reaches this middleware's ``__call__``. Such failures are noted on
the request from the ``got_request_exception`` signal, which Django sends before it
builds its 500, and the 500 is replaced here; failures in views go through
``process_exception``.

Reconnecting needs nothing more: Django closes a connection that raised at the end of
the request, and with ``CONN_HEALTH_CHECKS`` a persistent connection that died between
requests is checked and replaced before use (tests/faults/test_db_restart.py restarts a
real server under gunicorn).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connections
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import get_template

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10
# Machine clients get JSON: the API, tracking (snippet, links) and inbound CRM hooks.
JSON_PREFIXES = ("/api/", "/t/", "/hooks/")
# SQLSTATEs of a lost server: class 08 (connection exception), and the server shutting
# down (57P01 admin, 57P02 crash) or not yet accepting connections (57P03).
_SHUTDOWN_STATES = frozenset({"57P01", "57P02", "57P03"})
_MARK = "_prm_database_unavailable"


def is_connection_failure(exc: BaseException) -> bool:
    """True when ``exc`` says the database server is unreachable or went away."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith("08") or sqlstate in _SHUTDOWN_STATES
    # The driver gives no SQLSTATE when it never reached the server or lost it: then
    # the connection is gone (never opened, or closed under us). An error without a
    # SQLSTATE on a live connection (SQLite's "database is locked") is a real error.
    return any(_is_lost(conn) for conn in connections.all(initialized_only=True))


def _is_lost(conn: Any) -> bool:
    raw = conn.connection
    return raw is None or bool(getattr(raw, "closed", False))


def unavailable(request: HttpRequest) -> HttpResponse:
    """The 503 itself; renders without touching the database (no context processors)."""
    if request.path_info.startswith(JSON_PREFIXES):
        response: HttpResponse = JsonResponse(
            {"error": "service temporarily unavailable, retry later", "code": "unavailable"},
            status=503,
        )
    else:
        response = HttpResponse(
            get_template("503.html").render({"retry_after": RETRY_AFTER_SECONDS}), status=503
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


@receiver(got_request_exception, dispatch_uid="prm.db_outage")
def _note_lost_database(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    exc = sys.exc_info()[1]  # Django sends the signal from inside its except block
    if request is not None and exc is not None and is_connection_failure(exc):
        setattr(request, _MARK, exc)


class DatabaseOutageMiddleware:
    """Outside everything that may touch the database (only HEAD handling is further out)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            response = self.get_response(request)
        except (OperationalError, InterfaceError) as exc:
            if not is_connection_failure(exc):
                raise
            return self._answer(request, exc)
        lost = getattr(request, _MARK, None)
        if lost is not None and response.status_code == 500:
            return self._answer(request, lost)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_connection_failure(exception):
            return self._answer(request, exception)
        return None

    def _answer(self, request: HttpRequest, exc: BaseException) -> HttpResponse:
        logger.warning("database unavailable, answering 503 to %s: %s", request.path, exc)
        return unavailable(request)
