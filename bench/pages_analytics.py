"""The analytics pages for bench/pages.py (the scale branch's page benchmark).

bench/pages.py should add ``PAGES += ANALYTICS_PAGES`` and, right after
``manage("prm_bigdata", …)`` in ``prepare_database``, call
``manage(*REBUILD_ROLLUPS)``: prm_bigdata writes raw rows with COPY, past the services
that keep the rollups, so the rollups are built once from them (as after an import).
"""

from __future__ import annotations

REBUILD_ROLLUPS = ("analytics_rebuild", "--all-tenants")

# (who, path, what it shows), as in bench/pages.py. Targets: console < 150 ms p95,
# cabinet stats < 100 ms p95 for the busy partner.
ANALYTICS_PAGES: list[tuple[str, str, str]] = [
    ("staff", "/manage/?period=90d", "overview, 90 days"),
    ("staff", "/manage/?period=today", "overview, today"),
    ("staff", "/manage/reports/partners/", "report by partner (30 days)"),
    ("staff", "/manage/reports/partners/?period=90d&page=100", "report by partner, page 100"),
    ("staff", "/manage/reports/partners/?period=90d&q=company+1", "report by partner, search"),
    ("staff", "/manage/reports/programs/?period=90d", "report by program"),
    ("staff", "/manage/reports/channels/?period=90d&by=utm_source", "report by utm_source"),
    ("staff", "/manage/reports/channels/?period=90d&by=sub_id", "report by sub id"),
    ("staff", "/manage/reports/quality/?period=90d", "lead quality by partner"),
    ("staff", "/manage/reports/periods/?period=90d&by=day", "report by day"),
    ("staff", "/manage/reports/periods/?period=90d&by=month", "report by month"),
    ("partner", "/stats/?period=90d", "cabinet stats, 90 days (100,000+ clicks)"),
]
