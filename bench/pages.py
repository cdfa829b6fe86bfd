"""Page speed at scale: `make bench` (or `python bench/pages.py`).

Builds the large tenant of ``manage.py prm_bigdata`` (10,000 partners, 1,000,000 clicks,
100,000 leads, 30,000 conversions, 120,000 rewards, 200,000 ledger entries, plus 50
small tenants) in its own database, or reuses it when it is there; runs gunicorn
(2 workers, DEBUG=0) and times every page in ``PAGES`` one request at a time over a
kept-alive connection: p50 and p95 of the server's answer time as seen from the same
machine, next to ``/healthz`` of the same server in the same run (the fixed cost of
gunicorn + Django + one SELECT). Figures go to the "Pages at scale" section of
BENCHMARKS.md, with the load average before and after (other jobs share the cores).

Add a page by adding a line to ``PAGES``: who opens it (``staff`` = the owner,
``partner`` = the busy partner, with 100,000+ clicks; ``platform`` = anonymous on the
platform host) and its path; ``{main}``, ``{partner}``, ``{enrollment}``, ``{lead}`` and
``{conversion}`` are ids of the big tenant (the Main program, the busy partner …);
``{leads_cursor}``, ``{leads_name_cursor}`` and ``{rewards_cursor}`` are the cursors
the Next link of page 1,999 carries (the keyset path of ``prm/pagination.py``).

Knobs: BENCH_PAGES_DATABASE_URL (postgres://postgres@127.0.0.1:5432/prm_bench_pages),
BENCH_PAGES_REBUILD (0; 1 drops and rebuilds the data), BENCH_PAGES_SCALE (1),
BENCH_PAGES_REQUESTS (40 per page), BENCH_PAGES_PORT (8093), BENCH_WRITE (1).
"""

# ruff: noqa: S603, S607, S608 - a local driver of local tools (psql, gunicorn); SQL of constants

from __future__ import annotations

