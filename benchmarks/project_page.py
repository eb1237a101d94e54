"""The project page alone (`/project/<code>`): server time and CPU of its callback, without warming the 20 layers.

    .venv/bin/python benchmarks/project_page.py --scale city [--scale province] [--backend postgis] [--backend gpkg]
                                                [--projects 40] [--cache-dir DIR] [--profile N] [--no-record]

Steps, in one process, as benchmarks/warm.py does for every view but only for what a project page reads:
1. worker A builds every township's part of the window status (`records.status_part`, what
   dashboard/warmup.py warms for project pages) into the shared view cache (`--cache-dir` keeps and
   reuses it: at province the status takes minutes; a source change makes new cache keys anyway);
2. worker B (second app, same shared cache, empty in-process cache): `services.project_view` of
   `--projects` projects (the sample of benchmarks/warm.py: random_state=8), each a miss, then
   the same calls again (in-process hits);
3. worker C (third app, signed in through the Flask test client as a citywide leader): the page
   callback itself, POST /_dash-update-component for /project/<code> as the browser sends it (layout,
   checklist, cases, small map, JSON) for another `--projects` projects (random_state=9), each a miss
   of the project view, then the same again (view cached, layout rebuilt).
Wall and CPU (process time) per call; the load average before and after. `--profile N` prints the
cProfile of N further service misses (sorted by cumulative and own time).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def _sample(store, n: int, seed: int) -> list[str]:
    codes = store.read("projects", columns=["project_code"])["project_code"].astype(str)
    return codes.sample(n=min(n, len(codes)), random_state=seed).tolist()


def _page_body(deps: list[dict], path: str) -> dict:
    d = next(x for x in deps if "_pages_content.children" in x["output"] and not x.get("clientside_function"))
    values = {"_pages_location.pathname": path, "_pages_location.search": ""}

    def spec(items):
        return [{"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
                for i in items]

    outs = d["output"].strip(".").split("...") if d["output"].startswith("..") else [d["output"]]
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1].split("@")[0]} for o in outs]
    return {"output": d["output"], "outputs": outputs if len(outputs) > 1 else outputs[0], "inputs": spec(d["inputs"]),
            "changedPropIds": ["_pages_location.pathname"], "state": spec(d.get("state", []))}


def run(scale: str, backend: str, n: int, cache_dir: str | None, profile: int) -> str:
    from dashboard import services as S  # (before dashboard.records, which it imports)
    from dashboard.app import create_app
    from dashboard.records import status_part
    from geodata.settings import load_settings
    from geodata.store import open_store

    os.environ["WAGEMAP_CACHE_DIR"] = cache_dir or tempfile.mkdtemp(prefix="wagemap-bench-project-")
    url = common.store_url(scale, backend)
    la0 = common.loadavg()

    def app():
        return create_app(store=open_store(url), settings=load_settings(db=url))

    a = app()
    t0, c0 = time.perf_counter(), time.process_time()
    with a.server.app_context():
        frm, to = S.month_window(None, None, None)
        for code in S.township_names(None):
            status_part(None, to, code)
    warm_s, warm_cpu = time.perf_counter() - t0, time.process_time() - c0

    times: dict[str, tuple[list[float], list[float]]] = {}

    def timed(name: str, fn) -> object:
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        w, c = times.setdefault(name, ([], []))
        w.append(time.perf_counter() - t0)
        c.append(time.process_time() - c0)
        return out

    b = app()
    with b.server.app_context():
        pick = _sample(S.store(), n, 8)
        for c in pick:
            timed("project_view, miss (status part from the shared cache)",
                  lambda c=c: S.project_view(None, c, to, mask_pii=True))
        for c in pick:
            timed("project_view, hit (in-process cache)", lambda c=c: S.project_view(None, c, to, mask_pii=True))
        prof_text = ""
        if profile:
            more = [x for x in _sample(S.store(), n + profile, 10) if x not in set(pick)][:profile]
            pr = cProfile.Profile()
            for c in more:
                pr.enable()
                S.project_view(None, c, to, mask_pii=True)
                pr.disable()
            for order in ("cumulative", "tottime"):
                s = io.StringIO()
                pstats.Stats(pr, stream=s).sort_stats(order).print_stats(40)
                prof_text += s.getvalue()

    c_app = app()
    common.ensure_user(open_store(url))
    client = c_app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"csrf_token": tok, "username": common.BENCH_USER, "password": common.BENCH_PASSWORD,
                                    "next": "/"})
    assert r.status_code in (302, 303), r.status_code
    deps = client.get("/_dash-dependencies").get_json()
    sizes: list[int] = []
    errors = 0
    other = [x for x in _sample(open_store(url), 2 * n, 9) if x not in set(pick)][:n]
    for kind in ("miss", "hit"):
        for c in other:
            resp = timed(f"page callback /project/<code>, {kind}" + (" (view built)" if kind == "miss" else " (view cached)"),
                         lambda c=c: client.post("/_dash-update-component", json=_page_body(deps, f"/project/{c}")))
            errors += resp.status_code != 200
            sizes.append(len(resp.get_data()))

    target = {"city": 100, "province": 300}[scale]
    lines = [f"**{scale} / {backend}** (load average {la0} → {common.loadavg()}; target p95 ≤ {target} ms)", "",
             f"Worker A: every township's status part in {warm_s:.1f} s wall, {warm_cpu:.1f} s CPU "
             f"({'read back from' if cache_dir else 'built into'} the shared cache). Page callback errors: {errors}; "
             f"response median {sorted(sizes)[len(sizes) // 2]:,} bytes.", "",
             "| call | n | wall p50 | wall p95 | max | CPU p50 / p95 | p95 ≤ target? |", "|---|---|---|---|---|---|---|"]
    for name, (w, c) in times.items():
        p95 = common.pct(w, 95) * 1000
        lines.append(f"| {name} | {len(w)} | {common.pct(w, 50) * 1000:,.1f} ms | {p95:,.1f} ms | {max(w) * 1000:,.1f} ms | "
                     f"{common.pct(c, 50) * 1000:,.1f} / {common.pct(c, 95) * 1000:,.1f} ms | "
                     f"{'yes' if p95 <= target else f'**no** ({p95:,.0f} ms)'} |")
    return "\n".join(lines) + ("\n\n```\n" + prof_text + "```" if prof_text else "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", action="append", default=None)
    ap.add_argument("--backend", action="append", default=None)
    ap.add_argument("--projects", type=int, default=40)
    ap.add_argument("--cache-dir", default=None, help="shared view cache to use and keep (per scale and backend)")
    ap.add_argument("--profile", type=int, default=0, help="cProfile N more service misses (not recorded)")
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args()
    for scale in a.scale or ["city"]:
        for backend in a.backend or ["postgis"]:
            body = run(scale, backend, a.projects, a.cache_dir and f"{a.cache_dir}-{scale}-{backend}", a.profile)
            print(body, flush=True)
            if not a.no_record and not a.profile:
                common.record("project", "Project page (`benchmarks/project_page.py`)", common.command_line(), body)


if __name__ == "__main__":
    main()
