"""Server time of each dashboard callback, p50/p95 over repeated calls, at city and province scale.

    .venv/bin/python benchmarks/callbacks.py --scale city [--scale province] [--backend postgis] [--backend gpkg]
                                             [--repeat 5] [--no-http] [--no-service]

Two levels, both on the same store (benchmarks/common.py makes it once):
- service: the dashboard.services / emergency_service functions a callback calls, in-process inside
  the app context. "miss" = first call with those arguments (the view cache is cold, the rows read
  once per data version are already in memory); "hit" = the same call again (cache by data version);
  "shared" = the same call in a second app on the same shared view cache (another gunicorn worker
  asking for a view the first one, or the warm-up, built). Each run starts with an empty cache dir.
- http: a gunicorn worker (`gunicorn dashboard.wsgi:server`, 1 worker, 4 threads) signed in as a
  leader; each callback POSTed to /_dash-update-component exactly as the browser sends it; the time
  is the loopback round trip (server time + < 1 ms), with the response size.

Callbacks: overview indicator switch (every registered layer), township drill-down (the page
callback for /township/<code>), township panels (indicator switch on a township page: map, worklist,
cases, trend), worklist export (xlsx route), project page (/project/<code>), search (emergency page),
radius (emergency site panel: nearby projects/employers within 0.5-5 km).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

PORT = 8731
TARGET_MS = {"city": 100, "province": 300}
LIMIT: int | None = None  # --limit: fewer layers/townships/projects (province: each miss takes tens of seconds)
SOME_LAYERS = ["arrears", "real_name", "warnings", "risk_heat", "incidents", "deposits"]


def layer_keys() -> list[str]:
    from layers import registry

    keys = list(registry.LAYERS)
    return keys if LIMIT is None else [k for k in SOME_LAYERS if k in keys][:LIMIT]


# ---- samples: the same arguments for both levels ----------------------------------------------


def samples(store, n_projects: int = 20, seed: int = 8) -> dict:
    """Township codes, project codes, search queries and sites, chosen once per store (fixed seed)."""
    rng = np.random.default_rng(seed)
    tw = store.townships()
    p = store.read("projects", columns=["project_code", "name", "address", "township_code", "lon", "lat"])
    p = p[p["lon"].notna()]
    pick = p.iloc[rng.choice(len(p), size=min(n_projects, len(p)), replace=False)]
    e = store.read("enterprises", columns=["credit_code", "name"])
    names = pick["name"].astype(str).tolist()
    queries = ([pick["project_code"].iloc[0], e["credit_code"].iloc[len(e) // 2]]  # exact codes
               + [n[: max(2, len(n) - 3)] for n in names[:4]]  # partial names
               + [str(e["name"].iloc[len(e) // 3])[:6], "超化镇 黄固寺村", "青屏街道", "113.38,34.54", "34°32'N 113°23'E"])
    from layers.search import Site, to_gcj02

    glon, glat = to_gcj02(pick["lon"].to_numpy(float), pick["lat"].to_numpy(float))
    sites = [Site("project", str(r.project_code), str(r.name), "", str(r.address or ""), float(r.lon), float(r.lat),
                  float(glon[i]), float(glat[i]), str(r.township_code or ""), "", 100.0, "项目编号").to_dict()
             for i, r in enumerate(pick.head(8).itertuples())]
    return {"townships": tw["code"].astype(str).tolist(), "projects": pick["project_code"].astype(str).tolist(),
            "queries": queries, "sites": sites}


# ---- service level -----------------------------------------------------------------------------


def service_level(url: str, smp: dict, repeat: int) -> tuple[dict, dict]:
    """{callback: {"miss": [s...], "hit": [s...]}} and {"layer_data_s": first read of the rows}."""
    from dashboard import emergency_service as emsvc
    from dashboard import services as S
    from dashboard.app import create_app
    from geodata.settings import load_settings
    from geodata.store import open_store
    from layers import nearby as nb
    from layers import registry

    app = create_app(store=open_store(url), settings=load_settings(db=url))
    other = create_app(store=open_store(url), settings=load_settings(db=url))  # "another worker", same shared cache
    out: dict[str, dict[str, list[float]]] = {}
    info: dict[str, float] = {}

    def timed(name: str, kind: str, fn) -> None:
        t0 = time.perf_counter()
        fn()
        out.setdefault(name, {"miss": [], "hit": [], "shared": []})[kind].append(time.perf_counter() - t0)

    with app.server.app_context():
        t0 = time.perf_counter()
        S.layer_data(None)
        info["layer_data_s"] = time.perf_counter() - t0
        frm, to = S.month_window(None, None, None)
        keys = layer_keys()
        drawn: dict[str, str] = {}  # what the browser drew: nothing during the misses, then the default view

        def switch(k: str) -> None:
            """What the overview's indicator switch reads: the head, and the point sets the browser lacks."""
            head = S.overview_head(None, k, frm, to)
            S.overview_points(head, [n for n in S.POINT_ORDER if head["keys"][n] != drawn.get(n)])

        for k in keys:
            timed("overview indicator switch", "miss", lambda k=k: switch(k))
        drawn.update(S.overview_head(None, registry.DEFAULT, frm, to)["keys"])
        for _ in range(repeat):
            for k in keys:
                timed("overview indicator switch", "hit", lambda k=k: switch(k))

        def drill(code: str) -> None:
            S.township_view(None, code, frm, to, mask_pii=False)
            S.overview_map(None, registry.DEFAULT, frm, to, township=code)
            S.map_frame(None, focus=code)

        for code in smp["townships"]:
            timed("township drill-down", "miss", lambda c=code: drill(c))
        for _ in range(repeat):
            for code in smp["townships"]:
                timed("township drill-down", "hit", lambda c=code: drill(c))
        for code in smp["townships"][:8]:  # the township page's indicator switch: the map part is per indicator
            timed("township panels (indicator switch)", "miss",
                  lambda c=code: S.overview_head(None, "real_name", frm, to, township=c))
        for code in smp["townships"][:8]:
            timed("worklist export (xlsx frame)", "miss", lambda c=code: S.worklist_frame(None, c, frm, to, mask_pii=False))
        for code in smp["projects"]:
            timed("project page", "miss", lambda c=code: S.project_view(None, c, to, mask_pii=False))
        for _ in range(repeat):
            for code in smp["projects"]:
                timed("project page", "hit", lambda c=code: S.project_view(None, c, to, mask_pii=False))
        st = S.store()
        t0 = time.perf_counter()
        emsvc.search("预热", None, s=st)
        info["search_index_s"] = time.perf_counter() - t0
        for _ in range(max(1, repeat)):
            for q in smp["queries"]:
                timed("search", "hit", lambda q=q: emsvc.search(q, None, s=st))
        for r in nb.RADIUS_CHOICES_KM:
            for site in smp["sites"]:
                timed(f"radius {r:g} km", "miss", lambda s=site, r=r: emsvc.nearby(s["lon"], s["lat"], r, None, s=st))
    with other.server.app_context():
        for k in keys:
            timed("overview indicator switch", "shared", lambda k=k: switch(k))
        for code in smp["townships"]:
            timed("township drill-down", "shared", lambda c=code: drill(c))
        for code in smp["projects"]:
            timed("project page", "shared", lambda c=code: S.project_view(None, c, to, mask_pii=False))
    return out, info


