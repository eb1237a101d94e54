"""Bytes sent to the browser for the first overview view and a township drill-down, compression on.

    .venv/bin/python benchmarks/bytes.py --scale city [--scale province]

Headless Chromium (as benchmarks/browser.py) against gunicorn (`dashboard.wsgi:server`, flask-compress
on), signed in as a leader, empty browser cache. Every response is counted twice: on the wire
(encoded: Playwright's responseBodySize) and decoded; split into data (the HTML page, _dash-layout,
_dash-dependencies, callback responses) and static bundles (/_dash-component-suites, /assets). Then
the drill-down (client-side navigation to /township/<code>, as a click does). Last, what the data
is made of: the page callback's biggest components and the map's traces (decoded JSON bytes).
Between the two, two clicks in the layer switcher (SWITCHES): the answer of the map/panel callback to each.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from browser import VIEWPORT, WATCH, launch, login_page, wait_drawn  # noqa: E402
from callbacks import Dash, page_values, start_server  # noqa: E402

PORT = 8612  # gunicorn for this script (--port)

TARGET_DATA_KB = 100
# After the first view: a switch that changes no point set (arrears -> open cases), then one to a coverage
# layer (its project points are coloured by the mechanism, so they are sent again; cases and incidents not).
SWITCHES = ("在办欠薪案件", "实名制登记率")


def kind_of(url: str) -> str:
    u = url.split("?")[0]
    return "static" if ("/_dash-component-suites/" in u or "/assets/" in u or u.endswith((".js", ".css"))) else "data"


def collect(page) -> list[dict]:
    items: list[dict] = []

    def done(req) -> None:
        try:
            enc = max(0, req.sizes()["responseBodySize"])
            resp = req.response()
            raw = len(resp.body()) if resp is not None else 0
        except Exception:  # noqa: BLE001 - redirects, aborted requests
            return
        items.append({"url": req.url.split("?")[0].replace(f"http://127.0.0.1:{PORT}", ""), "kind": kind_of(req.url),
                      "encoded": enc, "raw": raw,
                      "encoding": (resp.headers.get("content-encoding") if resp is not None else None) or "none"})

    page.on("requestfinished", done)
    return items


def summary(items: list[dict]) -> dict:
    out = {}
    for k in ("data", "static"):
        sel = [i for i in items if i["kind"] == k]
        out[k] = (sum(i["encoded"] for i in sel), sum(i["raw"] for i in sel), len(sel))
    return out


def composition(base: str, session, path: str) -> list[str]:
    """The page callback for `path`: its biggest components and the map traces (decoded JSON bytes)."""
    d = Dash(session, base)
    r = session.post(base + "/_dash-update-component", json=d.body("_pages_content.children", page_values(path),
                                                                    ["_pages_location.pathname"]),
                     headers={"Accept-Encoding": "identity"})
    page = r.json()
    parts: list[tuple[int, str]] = []
    traces: list[str] = []

    def walk(x) -> None:
        if isinstance(x, dict):
            props = x.get("props") if isinstance(x.get("props"), dict) else None
            if props and isinstance(props.get("id"), str):
                n = len(json.dumps(x, separators=(",", ":")).encode())
                if n > 2000:
                    parts.append((n, f"{props['id']} ({x.get('type')})"))
                # the map figure travels in a Store (components.map_graph) until the browser fits it
                fig = props.get("data") if props["id"].endswith("-map-fig") else props.get("figure")
                if isinstance(fig, dict) and props["id"].endswith(("-map", "-map-fig")):
                    for t in fig.get("data", []):
                        npts = len(t.get("lon") or t.get("locations") or [])
                        traces.append(f"{t.get('type')} “{t.get('name', '')}” {npts} items "
                                      f"{len(json.dumps(t, separators=(',', ':')).encode()) / 1024:,.0f} KB")
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(page)
    top = ", ".join(f"{name} {n / 1024:,.0f} KB" for n, name in sorted(parts, reverse=True)[:6])
    return [f"`{path}` page callback: {len(r.content) / 1024:,.0f} KB decoded JSON; biggest parts: {top}",
            "map traces: " + "; ".join(traces)]


def measure(scale: str) -> str:
    import requests
    from playwright.sync_api import sync_playwright

    from geodata.store import open_store

    url = common.store_url(scale, "postgis")
    st = open_store(url)
    common.ensure_user(st)
    township = st.townships()["code"].iloc[3]
    proc = start_server(url, port=PORT)
    base = f"http://127.0.0.1:{PORT}"
    la = common.loadavg()
    try:
        with sync_playwright() as p:
            browser = launch(p)
            ctx = browser.new_context(viewport=VIEWPORT, bypass_csp=True)
            ctx.add_init_script(WATCH)
            page = ctx.new_page()
            login_page(page, base)
            items = collect(page)
            items.clear()
            page.goto(base + "/", wait_until="commit")
            wait_drawn(page, "ov-map", timeout_s=600)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(1000)
            first = list(items)
            switches = []
            for label in SWITCHES:  # the indicator switcher, as a click does: the map/panel callback's answer
                with page.expect_response(lambda r: "/_dash-update-component" in r.url
                                          and "ov-kpis" in (r.request.post_data or ""), timeout=600000) as info:
                    page.locator("#ov-ind label", has_text=label).first.click()
                resp = info.value
                resp.finished()
                switches.append((f"indicator switch to {label}", [{
                    "url": "/_dash-update-component", "kind": "data", "raw": len(resp.body()),
                    "encoded": max(0, resp.request.sizes()["responseBodySize"]),
                    "encoding": resp.headers.get("content-encoding") or "none"}]))
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(1000)
            items.clear()
            t0 = float(page.evaluate(f"(() => {{ const t = performance.now(); window.wagemap.go('/township/{township}'); "
                                     "return t; })()"))
            wait_drawn(page, "tw-map", since=t0, timeout_s=600)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(1000)
            drill = list(items)
            browser.close()
        s = requests.Session()
        common.login(s, base)
        comp = composition(base, s, "/") + composition(base, s, f"/township/{township}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    lines = [f"**{scale}** (PostGIS; load average {la}; target: first overview data ≤ {TARGET_DATA_KB} KB)", "",
             "| view | data on the wire | data decoded | static on the wire | static decoded | requests | data ≤ target? |",
             "|---|---|---|---|---|---|---|"]
    views = [("first overview (empty cache)", first), *switches, (f"drill-down to /township/{township}", drill)]
    for name, its in views:
        sm = summary(its)
        d, st_ = sm["data"], sm["static"]
        ok = "yes" if d[0] <= TARGET_DATA_KB * 1024 else f"**no** ({d[0] / 1024:,.0f} KB)"
        lines.append(f"| {name} | {d[0] / 1024:,.1f} KB | {d[1] / 1024:,.1f} KB | {st_[0] / 1024:,.0f} KB | "
                     f"{st_[1] / 1024:,.0f} KB | {d[2]} + {st_[2]} | {ok} |")
    big = sorted(first, key=lambda i: -i["encoded"])[:8]
    lines += ["", "Biggest responses of the first view (wire / decoded, encoding): " + "; ".join(
        f"{i['url'].rsplit('/', 1)[-1] or '/'} {i['encoded'] / 1024:,.0f} / {i['raw'] / 1024:,.0f} KB {i['encoding']}"
        for i in big), ""] + [f"- {c}" for c in comp]
    return "\n".join(lines)


def main() -> None:
    global PORT
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", action="append", default=None)
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--port", type=int, default=PORT, help="gunicorn port")
    a = ap.parse_args()
    PORT = a.port
    for scale in a.scale or ["city"]:
        body = measure(scale)
        print(body, flush=True)
        if not a.no_record:
            common.record("bytes", "Bytes to the browser (`benchmarks/bytes.py`)", common.command_line(), body)


if __name__ == "__main__":
    main()
