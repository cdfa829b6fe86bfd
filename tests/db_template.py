"""One migrated database per test run, copied for each pytest-xdist worker.

Running the migrations takes about ten seconds of CPU; with three workers on two cores
each ran them at once. Here the first worker to arrive migrates a template database
(under a file lock named after the run), and every worker copies it with PostgreSQL's
``CREATE DATABASE … TEMPLATE`` (a file copy, well under a second). Without xdist the
usual pytest-django set-up runs."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connections


@contextmanager
def _locked(name: str) -> Iterator[None]:
    path = Path(tempfile.gettempdir()) / f"{name}.lock"
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _exists(name: str) -> bool:
    with connections["default"]._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def _run(sql: str) -> None:
    with connections["default"]._nodb_cursor() as cursor:
        cursor.execute(sql)


def setup(run_id: str) -> str:
    """Create this worker's database from the run's template; return its name."""
    connection = connections["default"]
    quote = connection.ops.quote_name
    mine = connection.creation._get_test_db_name()  # test_<name>_gw<N>
    template = f"{settings.DATABASES['default']['NAME']}_tpl_{run_id[:12]}"
    with _locked(template):
        if not _exists(template):
            test_settings = connection.settings_dict["TEST"]
            test_settings["NAME"], own = template, test_settings.get("NAME")
            connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
            test_settings["NAME"] = own
            connection.close()
        _run(f"DROP DATABASE IF EXISTS {quote(mine)}")
        _run(f"CREATE DATABASE {quote(mine)} TEMPLATE {quote(template)}")
    connection.close()
    settings.DATABASES["default"]["NAME"] = mine
    connection.settings_dict["NAME"] = mine
    return template


def teardown(template: str) -> None:
    connection = connections["default"]
    quote = connection.ops.quote_name
    mine = connection.settings_dict["NAME"]
    connection.close()
    _run(f"DROP DATABASE IF EXISTS {quote(mine)}")
    # The first worker to finish removes the template; one that has not copied it yet
    # (it would be waiting on the lock) migrates it again.
    with _locked(template):
        _run(f"DROP DATABASE IF EXISTS {quote(template)}")


def run_id() -> str:
    return os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