# ---- in the database: what the overview needs, aggregated by PostGIS instead of pulled as rows -------------


def sql_level(url: str, repeat: int) -> tuple[dict, list[str]]:
    """store.aggregate / store.points timings against reading the rows (what layer_data does), and EXPLAINs."""
    import sqlalchemy as sa

    from geodata import schema
    from geodata.settings import get_settings
    from geodata.store import open_store

    st = open_store(url)
    with st.begin() as conn:
        last = conn.execute(sa.select(sa.func.max(schema.cases.c.received_date))).scalar()
    hi = f"{last:%Y-%m}"
    lo = f"{(last.replace(day=1) - timedelta(days=330)):%Y-%m}"
    limit = get_settings().max_points_per_layer
    runs = {
        "arrears by township (sum, count; 12 months)": lambda: st.aggregate(
            "cases", measures={"n": "count", "amount": ("sum", "amount"), "workers": ("sum", "workers")}, months=(lo, hi)),
        "cases by township × month": lambda: st.aggregate("cases", by=("township", "month"), months=(lo, hi)),
        "monthly reports by township × month (sums)": lambda: st.aggregate(
            "compliance", by=("township", "month"), measures={"n": "count", "onsite": ("sum", "workers_onsite"),
                                                              "registered": ("sum", "workers_registered")}, months=(lo, hi)),
        "cases by H3 hex (res 7)": lambda: st.aggregate("cases", by="hex", measures={"n": "count"}, months=(lo, hi)),
        f"case points capped at {limit} (largest first)": lambda: st.points(
            "cases", limit, order_by="amount", columns=["case_no", "amount", "status"], months=(lo, hi)),
        "one township's cases by month (scope)": lambda: st.aggregate(
            "cases", by="month", scope=[st.townships()["code"].iloc[5]], months=(lo, hi)),
        "for comparison: read every case row (layer_data's way)": lambda: st.read("cases"),
    }
    out: dict[str, dict[str, list[float]]] = {}
    for name, fn in runs.items():
        for i in range(repeat + 1):
            t0 = time.perf_counter()
            fn()
            out.setdefault(name, {"miss": [], "hit": []})["miss" if i == 0 else "hit"].append(time.perf_counter() - t0)
    plans = []
    q = sa.select(schema.cases.c.township_code, sa.func.count(), sa.func.sum(schema.cases.c.amount)).where(
        schema.cases.c.received_date >= sa.literal(f"{lo}-01"), schema.cases.c.received_date < sa.literal(f"{hi}-28")
    ).group_by(schema.cases.c.township_code)
    t = schema.cases
    qp = sa.select(t.c.lon, t.c.lat, t.c.case_no, t.c.amount).where(t.c.lon.is_not(None)).order_by(
        sa.desc(t.c.amount).nulls_last(), t.c.id).limit(limit)
    if st.kind == "postgis":
        for label, stmt in (("arrears by township", q), ("capped case points", qp)):
            sql = str(stmt.compile(dialect=st.engine.dialect, compile_kwargs={"literal_binds": True}))
            with st.begin() as conn:
                plan = [r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + sql)]
            plans.append(f"{label}:\n" + "\n".join("    " + p for p in plan))
    return out, plans