import http.client
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (who, path, what it shows). Targets: console pages < 150 ms p95, cabinet stats < 100 ms.
PAGES: list[tuple[str, str, str]] = [
    ("platform", "/healthz", "reference: /healthz (one SELECT 1)"),
    ("staff", "/manage/", "overview"),
    ("staff", "/manage/partners/", "partners"),
    ("staff", "/manage/partners/?page=150", "partners, page 150"),
    ("staff", "/manage/partners/?q=company+1", "partners, search"),
    ("staff", "/manage/partners/search/?q=ab", "partner search (JSON)"),
    ("staff", "/manage/programs/", "programs"),
    ("staff", "/manage/programs/{main}/", "program page (10,000 enrollments)"),
    ("staff", "/manage/programs/{main}/?page=150", "program page, page 150"),
    ("staff", "/manage/programs/{main}/rewards/", "program reward rules"),
    ("staff", "/manage/programs/{main}/rewards/rules/new/", "reward rule form"),
    ("staff", "/manage/leads/", "leads"),
    ("staff", "/manage/leads/?page=2000", "leads, page 2,000"),
    ("staff", "/manage/leads/?sort=name", "leads by name"),
    ("staff", "/manage/leads/?sort=-name&page=2000", "leads by name, page 2,000"),
    ("staff", "/manage/leads/?page=2000&page_after={leads_cursor}", "leads, page 2,000 by Next"),
    (
        "staff",
        "/manage/leads/?sort=-name&page=2000&page_after={leads_name_cursor}",
        "leads by name, page 2,000 by Next",
    ),
    ("staff", "/manage/leads/?status=qualified&sort=-status", "leads, one status"),
    ("staff", "/manage/leads/?partner={partner}", "leads of a partner"),
    ("staff", "/manage/leads/?q=firm+12", "leads, text search"),
    ("staff", "/manage/leads/new/", "lead form"),
    ("staff", "/manage/leads/{lead}/", "a lead"),
    ("staff", "/manage/conversions/", "conversions"),
    ("staff", "/manage/conversions/?page=500", "conversions, page 500"),
    ("staff", "/manage/conversions/?partner={partner}", "conversions of a partner"),
    ("staff", "/manage/conversions/{conversion}/", "a conversion"),
    ("staff", "/manage/rewards/", "rewards"),
    ("staff", "/manage/rewards/?page=2000", "rewards, page 2,000"),
    (
        "staff",
        "/manage/rewards/?page=2000&page_after={rewards_cursor}",
        "rewards, page 2,000 by Next",
    ),
    ("staff", "/manage/rewards/?status=pending", "rewards on hold"),
    ("staff", "/manage/rewards/corrections/", "corrections"),
    ("staff", "/manage/partners/{partner}/ledger/", "a partner's ledger"),
    ("staff", "/manage/payouts/", "payouts"),
    ("staff", "/manage/audit/", "audit log"),
    ("staff", "/manage/team/", "team"),
    ("partner", "/", "cabinet home"),
    ("partner", "/programs/", "cabinet programs"),
    ("partner", "/programs/{enrollment}/", "cabinet program (links)"),
    ("partner", "/stats/", "cabinet stats (100,000+ clicks)"),
    ("partner", "/earnings/", "cabinet earnings"),
    ("partner", "/payouts/", "cabinet payouts"),
    # Analytics: read from the rollups (programs/analytics/), never the raw rows.
    ("staff", "/manage/?period=90d", "overview, 90 days"),
    ("staff", "/manage/?period=today", "overview, today"),
    ("staff", "/manage/reports/partners/", "report by partner (30 days)"),
    ("staff", "/manage/reports/partners/?period=90d&page=100", "report by partner, page 100"),
    ("staff", "/manage/reports/partners/?period=90d&q=company+1", "report by partner, search"),
    ("staff", "/manage/reports/partners/?sort=-clicks", "report by partner, by clicks"),
    ("staff", "/manage/reports/partners/?period=90d&q=bench", "by partner, all found"),
    (
        "staff",
        "/manage/reports/partners/?period=90d&program={main}",
        "report by partner, one program",
    ),
    ("staff", "/manage/reports/partners/?period=90d&kind=link", "report by partner, one kind"),
    ("staff", "/manage/reports/quality/?period=90d&program={main}", "lead quality, one program"),
    ("staff", "/manage/reports/programs/?period=90d", "report by program"),
    ("staff", "/manage/reports/channels/?period=90d&by=utm_source", "report by utm_source"),
    ("staff", "/manage/reports/channels/?period=90d&by=sub_id", "report by sub id"),
    ("staff", "/manage/reports/quality/?period=90d", "lead quality by partner"),
    ("staff", "/manage/reports/periods/?period=90d&by=day", "report by day"),
    ("staff", "/manage/reports/periods/?period=90d&by=month", "report by month"),
    ("partner", "/stats/?period=90d", "cabinet stats, 90 days (100,000+ clicks)"),
]

# What the time of the slower pages goes to (profiled with the ORM's query log and
# cProfile on this data; kept here so the section says it next to the figures).
NOTES = """\
What the time goes to. Every console page pays a fixed 10-25 ms beyond `/healthz`
(session, user, membership and tenant look-ups, the console layout). A list adds its
count and its page query (each an index scan of a few ms) and the rendering of 50 rows
through Django templates, which is most of what is left (20-40 ms of CPU here). A page
reached by its Next/Previous link is read from the index at the link's cursor (keyset,
0.05 ms whatever the depth); a page number typed in (`?page=2000`) fetches its keys
first (`prm/pagination.py`): an index-only scan of the 100,000 entries before it,
10-40 ms depending on the load. The program page counts clicks only for its 50
enrollments, but the busy partner's enrollment alone has 100,000 clicks (an index-only
count, 15-30 ms); the cabinet's stats page counts the same 100,000 clicks and renders
100 of them: both are for the analytics rollups to replace. The lead search uses
trigram indexes from three characters on; one or two characters scan the leads.
"""

