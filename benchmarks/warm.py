"""The warm-up and the shared view cache at city and province scale: what one worker pays once per
data version, and what every other worker then answers in.

    .venv/bin/python benchmarks/warm.py --scale city [--scale province] [--backend postgis] [--projects 40]

Steps, in one process, on a fresh cache dir:
1. worker A runs dashboard.warmup.warm (as the worker that claims the data version does after a load):
   wall time, views built, peak RSS, rows released afterwards and RSS then;
2. worker B (a second app on the same store and cache dir, its own in-process cache empty) calls the
   page callbacks as Dash does (each in its own app context, the answer encoded to JSON by Dash's encoder):
   the overview's indicator switch down the switcher and back (each patch against what the browser
   drew before), every township page (drill-down: the page layout), three earlier end months (the
   overview's month change and a township page of that window), the township page's indicator
   switch, and `--projects` project pages — p50/p95 wall and CPU of each, JSON size, B's RSS at the end.
   (Before 2026-11-25 15:30 the switch and drill-down rows timed services.overview / township_view /
   map_frame, without the callback's own work and the encoding.)
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def rss_mb() -> float:
    return common.rss_mb(os.getpid())


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _page(name: str):
    """A registered page module (after create_app), whose callbacks are called as Dash calls them."""
    import importlib

    import dash

    return importlib.import_module(next(p["module"] for p in dash.page_registry.values() if p["module"].endswith(name)))


def to_json(value) -> str:
    from dash._utils import to_json as dash_json

    return dash_json(list(value) if isinstance(value, tuple) else value)  # as Dash answers a callback


def run(scale: str, backend: str, n_projects: int, cache_dir: str | None = None) -> str:
    from dashboard import services as S
    from dashboard import warmup
    from dashboard.app import create_app
    from geodata.settings import load_settings
    from geodata.store import open_store
    from layers import registry

    cache_dir = os.environ["WAGEMAP_CACHE_DIR"] = cache_dir or tempfile.mkdtemp(prefix="wagemap-bench-warm-")
    url = common.store_url(scale, backend)
    la0 = common.loadavg()
    a = create_app(store=open_store(url), settings=load_settings(db=url))
    rss0 = rss_mb()
    cpu0 = time.process_time()
    r = warmup.warm(a)
    cpu = time.process_time() - cpu0
    peak = peak_mb()
    gc.collect()
    rss_after = rss_mb()
    disk_mb = sum(f.stat().st_size for f in Path(cache_dir).rglob("*") if f.is_file()) / 2**20
    b = create_app(store=open_store(url), settings=load_settings(db=url))
    times: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}

    labels: dict[str, list[str]] = {}

    def timed(name: str, fn, label: str = "") -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.setdefault(name, []).append(time.perf_counter() - t0)
        cpus.setdefault(name, []).append(time.process_time() - c0)
        labels.setdefault(name, []).append(label)

    ov, tw = _page("overview"), _page("township")
    sizes: dict[str, list[int]] = {}

    def call(name: str, fn, label: str = "") -> None:
        """One callback as a request runs it: its own app context (data version read once), the return value
        encoded to JSON as Dash does (dash._utils.to_json)."""
        def run() -> None:
            with b.server.app_context():
                out = fn()
            sizes.setdefault(name, []).append(len(to_json(out)))

        timed(name, run, label)

    with b.server.app_context():
        frm, to = S.month_window(None, None, None)
        towns = list(S.township_names(None))
        drawn = S.overview_head(None, registry.DEFAULT, frm, to)["keys"]  # what the first page drew
    pts = ["projects", "cases", "incidents"]
    for k in [*registry.LAYERS, registry.DEFAULT]:  # the switcher walked top to bottom and back
        def switch(k=k):
            nonlocal drawn
            out = ov.update(k, frm, to, pts, drawn)
            drawn = out[-1]
            return out
        call("overview indicator switch", switch, f"→ {k}")
    for code in towns:
        call("township drill-down (page)", lambda c=code: tw.layout(code=c), code)
    with b.server.app_context():
        earlier = [m for m in S.months(None) if m < to][::-1][:3]
    for m in earlier:  # the end month moved back (start kept): served if the warm-up built those windows
        def month(m=m):
            nonlocal drawn
            out = ov.update(registry.DEFAULT, frm, m, pts, drawn)
            drawn = out[-1]
            return out
        call("overview end-month change", month, f"→ ..{m}")
        call("township page, earlier end month", lambda m=m: tw.layout(code=towns[0], **{"from": frm, "to": m}), m)
    for code in towns[:8]:
        with b.server.app_context():
            tdrawn = S.overview_head(None, registry.DEFAULT, frm, to, township=code)["keys"]
        call("township indicator switch", lambda c=code, d=tdrawn: tw.update("real_name", frm, to, pts, c, d), code)
    with b.server.app_context():
        codes = S.store().read("projects", columns=["project_code"])["project_code"].astype(str)
        pick = codes.sample(n=min(n_projects, len(codes)), random_state=8).tolist()
        for c in pick:
            timed("project page", lambda c=c: S.project_view(None, c, to, mask_pii=True))
        town = towns[0]
        sf, st = S.month_window([town], None, None)
        timed("township official: own overview", lambda: S.overview_map([town], registry.DEFAULT, sf, st))
        timed("township official: own township page", lambda: S.township_view([town], town, sf, st, mask_pii=True))
    rss_b = rss_mb()
    target = {"city": 100, "province": 300}[scale]
    top = sorted(r.get("layers", {}).items(), key=lambda x: -x[1][1])[:8]
    lines = [f"**{scale} / {backend}** (load average {la0} → {common.loadavg()}; target p95 ≤ {target} ms)", "",
             f"Worker A, warm-up: {r['views']} views in {r['seconds']:.1f} s wall, {cpu:.1f} s CPU; RSS {rss0:,.0f} MB "
             f"at start, peak {peak:,.0f} MB, {rss_after:,.0f} MB after releasing {r['released']} cached frames; "
             f"{r.get('windows', 0)} earlier end months warmed too; shared cache {disk_mb:,.0f} MB on disk"
             + ("; " + ", ".join(f"{k} {w:.1f} s / {c:.1f} s CPU" for k, (w, c) in r.get("phases", {}).items()))
             + ".", "",
             "Citywide layers by CPU (wall / CPU s; a layer that first needs a kind of rows reads them): "
             + ", ".join(f"{k[6:]} {w:.1f} / {c:.1f}" for k, (w, c) in top)
             + ".", "",
             "Worker B (same shared cache, empty in-process cache):", "",
             "| call | n | p50 | p95 | max (which) | CPU p50 / p95 | JSON median / max | p95 ≤ target? |", "|---" * 8 + "|"]
    for name, v in times.items():
        p95 = common.pct(v, 95) * 1000
        c, z = cpus[name], sorted(sizes.get(name, []))
        worst = labels[name][v.index(max(v))]
        size = f"{z[len(z) // 2] / 1024:,.0f} / {z[-1] / 1024:,.0f} KB" if z else "—"
        lines.append(f"| {name} | {len(v)} | {common.pct(v, 50) * 1000:,.0f} ms | {p95:,.0f} ms | {max(v) * 1000:,.0f} ms"
                     f"{f' ({worst})' if worst else ''} | {common.pct(c, 50) * 1000:,.0f} / {common.pct(c, 95) * 1000:,.0f} ms | "
                     f"{size} | {'yes' if p95 <= target else f'**no** ({p95:,.0f} ms)'} |")
    lines += ["", f"Worker B RSS at the end: {rss_b - rss_after:+,.0f} MB over A's (same process)."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", action="append", default=None)
    ap.add_argument("--backend", action="append", default=None)
    ap.add_argument("--projects", type=int, default=40)
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--cache-dir", default=None, help="view cache dir to use and keep (default: a new temporary one)")
    a = ap.parse_args()
    for scale in a.scale or ["city"]:
        for backend in a.backend or ["postgis"]:
            body = run(scale, backend, a.projects, a.cache_dir and f"{a.cache_dir}-{scale}-{backend}")
            print(body, flush=True)
            if not a.no_record:
                common.record("warm", "Warm-up and the shared view cache (`benchmarks/warm.py`)", common.command_line(), body)


if __name__ == "__main__":
    main()
