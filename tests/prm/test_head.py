"""HEAD is answered like GET without a body, through the WSGI application gunicorn runs
(Django's test client drops HEAD bodies itself, so it cannot show this)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory

from tests.factories import PartnerFactory, UserFactory
from tests.programs.factories import EnrollmentFactory, ProgramFactory


def _wsgi(method: str, path: str, host: str) -> tuple[int, dict[str, str], bytes]:
    environ = RequestFactory().generic(method, path, HTTP_HOST=host).environ
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = {k.lower(): v for k, v in headers}

    # As the test client does: the test's transaction must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        chunks = WSGIHandler()(environ, start_response)
        body = b"".join(chunks)
        getattr(chunks, "close", lambda: None)()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], body


@pytest.fixture
def program(acme: Any) -> Any:
    program = ProgramFactory(tenant=acme)
    partner = PartnerFactory(tenant=acme, user=UserFactory(email="alice@example.test"))
    EnrollmentFactory(program=program, partner=partner, code="ALICE")
    return program


@pytest.mark.parametrize(
    "path, host",
    [
        ("/t/c", "acme.localhost"),
        ("/t/l", "acme.localhost"),
        ("/t/{key}.js", "acme.localhost"),
        ("/t/unknown.js", "acme.localhost"),
        ("/r/ALICE", "acme.localhost"),
        ("/api/v1/leads", "acme.localhost"),
        ("/healthz", "localhost"),
        ("/", "localhost"),
    ],
)
def test_head_answers_like_get_without_a_body(program: Any, path: str, host: str) -> None:
    path = path.format(key=program.publishable_key)
    get_status, get_headers, get_body = _wsgi("GET", path, host)
    head_status, head_headers, head_body = _wsgi("HEAD", path, host)
    assert head_status == get_status
    assert head_body == b""
    assert head_headers.get("content-type") == get_headers.get("content-type")
    if "content-length" in get_headers:
        assert int(head_headers["content-length"]) == len(get_body)
