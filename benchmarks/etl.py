"""ETL throughput: rows/second end to end (read -> ... -> load) into PostGIS and GeoPackage,
against the floor of a plain PostgreSQL COPY of the same raw rows into text columns, and against a plain
COPY of the rows the ETL wrote into copies of the store's own indexed tables (the database's share).

    .venv/bin/python benchmarks/etl.py --scale city [--scale province] [--backends postgis,gpkg] [--no-record]

Prints one line per (scale, backend) with the Python and PostgreSQL CPU seconds by phase (read,
transform, load, prepare_rows; benchmarks/common.py etl_phases) and records the run in RESULTS.md.
The PostGIS runs use their own database (WAGEMAP_BENCH_DB, default wagemap_bench), recreated each run.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from etl.demo import write_demo  # noqa: E402
from etl.kinds import LOAD_ORDER  # noqa: E402
from etl.pipeline import load_files  # noqa: E402
from geodata.store import open_store  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
PG = os.environ.get("WAGEMAP_BENCH_DB", "postgresql+psycopg://wagemap:wagemap@127.0.0.1:5432/wagemap_bench")


def demo_files(scale: str) -> tuple[Path, dict]:
    import json

    d = OUT / f"demo-{scale}"
    m = d / "manifest.json"
    if not m.exists():
        t0 = time.perf_counter()
        write_demo(d, scale=scale)
        print(f"# generated {scale} demo in {time.perf_counter() - t0:.1f} s", flush=True)
    return d, json.loads(m.read_text(encoding="utf-8"))


def runs(d: Path, manifest: dict) -> list[tuple[str, list[str]]]:
    from itertools import groupby

    files = sorted(manifest["files"], key=lambda f: LOAD_ORDER.index(f["kind"]))
    return [(crs, [str(d / f["file"]) for f in g]) for crs, g in groupby(files, key=lambda f: f.get("crs") or "wgs84")]


def fresh_store(backend: str, scale: str):
    if backend == "gpkg":
        p = OUT / f"bench-{scale}.gpkg"
        p.unlink(missing_ok=True)
        return open_store(str(p))
    admin = sa.create_engine(PG.rsplit("/", 1)[0] + "/wagemap_test", isolation_level="AUTOCOMMIT")
    name = PG.rsplit("/", 1)[1]
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE wagemap_template')
    admin.dispose()
    return open_store(PG)


def etl_run(store, d: Path, manifest: dict) -> tuple[int, float]:
    rows = 0
    t0 = time.perf_counter()
    for crs, paths in runs(d, manifest):
        rep = load_files(store, paths, crs=crs, user="bench", progress=False)
        rows += sum(f["rows_read"] for f in rep["files"])
    return rows, time.perf_counter() - t0


def copy_floor(d: Path, manifest: dict) -> tuple[int, float]:
    """COPY the csv files' raw rows (the big tables) into text tables: the floor for loading."""
    import psycopg

    conninfo = PG.replace("postgresql+psycopg://", "postgresql://")
    rows = 0
    elapsed = 0.0
    with psycopg.connect(conninfo) as conn:
        for f in manifest["files"]:
            if not f["file"].endswith(".csv"):
                continue
            enc = {"utf-8-sig": "utf-8-sig", "gbk": "gb18030"}.get(f.get("encoding") or "utf-8", f.get("encoding") or "utf-8")
            text = (d / f["file"]).read_text(encoding=enc)
            header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])))
            cols = ", ".join(f"c{i} text" for i in range(len(header)))
            t0 = time.perf_counter()
            with conn.cursor() as cur:
                cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS floor_{len(header)} ({cols})")
                with cur.copy(f"COPY floor_{len(header)} FROM STDIN WITH (FORMAT csv, HEADER true)") as cp:
                    cp.write(text)
            conn.commit()
            elapsed += time.perf_counter() - t0
            rows += f["rows"]
    return rows, elapsed


