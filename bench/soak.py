"""Soak: `make soak` (or `python bench/soak.py`).

The platform as production runs it (gunicorn, an RQ worker with its scheduler, rqcron
flushing clicks every 5 s) on a database and a private Redis of its own, under steady
traffic for SOAK_SECONDS (600): snippet clicks on POST /t/c at half the rate measured
at the start of the same run (wrk, unpaced, 10 s), and leads on /t/l and conversions
on POST /api/v1/conversions (plus a few refunds) at a few per second from this driver.
Every 10 s the resident memory (RSS) of every gunicorn and RQ process is sampled.

At the end: every click answered 204 must be in PostgreSQL after a final flush, every
conversion must have its reward, no request may have failed, and memory may not grow
(a linear fit over the second half, gunicorn workers and the RQ worker each: under
10 % of their size or 20 MB over the run, whichever is larger). Writes the "Soak"
section of BENCHMARKS.md; exits 1 when a check fails.

Knobs: SOAK_SECONDS (600), SOAK_SHARE (0.5 of the measured maximum), BENCH_SOAK_DATABASE_URL
(postgres://postgres@127.0.0.1:5432/prm_soak), BENCH_SOAK_REDIS_PORT (6391), BENCH_WORKERS
(4), BENCH_CONNECTIONS (16), BENCH_WRITE (1).
"""

# ruff: noqa: S603, S607, S310, E501 - a local driver of local tools; the report is one template

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

