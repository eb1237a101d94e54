"""Emergency search and radius-query latency at city and province scale, on GeoPackage and PostGIS.

    .venv/bin/python benchmarks/search.py --scale city [--scale province] [--backends gpkg,postgis] [--pg URL]

Data: synthetic sites loaded straight into the store (not through the ETL, whose speed
benchmarks/etl.py measures): city = 2,000 projects, 15,000 employers, 3,000 cases, 40 incidents;
province = 100x, spread over the same map (denser). Names and addresses come from a small
vocabulary and the demo's village list, so fuzzy matching has realistic work. Prints per
(scale, backend): index build time, search p50/p95 per query form, radius p50/p95 at 1 and 5 km
(with the mean number of sites found), and on PostGIS whether the radius plan uses the GIST index.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from etl.demo.place import villages  # noqa: E402
from geodata import gcj02, schema  # noqa: E402
from geodata.boundaries import city_outline  # noqa: E402
from geodata.store import open_store  # noqa: E402
from layers import nearby as nb  # noqa: E402
from layers import search as srch  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
PG = os.environ.get("WAGEMAP_TEST_DB", "postgresql+psycopg://wagemap:wagemap@127.0.0.1:5432/wagemap_test")
SCALES = {"city": dict(projects=2_000, enterprises=15_000, cases=3_000, incidents=40),
          "province": dict(projects=200_000, enterprises=300_000, cases=300_000, incidents=4_000)}
WORDS = list("华豫嵩溱洧青屏新密超化金水裕达恒通宏泰鑫源盛隆永安昌建兴瑞祥德鸿福")
KINDS_ZH = ["住宅小区", "安置房", "综合楼", "管网工程", "道路工程", "学校", "厂房", "耐火材料厂", "劳务有限公司",
            "建设工程有限公司"]
REPEATS = 30


def points(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random WGS-84 points inside the city outline."""
    outline = city_outline()
    x0, y0, x1, y1 = outline.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        xy = np.column_stack([rng.uniform(x0, x1, 2 * n), rng.uniform(y0, y1, 2 * n)])
        out = np.vstack([out, xy[shapely.contains_xy(outline, xy[:, 0], xy[:, 1])]])
    return out[:n]


def names(rng: np.random.Generator, n: int) -> np.ndarray:
    w = np.array(WORDS)
    a, b = w[rng.integers(0, len(w), n)], w[rng.integers(0, len(w), n)]
    k = np.array(KINDS_ZH)[rng.integers(0, len(KINDS_ZH), n)]
    return np.char.add(np.char.add(np.char.add("示例", a), np.char.add(b, k)), np.char.mod("%d", np.arange(n) % 97))


