"""Shared by the benchmark scripts: the city/province demo stores (made once, cached), timing, RESULTS.md.

    from common import store_url, machine, pct, cpu_seconds, record
    url = store_url("province", "postgis")      # loads benchmarks/out/demo-province into wagemap_perf_province once

Stores live under benchmarks/out/ (gitignored): GeoPackage files there, PostGIS databases named
wagemap_perf_<scale> cloned from wagemap_template (the admin URL as in benchmarks/etl.py). A store
is reloaded only when missing or when `fresh=True`; a JSON marker next to it records the load.
The machine is shared: every figure is printed with the load average at the time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
RESULTS = HERE / "RESULTS.md"
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("WAGEMAP_TEST_DB", "postgresql+psycopg://wagemap:wagemap@127.0.0.1:5432/wagemap_test")
BENCH_USER, BENCH_PASSWORD = "bench-leader", "bench-Passw0rd-2024"


def bench_etl():
    """benchmarks/etl.py as a module (its name would shadow the etl package on sys.path)."""
    mod = sys.modules.get("bench_etl")
    if mod is None:
        spec = importlib.util.spec_from_file_location("bench_etl", HERE / "etl.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["bench_etl"] = mod
        spec.loader.exec_module(mod)
    return mod


# ---- machine and load ---------------------------------------------------------------------------


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.node()} {os.cpu_count()} cores, {mem:.0f} GB, Python {platform.python_version()}"


def git_rev() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of a process (this one by default) from /proc."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


def ms(values) -> str:
    """'p50 12.3 / p95 45.6 ms (n=30)'."""
    return f"p50 {pct(values, 50) * 1000:.1f} / p95 {pct(values, 95) * 1000:.1f} ms (n={len(values)})"


# ---- stores ---------------------------------------------------------------------------------------


def pg_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _marker(scale: str, backend: str) -> Path:
    return OUT / f"store-{backend}-{scale}.json"


def store_url(scale: str, backend: str = "postgis", fresh: bool = False) -> str:
    """URL of the demo store at `scale` on `backend`, loaded through the ETL once and then reused."""
    OUT.mkdir(exist_ok=True)
    marker = _marker(scale, backend)
    url = str(OUT / f"perf-{scale}.gpkg") if backend == "gpkg" else pg_url(f"wagemap_perf_{scale}")
    if not fresh and marker.exists() and _exists(url, backend):
        return url
    load_store(scale, backend)
    return url


def _exists(url: str, backend: str) -> bool:
    if backend == "gpkg":
        return Path(url).exists()
    # only "no such database / table" means missing: any other error (a database being dropped by another run,
    # too many connections) must not make this run reload the store under others
    admin = sa.create_engine(ADMIN_URL)
    try:
        with admin.connect() as c:
            name = sa.engine.make_url(url).database
            if not c.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %(n)s", {"n": name}).scalar():
                return False
    finally:
        admin.dispose()
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            return bool(c.exec_driver_sql("SELECT count(*) FROM load_batches").scalar())
    except sa.exc.ProgrammingError as e:
        if getattr(e.orig, "sqlstate", None) == "42P01":  # undefined table: created but never migrated
            return False
        raise
    finally:
        eng.dispose()


def create_pg(name: str) -> str:
    """(Re)create database `name` from wagemap_template; return its URL."""
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE wagemap_template')
    admin.dispose()
    return pg_url(name)


def load_store(scale: str, backend: str) -> dict:
    """Fresh store + ETL of the demo at `scale`; returns and saves the load record (rows, seconds, CPU)."""
    from geodata.store import _open, open_store

    be = bench_etl()
    d, manifest = be.demo_files(scale)
    if backend == "gpkg":
        path = OUT / f"perf-{scale}.gpkg"
        path.unlink(missing_ok=True)
        url = str(path)
    else:
        url = create_pg(f"wagemap_perf_{scale}")
    _open.cache_clear()
    store = open_store(url)
    la0, c0 = loadavg(), cpu_seconds()
    with etl_phases() as phases:
        rows, secs = be.etl_run(store, d, manifest)
    rec = {"scale": scale, "backend": backend, "url": url, "rows": rows, "seconds": round(secs, 1),
           "rows_per_s": round(rows / secs), "python_cpu_s": round(cpu_seconds() - c0, 1), "load_before": la0,
           "load_after": loadavg(), "at": datetime.now().isoformat(timespec="seconds"), "git": git_rev(),
           "phases": phases}
    if backend == "postgis":  # what autovacuum does within a minute in production (it is off on this server):
        # visibility map for index-only scans, GIN pending lists merged; the ETL itself ANALYZEs what it wrote
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM (ANALYZE)")
    _marker(scale, backend).write_text(json.dumps(rec, indent=1))
    print(f"# loaded {scale} {backend}: {rows:,} rows in {secs:.1f} s ({rows / secs:,.0f} rows/s), load {la0} -> {loadavg()}",
          flush=True)
    return rec


@contextmanager
def etl_phases():
    """Wrap etl.pipeline's read / transform / load and the store's row preparation to add up wall time,
    this process's CPU and (for load) the PostgreSQL backend's CPU per phase and kind, in a dict."""
    from etl import pipeline as P
    from geodata.store import base as B

    acc: dict[str, dict[str, float]] = {}
    backend: dict[int, int] = {}

    def add(key: str, wall: float, cpu: float, pg: float = 0.0) -> None:
        a = acc.setdefault(key, {"wall_s": 0.0, "cpu_s": 0.0, "pg_cpu_s": 0.0})
        a["wall_s"] += wall
        a["cpu_s"] += cpu
        a["pg_cpu_s"] += pg

    def wrap(name: str, fn, key):
        def inner(*a, **k):
            pid = None
            if name == "load":
                conn = a[1]
                pid = backend.setdefault(id(conn), conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                                         if getattr(a[0], "kind", "") == "postgis" else 0) or None
            w, c, g = time.perf_counter(), cpu_seconds(), cpu_seconds(pid) if pid else 0.0
            try:
                return fn(*a, **k)
            finally:
                add(key(a), time.perf_counter() - w, cpu_seconds() - c, (cpu_seconds(pid) - g) if pid else 0.0)
        return inner

    saved = (P.read, P.transform, P.load, B.prepare_rows, B.copy_text)
    P.read = wrap("read", P.read, lambda a: "read files")
    P.transform = wrap("transform", P.transform, lambda a: f"transform {a[0].kind}")
    P.load = wrap("load", P.load, lambda a: f"load {a[2].kind}")
    B.prepare_rows = wrap("prepare", B.prepare_rows, lambda a: "  of which prepare_rows (hash, types)")
    # PostGIS: hash + COPY text in one step (before: prepare_rows, then DataFrame.to_csv outside this line)
    B.copy_text = wrap("prepare", B.copy_text, lambda a: "  of which copy_text (hash, types, COPY text)")
    try:
        yield acc
    finally:
        P.read, P.transform, P.load, B.prepare_rows, B.copy_text = saved
        for v in acc.values():
            for k in v:
                v[k] = round(v[k], 2)


def phase_table(phases: dict) -> str:
    lines = ["| phase | wall s | Python CPU s | PostgreSQL CPU s |", "|---|---|---|---|"]
    tot = {"wall_s": 0.0, "cpu_s": 0.0, "pg_cpu_s": 0.0}
    for k, v in sorted(phases.items(), key=lambda kv: -kv[1]["wall_s"]):
        lines.append(f"| {k} | {v['wall_s']:.1f} | {v['cpu_s']:.1f} | {v['pg_cpu_s']:.1f} |")
        if not k.startswith("  "):
            for x in tot:
                tot[x] += v[x]
    lines.append(f"| **sum** | {tot['wall_s']:.1f} | {tot['cpu_s']:.1f} | {tot['pg_cpu_s']:.1f} |")
    return "\n".join(lines)


def open_bench_store(scale: str, backend: str = "postgis"):
    from geodata.store import open_store

    return open_store(store_url(scale, backend))


def ensure_user(store, name: str = BENCH_USER, password: str = BENCH_PASSWORD, role: str = "leader") -> tuple[str, str]:
    """A citywide account for HTTP benchmarks (created once per store)."""
    from dashboard.users import UserError, add_user

    try:
        add_user(store, name, role, None, password, actor="bench")
    except UserError:
        pass
    return name, password


def login(session, base: str, name: str = BENCH_USER, password: str = BENCH_PASSWORD) -> None:
    """Sign a requests.Session in through /login (CSRF token from the form)."""
    import re

    r = session.get(base + "/login")
    tok = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    r = session.post(base + "/login", data={"csrf_token": tok, "username": name, "password": password, "next": "/"},
                     allow_redirects=False)
    if r.status_code not in (302, 303):
        raise RuntimeError(f"login failed: HTTP {r.status_code}")


# ---- RESULTS.md ------------------------------------------------------------------------------------


def record(section: str, title: str, command: str, body: str) -> None:
    """Append one run to `section` of RESULTS.md (created if missing); other sections are kept as they are."""
    start, end = f"<!-- perf:{section}:start -->", f"<!-- perf:{section}:end -->"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    run = (f"\n### Run {datetime.now():%Y-%m-%d %H:%M} · {machine()} · load average {loadavg()} · git {git_rev()}\n\n"
           f"`{command}`\n\n{body.strip()}\n")
    if start in text and end in text:
        i = text.index(end)
        text = text[:i] + run + "\n" + text[i:]
    else:
        text = text.rstrip("\n") + f"\n\n{start}\n## {title}\n{run}\n{end}\n"
    RESULTS.write_text(text, encoding="utf-8")


def command_line() -> str:
    return ".venv/bin/python " + " ".join([str(Path(sys.argv[0]).relative_to(ROOT)) if Path(sys.argv[0]).is_absolute()
                                            else sys.argv[0], *sys.argv[1:]])


def wait_port(host: str, port: int, timeout: float = 120.0) -> None:
    import socket

    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:.0f} s")


def main() -> None:
    """`common.py load --scale city --scale province --backend postgis`: (re)load the stores through the
    ETL, time it against the plain COPY floor and record the phases in RESULTS.md."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("action", choices=["load"])
    ap.add_argument("--scale", action="append", default=None)
    ap.add_argument("--backend", action="append", default=None)
    a = ap.parse_args()
    be = bench_etl()
    for scale in a.scale or ["city"]:
        for backend in a.backend or ["postgis"]:
            rec = load_store(scale, backend)
            body = [f"{scale} / {backend}: **{rec['rows']:,} rows in {rec['seconds']:.1f} s = {rec['rows_per_s']:,} rows/s** "
                    f"end to end (load_files, one transaction per CRS group); Python CPU {rec['python_cpu_s']:.1f} s; "
                    f"load average {rec['load_before']} before, {rec['load_after']} after.", "", phase_table(rec["phases"])]
            if backend == "postgis":
                d, manifest = be.demo_files(scale)
                be.PG = rec["url"]
                rows, secs = be.copy_floor(d, manifest)
                body += ["", f"Plain COPY of the same csv rows into text columns (floor): {rows:,} rows in {secs:.2f} s = "
                         f"{rows / secs:,.0f} rows/s; ETL / floor = {(rows / secs) / rec['rows_per_s']:.1f}x slower."]
            record("etl", "ETL into the stores, by phase (`benchmarks/common.py load`)", command_line(), "\n".join(body))
            print("\n".join(body), flush=True)


if __name__ == "__main__":
    main()