# ---- http level -----------------------------------------------------------------------------------


def start_server(url: str, port: int = PORT, workers: int = 1, threads: int = 4) -> subprocess.Popen:
    env = {**os.environ, "WAGEMAP_DB": url}
    log = open(common.OUT / f"gunicorn-{port}.log", "w")  # noqa: SIM115 - lives as long as the server
    p = subprocess.Popen([str(common.ROOT / ".venv/bin/gunicorn"), "-w", str(workers), "--threads", str(threads),
                          "-b", f"127.0.0.1:{port}", "--timeout", "600", "dashboard.wsgi:server"],
                         cwd=common.ROOT, env=env, stdout=log, stderr=log)
    common.wait_port("127.0.0.1", port, timeout=300)
    return p


class Dash:
    """Builds /_dash-update-component bodies from /_dash-dependencies, as the renderer does."""

    def __init__(self, session, base: str):
        self.s, self.base = session, base
        self.deps = session.get(base + "/_dash-dependencies").json()

    def find(self, output_part: str) -> dict:
        for d in self.deps:
            if output_part in d["output"] and not d.get("clientside_function"):
                return d
        raise KeyError(output_part)

    def body(self, output_part: str, values: dict, changed: list[str]) -> dict:
        d = self.find(output_part)

        def spec(items, with_value=True):
            return [{"id": i["id"], "property": i["property"], **({"value": values.get(f"{i['id']}.{i['property']}")}
                                                                    if with_value else {})} for i in items]

        outs = d["output"].strip(".").split("...") if d["output"].startswith("..") else [d["output"]]
        outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1].split("@")[0]} for o in outs]
        return {"output": d["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
                "inputs": spec(d["inputs"]), "changedPropIds": changed, "state": spec(d.get("state", []))}

    def post(self, output_part: str, values: dict, changed: list[str]) -> tuple[float, int, int]:
        b = self.body(output_part, values, changed)
        t0 = time.perf_counter()
        r = self.s.post(self.base + "/_dash-update-component", json=b, headers={"Accept-Encoding": "identity"})
        dt = time.perf_counter() - t0
        self.last = r.json() if r.status_code == 200 else {}
        return dt, r.status_code, len(r.content)


def page_values(path: str) -> dict:
    p, _, q = path.partition("?")
    return {"_pages_location.pathname": p, "_pages_location.search": ("?" + q) if q else ""}


def http_level(url: str, smp: dict, repeat: int) -> tuple[dict, dict]:
    import requests

    from geodata.store import open_store
    from layers import nearby as nb

    common.ensure_user(open_store(url))
    proc = start_server(url, PORT)
    out: dict[str, dict[str, list]] = {}
    info: dict = {"errors": 0, "bytes": {}}
    try:
        s = requests.Session()
        base = f"http://127.0.0.1:{PORT}"
        common.login(s, base)
        d = Dash(s, base)

        def call(name: str, kind: str, output: str, values: dict, changed: list[str]) -> None:
            dt, code, n = d.post(output, values, changed)
            if code not in (200, 204):
                info["errors"] += 1
            out.setdefault(name, {"miss": [], "hit": []})[kind].append(dt)
            info["bytes"].setdefault(name, []).append(n)

        t0 = time.perf_counter()
        call("first page (/ layout callback)", "miss", "_pages_content.children", page_values("/"), ["_pages_location.pathname"])
        info["first_page_s"] = time.perf_counter() - t0
        frm, to = _window(s, base)
        keys = layer_keys()
        ov = {"ov-from.value": frm, "ov-to.value": to, "ov-pts.value": ["projects", "cases", "incidents"]}
        drawn = None  # the browser's <map>-drawn store: what its figure holds, sent back with each switch
        for kind in ["miss"] + ["hit"] * repeat:
            for k in keys:
                call("overview indicator switch", kind, "ov-map.figure", {**ov, "ov-ind.value": k, "ov-map-drawn.data": drawn},
                     ["ov-ind.value"])
                drawn = d.last.get("response", {}).get("ov-map-drawn", {}).get("data", drawn)
        for kind in ["miss"] + ["hit"] * repeat:
            for code in smp["townships"]:
                call("township drill-down", kind, "_pages_content.children", page_values(f"/township/{code}"),
                     ["_pages_location.pathname"])
        tw = {"tw-from.value": frm, "tw-to.value": to, "tw-pts.value": ["projects", "cases", "incidents"]}
        for kind in ["miss"] + ["hit"] * repeat:
            for code in smp["townships"][:8]:
                call("township panels (indicator switch)", kind, "tw-map.figure",
                     {**tw, "tw-ind.value": "real_name", "tw-code.data": code}, ["tw-ind.value"])
        for code in smp["townships"][:8]:
            t0 = time.perf_counter()
            r = s.get(f"{base}/download/worklist/{code}.xlsx?from={frm}&to={to}")
            out.setdefault("worklist export (xlsx)", {"miss": [], "hit": []})["miss"].append(time.perf_counter() - t0)
            info["errors"] += r.status_code != 200
        for kind in ["miss"] + ["hit"] * repeat:
            for code in smp["projects"]:
                call("project page", kind, "_pages_content.children", page_values(f"/project/{code}"),
                     ["_pages_location.pathname"])
        em = {"em-go.n_clicks": 1, "em-q.n_submit": None, "em-autorun.data": False}
        call("search", "miss", "em-results.children", {**em, "em-q.value": "预热"}, ["em-go.n_clicks"])
        for kind in ["hit"] * max(1, repeat):
            for q in smp["queries"]:
                call("search", kind, "em-results.children", {**em, "em-q.value": q}, ["em-go.n_clicks"])
        for r in nb.RADIUS_CHOICES_KM:
            for site in smp["sites"]:
                call(f"radius {r:g} km", "miss", "em-site-panel.children", {"em-site.data": site, "em-radius.value": r},
                     ["em-radius.value"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out, info


def _window(s, base: str) -> tuple[str, str]:
    """The overview's default month window: the values of its ov-from / ov-to dropdowns in the first page."""
    body = Dash(s, base).body("_pages_content.children", page_values("/"), ["_pages_location.pathname"])
    found: dict[str, str] = {}

    def walk(x) -> None:
        if isinstance(x, dict):
            props = x.get("props") if isinstance(x.get("props"), dict) else x
            if props.get("id") in ("ov-from", "ov-to") and "value" in props:
                found[props["id"]] = props["value"]
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(s.post(base + "/_dash-update-component", json=body).json())
    return found["ov-from"], found["ov-to"]


# ---- report -------------------------------------------------------------------------------------------


def table(res: dict, target_ms: int, sizes: dict | None = None) -> str:
    shared = any(d.get("shared") for d in res.values())
    head = "| callback | miss p50 | miss p95 | hit p50 | hit p95 |" + (" shared p50 | shared p95 |" if shared else "")
    lines = [head + " n | bytes (median) | p95 ≤ target? |", "|---" * (head.count("|") + 2) + "|"]
    for name, d in res.items():
        def f(v, q):
            return f"{common.pct(v, q) * 1000:,.0f} ms" if v else "—"
        worst = max([common.pct(v, 95) for v in d.values() if v] or [0]) * 1000
        size = f"{int(np.median(sizes[name])):,}" if sizes and name in sizes else ""
        n = sum(len(v) for v in d.values())
        sh = f" {f(d.get('shared'), 50)} | {f(d.get('shared'), 95)} |" if shared else ""
        lines.append(f"| {name} | {f(d['miss'], 50)} | {f(d['miss'], 95)} | {f(d['hit'], 50)} | {f(d['hit'], 95)} |{sh} {n} | "
                     f"{size} | {'yes' if worst <= target_ms else f'**no** ({worst:,.0f} ms)'} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", action="append", default=None)
    ap.add_argument("--backend", action="append", default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-http", action="store_true")
    ap.add_argument("--no-service", action="store_true")
    ap.add_argument("--no-sql", action="store_true")
    ap.add_argument("--limit", type=int, default=None, help="at most N layers, townships, projects, sites")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--port", type=int, default=None, help="loopback port of the gunicorn it starts (default 8731)")
    a = ap.parse_args()
    global PORT
    PORT = a.port or PORT
    from geodata.store import open_store

    # a fresh shared view cache (dashboard/services.py) for this run, also for the gunicorn it starts:
    # "miss" must mean built, not read back from an earlier run's cache
    os.environ["WAGEMAP_CACHE_DIR"] = tempfile.mkdtemp(prefix="wagemap-bench-cache-")

    for scale in a.scale or ["city"]:
        for backend in a.backend or ["postgis"]:
            url = common.store_url(scale, backend)
            smp = samples(open_store(url))
            if a.limit:
                global LIMIT
                LIMIT = a.limit
                smp = {k: v[: a.limit] if k != "queries" else v for k, v in smp.items()}
            lim = f"; at most {a.limit} layers ({', '.join(layer_keys())}), townships, projects, sites" if a.limit else ""
            body = [f"**{scale} / {backend}** (target p95 ≤ {TARGET_MS[scale]} ms){lim}"]
            if not a.no_service:
                la = common.loadavg()
                res, info = service_level(url, smp, a.repeat)
                body += ["", f"Service level, in-process (load average {la}): first read of the rows (layer_data) "
                         f"{info['layer_data_s']:.1f} s; search index build {info['search_index_s']:.1f} s.", "",
                         table(res, TARGET_MS[scale])]
                print("\n".join(body[-3:]), flush=True)
            if backend == "postgis" and not a.no_sql:
                la = common.loadavg()
                res, plans = sql_level(url, a.repeat)
                body += ["", f"In the database (store.aggregate / store.points, PostGIS; load average {la}); "
                         "\"miss\" = first call, \"hit\" = repeats (PostgreSQL's buffer cache warm):", "",
                         table(res, TARGET_MS[scale]), "", "<details><summary>EXPLAIN ANALYZE</summary>", "", "```",
                         *plans, "```", "</details>"]
                print("\n".join(body[-12:]), flush=True)
            if not a.no_http:
                la = common.loadavg()
                res, info = http_level(url, smp, a.repeat)
                body += ["", f"HTTP, POST /_dash-update-component to gunicorn (1 worker, 4 threads; load average {la}); "
                         f"first page callback after start {info['first_page_s']:.1f} s; errors {info['errors']}.", "",
                         table(res, TARGET_MS[scale], info["bytes"])]
                print("\n".join(body[-3:]), flush=True)
            (common.OUT / f"callbacks-{scale}-{backend}.json").write_text(json.dumps(body, ensure_ascii=False))
            if not a.no_record:
                common.record("callbacks", "Callback server time (`benchmarks/callbacks.py`)", common.command_line(),
                              "\n".join(body))


if __name__ == "__main__":
    main()