def copy_floor_indexed() -> tuple[int, float]:
    """The database's own share: the rows the ETL just wrote, COPYed again straight into copies of the store's
    tables with all their indexes, defaults and generated columns (no RLS, no stage, no parsing, no hashing).

    A FORCE-RLS table takes no COPY FROM, so the copies (`floor2_<table>`, dropped after) have no policy; the
    rows are first read out with COPY TO (not timed)."""
    import psycopg
    from psycopg import sql

    from geodata import schema

    conninfo = PG.replace("postgresql+psycopg://", "postgresql://")
    rows, elapsed = 0, 0.0
    with psycopg.connect(conninfo, autocommit=True) as c:
        c.execute("SELECT set_config('app.township', '*', false)")
        for kind in LOAD_ORDER:
            if kind not in schema.DATA_TABLES:
                continue
            name = schema.DATA_TABLES[kind].name
            t, copy_t = sql.Identifier(name), sql.Identifier(f"floor2_{name}")
            cols = sql.SQL(", ").join(sql.Identifier(r[0]) for r in c.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name <> 'id' "
                "AND is_generated = 'NEVER' ORDER BY ordinal_position", (name,)))
            buf = io.BytesIO()
            with c.cursor().copy(sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT").format(cols, t)) as cp:
                for chunk in cp:
                    buf.write(chunk)
            data = buf.getvalue()
            c.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(copy_t))
            c.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(copy_t, t))
            t0 = time.perf_counter()
            with c.transaction(), c.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(copy_t, cols)) as cp:
                for i in range(0, len(data), 1 << 20):
                    cp.write(data[i : i + (1 << 20)])
            elapsed += time.perf_counter() - t0
            rows += c.execute(sql.SQL("SELECT count(*) FROM {}").format(copy_t)).fetchone()[0]
            c.execute(sql.SQL("DROP TABLE {}").format(copy_t))
    return rows, elapsed


def main() -> None:
    import common

    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", action="append", default=None)
    ap.add_argument("--backends", default="postgis,gpkg")
    ap.add_argument("--no-record", action="store_true", help="print only, do not add the run to RESULTS.md")
    a = ap.parse_args()
    print(f"# machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    table = ["| scale | backend | rows | seconds | rows/s | Python CPU s | PostgreSQL CPU s | load average before → after |",
             "|---|---|---|---|---|---|---|---|"]
    details: list[str] = []
    for scale in a.scale or ["city"]:
        d, manifest = demo_files(scale)
        etl_rate = None
        for backend in a.backends.split(","):
            store = fresh_store(backend, scale)
            la0, c0 = common.loadavg(), common.cpu_seconds()
            with common.etl_phases() as phases:
                rows, secs = etl_run(store, d, manifest)
            cpu = common.cpu_seconds() - c0
            pg_cpu = sum(v["pg_cpu_s"] for k, v in phases.items() if not k.startswith("  "))
            if backend == "postgis":
                etl_rate = rows / secs
            line = (f"| {scale} | {backend}, ETL end to end | {rows:,} | {secs:.1f} | {rows / secs:,.0f} | {cpu:.1f} | "
                    f"{pg_cpu:.1f} | {la0} → {common.loadavg()} |")
            print(line, flush=True)
            table.append(line)
            details += ["", f"{scale} / {backend}, by phase:", "", common.phase_table(phases)]
            print(details[-1], flush=True)
            store.engine.dispose()
        if "postgis" in a.backends:
            rows, secs = copy_floor(d, manifest)
            ratio = f"; ETL / floor = {(rows / secs) / etl_rate:.1f}x" if etl_rate else ""
            line = f"| {scale} | plain COPY of the csv rows (floor{ratio}) | {rows:,} | {secs:.2f} | {rows / secs:,.0f} | | | |"
            print(line, flush=True)
            table.append(line)
            rows, secs = copy_floor_indexed()
            ratio = f"; ETL / this floor = {(rows / secs) / etl_rate:.1f}x" if etl_rate else ""
            line = (f"| {scale} | plain COPY of the loaded rows into the store's indexed tables (the database's share{ratio}) "
                    f"| {rows:,} | {secs:.2f} | {rows / secs:,.0f} | | | |")
            print(line, flush=True)
            table.append(line)
    body = "\n".join(table + details)
    print(body)
    if not a.no_record:
        common.record("etl", "ETL into the stores, by phase (`benchmarks/common.py load`)", common.command_line(), body)


if __name__ == "__main__":
    main()
