"""Click ingestion benchmark: `make bench`.

Runs POST /t/c (the snippet's click) and GET /bench/204 (a bare Django view, the
stack's ceiling) one after the other against the same gunicorn, each for BENCH_SECONDS
under wrk, then flushes the Redis stream into PostgreSQL and checks that every click
answered 204 was stored. Writes the "Click ingestion" section of BENCHMARKS.md.

Uses a database and a Redis of its own:
  BENCH_DATABASE_URL  postgres://postgres@127.0.0.1:5432/prm_bench (dropped and created)
  BENCH_REDIS_URL     unset: a private redis-server on 127.0.0.1:BENCH_REDIS_PORT (6390),
                      started and stopped here, so that a test run on the same machine
                      (which flushes Redis databases 15, 14, ... per xdist worker) cannot
                      touch it; set: that database, flushed first (never database 0)
Knobs (environment): BENCH_SECONDS (60), BENCH_PORT (8765), BENCH_WORKERS (4),
BENCH_WORKER_CLASS (sync), BENCH_THREADS (1, gthread only), BENCH_CONNECTIONS (16),
BENCH_WRK_THREADS (2), BENCH_WRITE (1: update BENCHMARKS.md), BENCH_PREFLIGHT (1: also
measure OPTIONS /t/c, which ClickMiddleware answers with no I/O at all: the floor cost of
gunicorn + Django's handler, for reference), BENCH_QUIET_WAIT (300: before each
endpoint, wait for other processes to use under 10 % of the CPUs, up to this many seconds
in all; the load they add during each run is reported either way), BENCH_RETRIES (2: run
an endpoint again when other processes took 10 % or more of the CPUs during its run).
"""

# ruff: noqa: S603, S607, S310 - a local driver of local tools (psql, redis-cli, wrk)

from __future__ import annotations

import datetime
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
GUNICORN = str(Path(PY).parent / "gunicorn")
LUA = str(ROOT / "bench" / "wrk.lua")
REPORT = ROOT / "BENCHMARKS.md"
START = "<!-- bench/clicks.py: start -->"
END = "<!-- bench/clicks.py: end -->"
HOST = "acme.localhost"

SECONDS = int(os.environ.get("BENCH_SECONDS", "60"))
PORT = int(os.environ.get("BENCH_PORT", "8765"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "sync")
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
WRK_THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))
WRITE = os.environ.get("BENCH_WRITE", "1") == "1"
PREFLIGHT = os.environ.get("BENCH_PREFLIGHT", "1") == "1"
QUIET_WAIT = int(os.environ.get("BENCH_QUIET_WAIT", "300"))
RETRIES = int(os.environ.get("BENCH_RETRIES", "2"))
OTHER_LOAD_MAX = 10  # % of all CPUs used by processes outside the benchmark
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prm_bench")
REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "6390"))
PRIVATE_REDIS = not os.environ.get("BENCH_REDIS_URL")
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or f"redis://127.0.0.1:{REDIS_PORT}/0"

ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "prm.settings",
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-" + "b" * 40,
    "PRM_BENCH": "1",
    "SECURE_SSL_REDIRECT": "0",
    "ALLOWED_HOSTS": "*",
    "LOG_LEVEL": "WARNING",
    # WhiteNoise warns that staticfiles/ is missing (no collectstatic: no page is served).
    "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
}
ENV.pop("PYTEST_XDIST_WORKER", None)


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def run(*args: str, capture: bool = False) -> str:
    result = subprocess.run(args, cwd=ROOT, env=ENV, check=True, text=True, capture_output=capture)
    return result.stdout if capture else ""


def manage(*args: str, capture: bool = False) -> str:
    return run(PY, "manage.py", *args, capture=capture)


def shell(code: str) -> str:
    return manage("shell", "-c", code, capture=True).strip().splitlines()[-1]


def need_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    say("wrk is missing: apt-get install wrk")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


