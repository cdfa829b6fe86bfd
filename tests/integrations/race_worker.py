"""The worker process of test_token_race: boots Django itself (it starts from a
forkserver, not as a fork of the test process), then pushes and polls through one
stored connection. Nothing here imports Django at module level: the forkserver imports
this module to find ``work`` before Django is set up."""

from __future__ import annotations

import os
from typing import Any

CHUNKS = 3
PER_CHUNK = 10  # leads per chunk per process


def _boot(database: str) -> None:
    """Django in a fresh process, on the test run's database."""
    import django
    from django.conf import settings

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings_test")
    django.setup()
    settings.DATABASES["default"]["NAME"] = database


def work(database: str, pk: str, first: int, barrier: Any, out: Any) -> None:
    """Boot, then push this process's leads through the stored connection ``pk``; one
    answer (pushed keys, problems) to the parent."""
    try:
        _boot(database)
        from django.db import connections

        from integrations.crm.base import CrmRecord
        from integrations.crm.registry import connector_for
        from integrations.models import CrmConnection
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        out.put(([], [f"boot: {type(exc).__name__}: {exc}"]))
        return

    def record(n: int) -> CrmRecord:
        return CrmRecord(
            key=f"race-{n}",
            title=f"Race {n}",
            email=f"race{n}@example.test",
            phone=f"+1555{n:07d}",
            values={},
        )

    out.put(_walk(pk, first, barrier, record, connector_for, CrmConnection))
    connections.close_all()


def _walk(pk: str, first: int, barrier: Any, record: Any, connector_for: Any, model: Any) -> Any:
    from django.db import connections

    problems: list[str] = []
    pushed: list[str] = []
    try:
        crm = model.all_tenants_unscoped.select_related("tenant").get(pk=pk)
        connector = connector_for(crm)
        for chunk in range(CHUNKS):
            start = first + chunk * PER_CHUNK
            try:
                results = connector.push([record(n) for n in range(start, start + PER_CHUNK)])
                pushed += [r.key for r in results if r.ok]
                problems += [f"{r.key}: {r.error}" for r in results if not r.ok]
            except Exception as exc:  # noqa: BLE001 - reported to the parent
                problems.append(f"push {chunk}: {type(exc).__name__}: {exc}")
            barrier.wait(timeout=30)  # the parent expires the tokens now
            barrier.wait(timeout=30)
        try:
            connector.changes_since("")
        except Exception as exc:  # noqa: BLE001
            problems.append(f"poll: {type(exc).__name__}: {exc}")
        connector.close()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        connections.close_all()
    return pushed, problems
