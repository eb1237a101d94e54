"""Load test: N simultaneous signed-in users walking overview -> township -> project, on loopback only.

    .venv/bin/python benchmarks/load.py --scale city --users 100 --minutes 5 [--workers 2] [--threads 4]

Starts `gunicorn dashboard.wsgi:server` (WAGEMAP_DB = the demo store, `--workers` on the 2 cores) and,
as `wagemap serve` does, the warm process `wagemap warm --follow` beside them unless --no-warm: it
fills the shared view cache, a fresh directory per run; the run starts when it is done),
then locust headless against http://127.0.0.1 (bounded: --users, --minutes, spawn 10/s). Each user
signs in once, then repeats: open the overview as a browser with a warm bundle cache does (HTML,
_dash-layout, _dash-dependencies, the page callback), think, drill into a township (page callback
for /township/<code>), think, open one of its projects (/project/<code>), think. Think time
between page views: uniform THINK seconds. Prints errors, p50/p95/p99 per step and overall, and the
workers' memory (RSS) at start (after boot), every 30 s and at the end; records to RESULTS.md.

This file is also the locustfile (locust imports it; the orchestration runs only as __main__).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from locust import HttpUser, between, events, task

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

PORT = 8781
THINK = (2.0, 8.0)
KEEPALIVE_S = 30  # > think time: gunicorn's default 2 s closes idle connections the client then reuses (resets)
SAMPLE = common.OUT / "load-sample.json"


# ---- every request's time, to split the ramp-up (100 sign-ins at once) from the steady state ---------------

_LOG: list[tuple[float, str, float, int]] = []
REQUESTS = common.OUT / "load-requests.csv"


@events.request.add_listener
def _on_request(request_type, name, response_time, response_length, exception=None, **kw) -> None:
    _LOG.append((time.time(), name, float(response_time), int(exception is not None)))


@events.quitting.add_listener
def _dump(environment, **kw) -> None:
    with open(REQUESTS, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["t", "name", "ms", "failed"])
        w.writerows(_LOG)


# ---- the locust user ---------------------------------------------------------------------------------


def _page_body(deps: list[dict], path: str) -> dict:
    d = next(x for x in deps if "_pages_content.children" in x["output"] and not x.get("clientside_function"))
    outs = d["output"].strip(".").split("...")
    return {"output": d["output"], "outputs": [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in outs],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "changedPropIds": ["_pages_location.pathname"], "state": []}


class Walker(HttpUser):
    """A leader in a meeting: overview, a township, one of its projects."""

    wait_time = between(*THINK)

    def on_start(self) -> None:
        import re

        self.sample = json.loads(SAMPLE.read_text())
        r = self.client.get("/login", name="login (GET)")
        tok = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
        self.client.post("/login", data={"csrf_token": tok, "username": common.BENCH_USER, "password": common.BENCH_PASSWORD,
                                         "next": "/"}, name="login (POST)", allow_redirects=False)
        self.deps = self.client.get("/_dash-dependencies", name="_dash-dependencies").json()

    def _page(self, path: str, name: str) -> None:
        with self.client.post("/_dash-update-component", json=_page_body(self.deps, path), name=name,
                              catch_response=True) as r:
            if r.status_code != 200 or b'"global-error"' in r.content[:2000]:
                r.failure(f"HTTP {r.status_code}" if r.status_code != 200 else "error shown on the page")

    @task
    def walk(self) -> None:
        self.client.get("/", name="overview: HTML")
        self.client.get("/_dash-layout", name="overview: _dash-layout")
        self.client.get("/_dash-dependencies", name="overview: _dash-dependencies")
        self._page("/", "overview: page callback")
        time.sleep(random.uniform(*THINK))
        code = random.choice(list(self.sample))
        self._page(f"/township/{code}", "township: page callback")
        time.sleep(random.uniform(*THINK))
        if self.sample[code]:
            self._page(f"/project/{random.choice(self.sample[code])}", "project: page callback")


# ---- orchestration ------------------------------------------------------------------------------------------


def write_sample(url: str, per_township: int = 10, seed: int = 8) -> dict:
    """A few project codes per township (the walks' targets), fixed seed."""
    from geodata.store import open_store

    st = open_store(url)
    p = st.read("projects", columns=["project_code", "township_code"])
    rng = random.Random(seed)
    out = {}
    for code in st.townships()["code"].astype(str):
        codes = p.loc[p["township_code"] == code, "project_code"].astype(str).tolist()
        out[code] = rng.sample(codes, min(per_township, len(codes)))
    SAMPLE.write_text(json.dumps(out))
    return out


def steady_state(path: Path, skip_s: float) -> str:
    """Errors and p50/p95/p99 per request name over the requests started after the first `skip_s` seconds."""
    import numpy as np

    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    if not rows:
        return "(no requests)"
    t0 = min(float(r["t"]) for r in rows)
    by: dict[str, list] = {}
    for r in rows:
        if float(r["t"]) - t0 >= skip_s:
            by.setdefault(r["name"], []).append((float(r["ms"]), int(r["failed"])))
    by["all"] = [x for v in list(by.values()) for x in v]
    out = ["| request | count | errors | p50 | p95 | p99 |", "|---|---|---|---|---|---|"]
    for name, v in by.items():
        ms = np.array([x[0] for x in v])
        out.append(f"| {name} | {len(v)} | {sum(x[1] for x in v)} | {np.percentile(ms, 50):,.0f} ms | "
                   f"{np.percentile(ms, 95):,.0f} ms | {np.percentile(ms, 99):,.0f} ms |")
    return "\n".join(out)


def worker_rss(master_pid: int) -> list[float]:
    import psutil

    try:
        return [c.memory_info().rss / 2**20 for c in psutil.Process(master_pid).children()]
    except psutil.NoSuchProcess:
        return []


WARMER = "`wagemap warm --follow` beside the workers"


def _warmed(log: str) -> bool:
    return "warm-up done" in log


def run(scale: str, users: int, minutes: float, workers: int, threads: int, warm: bool = True) -> str:
    from geodata.store import open_store

    url = common.store_url(scale, "postgis")
    common.ensure_user(open_store(url))
    write_sample(url)
    cache_dir = tempfile.mkdtemp(prefix="wagemap-load-cache-")  # a fresh shared view cache for this run
    env = {**os.environ, "WAGEMAP_DB": url, "WAGEMAP_WARM": "0", "WAGEMAP_CACHE_DIR": cache_dir}
    log = open(common.OUT / "load-gunicorn.log", "w")  # noqa: SIM115 - closed with the process
    warmer = None
    if warm:  # as `wagemap serve` does: one low-priority warm process beside the workers (dashboard/warmproc.py)
        warmer = subprocess.Popen([str(common.ROOT / ".venv/bin/python"), "-m", "dashboard.cli", "warm", "--follow"],
                                  cwd=common.ROOT, env={**env, "WAGEMAP_WARM": "1"}, stdout=log, stderr=log)
    g = subprocess.Popen([str(common.ROOT / ".venv/bin/gunicorn"), "-w", str(workers), "--threads", str(threads),
                          "-b", f"127.0.0.1:{PORT}", "--timeout", "300", "--keep-alive", str(KEEPALIVE_S),
                          "dashboard.wsgi:server"],
                         cwd=common.ROOT, env=env, stdout=log, stderr=log)
    mem: list[tuple[float, list[float]]] = []
    stop = threading.Event()
    try:
        common.wait_port("127.0.0.1", PORT, timeout=300)
        time.sleep(2)
        w0 = time.time()
        # the warm process claims the data version and fills the shared cache; it stays (idle) during the test
        while warm and not _warmed((common.OUT / "load-gunicorn.log").read_text()):
            if time.time() - w0 > 3600:
                raise TimeoutError("warm-up took more than an hour")
            time.sleep(2)
        warm_s = time.time() - w0
        t0 = time.time()
        mem.append((0.0, worker_rss(g.pid)))

        def sample() -> None:
            while not stop.wait(30):
                mem.append((time.time() - t0, worker_rss(g.pid)))

        threading.Thread(target=sample, daemon=True).start()
        la = common.loadavg()
        prefix = common.OUT / f"load-{scale}"
        cmd = [str(common.ROOT / ".venv/bin/locust"), "-f", __file__, "--headless", "-u", str(users), "-r", "10",
               "-t", f"{int(minutes * 60)}s", "--host", f"http://127.0.0.1:{PORT}", "--csv", str(prefix),
               "--only-summary", "--stop-timeout", "30"]
        subprocess.run(cmd, cwd=common.ROOT, check=False, stdout=open(common.OUT / "load-locust.log", "w"),  # noqa: SIM115
                       stderr=subprocess.STDOUT)
        stop.set()
        mem.append((time.time() - t0, worker_rss(g.pid)))
        la_end = common.loadavg()
    finally:
        stop.set()
        g.terminate()
        g.wait(timeout=60)
        if warmer is not None:
            from dashboard.warmproc import stop_process

            stop_process(warmer)
    rows = list(csv.DictReader(open(f"{prefix}_stats.csv", encoding="utf-8")))
    steady = steady_state(REQUESTS, skip_s=60.0)
    lines = [f"**{scale}**: {users} users, {minutes:g} min, think {THINK[0]:g}–{THINK[1]:g} s between page views, "
             f"gunicorn {workers} workers × {threads} threads on {os.cpu_count()} cores (load average {la} at start, "
             f"{la_end} at end); cache warm-up ({WARMER if warm else 'off'}) {warm_s:.0f} s before the start.", "",
             "| request | count | errors | p50 | p95 | p99 | max | req/s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['Name']} | {r['Request Count']} | {r['Failure Count']} | {r['50%']} ms | {r['95%']} ms | "
                     f"{r['99%']} ms | {float(r['Max Response Time']):,.0f} ms | {float(r['Requests/s']):.1f} |")
    fails = common.OUT / f"load-{scale}_failures.csv"
    if fails.exists():
        f = list(csv.DictReader(open(fails, encoding="utf-8")))
        if f:
            lines += ["", "Failures: " + "; ".join(f"{x['Name']}: {x['Error']} ×{x['Occurrences']}" for x in f[:5])]
    lines += ["", "Steady state (after the first 60 s: sign-ins and first views done):", "", steady]
    lines += ["", "Worker RSS (MB) over time: " + "; ".join(
        f"{t:.0f} s: " + ", ".join(f"{m:,.0f}" for m in ms) for t, ms in mem)]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="city")
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--no-warm", action="store_true", help="start with cold caches (WAGEMAP_WARM=0)")
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args()
    if a.users > 500 or a.minutes > 30:
        raise SystemExit("bounded: at most 500 users and 30 minutes")
    body = run(a.scale, a.users, a.minutes, a.workers, a.threads, warm=not a.no_warm)
    print(body, flush=True)
    if not a.no_record:
        common.record("load", "Load test (`benchmarks/load.py`)", common.command_line(), body)


if __name__ == "__main__":
    main()
