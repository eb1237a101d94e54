"""Time to a drawn map in headless Chromium, and the same overview made the plain way, side by side.

    .venv/bin/python benchmarks/browser.py --scale city [--scale province] [--runs 3]

wagemap (gunicorn, compression on, signed in as a leader): the first overview with an empty browser
cache, again with a warm cache (bundles cached, views cached on the server), and a drill-down to a
township (client-side navigation as a click does). "Drawn" = the plotly map has finished: after
plotly's `plotly_afterplot` the MapLibre map holds the trace layers and has fired `idle` (no
render, tile or transition pending) — not merely a canvas in the DOM — and two animation frames
have passed since, so the compositor has taken the last frame (its read-back of the WebGL canvas
waits for SwiftShader to finish drawing it). Time is from navigation start (first, warm) or from
the click (drill-down) to the first such moment (a later redraw of the same map does not move it).
`--profile` adds, for the warm overview, the browser CPU per thread kind and the map's frames.

Plain ways, with the same townships and points: a one-figure Dash page (plotly choropleth_map of the
full township boundaries + scatter_map of the same project/case/incident points; compression on,
served locally) timed the same way; and `GeoDataFrame.explore()` (folium) of the same data, whose
HTML size is reported (it loads Leaflet from CDNs, so it is not drawn offline here).
Bytes: Playwright's encoded response body sizes, split into data (HTML, layout, dependencies,
callback responses) and static bundles (/_dash-component-suites, /assets).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

CHROMIUM = os.environ.get("WAGEMAP_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--enable-unsafe-swiftshader"]
PORT, PLAIN_PORT = 8610, 8611  # wagemap (gunicorn) and the plain page; --port / --plain-port
VIEWPORT = {"width": 1920, "height": 1080}

# Injected in every page: window.__drawnAll[graphId] = the performance.now() times that graph's map was
# drawn (window.__drawn: the latest), window.__plotted[graphId] = when plotly first finished plotting it
# (its map may still be rendering), window.__frames[graphId] = MapLibre frames rendered so far.
WATCH = r"""
(() => {
  window.__drawn = {};
  window.__drawnAll = {};
  window.__plotted = {};
  window.__frames = {};
  window.__watchFrom = 0;
  const watched = new WeakSet();
  function layersOf(m) {
    try { return (m.getStyle().layers || []).filter(l => l.id.indexOf("plotly-trace-layer") === 0).length; }
    catch (e) { return 0; }
  }
  function arm(gd) {
    if (watched.has(gd)) { return; }
    watched.add(gd);
    const key = gd.id || (gd.parentElement && gd.parentElement.id) || "graph";
    const check = () => {
      const sub = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
      const m = sub && sub.map;
      if (!m) { return; }
      if (!m.__counted) {
        m.__counted = true;
        m.on("render", () => { window.__frames[key] = (window.__frames[key] || 0) + 1; });
      }
      const done = () => {
        if (layersOf(m) > 0 && !m.isMoving() && m.loaded()) {
          requestAnimationFrame(() => requestAnimationFrame(() => {
            const t = performance.now();
            (window.__drawnAll[key] = window.__drawnAll[key] || []).push(t);
            window.__drawn[key] = t;
          }));
        } else { m.once("idle", done); }
      };
      // Idle already (loaded, no frame pending: the last frame drawn shows everything): drawn now. Else at the
      // next idle. (Forcing a repaint here, as this probe did before, cost every page one more full frame.)
      if (m._frameRequest || !m.loaded()) { m.once("idle", done); } else { done(); }
    };
    if (gd.on) {
      gd.on("plotly_afterplot", () => {
        const sub = gd._fullLayout && gd._fullLayout.map;  // the first plot of a map (not an empty first figure)
        if (sub && !window.__plotted[key]) { window.__plotted[key] = performance.now(); }
        check();
      });
    }
    check();
  }
  new MutationObserver(() => {
    document.querySelectorAll(".js-plotly-plot").forEach(gd => { if (gd.on) { arm(gd); } });
  }).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ["class"]});
})();
"""


def launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def _descendants() -> list[int]:
    """Live processes this script started, transitively: Playwright's driver and the Chromium it launched,
    not the servers it started (gunicorn, the plain page's Dash)."""
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            kids.setdefault(int(st.rsplit(")", 1)[1].split()[1]), []).append(int(d))
    out, stack = [], list(kids.get(os.getpid(), []))
    while stack:
        pid = stack.pop()
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"gunicorn" in cmd or b"--serve-plain" in cmd:
            continue
        out.append(pid)
        stack += kids.get(pid, [])
    return out


def browser_cpu() -> float:
    """CPU seconds (user + system) used so far by the live processes this script started: Playwright's driver
    and the Chromium it launched (renderer, GPU with SwiftShader, network). On a shared machine the wall time
    to a drawn map depends on the load; this is the work the browser did."""
    total = 0.0
    for pid in _descendants():
        try:
            total += common.cpu_seconds(pid)
        except (OSError, IndexError):
            continue
    return total


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far per thread name (digits folded: 'ThreadPoolForeg', 'Thread<#>'...) over the same
    processes: where the browser's work goes (CrRendererMain = the page's main thread, CrGpuMain and the
    SwiftShader 'Thread<#>' workers = WebGL drawn on the CPU, DedicatedWorker = MapLibre's tile worker)."""
    import re

    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in _descendants():
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                st = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            except OSError:
                continue
            name = re.sub(r"\d+", "#", st[st.index("(") + 1:st.rindex(")")])
            f = st.rsplit(")", 1)[1].split()
            out[name] = out.get(name, 0.0) + (int(f[11]) + int(f[12])) / tick
    return out


def thread_delta(before: dict[str, float], after: dict[str, float], top: int = 6) -> str:
    d = sorted(((after[k] - before.get(k, 0.0), k) for k in after), reverse=True)
    return ", ".join(f"{k} {v:.2f}" for v, k in d[:top] if v >= 0.01)


class Traffic:
    """Encoded bytes of every response on a page, split into data and static."""

    def __init__(self, page):
        self.items: list[tuple[str, int, str]] = []
        page.on("requestfinished", self._done)

    def _done(self, req) -> None:
        try:
            size = max(0, req.sizes()["responseBodySize"])  # encoded bytes on the wire; 0 from the cache
        except Exception:  # noqa: BLE001 - a request the page dropped
            return
        url = req.url.split("?")[0]
        kind = "static" if ("/_dash-component-suites/" in url or "/assets/" in url or url.endswith(".js")
                            or url.endswith(".css")) else "data"
        self.items.append((url, size, kind))

    def reset(self) -> None:
        self.items.clear()

    def total(self, kind: str) -> int:
        return sum(n for _, n, k in self.items if k == kind)

    def biggest(self, kind: str, n: int = 3) -> str:
        top = sorted([(s, u) for u, s, k in self.items if k == kind], reverse=True)[:n]
        return ", ".join(f"{u.rsplit('/', 1)[-1] or u} {s / 1024:,.0f} KB" for s, u in top)


def wait_drawn(page, key: str, since: float = 0.0, timeout_s: float = 600.0) -> float:
    """ms from navigation start until graph `key`'s map was first drawn after `since` (performance.now())."""
    after = f"(window.__drawnAll && window.__drawnAll[{json.dumps(key)}] || []).filter(t => t > {since})"
    page.wait_for_function(f"{after}.length > 0", timeout=timeout_s * 1000)
    return float(page.evaluate(f"Math.min(...{after})"))


TIMELINE = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const out = [["HTML", nav.responseEnd], ["bundles run", nav.domContentLoadedEventEnd]];
  performance.getEntriesByType("resource").forEach(r => {
    const n = r.name.split("?")[0].split("/").pop();
    if (n === "_dash-update-component" || n === "plotly.min.js" || n === "plotly-wagemap.min.js") {
      out.push([n + " in", r.responseEnd]);
    }
  });
  Object.keys(window.__plotted).forEach(k => out.push([k + " first plotly_afterplot", window.__plotted[k]]));
  Object.keys(window.__drawnAll).forEach(k => out.push([k + " drawn", window.__drawnAll[k][0]]));
  return out.sort((a, b) => a[1] - b[1]);
}"""


def timeline(page) -> str:
    """'HTML received 40 ms → … → ov-map drawn 2,660 ms' for one navigation."""
    return " → ".join(f"{name} {t:,.0f} ms" for name, t in page.evaluate(TIMELINE))


def login_page(page, base: str) -> None:
    """Sign in through the form, then empty the browser cache: the login's redirect has already loaded the
    overview's scripts, and the first view below is to be measured with an empty cache."""
    page.goto(base + "/login")
    page.fill("#u", common.BENCH_USER)
    page.fill("#p", common.BENCH_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/login" not in u, timeout=60000)
    page.wait_for_load_state("networkidle")
    page.context.new_cdp_session(page).send("Network.clearBrowserCache")


# ---- wagemap -------------------------------------------------------------------------------------


def measure_wagemap(url: str, township: str, runs: int) -> dict:
    from callbacks import start_server
    from playwright.sync_api import sync_playwright

    from geodata.store import open_store

    common.ensure_user(open_store(url))
    proc = start_server(url, port=PORT, workers=1, threads=4)
    base = f"http://127.0.0.1:{PORT}"
    res: dict = {"first": [], "warm": [], "warm_cpu": [], "drill": [], "bytes": {}}
    try:
        with sync_playwright() as p:
            browser = launch(p)
            for i in range(runs):
                ctx = browser.new_context(viewport=VIEWPORT, bypass_csp=True)  # empty cache per run; CSP would block the probes
                ctx.add_init_script(WATCH)
                page = ctx.new_page()
                login_page(page, base)
                tr = Traffic(page)
                tr.reset()
                page.goto(base + "/", wait_until="commit")
                res["first"].append(wait_drawn(page, "ov-map"))
                page.wait_for_load_state("networkidle")
                if i == 0:
                    res["bytes"]["first"] = (tr.total("data"), tr.total("static"), tr.biggest("data"), tr.biggest("static"))
                tr.reset()
                page.wait_for_timeout(500)  # the first view's last frames are not counted in the warm one
                c0, th0 = browser_cpu(), thread_cpu()
                page.goto(base + "/", wait_until="commit")
                res["warm"].append(wait_drawn(page, "ov-map"))
                res["warm_cpu"].append(browser_cpu() - c0)
                res.setdefault("warm_threads", []).append(thread_delta(th0, thread_cpu()))
                res.setdefault("warm_frames", []).append(page.evaluate("window.__frames['ov-map'] || 0"))
                page.wait_for_load_state("networkidle")
                if i == 0:
                    res["timeline"] = timeline(page)
                    res["bytes"]["warm"] = (tr.total("data"), tr.total("static"), tr.biggest("data"), tr.biggest("static"))
                tr.reset()
                t0 = float(page.evaluate(f"(() => {{ const t = performance.now(); window.wagemap.go('/township/{township}'); "
                                         "return t; })()"))
                res["drill"].append(wait_drawn(page, "tw-map", since=t0) - t0)
                page.wait_for_load_state("networkidle")
                if i == 0:
                    res["bytes"]["drill"] = (tr.total("data"), tr.total("static"), tr.biggest("data"), tr.biggest("static"))
                    shot = common.OUT / "browser-drill.png"
                    page.screenshot(path=str(shot))
                ctx.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return res


# ---- the plain ways -----------------------------------------------------------------------------------


def plain_data(url: str, path: Path) -> dict:
    """The overview's townships (full boundaries) and point sets, as the wagemap overview shows them."""
    from dashboard import services as S
    from dashboard.app import create_app
    from geodata.settings import load_settings
    from geodata.store import open_store
    from layers import registry

    app = create_app(store=open_store(url), settings=load_settings(db=url))
    with app.server.app_context():
        frm, to = S.month_window(None, None, None)
        view = S.overview(None, registry.DEFAULT, frm, to)
        tw = S.townships(None)
        pts = {k: {"lon": list(v.get("lon") or []), "lat": list(v.get("lat") or []),
                   "text": list(v.get("hovertext") or v.get("text") or [])} for k, v in view["points"].items()}
        by = {b["code"]: b["value"] for b in view["bars"]}
    data = {"townships": json.loads(tw[["code", "name", "geometry"]].to_json()), "values": by, "points": pts,
            "title": view["title"]}
    path.write_text(json.dumps(data, ensure_ascii=False))
    return data


def serve_plain(data_path: str, port: int) -> None:
    """A one-figure Dash page: plotly choropleth_map + scatter_map of the same data (run in its own process)."""
    import dash
    import plotly.graph_objects as go
    from dash import dcc, html

    data = json.loads(Path(data_path).read_text())
    gj = data["townships"]
    codes = [f["properties"]["code"] for f in gj["features"]]
    fig = go.Figure(go.Choroplethmap(geojson=gj, locations=codes, featureidkey="properties.code",
                                     z=[data["values"].get(c) or 0 for c in codes], colorscale="Reds", name=data["title"],
                                     text=[f["properties"]["name"] for f in gj["features"]], marker_opacity=0.7))
    for name, p in data["points"].items():
        fig.add_trace(go.Scattermap(lon=p["lon"], lat=p["lat"], mode="markers", name=name,
                                    hovertext=p["text"] or None, marker={"size": 7}))
    fig.update_layout(map={"style": "white-bg", "center": {"lon": 113.39, "lat": 34.5}, "zoom": 9.4},
                      margin={"l": 0, "r": 0, "t": 30, "b": 0}, title=data["title"])
    app = dash.Dash(__name__, serve_locally=True, compress=True)
    app.layout = html.Div([dcc.Graph(id="plain-map", figure=fig, style={"height": "95vh"})])
    app.run(host="127.0.0.1", port=port, debug=False)


def measure_plain(data_path: Path, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    log = open(common.OUT / "plain-dash.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, __file__, "--serve-plain", str(data_path), "--plain-port", str(PLAIN_PORT)],
                            cwd=common.ROOT, stdout=log, stderr=log)
    res: dict = {"first": [], "warm": [], "warm_cpu": [], "bytes": {}}
    try:
        common.wait_port("127.0.0.1", PLAIN_PORT)
        base = f"http://127.0.0.1:{PLAIN_PORT}"
        with sync_playwright() as p:
            browser = launch(p)
            for i in range(runs):
                ctx = browser.new_context(viewport=VIEWPORT, bypass_csp=True)
                ctx.add_init_script(WATCH)
                page = ctx.new_page()
                tr = Traffic(page)
                page.goto(base + "/", wait_until="commit")
                res["first"].append(wait_drawn(page, "plain-map"))
                page.wait_for_load_state("networkidle")
                if i == 0:
                    res["bytes"]["first"] = (tr.total("data"), tr.total("static"), tr.biggest("data"), tr.biggest("static"))
                tr.reset()
                page.wait_for_timeout(500)
                c0, th0 = browser_cpu(), thread_cpu()
                page.goto(base + "/", wait_until="commit")
                res["warm"].append(wait_drawn(page, "plain-map"))
                res["warm_cpu"].append(browser_cpu() - c0)
                res.setdefault("warm_threads", []).append(thread_delta(th0, thread_cpu()))
                res.setdefault("warm_frames", []).append(page.evaluate("window.__frames['plain-map'] || 0"))
                page.wait_for_load_state("networkidle")
                if i == 0:
                    res["bytes"]["warm"] = (tr.total("data"), tr.total("static"), tr.biggest("data"), tr.biggest("static"))
                ctx.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return res


def explore_bytes(data: dict, path: Path) -> tuple[int, int]:
    """GeoDataFrame.explore() of the same townships and points: (HTML bytes, gzip bytes)."""
    import geopandas as gpd
    import pandas as pd

    tw = gpd.GeoDataFrame.from_features(data["townships"]["features"], crs=4326)
    tw["value"] = tw["code"].map(data["values"])
    m = tw.explore(column="value", cmap="Reds", tooltip=["name", "value"])
    for name, p in data["points"].items():
        if p["lon"]:
            df = pd.DataFrame({"lon": p["lon"], "lat": p["lat"], "label": (p["text"] or [""] * len(p["lon"]))[: len(p["lon"])]})
            g = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)
            g[["label", "geometry"]].explore(m=m, name=name, tooltip="label", marker_kwds={"radius": 4})
    m.save(str(path))
    raw = path.read_bytes()
    return len(raw), len(gzip.compress(raw, 6))


# ---- how many points a map draws smoothly -------------------------------------------------------------------


def sweep_points(counts: list[int], runs: int) -> str:
    """The plain one-figure page with N random points (hover text as the overview's): warm drawn time and
    the time to redraw after a zoom (Plotly.relayout -> MapLibre idle), for settings.max_points_per_layer."""
    import numpy as np
    from playwright.sync_api import sync_playwright

    rng = np.random.default_rng(5)
    lines = ["| points | map drawn (warm) p50 | zoom redraw p50 | figure JSON |", "|---|---|---|---|"]
    for n in counts:
        lon, lat = rng.uniform(113.17, 113.62, n), rng.uniform(34.36, 34.66, n)
        text = [f"<b>示例项目{i}</b><br>项目编号：XM{i:08d}<br>缺：实名制、专户" for i in range(n)]
        data = {"townships": {"type": "FeatureCollection", "features": []}, "values": {}, "title": f"{n} points",
                "points": {"points": {"lon": lon.round(6).tolist(), "lat": lat.round(6).tolist(), "text": text}}}
        path = common.OUT / f"sweep-{n}.json"
        path.write_text(json.dumps(data, ensure_ascii=False))
        log = open(common.OUT / "plain-dash.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, __file__, "--serve-plain", str(path), "--plain-port", str(PLAIN_PORT)],
                                cwd=common.ROOT, stdout=log, stderr=log)
        drawn, zoom = [], []
        try:
            common.wait_port("127.0.0.1", PLAIN_PORT)
            base = f"http://127.0.0.1:{PLAIN_PORT}"
            with sync_playwright() as p:
                browser = launch(p)
                ctx = browser.new_context(viewport=VIEWPORT, bypass_csp=True)
                ctx.add_init_script(WATCH)
                page = ctx.new_page()
                page.goto(base + "/", wait_until="commit")
                wait_drawn(page, "plain-map")
                for _ in range(runs):
                    page.goto(base + "/", wait_until="commit")
                    drawn.append(wait_drawn(page, "plain-map"))
                    page.wait_for_load_state("networkidle")
                    t0 = float(page.evaluate("""(() => { const gd = document.querySelector('#plain-map .js-plotly-plot')
                        || document.getElementById('plain-map'); const t = performance.now();
                        window.Plotly.relayout(gd, {'map.zoom': gd._fullLayout.map.zoom + 1}); return t; })()"""))
                    zoom.append(wait_drawn(page, "plain-map", since=t0) - t0)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        lines.append(f"| {n:,} | {common.pct(drawn, 50) / 1000:.2f} s | {common.pct(zoom, 50) / 1000:.2f} s | "
                     f"{path.stat().st_size / 1024:,.0f} KB |")
    return "\n".join(lines)


# ---- report -----------------------------------------------------------------------------------------------


def kb(n: int) -> str:
    return f"{n / 1024:,.0f} KB"


def main() -> None:
    global PORT, PLAIN_PORT
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", action="append", default=None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--serve-plain", default=None)
    ap.add_argument("--port", type=int, default=PORT, help="wagemap's gunicorn port")
    ap.add_argument("--plain-port", type=int, default=PLAIN_PORT, help="the plain one-figure page's port")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--profile", action="store_true", help="warm views: MapLibre frames and browser CPU per thread")
    ap.add_argument("--sweep-points", default=None, help="e.g. 1000,5000,20000,50000: drawn/zoom time per point count")
    a = ap.parse_args()
    PORT, PLAIN_PORT = a.port, a.plain_port
    if a.serve_plain:
        serve_plain(a.serve_plain, a.plain_port)
        return
    if a.sweep_points:
        body = sweep_points([int(x) for x in a.sweep_points.split(",")], a.runs)
        print(body, flush=True)
        if not a.no_record:
            common.record("points", "How many points a map draws smoothly (`benchmarks/browser.py --sweep-points`)",
                          common.command_line(), f"Headless Chromium, SwiftShader WebGL, {a.runs} runs per count "
                          f"(load average {common.loadavg()}).\n\n" + body)
        return
    from geodata.store import open_store

    for scale in a.scale or ["city"]:
        url = common.store_url(scale, "postgis")
        township = open_store(url).townships()["code"].iloc[3]
        la = common.loadavg()
        w = measure_wagemap(url, township, a.runs)
        data_path = common.OUT / f"plain-{scale}.json"
        data = plain_data(url, data_path)
        pl = measure_plain(data_path, a.runs)
        html_n, html_gz = explore_bytes(data, common.OUT / f"explore-{scale}.html")
        npts = {k: len(v["lon"]) for k, v in data["points"].items()}
        lines = [f"**{scale}** (PostGIS; {len(data['townships']['features'])} townships, points {npts}; "
                 f"{a.runs} runs, fresh browser context each; load average {la} → {common.loadavg()})", "",
                 "| page | view | map drawn p50 | max | data (compressed) | static bundles (compressed) | biggest data |",
                 "|---|---|---|---|---|---|---|"]

        def row(page: str, view: str, times: list, b: tuple | None, lines: list = lines) -> None:
            d, s, big = (kb(b[0]), kb(b[1]), b[2]) if b else ("", "", "")
            p50, worst = common.pct(times, 50) / 1000, max(times) / 1000
            lines.append(f"| {page} | {view} | {p50:.2f} s | {worst:.2f} s | {d} | {s} | {big} |")

        row("wagemap overview", "first (empty cache)", w["first"], w["bytes"].get("first"))
        row("wagemap overview", "warm cache", w["warm"], w["bytes"].get("warm"))
        row("wagemap township", "drill-down (click to drawn)", w["drill"], w["bytes"].get("drill"))
        row("plain one-figure Dash", "first (empty cache)", pl["first"], pl["bytes"].get("first"))
        row("plain one-figure Dash", "warm cache", pl["warm"], pl["bytes"].get("warm"))
        lines.append(f"| `GeoDataFrame.explore()` (folium) | HTML file | not drawn offline (Leaflet from CDNs) | | "
                     f"{kb(html_n)} raw, {kb(html_gz)} gzip | + Leaflet/jQuery/Bootstrap from CDNs | |")
        lines += ["", f"Browser CPU to a drawn map, warm cache (p50 of {a.runs}; Chromium's processes, all threads): "
                      f"wagemap overview {common.pct(w['warm_cpu'], 50):.2f} s, plain one-figure Dash "
                      f"{common.pct(pl['warm_cpu'], 50):.2f} s",
                  "", f"Warm overview timeline: {w.get('timeline', '')}"]
        if a.profile:
            for name, r in (("wagemap overview", w), ("plain one-figure Dash", pl)):
                lines += ["", f"{name}, warm, per run: MapLibre frames {r['warm_frames']}; browser CPU by thread (s): "
                          + " | ".join(r["warm_threads"])]
        body = "\n".join(lines)
        print(body, flush=True)
        if not a.no_record:
            common.record("browser", "Time to a drawn map, headless Chromium (`benchmarks/browser.py`)",
                          common.command_line(), body)


if __name__ == "__main__":
    main()
