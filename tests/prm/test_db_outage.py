"""Which database errors count as "the database is away" (503) and which stay bugs (500).

The outage itself, under gunicorn with a real server stopped and started, is in
tests/faults/test_db_restart.py; here the errors come from the test database.
"""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError, connection
from django.test import RequestFactory

from prm.db_outage import DatabaseOutageMiddleware, is_connection_failure
from prm.models import Tenant
from tests.faults.helpers import side_connection

pytestmark = pytest.mark.django_db(transaction=True)
TABLE = Tenant._meta.db_table


def _error_of(sql: str) -> OperationalError:
    with pytest.raises(OperationalError) as caught, connection.cursor() as cursor:
        cursor.execute(sql)
    return caught.value


def test_it_leaves_a_statement_timeout_a_server_error() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '10ms'")
    try:
        exc = _error_of("SELECT pg_sleep(1)")
    finally:
        connection.close()
    assert exc.__cause__.sqlstate == "57014"  # type: ignore[union-attr]
    assert not is_connection_failure(exc)
    request = RequestFactory().get("/api/v1/leads")
    assert DatabaseOutageMiddleware(lambda r: None).process_exception(request, exc) is None  # type: ignore[arg-type]


def test_it_leaves_a_lock_timeout_a_server_error() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '10ms'")
    holder = side_connection()
    try:
        holder.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        exc = _error_of(f"SELECT 1 FROM {TABLE}")
    finally:
        holder.rollback()
        holder.close()
        connection.close()
    assert exc.__cause__.sqlstate == "55P03"  # type: ignore[union-attr]
    assert not is_connection_failure(exc)


def test_it_answers_503_when_the_server_ended_the_connection() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with side_connection() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    try:
        exc = _error_of("SELECT 1")
        assert is_connection_failure(exc)
        request = RequestFactory().get("/api/v1/leads")
        response = DatabaseOutageMiddleware(lambda r: None).process_exception(request, exc)  # type: ignore[arg-type]
    finally:
        connection.close()
    assert response is not None and response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert json.loads(response.content)["code"] == "unavailable"
    # The next use of the connection opens a new one.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