os.environ.setdefault(
    "BENCH_DATABASE_URL",
    os.environ.get("BENCH_SOAK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prm_soak"),
)
os.environ.setdefault("BENCH_REDIS_PORT", os.environ.get("BENCH_SOAK_REDIS_PORT", "6391"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import clicks as bench  # noqa: E402 - the click benchmark's setup, reused

SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
SHARE = float(os.environ.get("SOAK_SHARE", "0.5"))
SAMPLE_EVERY = 10
LUA = str(bench.ROOT / "bench" / "soak.lua")
START = "<!-- bench/soak.py: start -->"
END = "<!-- bench/soak.py: end -->"
FINAL_FLUSH = """
from programs.services.clicks import clicks_flush
total = 0
while n := clicks_flush(claim_idle_ms=0):
    total += n
print(total)
"""
LEADS_PER_S = 4
CONVERSIONS_PER_S = 2


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def sample(processes: dict[str, subprocess.Popen[bytes]]) -> dict[str, float]:
    """RSS per group: gunicorn's master and its workers, the RQ worker and the work
    horse it forks per job (when one runs), rqcron."""
    gunicorn = processes["gunicorn"].pid
    workers = children(gunicorn)
    rq = processes["rqworker"].pid
    return {
        "gunicorn master": rss_mb(gunicorn),
        "gunicorn workers": sum(rss_mb(p) for p in workers),
        "rq worker": rss_mb(rq),
        "rq horses": sum(rss_mb(p) for p in children(rq)),
        "rqcron": rss_mb(processes["rqcron"].pid),
    }


def slope_mb_per_min(points: list[tuple[float, float]]) -> float:
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return 0.0 if var == 0 else sum((t - mx) * (v - my) for t, v in points) / var * 60


class Side(threading.Thread):
    """Leads and conversions (with a refund every tenth) at a steady pace."""

    def __init__(self, key: str, secret: str, program: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.key, self.secret, self.program, self.stop = key, secret, program, stop
        self.sent = {"leads": 0, "conversions": 0, "refunds": 0}
        self.failed: list[str] = []

    def post(self, path: str, body: dict[str, object], api: bool) -> None:
        headers = {"Host": bench.HOST, "Content-Type": "application/json"}
        if api:
            headers["Authorization"] = f"Bearer {self.secret}"
        request = urllib.request.Request(
            f"http://127.0.0.1:{bench.PORT}{path}",
            data=json.dumps(body).encode(),
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                if response.status not in (200, 201):
                    self.failed.append(f"{path} {response.status}")
        except urllib.error.HTTPError as exc:
            self.failed.append(f"{path} {exc.code} {exc.read()[:200]!r}")
        except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
            self.failed.append(f"{path} {exc}")

    def run(self) -> None:
        n = 0
        tick = 1 / (LEADS_PER_S + CONVERSIONS_PER_S)
        while not self.stop.is_set():
            n += 1
            if n % 3 == 0:
                order = f"soak-{n}"
                self.post(
                    "/api/v1/conversions",
                    {
                        "program": self.program,
                        "order_id": order,
                        "amount": "120.00",
                        "currency": "USD",
                        "referral_code": "ALICE",
                    },
                    api=True,
                )
                self.sent["conversions"] += 1
                if n % 30 == 0:
                    self.post(
                        f"/api/v1/conversions/{order}/refunds",
                        {"program": self.program, "refund_id": f"r-{n}", "amount": "20.00"},
                        api=True,
                    )
                    self.sent["refunds"] += 1
            else:
                self.post(
                    "/t/l",
                    {"k": self.key, "c": "ALICE", "email": f"soak{n}@example.com"},
                    api=False,
                )
                self.sent["leads"] += 1
            time.sleep(tick)


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [bench.PY, "manage.py", *args],
        cwd=bench.ROOT,
        env=bench.ENV,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wrk_paced(binary: str, key: str, seconds: int, pace_ms: int, label: str) -> dict[str, float]:
    args = [binary, f"-t{bench.WRK_THREADS}", f"-c{bench.CONNECTIONS}", f"-d{seconds}s"]
    args += ["-H", f"Host: {bench.HOST}", "-s", LUA, f"http://127.0.0.1:{bench.PORT}/t/c"]
    args += ["--", key, label, str(pace_ms)]
    out = subprocess.run(args, check=True, text=True, capture_output=True).stdout
    figures = {
        line.split()[1]: float(line.split()[2])
        for line in out.splitlines()
        if line.startswith("BENCH ")
    }
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def main() -> None:
    binary = bench.need_wrk()
    redis_server = bench.start_redis()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        bench.fresh_database()
        bench.fresh_redis()
        bench.manage("migrate", "--no-input", "-v", "0")
        bench.manage("prm_demo", capture=True)
        key, program = bench.shell(
            "from programs.models import Program; p = Program.all_tenants_unscoped"
            ".get(tenant__slug='acme', name='Pro plan'); print(p.publishable_key, p.pk)"
        ).split()
        secret = bench.shell(
            "from prm.models import ApiKey, Tenant; s, p, d = ApiKey.generate(); "
            "ApiKey.all_tenants_unscoped.create(tenant=Tenant.objects.get(slug='acme'), "
            "name='soak', prefix=p, key_hash=d); print(s)"
        )
        processes["gunicorn"] = bench.start_gunicorn()
        bench.say("the maximum: 10 s of unpaced clicks")
        most = wrk_paced(binary, key, 10, 0, "max")["rps"]
        target = most * SHARE
        pace = max(1, round(bench.CONNECTIONS * 1000 / target))
        bench.say(f"{most:,.0f} clicks/s at most; soaking at ~{target:,.0f}/s for {SECONDS} s")
        processes["rqworker"] = start("rqworker", "default", "tracking", "--with-scheduler")
        processes["rqcron"] = start("rqcron", "prm/cron.py")
        bench.flush()
        clicks_before = bench.stored_clicks()
        stop = threading.Event()
        side = Side(key, secret, program, stop)
        result: dict[str, dict[str, float]] = {}
        clicker = threading.Thread(
            target=lambda: result.update(c=wrk_paced(binary, key, SECONDS, pace, "soak")),
            daemon=True,
        )
        started = time.monotonic()
        clicker.start()
        side.start()
        samples: list[tuple[float, dict[str, float]]] = []
        while clicker.is_alive():
            samples.append((time.monotonic() - started, sample(processes)))
            clicker.join(SAMPLE_EVERY)
        stop.set()
        side.join(15)
        # The last accruals: wait for the default queue to empty (at most a minute).
        for _ in range(60):
            if bench.shell("import django_rq; print(django_rq.get_queue('default').count)") == "0":
                break
            time.sleep(1)
        time.sleep(2)
        for process in processes.values():
            bench.stop(process)
        # Every flusher is stopped: claim what one of them left mid-batch at once.
        flushed = bench.shell(FINAL_FLUSH)
        stored = bench.stored_clicks()
        unrewarded = int(
            bench.shell(
                "from programs.models import Conversion; print(Conversion.all_tenants_unscoped"
                ".filter(external_id__startswith='soak-', rewards__isnull=True).count())"
            )
        )
    finally:
        for process in processes.values():
            bench.stop(process)
        bench.stop(redis_server)
    clicks = result["c"]
    report(
        most=most,
        clicks=clicks,
        stored=stored - clicks_before,
        accepted=clicks["requests"] - clicks["non2xx"],
        flushed=flushed,
        side=side,
        unrewarded=unrewarded,
        samples=samples,
    )


def report(**r: object) -> None:
    samples: list[tuple[float, dict[str, float]]] = r["samples"]  # type: ignore[assignment]
    clicks: dict[str, float] = r["clicks"]  # type: ignore[assignment]
    side: Side = r["side"]  # type: ignore[assignment]
    groups = ["gunicorn workers", "rq worker", "gunicorn master", "rqcron"]
    half = [(t, s) for t, s in samples if t >= samples[-1][0] / 2] if samples else []
    growth = {}
    problems = []
    for group in groups:
        slope = slope_mb_per_min([(t, s[group]) for t, s in half])
        size = max((s[group] for _, s in samples), default=0.0)
        over_run = slope * SECONDS / 60
        growth[group] = (slope, size)
        if over_run > max(20.0, size * 0.10) and group in ("gunicorn workers", "rq worker"):
            problems.append(f"{group} grows {slope:.2f} MB/min")
    lost = int(r["accepted"]) - int(r["stored"])  # type: ignore[call-overload]
    if lost > 0:
        problems.append(f"{lost} clicks answered 204 were not stored")
    if clicks.get("non2xx") or clicks.get("errors"):
        problems.append(f"{int(clicks['non2xx'])} non-2xx, {int(clicks['errors'])} errors")
    if side.failed:
        problems.append(f"{len(side.failed)} lead/conversion requests failed: {side.failed[:3]}")
    if r["unrewarded"]:
        problems.append(f"{r['unrewarded']} conversions without their reward")
    per_minute = [s for t, s in samples if int(t) % 60 < SAMPLE_EVERY]
    rows = "\n".join(
        f"| {int(t // 60)} | " + " | ".join(f"{s[g]:.0f}" for g in groups) + " |"
        for t, s in samples
        if s in per_minute
    )
    verdict = "passed" if not problems else "FAILED: " + "; ".join(problems)
    section = (
        f"""{START}
## Soak

`python bench/soak.py`, {time.strftime("%Y-%m-%d %H:%M")}, {SECONDS} s, on {bench.gunicorn_settings()}, an RQ worker (default, tracking, with its scheduler) and rqcron.

- Reference measured in the same run: {float(r["most"]):,.0f} clicks/s unpaced (wrk, 10 s).
- Clicks: {clicks["rps"]:,.0f}/s paced (target {SHARE:.0%} of the maximum), {int(clicks["requests"]):,} sent, {int(clicks["non2xx"])} non-2xx, {int(clicks["errors"])} socket errors, p99 {clicks.get("p99_us", 0) / 1000:.1f} ms; {int(r["stored"]):,} stored after the final flush for {int(r["accepted"]):,} answered 204.
- Beside them: {side.sent["leads"]:,} leads, {side.sent["conversions"]:,} conversions, {side.sent["refunds"]:,} refunds; {len(side.failed)} failed; {r["unrewarded"]} conversions without their reward.
- Memory growth over the second half (MB/min, peak MB): """
        + ", ".join(f"{g} {growth[g][0]:+.2f} ({growth[g][1]:.0f})" for g in groups)
        + f"""
- Verdict: **{verdict}**

| minute | {" | ".join(groups)} (RSS, MB) |
|---|{"---|" * len(groups)}
{rows}
{END}"""
    )
    print(section)
    if bench.WRITE:
        text = bench.REPORT.read_text()
        if START in text:
            text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip() + "\n\n" + section + "\n"
        bench.REPORT.write_text(text)
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
