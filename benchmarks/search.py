"""Emergency search and radius latency on the shared demo stores (city, province), PostGIS or GeoPackage.

    .venv/bin/python benchmarks/search.py --scale city [--scale province] [--backend postgis] [--backend gpkg]
                                          [--repeat 2] [--record] [--explain] [--http]

Stores: `benchmarks/common.py store_url(scale, backend)` (the ETL-loaded demo; never reloaded here).
Queries are drawn from the store's own rows with a fixed seed, one list per form (number, credit
code, name fragment, name with a typo, whole address, village, typed coordinates). Measured per
(scale, backend):
- search, in-memory index (what GeoPackage uses): index build once, then every query;
- search answered in SQL (pg_trgm, layers/search_sql.py; PostGIS only, when that module exists);
  how often its top answer and status agree with the in-memory index;
- radius 0.5/1/2/5 km around project sites (emergency_service.nearby: what the panel gets),
  with the rows sent and the sites within the radius, after one untimed call (the process's first).
- with `--http`: the emergency page's own callbacks over loopback HTTP (gunicorn, 1 worker, 4 threads, on
  HTTP_PORT, signed in as a leader), POSTed to /_dash-update-component as the browser does: search
  (em-results: the search and its result list) for the same queries, and the site panel (em-site-panel:
  radius, contacts, fund, map patch) for the same centres and radii.
Wall times with the load average before and after and this process's CPU seconds (the machine is
shared). `--explain` prints EXPLAIN ANALYZE of the SQL search and radius queries.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from common import command_line, cpu_seconds, loadavg, ms, record, store_url  # sets sys.path to the project

from etl.gazetteer import entries  # noqa: E402
from geodata import gcj02  # noqa: E402
from geodata.store import open_store  # noqa: E402
from layers import nearby as nb  # noqa: E402
from layers import search as srch  # noqa: E402

try:  # the SQL answer (issue 8); absent before it was written
    from layers import search_sql as sq  # noqa: E402
except ImportError:  # pragma: no cover - the "before" run
    sq = None

SITES = 8  # radius centres
HTTP_PORT = 8660  # --http: the gunicorn of this benchmark (the helpers' port range)


def queries(store, n: int, seed: int = 11) -> dict[str, list[str]]:
    """n queries per form, drawn from the store's rows (fixed seed)."""
    rng = np.random.default_rng(seed)
    p = store.read("projects", columns=["project_code", "name", "lon", "lat"]).sort_values("project_code")
    e = store.read("enterprises", columns=["credit_code", "name"]).sort_values("credit_code")
    c = store.read("cases", columns=["case_no", "address"]).sort_values("case_no")
    v = entries(store)  # the store's villages, else the bundled list the ETL geocodes with

    def pick(df: pd.DataFrame, col: str) -> list[str]:
        v = df[col].dropna().astype(str).to_numpy()
        return v[rng.integers(0, len(v), n)].tolist() if len(v) else []

    names = pick(p, "name") + pick(e, "name")
    names = [names[i] for i in rng.permutation(len(names))[:n]]
    frag = []
    for s in names:
        i = int(rng.integers(0, max(1, len(s) - 4)))
        frag.append(s[i : i + 4])
    typo = [s[: len(s) // 2] + "某" + s[len(s) // 2 + 1 :] for s in names]
    xy = p[["lon", "lat"]].dropna().to_numpy()[rng.integers(0, len(p), n)]
    gx, gy = gcj02.wgs_to_gcj(xy[:, 0], xy[:, 1])
    return {
        "编号 (项目/案件)": pick(p, "project_code")[: n // 2] + pick(c, "case_no")[: n - n // 2],
        "信用代码": pick(e, "credit_code"),
        "名称片段 (4 字)": frag,
        "名称含错字": typo,
        "完整地址": pick(c, "address"),
        "村名": pick(v, "name") if len(v) else [],
        "坐标 WGS-84 / GCJ-02": [f"{x:.6f},{y:.6f}" for x, y in xy[: n // 2]]
        + [f"{x:.6f},{y:.6f} 高德" for x, y in zip(gx[n // 2 :], gy[n // 2 :], strict=True)],
    }


def agree(a, b) -> bool:
    """Same status and top score; the same top site too unless several sites share the top score (a tie)."""
    if a.status != b.status or bool(a.sites) != bool(b.sites):
        return False
    if not a.sites:
        return True
    top, other = a.sites[0], b.sites[0]
    tied = sum(x.score == top.score for x in a.sites) > 1
    return top.score == other.score and (tied or (top.kind, top.key) == (other.kind, other.key))


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def run(scale: str, backend: str, repeat: int, n: int, explain: bool, memory: bool = True, http: bool = False) -> list[str]:
    from dashboard import emergency_service as svc

    store = open_store(store_url(scale, backend))
    lines = [f"**{scale} / {backend}** (load average before {loadavg()})", ""]
    qs = queries(store, n)
    c0 = cpu_seconds()
    if memory:
        t_index, index = timed(lambda: srch.load_index(store))
        lines.append(f"In-memory index build (read + flatten): {t_index:.2f} s, {len(index.records):,} records, "
                     f"Python CPU {cpu_seconds() - c0:.1f} s.")
    else:
        index = None
        lines.append("In-memory index not built (`--sql-only`).")
    print("\n".join(lines), flush=True)
    rows = ["| search form | in-memory p50 / p95 | SQL p50 / p95 | SQL agrees (status, top score and site) | answered (SQL) |",
            "|---|---|---|---|---|"]
    use_sql = sq is not None and store.kind == "postgis"
    base = sq.load_base(store) if use_sql else None
    cpu = {"memory": 0.0, "sql": 0.0}
    for form, qq in qs.items():
        mem, sql, same, answered = [], [], 0, 0
        for _ in range(repeat):
            for q in qq:
                a = None
                if index is not None:
                    c = cpu_seconds()
                    dt, a = timed(lambda q=q: srch.search(q, index))
                    cpu["memory"] += cpu_seconds() - c
                    mem.append(dt)
                if use_sql:
                    c = cpu_seconds()
                    dt, b = timed(lambda q=q: sq.search_sql(store, q, base))
                    cpu["sql"] += cpu_seconds() - c
                    sql.append(dt)
                    same += a is not None and agree(a, b)
                    answered += b.status != "none"
        k = len(sql) or len(mem)
        rows.append(f"| {form} | {ms(mem) if mem else '—'} | {ms(sql) if sql else '—'} | "
                    f"{f'{same}/{k}' if sql and mem else '—'} | {f'{answered}/{k}' if sql else '—'} |")
        print(rows[-1], flush=True)
    lines += rows
    lines += ["", f"Python CPU in search: in-memory {cpu['memory']:.2f} s, SQL {cpu['sql']:.2f} s "
              "(the SQL answer's work is mostly in PostgreSQL)."]

    rng = np.random.default_rng(5)
    p = store.read("projects", columns=["project_code", "name", "address", "township_code", "lon", "lat"])
    p = pd.DataFrame(p).drop(columns=["geometry"]).dropna(subset=["lon", "lat"])
    p = p.sort_values("project_code")  # the same centres on every run
    at = p.iloc[rng.integers(0, len(p), SITES)]
    centres = at[["lon", "lat"]].to_numpy()
    # one call before timing: the process's first radius (connection, prepared statement; on GeoPackage the
    # scope's sites read once per data version, reported here), as the first search builds its base above
    t0, c = time.perf_counter(), cpu_seconds()
    svc.nearby(float(centres[-1][0]), float(centres[-1][1]), nb.DEFAULT_RADIUS_KM, None, s=store)
    lines += ["", f"First radius call (not timed below{': the sites read once' if store.kind != 'postgis' else ''}): "
              f"{(time.perf_counter() - t0) * 1000:.0f} ms, Python CPU {(cpu_seconds() - c) * 1000:.0f} ms."]
    lines += ["", "| radius | p50 / p95 | rows sent (mean) | sites within (mean) | JSON of the rows (mean) |",
              "|---|---|---|---|---|"]
    for km in nb.RADIUS_CHOICES_KM:
        times, sent, within, size, failed = [], [], [], [], []
        for x, y in centres:
            try:
                dt, out = timed(lambda x=x, y=y, km=km: svc.nearby(float(x), float(y), km, None, s=store))
            except Exception as e:  # noqa: BLE001  (the old radius query fails past 65,535 bound codes)
                failed.append(type(e).__name__)
                continue
            times.append(dt)
            frame = out if isinstance(out, pd.DataFrame) else out.rows
            sent.append(len(frame))
            within.append(len(frame) if isinstance(out, pd.DataFrame) else out.total)
            size.append(len(frame.to_json(orient="records", force_ascii=False)))
        err = f"; **{len(failed)} failed** ({failed[0]})" if failed else ""
        lines.append(f"| {km:g} km | {ms(times)}{err} | {np.mean(sent):,.0f} | {np.mean(within):,.0f} | "
                     f"{np.mean(size) / 1000:,.0f} KB |")
        print(lines[-1], flush=True)
    if http:
        lines += http_level(store, qs, at, repeat)
    lines += ["", f"Load average after: {loadavg()}."]
    if explain and use_sql:
        lines += ["", "EXPLAIN ANALYZE (SQL search, name fragment; radius 1 km):", "```"]
        lines += sq.explain(store, qs["名称片段 (4 字)"][0])
        lines += nb.explain(store, float(centres[0][0]), float(centres[0][1]), 1.0)
        lines.append("```")
    store.engine.dispose()
    return lines


def http_level(store, qs: dict[str, list[str]], at: pd.DataFrame, repeat: int) -> list[str]:
    """The emergency page's search and site-panel callbacks over loopback HTTP (see the module docstring)."""
    import callbacks as cb  # benchmarks/callbacks.py: gunicorn start-up and Dash request bodies
    import requests
    from common import ensure_user, login

    ensure_user(store)
    lines = ["", f"Page callbacks over HTTP (gunicorn 1 worker x 4 threads, port {HTTP_PORT}; load average before "
             f"{loadavg()}):", "", "| callback | p50 / p95 | errors | response (mean) |", "|---|---|---|---|"]
    proc = cb.start_server(store.url, port=HTTP_PORT)
    try:
        s = requests.Session()
        base = f"http://127.0.0.1:{HTTP_PORT}"
        login(s, base)
        d = cb.Dash(s, base)
        em = {"em-go.n_clicks": 1, "em-q.n_submit": None, "em-autorun.data": False}
        page = s.post(base + "/_dash-update-component", json=d.body(
            "_pages_content.children", cb.page_values("/emergency"), ["_pages_location.pathname"])).json()
        map_base = _find(page, "em-map-base")  # the browser holds it: site changes are sent as a map Patch
        d.post("em-results.children", {**em, "em-q.value": "预热"}, ["em-go.n_clicks"])  # cached search base

        def row(name: str, calls: list[tuple[dict, str, list[str]]]) -> None:
            times, sizes, errors = [], [], 0
            for values, output, changed in calls:
                dt, code, n = d.post(output, values, changed)
                times.append(dt)
                sizes.append(n)
                errors += code not in (200, 204)
            lines.append(f"| {name} | {ms(times)} | {errors} | {np.mean(sizes) / 1000:,.1f} KB |")
            print(lines[-1], flush=True)

        for form, qq in qs.items():
            row(f"search: {form}", [({**em, "em-q.value": q}, "em-results.children", ["em-go.n_clicks"])
                                    for _ in range(repeat) for q in qq])
        glon, glat = srch.to_gcj02(at["lon"].to_numpy(float), at["lat"].to_numpy(float))
        sites = [srch.Site("project", str(r.project_code), str(r.name), "", str(r.address or ""), float(r.lon),
                           float(r.lat), float(glon[i]), float(glat[i]), str(r.township_code or ""), "", 100.0,
                           "项目编号").to_dict() for i, r in enumerate(at.itertuples())]
        d.post("em-site-panel.children", {"em-site.data": sites[-1], "em-radius.value": 1.0, "em-map-base.data": map_base},
               ["em-radius.value"])  # the worker's first site panel (sites read once on GeoPackage), not timed
        for km in nb.RADIUS_CHOICES_KM:
            row(f"site panel, radius {km:g} km", [
                ({"em-site.data": site, "em-radius.value": km, "em-map-base.data": map_base}, "em-site-panel.children",
                 ["em-radius.value"]) for site in sites])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return lines


def _find(x, cid: str):
    """The `data` of the component with id `cid` in a Dash response."""
    if isinstance(x, dict):
        props = x.get("props") if isinstance(x.get("props"), dict) else x
        if props.get("id") == cid:
            return props.get("data")
        x = list(x.values())
    if isinstance(x, list):
        for v in x:
            found = _find(v, cid)
            if found is not None:
                return found
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", action="append", choices=["city", "province"], help="city and/or province (default city)")
    ap.add_argument("--backend", action="append", choices=["postgis", "gpkg"], help="default postgis")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--queries", type=int, default=12, help="queries per form")
    ap.add_argument("--explain", action="store_true")
    ap.add_argument("--sql-only", action="store_true", help="skip the in-memory index (19 s and ~1 s a query at province)")
    ap.add_argument("--http", action="store_true", help=f"also the page callbacks over HTTP (gunicorn on port {HTTP_PORT})")
    ap.add_argument("--record", action="store_true", help="append the run to benchmarks/RESULTS.md")
    a = ap.parse_args()
    body = []
    for scale in a.scale or ["city"]:
        for backend in a.backend or ["postgis"]:
            lines = run(scale, backend, a.repeat, a.queries, a.explain, memory=not a.sql_only, http=a.http)
            print(lines[-1], flush=True)
            body += lines + [""]
    if a.record:
        record("search", "Emergency search and radius (`benchmarks/search.py`)", command_line(), "\n".join(body))


if __name__ == "__main__":
    main()
