from __future__ import annotations

from tests.prm.conftest import run_jobs  # noqa: F401  (a real burst RQ worker)