def fresh_database() -> None:
    url = urllib.parse.urlparse(DATABASE_URL)
    name = url.path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z0-9_]+", name) or name in {"prm", "postgres", "prm_dev"}:
        sys.exit(f"refusing to drop database {name!r}: give BENCH_DATABASE_URL a bench name")
    admin = url._replace(path="/postgres").geturl()
    for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", admin, "-qtAc", sql], check=True)


def fresh_redis() -> None:
    url = urllib.parse.urlparse(REDIS_URL)
    db = url.path.lstrip("/") or "0"
    if db == "0" and not PRIVATE_REDIS:
        sys.exit("refusing to flush Redis database 0: give BENCH_REDIS_URL its own database")
    subprocess.run(
        [
            "redis-cli",
            "-h",
            url.hostname or "127.0.0.1",
            "-p",
            str(url.port or 6379),
            "-n",
            db,
            "FLUSHDB",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def start_redis() -> subprocess.Popen[bytes] | None:
    if not PRIVATE_REDIS:
        return None
    binary = shutil.which("redis-server")
    if not binary:
        sys.exit("redis-server not found: install it or set BENCH_REDIS_URL")
    args = [binary, "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--dir", tempfile.gettempdir(), "--logfile", ""]
    say(f"private redis-server on 127.0.0.1:{REDIS_PORT}")
    server = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    for _ in range(50):
        if server.poll() is not None:
            sys.exit(f"redis-server exited at start (is port {REDIS_PORT} taken?)")
        ping = subprocess.run(
            ["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True, text=True
        )
        if ping.stdout.strip() == "PONG":
            return server
        time.sleep(0.1)
    stop(server)
    sys.exit("redis-server did not answer")


def stop(server: subprocess.Popen[bytes] | None) -> None:
    if server is not None and server.poll() is None:
        server.terminate()  # gunicorn's arbiter stops its workers gracefully
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def gunicorn_args() -> list[str]:
    args = [
        GUNICORN,
        "prm.wsgi:application",
        "--bind",
        f"127.0.0.1:{PORT}",
        "--workers",
        str(WORKERS),
        "--worker-class",
        WORKER_CLASS,
        "--backlog",
        "2048",
        "--log-level",
        "warning",
    ]
    if WORKER_CLASS == "gthread":
        args += ["--threads", str(THREADS)]
    return args


def gunicorn_settings() -> str:
    threads = f", {THREADS} threads each" if WORKER_CLASS == "gthread" else ""
    return f"{WORKERS} {WORKER_CLASS} workers{threads}, backlog 2048, no access log"


def start_gunicorn() -> subprocess.Popen[bytes]:
    say("gunicorn " + " ".join(gunicorn_args()[1:]))
    server = subprocess.Popen(gunicorn_args(), cwd=ROOT, env=ENV, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("gunicorn exited at start")
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{PORT}/bench/204", headers={"Host": HOST}
            )
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 204:
                    return server
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.3)
    stop(server)
    sys.exit("gunicorn did not answer /bench/204 within 30 s")


TICK = os.sysconf("SC_CLK_TCK")


def busy_ticks() -> int:
    """CPU ticks the whole machine spent busy (not idle, iowait or steal)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split()[1:9]]
    return sum(values) - values[3] - values[4] - values[7]


def our_ticks() -> int:
    """CPU ticks of this driver and its descendants (gunicorn, redis-server, wrk, ...)."""
    procs: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        procs[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    ours, grown = {os.getpid()}, True
    while grown:
        more = {pid for pid, (ppid, _) in procs.items() if ppid in ours} - ours
        grown = bool(more)
        ours |= more
    reaped = os.times()
    return sum(procs[pid][1] for pid in ours if pid in procs) + round(
        (reaped.children_user + reaped.children_system) * TICK
    )


class OtherLoad:
    """CPU used by processes outside the benchmark, in % of all CPUs."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.busy, self.ours = busy_ticks(), our_ticks()

    def percent(self) -> float:
        elapsed = time.monotonic() - self.started
        other = (busy_ticks() - self.busy) - (our_ticks() - self.ours)
        return max(0.0, 100 * other / (elapsed * TICK * (os.cpu_count() or 1)))


_quiet_budget = [float(QUIET_WAIT)]  # seconds of waiting left for the whole run


def wait_quiet() -> None:
    while _quiet_budget[0] > 0:
        started = time.monotonic()
        meter = OtherLoad()
        time.sleep(3)
        load = meter.percent()
        if load < OTHER_LOAD_MAX:
            return
        say(f"other processes use {load:.0f} % of the CPUs: waiting for a quieter machine")
        time.sleep(5)
        _quiet_budget[0] -= time.monotonic() - started


def measured(binary: str, endpoint: str, mode: str, key: str = "", label: str = "") -> dict:
    """One endpoint for SECONDS; run again (up to BENCH_RETRIES times) when other
    processes disturbed it. Every attempt's answers count in the totals (all_*), since
    every click answered 204 must be stored, whichever attempt it came from."""
    totals = {"all_accepted": 0.0, "all_in_flight": 0.0, "all_non2xx": 0.0}
    for attempt in range(RETRIES + 1):
        if QUIET_WAIT:
            wait_quiet()
        meter = OtherLoad()
        figures = wrk(binary, endpoint, SECONDS, mode, key, f"{label}a{attempt}")
        figures["other_load"] = meter.percent()
        totals["all_accepted"] += figures["accepted"]
        totals["all_in_flight"] += figures["sent"] - figures["requests"]
        totals["all_non2xx"] += figures["non2xx"]
        if figures["other_load"] < OTHER_LOAD_MAX or attempt == RETRIES:
            return {**figures, **totals, "attempts": attempt + 1}
        say(f"other processes took {figures['other_load']:.0f} % of the CPUs: run again")
    raise AssertionError("unreachable")


def wrk(binary: str, endpoint: str, seconds: int, *script_args: str) -> dict[str, float]:
    args = [
        binary,
        f"-t{WRK_THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"Host: {HOST}",
        "-s",
        LUA,
        f"http://127.0.0.1:{PORT}{endpoint}",
        "--",
        *script_args,
    ]
    out = subprocess.run(args, check=True, text=True, capture_output=True).stdout
    figures = {}
    for line in out.splitlines():
        if line.startswith("BENCH "):
            _, name, value = line.split()
            figures[name] = float(value)
    if "requests" not in figures:
        sys.exit("wrk printed no figures:\n" + out)
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["accepted"] = figures["requests"] - figures["non2xx"]
    return figures


FLUSH = """
import time
from programs.services.clicks import clicks_flush
total, started = 0, time.monotonic()
while n := clicks_flush():
    total += n
print(total, round(time.monotonic() - started, 3))
"""


def flush() -> tuple[int, float]:
    total, seconds = shell(FLUSH).split()
    return int(total), float(seconds)


def stored_clicks() -> int:
    code = "from programs.models import Click; print(Click.all_tenants_unscoped.count())"
    return int(shell(code))


def machine() -> dict[str, str]:
    meminfo = Path("/proc/meminfo").read_text()
    kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)

    def version(*cmd: str) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    return {
        "cpus": str(os.cpu_count()),
        "cpu": model.group(1).strip() if model else platform.processor() or "?",
        "memory": f"{kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": version(PY, "-c", "import django; print(django.get_version())"),
        "gunicorn": version(GUNICORN, "--version"),
        "postgres": version("psql", DATABASE_URL, "-tAc", "SHOW server_version"),
        "redis": redis_version(),
        "wrk": version("wrk", "-v").split(" [")[0],
    }


def redis_version() -> str:
    url = urllib.parse.urlparse(REDIS_URL)
    out = subprocess.run(
        [
            "redis-cli",
            "-h",
            url.hostname or "127.0.0.1",
            "-p",
            str(url.port or 6379),
            "INFO",
            "server",
        ],
        capture_output=True,
        text=True,
    ).stdout
    found = re.search(r"redis_version:(\S+)", out)
    return found.group(1) if found else "?"


def redis_note() -> str:
    if PRIVATE_REDIS:
        return "a private instance on loopback TCP, no persistence"
    return "BENCH_REDIS_URL"


def ms(us: float) -> str:
    return f"{us / 1000:.2f} ms"


def row(name: str, f: dict[str, float]) -> str:
    return (
        f"| {name} | {f['rps']:,.0f} | {ms(f['p50_us'])} | {ms(f['p99_us'])} | "
        f"{ms(f['max_us'])} | {int(f['requests']):,} | {int(f['non2xx'])} | "
        f"{int(f['socket_errors'])} | {f['other_load']:.0f} % |"
    )


def report(
    click: dict[str, float],
    bare: dict[str, float],
    preflight: dict[str, float] | None,
    stored: int,
    flushed: tuple[int, float],
    box: dict[str, str],
) -> tuple[str, bool]:
    ratio = 100 * click["rps"] / bare["rps"]
    accepted = int(click["all_accepted"])
    in_flight = int(click["all_in_flight"])
    lost = max(0, accepted - stored)
    late = stored - accepted
    ok_ratio = ratio >= 60
    ok_p99 = click["p99_us"] < 50_000
    ok_stored = lost == 0 and 0 <= late <= in_flight
    ok = ok_ratio and ok_p99 and ok_stored and click["all_non2xx"] == 0
    mark = {True: "yes", False: "**no**"}
    rate = flushed[0] / flushed[1] if flushed[1] else 0
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = [row("`POST /t/c` (click)", click), row("`GET /bench/204` (bare view, ceiling)", bare)]
    if preflight is not None:
        rows.append(row("`OPTIONS /t/c` (preflight, no I/O; reference)", preflight))
    lines = [
        START,
        "## Click ingestion",
        "",
        f"Measured {when} by `make bench` (bench/clicks.py, bench/wrk.lua); every figure",
        "below comes from that run.",
        "",
        f"- **Machine**: {box['cpus']} CPUs ({box['cpu']}), {box['memory']} RAM, "
        f"Linux {box['kernel']}; the load generator, gunicorn, PostgreSQL and Redis all "
        "share it (loopback).",
        f"- **Software**: Python {box['python']}, Django {box['django']}, {box['gunicorn']}, "
        f"PostgreSQL {box['postgres']}, Redis {box['redis']} ({redis_note()}), {box['wrk']}.",
        f"- **Server**: `gunicorn prm.wsgi:application` with {gunicorn_settings()}; "
        "DEBUG=0 and the production middleware stack; the same server for every endpoint.",
        f"- **Load**: wrk, {WRK_THREADS} threads, {CONNECTIONS} connections, {SECONDS} s "
        "per endpoint, one after the other, after a 3 s warm-up of each. The click body is "
        "the snippet's text/plain JSON with a visitor id unique to every request, so no "
        "click is deduplicated.",
        "",
        "| endpoint | req/s | p50 | p99 | max | requests | non-2xx | socket errors | other load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "*other load*: CPU used during that endpoint's run by processes outside the "
        "benchmark (not the driver, wrk, gunicorn or its Redis), in % of all CPUs.",
        "",
        f"- **Clicks / ceiling**: {ratio:.1f} % of the bare view's requests per second "
        f"(target ≥ 60 %: {mark[ok_ratio]}).",
    ]
    if preflight is not None:
        lines.append(
            f"- **Clicks / preflight**: {100 * click['rps'] / preflight['rps']:.1f} % of "
            "`OPTIONS /t/c`, which ClickMiddleware answers before the rest of the stack "
            "with no database, cache or Redis call, i.e. what gunicorn and Django's handler "
            "cost by themselves. `GET /bench/204` goes through the whole middleware stack "
            "(tenant by host from the Redis cache, sessions, locale, CSRF, auth, messages, "
            "CSP, ...), which the click path skips."
        )
    stored_line = (
        f"- **Stored vs accepted**: {stored:,} clicks stored in PostgreSQL after the flush; "
        f"{accepted:,} requests answered 2xx, {int(click['all_non2xx'])} non-2xx"
    )
    if click["attempts"] > 1:
        stored_line += f" (over all {int(click['attempts'])} click runs)"
    if late > 0:
        stored_line += (
            f"; the {late} stored beyond those were among the {in_flight} requests in "
            "flight when wrk stopped counting (served, but their answers never read)"
        )
    measured_runs = [click, bare] + ([preflight] if preflight is not None else [])
    repeated = [
        f"{name} {int(f['attempts'])} times"
        for name, f in zip(
            ("the click", "the bare view", "the preflight"), measured_runs, strict=False
        )
        if f["attempts"] > 1
    ]
    if repeated:
        lines.append(
            f"- **Repeated runs**: {', '.join(repeated)}, because other processes took "
            f"{OTHER_LOAD_MAX} % or more of the CPUs; the table shows the last run of each."
        )
    busiest = max(f["other_load"] for f in measured_runs)
    if busiest >= OTHER_LOAD_MAX:
        lines.append(
            f"- **Warning**: other processes took up to {busiest:.0f} % of the CPUs during "
            "a run, so its figures are low; rerun on an idle machine."
        )
    lines += [
        f"- **Click p99**: {ms(click['p99_us'])} (target < 50 ms: {mark[ok_p99]}).",
        stored_line + f". Clicks lost: {lost} ({mark[ok_stored]}).",
        f"- **Flush**: `clicks_flush()` moved {flushed[0]:,} stream entries into PostgreSQL "
        f"in {flushed[1]:.1f} s ({rate:,.0f} rows/s), after the load.",
        "",
        "Run it again with `make bench` (`BENCH_SECONDS=5 make bench` for a smoke run; the",
        "other knobs are at the top of bench/clicks.py).",
        END,
        "",
    ]
    return "\n".join(lines), ok


def write_report(section: str) -> None:
    if REPORT.exists():
        current = REPORT.read_text()
        if START in current and END in current:
            head, rest = current.split(START, 1)
            _, tail = rest.split(END, 1)
            REPORT.write_text(head + section.rstrip("\n") + tail)
            return
        REPORT.write_text(current.rstrip("\n") + "\n\n" + section)
        return
    intro = "# Benchmarks\n\nFigures written by the benchmark scripts in bench/.\n\n"
    REPORT.write_text(intro + section)


def _interrupted(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # so that the finally blocks stop gunicorn and Redis


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGHUP, _interrupted)
    binary = need_wrk()
    redis_server = start_redis()
    try:
        measure(binary)
    finally:
        stop(redis_server)


def measure(binary: str) -> None:
    say(f"fresh database {DATABASE_URL} and Redis {REDIS_URL}")
    fresh_database()
    fresh_redis()
    manage("migrate", "--no-input", "-v", "0")
    manage("prm_demo", capture=True)
    key = shell(
        "from programs.models import Program; print(Program.all_tenants_unscoped"
        ".get(tenant__slug='acme', name='Pro plan').publishable_key)"
    )
    label = time.strftime("%H%M%S")
    server = start_gunicorn()
    try:
        say("warm-up: 3 s on each endpoint")
        wrk(binary, "/t/c", 3, "click", key, f"w{label}")
        wrk(binary, "/bench/204", 3, "bare")
        if PREFLIGHT:
            wrk(binary, "/t/c", 3, "preflight")
        flush()
        before = stored_clicks()
        say(f"POST /t/c for {SECONDS} s")
        click = measured(binary, "/t/c", "click", key, f"r{label}")
        say(f"GET /bench/204 for {SECONDS} s")
        bare = measured(binary, "/bench/204", "bare")
        preflight = None
        if PREFLIGHT:
            say(f"OPTIONS /t/c for {SECONDS} s")
            preflight = measured(binary, "/t/c", "preflight")
    finally:
        stop(server)
    say("flushing the stream into PostgreSQL")
    flushed = flush()
    stored = stored_clicks() - before
    section, ok = report(click, bare, preflight, stored, flushed, machine())
    print(section)
    if WRITE:
        write_report(section)
        say(f"wrote {REPORT.relative_to(ROOT)}")
    if not ok:
        say("a target was missed (see above)")
    if stored < click["all_accepted"] or click["all_non2xx"]:
        sys.exit("clicks were refused or lost")


if __name__ == "__main__":
    main()
