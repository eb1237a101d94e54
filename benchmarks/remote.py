"""A serving worker's cache miss: built by the warm process that holds the rows, or by the worker itself.

    .venv/bin/python benchmarks/remote.py --scale city [--scale province] [--back 6] [--layer warnings ...] [--think 5]
                                          [--primed] [--no-record]

For each scale: a fresh shared view cache; a data-server process (what `wagemap warm --follow` is between
warm-ups: dashboard/remote.py `serve`, with the rows of every kind already read, as after its first
request) is started and its read time printed. Then, in this process (the serving worker, empty process
cache, no rows), the overview head of every layer and a township page are asked for in a month window
nobody has built (`--back` months before the latest): each is a miss the worker hands to the data
server; wall time as the user waits for it (the worker's CPU apart), the worker's rows read (0) and RSS.
Then the next window (`--back` + 1), where the data server's per-read histories exist. For comparison,
a second worker process with remote builds off (WAGEMAP_REMOTE=0) and its own empty shared cache does the
same two windows: it must read every row first, which is printed apart. Figures go
to benchmarks/RESULTS.md unless --no-record. Hold /tmp/wagemap-province.lock for province runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def _app(url: str):
    from dashboard.app import create_app
    from geodata.settings import load_settings
    from geodata.store import open_store

    return create_app(store=open_store(url), settings=load_settings(db=url))


def serve_main(url: str, ready: str, primed: bool = False) -> None:
    """The data server: read every kind (`primed`: and build every layer of the default window, as the warm process
    has after its warm-up, so the per-read histories exist), then serve remote builds until killed."""
    import threading

    from dashboard import cache, remote
    from dashboard import services as S
    from layers import registry

    app = _app(url)
    t = time.perf_counter()
    with app.server.app_context():
        for k in S.DATA_KINDS:
            S.kind_frame(None, k)
        if primed:
            frm, to = S.month_window(None, None, None)
            for k in registry.LAYERS:
                S.overview_head(None, k, frm, to)
            cache.run_later()
    Path(ready).write_text(json.dumps({"read_s": time.perf_counter() - t, "rss_mb": common.rss_mb(os.getpid())}))
    remote.serve(app, threading.Event())
    while True:
        time.sleep(3600)


def worker_main(url: str, back: int, only: list[str] | None, out: str, think: float = 0.0) -> None:
    """Ask for every layer's overview head and a township page of two unbuilt windows; figures as JSON to `out`."""
    from dashboard import remote
    from dashboard import services as S
    from layers import registry

    app = _app(url)
    res: dict = {"windows": []}
    with app.server.app_context():
        ctx = S._ctx()
        deadline = time.time() + 30
        while os.environ.get("WAGEMAP_REMOTE", "1") != "0" and not remote.available(ctx) and time.time() < deadline:
            time.sleep(0.1)
        res["remote"] = remote.available(ctx)
        ms = S.months(None)
        by = S.store().aggregate("projects", by=("township",), measures={"n": "count"}, scope=None)
        code = str(by.sort_values(["n", "township_code"], ascending=[False, True])["township_code"].iloc[0])  # most projects
        if not res["remote"]:  # the worker reads the rows itself: timed apart
            w, c = time.perf_counter(), time.process_time()
            for k in S.DATA_KINDS:
                S.kind_frame(None, k)
            res["read"] = [time.perf_counter() - w, time.process_time() - c]
        for b in (back, back + 1):
            to = ms[-1 - b]
            frm = S.month_window(None, None, to)[0]
            views: dict = {}
            for i, k in enumerate([k for k in registry.LAYERS if only is None or k in only]):
                if i == 1 and think:  # the user looks at the first map before switching the indicator
                    time.sleep(think)
                w, c = time.perf_counter(), time.process_time()
                S.overview_head(None, k, frm, to)
                views[k] = [(time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000]
            w, c = time.perf_counter(), time.process_time()
            S.township_view(None, code, frm, to, mask_pii=True)
            views[f"township page {code}"] = [(time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000]
            res["windows"].append({"window": f"{frm}..{to}", "views": views})
        res["rows_read"] = ctx.rows_read
        res["rss_mb"] = common.rss_mb(os.getpid())
    Path(out).write_text(json.dumps(res))


def _worker(url: str, back: int, only: list[str] | None, env: dict, think: float = 0.0) -> dict:
    out = tempfile.mktemp(suffix=".json")
    cmd = [sys.executable, __file__, "--worker", url, "--back", str(back), "--out", out, "--think", str(think)]
    for k in only or []:
        cmd += ["--layer", k]
    subprocess.run(cmd, env=env, check=True)
    return json.loads(Path(out).read_text())


def run(scale: str, back: int, only: list[str] | None, think: float = 0.0, primed: bool = False) -> str:
    url = common.store_url(scale, "postgis")
    env = {**os.environ, "WAGEMAP_CACHE_DIR": tempfile.mkdtemp(prefix="wagemap-bench-remote-"), "WAGEMAP_WARM": "0"}
    la0 = common.loadavg()
    ready = tempfile.mktemp(suffix=".json")
    server = subprocess.Popen([sys.executable, __file__, "--serve", url, "--ready", ready]
                              + (["--primed"] if primed else []), env=env)
    try:
        t0 = time.time()
        while not Path(ready).exists():
            if server.poll() is not None or time.time() - t0 > 1800:
                raise RuntimeError("the data server did not start")
            time.sleep(0.5)
        srv = json.loads(Path(ready).read_text())
        remote_res = _worker(url, back, only, env, think)
        server_rss = common.rss_mb(server.pid)
    finally:
        server.kill()
        server.wait()
    # the same two windows by a worker on its own (remote builds off, its own empty shared cache)
    local = _worker(url, back, only, {**env, "WAGEMAP_REMOTE": "0",
                                      "WAGEMAP_CACHE_DIR": tempfile.mkdtemp(prefix="wagemap-bench-remote-")}, think)
    lines = [f"{scale} / postgis, load average {la0} before, {common.loadavg()} after:", "",
             f"- data server: rows of every kind read{' and the default window built' if primed else ''} in "
             f"{srv['read_s']:.1f} s, RSS {srv['rss_mb']:,.0f} MB "
             f"(after the remote builds: {server_rss:,.0f} MB)",
             f"- worker with the data server (remote={remote_res['remote']}): rows read {remote_res['rows_read']:,}, "
             f"RSS at end {remote_res['rss_mb']:,.0f} MB",
             f"- worker on its own: rows read {local['rows_read']:,} in {local['read'][0]:.1f} s wall / "
             f"{local['read'][1]:.1f} s CPU first, RSS at end {local['rss_mb']:,.0f} MB",
             "- each view is a miss; the first window after a read also builds the per-read histories"
             + (f"; after the first layer the user looks at the map for {think:g} s (the data server builds the "
                "window's other layers ahead meanwhile)" if think else ""), ""]
    head = "| view (a miss) |"
    rule = "|---|"
    for wr in remote_res["windows"]:
        head += f" ..{wr['window'][-7:]} from the data server: wall ms (worker CPU) | same, worker on its own: wall / CPU ms |"
        rule += "---|---|"
    lines += [head, rule]
    names = list(remote_res["windows"][0]["views"])
    sums = [[0.0, 0.0] for _ in remote_res["windows"]]
    for k in names:
        cells = []
        for i, (wr, wl) in enumerate(zip(remote_res["windows"], local["windows"], strict=True)):
            (w, c), (w2, c2) = wr["views"][k], wl["views"][k]
            cells += [f"{w:,.0f} ({c:,.0f})", f"{w2:,.0f} / {c2:,.0f}"]
            sums[i][0] += w
            sums[i][1] += w2
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines.append("| **sum** | " + " | ".join(f"**{a:,.0f}** | **{b:,.0f}**" for a, b in sums) + " |")
    second = sorted(w for w, _ in remote_res["windows"][-1]["views"].values())
    lines += ["", f"second window from the data server: p50 {common.pct(second, 50):,.0f} ms, "
              f"p95 {common.pct(second, 95):,.0f} ms, max {second[-1]:,.0f} ms per view; the worker on its own first "
              f"read {local['read'][0]:,.1f} s of rows"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", action="append", default=None)
    ap.add_argument("--back", type=int, default=6, help="months before the latest (the window's last month)")
    ap.add_argument("--layer", action="append", default=None, help="only these layers (default: all)")
    ap.add_argument("--think", type=float, default=0.0, help="seconds between the first layer of a window and the next")
    ap.add_argument("--primed", action="store_true", help="the data server builds the default window's layers first "
                    "(as the warm process has after its warm-up: the per-read histories exist)")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--ready", help=argparse.SUPPRESS)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        return serve_main(a.serve, a.ready, a.primed)
    if a.worker:
        return worker_main(a.worker, a.back, a.layer, a.out, a.think)
    body = []
    for scale in a.scale or ["city"]:
        text = run(scale, a.back, a.layer, a.think, a.primed)
        print(text, flush=True)
        body.append(text)
    if not a.no_record:
        common.record("remote", "A worker's cache miss built by the warm process (benchmarks/remote.py)",
                      common.command_line(), "\n\n".join(body))


if __name__ == "__main__":
    main()