def addresses(rng: np.random.Generator, n: int, v: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    i = rng.integers(0, len(v), n)
    road = np.char.mod("%d号", rng.integers(1, 300, n))
    return np.char.add(np.char.add("新密市", v["name"].to_numpy().astype(str)[i]), road), v["township_code"].to_numpy()[i]


def frames(scale: str, seed: int = 7) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    v = villages()
    n = SCALES[scale]
    out = {}
    for kind, key, fmt in (("projects", "project_code", "XM%08d"), ("enterprises", "credit_code", "91410183%09dX"),
                           ("cases", "case_no", "AJ-%08d"), ("incidents", "incident_no", "SJ-%06d")):
        m = n[kind]
        xy = points(rng, m)
        addr, town = addresses(rng, m, v)
        df = pd.DataFrame({key: np.char.mod(fmt, np.arange(m)), "address": addr, "township_code": town,
                           "lon": xy[:, 0].round(6), "lat": xy[:, 1].round(6)})
        if kind in ("projects", "enterprises"):
            df["name"] = names(rng, m)
        if kind == "projects":
            df["contractor_credit_code"] = np.char.mod("91410183%09dX", rng.integers(0, n["enterprises"], m))
        if kind == "cases":
            df = df.assign(received_date="2024-03-01", project_code=np.char.mod("XM%08d", rng.integers(0, n["projects"], m)),
                           credit_code=np.char.mod("91410183%09dX", rng.integers(0, n["enterprises"], m)),
                           status=np.where(rng.random(m) < 0.4, "核查", "结案"), workers=rng.integers(1, 60, m),
                           amount=rng.uniform(0.5, 80, m).round(2), employer_name=names(rng, m))
        if kind == "incidents":
            df = df.assign(occurred_at="2024-05-06 09:30", grade="一般", status="处置中")
        out[kind] = df
    return out


def fresh_store(backend: str, scale: str, pg: str):
    if backend == "gpkg":
        OUT.mkdir(exist_ok=True)
        p = OUT / f"search-{scale}.gpkg"
        p.unlink(missing_ok=True)
        return open_store(str(p)), None
    admin = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
    name = f"wagemap_bench_search_{scale}"
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE wagemap_template')
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    return open_store(url), (admin, name)


def load(store, data: dict[str, pd.DataFrame]) -> float:
    t0 = time.perf_counter()
    with store.begin() as conn:
        gaz = villages()
        rows = gaz[["name", "township_code", "lon", "lat"]].assign(kind="村").to_dict("records")
        conn.execute(sa.insert(schema.gazetteer), rows)
        for kind, df in data.items():
            batch = store.new_batch(conn, kind, f"bench-{kind}.csv", "bench")
            store.upsert(conn, kind, df, batch)
    if store.kind == "postgis":
        with store.engine.begin() as c:
            c.exec_driver_sql("ANALYZE")
    return time.perf_counter() - t0


def queries(data: dict[str, pd.DataFrame], rng: np.random.Generator) -> dict[str, list[str]]:
    p, e, c = data["projects"], data["enterprises"], data["cases"]
    pick = lambda df, col: df[col].to_numpy()[rng.integers(0, len(df), REPEATS)].astype(str).tolist()  # noqa: E731
    names_ = pick(p, "name")
    xy = points(rng, REPEATS)
    gx, gy = gcj02.wgs_to_gcj(xy[:, 0], xy[:, 1])
    v = villages()["name"].to_numpy()[rng.integers(0, len(villages()), REPEATS)].astype(str).tolist()
    return {
        "编号 (项目/案件)": pick(p, "project_code")[: REPEATS // 2] + pick(c, "case_no")[: REPEATS // 2],
        "信用代码": pick(e, "credit_code"),
        "名称片段": [n[2:6] for n in names_],
        "名称含错字": [n[:3] + "某" + n[4:] for n in names_],
        "完整地址": pick(c, "address"),
        "村名": v,
        "坐标 WGS-84": [f"{x:.6f},{y:.6f}" for x, y in xy],
        "坐标 GCJ-02": [f"{x:.6f},{y:.6f} 高德" for x, y in zip(gx, gy, strict=False)],
    }


def pct(times: list[float]) -> str:
    a = np.array(times) * 1000
    return f"p50 {np.percentile(a, 50):7.1f} ms  p95 {np.percentile(a, 95):7.1f} ms"


def run(scale: str, backend: str, pg: str) -> list[str]:
    lines = []
    data = frames(scale)
    store, admin = fresh_store(backend, scale, pg)
    try:
        rows = sum(len(d) for d in data.values())
        lines.append(f"## {scale} / {backend}: {rows:,} sites loaded in {load(store, data):.1f} s")
        t0 = time.perf_counter()
        index = srch.load_index(store)
        lines.append(f"index build (read + flatten): {time.perf_counter() - t0:.2f} s, {len(index.records):,} records")
        rng = np.random.default_rng(11)
        for form, qs in queries(data, rng).items():
            times, found = [], 0
            for q in qs:
                t = time.perf_counter()
                r = srch.search(q, index)
                times.append(time.perf_counter() - t)
                found += r.status != "none"
            lines.append(f"search {form:<14} {pct(times)}  answered {found}/{len(qs)}")
        xy = points(rng, REPEATS)
        for km in (1.0, 5.0):
            times, n = [], []
            for x, y in xy:
                t = time.perf_counter()
                out = nb.fetch_nearby(store, float(x), float(y), radius_km=km)
                times.append(time.perf_counter() - t)
                n.append(len(out))
            lines.append(f"radius {km:g} km{'':<9} {pct(times)}  mean {np.mean(n):,.0f} sites")
        if backend == "postgis":
            q = nb.radius_select(schema.projects, float(xy[0, 0]), float(xy[0, 1]), 1000.0, "postgis")
            with store.begin() as conn:
                c = q.compile(conn)
                params = {k: float(v) if isinstance(v, np.floating) else v for k, v in c.params.items()}
                plan = [r[0] for r in conn.exec_driver_sql("EXPLAIN " + str(c), params)]
            used = [p.strip() for p in plan if "Index" in p]
            lines.append("radius plan: " + (used[0] if used else "NO INDEX USED: " + " | ".join(plan[:3])))
    finally:
        store.engine.dispose()
        if admin is not None:
            eng, name = admin
            with eng.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", action="append", choices=list(SCALES), help="city and/or province (default city)")
    ap.add_argument("--backends", default="gpkg,postgis")
    ap.add_argument("--pg", default=PG, help="a PostGIS URL whose server has the wagemap_template database")
    a = ap.parse_args()
    print(f"# benchmarks/search.py  {time.strftime('%Y-%m-%d %H:%M')}  {platform.node()} {platform.machine()} "
          f"{os.cpu_count()} cores, Python {platform.python_version()}", flush=True)
    for scale in a.scale or ["city"]:
        for backend in a.backends.split(","):
            for line in run(scale, backend.strip(), a.pg):
                print(line, flush=True)


if __name__ == "__main__":
    main()