REPORT = ROOT / "BENCHMARKS.md"
START = "<!-- bench/pages.py: start -->"
END = "<!-- bench/pages.py: end -->"
SLUG = "big"
DATABASE_URL = os.environ.get(
    "BENCH_PAGES_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prm_bench_pages"
)
REBUILD = os.environ.get("BENCH_PAGES_REBUILD", "0") == "1"
SCALE = os.environ.get("BENCH_PAGES_SCALE", "1")
REQUESTS = int(os.environ.get("BENCH_PAGES_REQUESTS", "40"))
PORT = int(os.environ.get("BENCH_PAGES_PORT", "8093"))
WRITE = os.environ.get("BENCH_WRITE", "1") == "1"
PY = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")

ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "prm.settings",
    "DATABASE_URL": DATABASE_URL,
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-" + "s" * 40,
    "SECURE_SSL_REDIRECT": "0",
    "LOG_LEVEL": "WARNING",
}
ENV.pop("REDIS_URL", None)  # jobs inline, cache in memory: only the pages are measured
os.environ.update({k: v for k, v in ENV.items() if k != "REDIS_URL"})
os.environ.pop("REDIS_URL", None)


def say(text: str) -> None:
    print(f"[pages] {text}", flush=True)


def psql(sql: str, database: str = "postgres") -> str:
    url = urlsplit(DATABASE_URL)
    return subprocess.run(
        ["psql", "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
        + ["-U", url.username or "postgres", "-d", database, "-Atqc", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=ENV, check=True)


def uptime() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def prepare_database() -> float | None:
    """Create and fill the database unless it holds the big tenant; the build time."""
    name = urlsplit(DATABASE_URL).path.lstrip("/")
    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1"
    if exists and REBUILD:
        psql(f"DROP DATABASE {name}")
        exists = False
    if not exists:
        psql(f"CREATE DATABASE {name}")
    manage("migrate", "-v0")
    has_big = psql(f"SELECT 1 FROM prm_tenant WHERE slug = '{SLUG}'", name) == "1"
    if has_big:
        say(f"reusing the tenant {SLUG!r} in {name}")
        return None
    say(f"building the tenant {SLUG!r} (scale {SCALE}) in {name}")
    t0 = time.monotonic()
    manage("prm_bigdata", "--scale", SCALE, "--tenant-slug", SLUG)
    # prm_bigdata writes raw rows with COPY, past the services that keep the rollups:
    # the rollups are built once from them, as after an import.
    manage("analytics_rebuild", "--all-tenants")
    return time.monotonic() - t0


def sessions_and_ids() -> tuple[dict[str, str], dict[str, str], dict[str, int]]:
    """Session cookies of the owner and the busy partner, the ids the paths name, and
    the tenant's row counts."""
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from partners.models import PartnerProfile
    from prm.models import Tenant, User
    from prm.pagination import cursor_of, sort_key
    from prm.tenancy import tenant_scope
    from programs import selectors as lead_lists
    from programs.models import Click, Conversion, Enrollment, Lead, Program
    from rewards import selectors as reward_lists
    from rewards.models import LedgerEntry, Reward

    def session(user: User) -> str:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        return str(store.session_key)

    tenant = Tenant.objects.get(slug=SLUG)
    with tenant_scope(tenant):
        main = Program.objects.get(name="Main")
        busy = PartnerProfile.objects.select_related("user").get(recruit_code="r1")
        ids = {
            "main": str(main.pk),
            "partner": str(busy.pk),
            "enrollment": str(Enrollment.objects.get(program=main, partner=busy).pk),
            "lead": str(Lead.objects.filter(partner=busy).latest("created_at").pk),
            "conversion": str(Conversion.objects.latest("occurred_at").pk),
        }
        # The cursor of the last row of page 1,999 (50 a page): what its Next link has.
        for name, rows in (
            ("leads_cursor", lead_lists.leads_filtered()),
            ("leads_name_cursor", lead_lists.leads_filtered(sort="-name")),
            ("rewards_cursor", reward_lists.rewards_filtered()),
        ):
            key = sort_key(rows)
            assert key is not None, name
            ids[name] = cursor_of(rows[1999 * 50 - 1], key)
        counts = {
            "partners": PartnerProfile.objects.count(),
            "clicks": Click.objects.count(),
            "leads": Lead.objects.count(),
            "conversions": Conversion.objects.count(),
            "rewards": Reward.objects.count(),
            "ledger entries": LedgerEntry.objects.count(),
            "clicks of the busy partner": Click.objects.filter(partner=busy).count(),
        }
    cookies = {
        "staff": session(User.objects.get(email=f"owner@{SLUG}.bench.test")),
        "partner": session(busy.user),
    }
    return cookies, ids, counts


def start_gunicorn() -> subprocess.Popen[bytes]:
    args = [GUNICORN, "prm.wsgi:application", "-w", "2", "-b", f"127.0.0.1:{PORT}"]
    args += ["--timeout", "60", "--log-level", "warning"]
    server = subprocess.Popen(args, cwd=ROOT, env=ENV, start_new_session=True)
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/healthz", headers={"Host": "localhost"})
            conn.getresponse().read()
            return server
        except OSError:
            if server.poll() is not None:
                sys.exit("gunicorn exited at start")
            time.sleep(0.1)
    server.terminate()
    sys.exit("gunicorn did not answer /healthz within 30 s")


def measure(who: str, path: str, cookies: dict[str, str]) -> dict[str, float | int]:
    host = "localhost" if who == "platform" else f"{SLUG}.localhost"
    headers = {"Host": host, "Accept-Language": "en"}
    if who in cookies:
        headers["Cookie"] = f"sessionid={cookies[who]}"
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    times, status, size = [], 0, 0
    for i in range(REQUESTS + 3):  # three to warm both workers' caches up
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - t0
        status, size = response.status, len(body)
        if i >= 3:
            times.append(elapsed)
    conn.close()
    times.sort()
    return {
        "status": status,
        "bytes": size,
        "p50": statistics.median(times) * 1000,
        "p95": times[max(0, round(0.95 * len(times)) - 1)] * 1000,
    }


def main() -> None:
    load_before = uptime()
    built = prepare_database()
    manage("collectstatic", "--noinput", "-v0")  # DEBUG=0 serves hashed static names
    cookies, ids, counts = sessions_and_ids()
    server = start_gunicorn()
    rows = []
    try:
        for who, path, label in PAGES:
            result = measure(who, path.format(**ids), cookies)
            rows.append((who, path, label, result))
            say(
                f"{label:45} {result['status']} {result['p50']:7.1f} ms p50 "
                f"{result['p95']:7.1f} ms p95 {result['bytes']:>9,} B"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    load_after = uptime()
    write_report(rows, counts, built, load_before, load_after)


def write_report(
    rows: list[tuple[str, str, str, dict[str, float | int]]],
    counts: dict[str, int],
    built: float | None,
    load_before: str,
    load_after: str,
) -> None:
    def target(who: str, path: str) -> float | None:
        if who == "partner":
            return 100.0 if path == "/stats/" else None
        return 150.0 if who == "staff" else None

    lines = []
    for who, path, label, r in rows:
        goal = target(who, path)
        verdict = "" if goal is None else ("ok" if r["p95"] < goal else f"over {goal:.0f} ms")
        lines.append(
            f"| {label} | `{path}` | {r['status']} | {r['p50']:,.1f} | {r['p95']:,.1f} | "
            f"{r['bytes'] / 1024:,.0f} KB | {verdict} |"
        )
    data = ", ".join(f"{n:,} {what}" for what, n in counts.items())
    build = f"built by `prm_bigdata` in {built:.0f} s" if built else "reused from an earlier run"
    section = (
        f"{START}\n## Pages at scale (issue 12)\n\n"
        f"`python bench/pages.py`, {time.strftime('%Y-%m-%d %H:%M')}: gunicorn, 2 workers, "
        f"DEBUG=0, PostgreSQL on the same 2-core machine; {REQUESTS} requests per page one "
        f"after the other over one kept-alive connection, after 3 warm-up requests; times "
        f"are the answer as the client on the same machine sees it. The tenant ({build}): "
        f"{data}. Load average (1/5/15 min) before {load_before}, after {load_after}: "
        f"other jobs shared the cores. Targets: console pages < 150 ms p95, the partner's "
        f"stats < 100 ms p95.\n\n{NOTES}\n"
        "| page | path | status | p50 ms | p95 ms | size | target |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(lines) + f"\n{END}"
    )
    print(section)
    if WRITE:
        text = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n"
        if START in text:
            text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip() + "\n\n" + section + "\n"
        REPORT.write_text(text)


if __name__ == "__main__":
    main()
