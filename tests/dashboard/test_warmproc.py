"""The warm-up as its own process: `wagemap warm` fills the shared cache the workers answer from, and
`wagemap serve` runs it beside the gunicorn workers (which then do not warm) and stops it with them."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

from dashboard import services
from geodata.settings import load_settings
from layers import registry

WINDOWS = 2  # as tests/dashboard/test_warmup.py: the settings are part of the cache key, the same in every app here


def _env(store, cache_dir) -> dict:
    return {**os.environ, "WAGEMAP_DB": store.url, "WAGEMAP_CACHE_DIR": str(cache_dir),
            "WAGEMAP_WARM_WINDOWS": str(WINDOWS), "WAGEMAP_BASEMAP": "none"}


def _cli(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dashboard.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_warm_command_fills_the_shared_cache_once_per_version(small_store, tmp_path, monkeypatch):
    from dashboard.app import create_app

    cache_dir = tmp_path / "cache"
    r = _cli("warm", env=_env(small_store, cache_dir))
    assert r.returncode == 0, r.stderr
    assert "预热完成" in r.stderr and "citywide layers" in r.stderr
    views = int(re.search(r"(\d+) 个视图", r.stderr).group(1))
    again = _cli("warm", env=_env(small_store, cache_dir))  # the version is claimed: nothing is built twice
    assert again.returncode == 0 and "已由其他进程预热" in again.stderr and "预热完成" not in again.stderr

    # a serving worker (same cache dir and settings, empty process cache) answers without running any layer
    builds = []
    for layer in registry.LAYERS.values():
        monkeypatch.setattr(layer, "build", lambda d, f, k=layer.key: builds.append(k))
    monkeypatch.setenv("WAGEMAP_CACHE_DIR", str(cache_dir))
    app = create_app(store=small_store, settings=load_settings(db=small_store.url, warm_windows=WINDOWS,
                                                              cache_dir=str(cache_dir)))
    with app.server.app_context():
        frm, to = services.month_window(None, None, None)
        for key in registry.LAYERS:
            head = services.overview_head(None, key, frm, to)
            assert head["key"] == key
            services.overview_points(head, services.POINT_ORDER)
        names = services.township_names(None)
        for code in names:
            assert services.township_view(None, code, frm, to, mask_pii=True)["code"] == code
        own = sum(1 for c in names if services.has_data([c]))
    assert builds == []
    assert views == len(registry.LAYERS) + len(names) + own  # as warmup.warm counts them


def test_warm_command_needs_a_shared_cache(small_store):
    r = _cli("warm", env={**_env(small_store, ""), "WAGEMAP_CACHE_DIR": ""})
    assert r.returncode == 2 and "WAGEMAP_CACHE_DIR" in r.stderr and "预热完成" not in r.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(60)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped) counts as gone
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def test_serve_runs_one_warm_process_beside_the_workers_and_stops_it(small_store, tmp_path):
    port = _free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve", "--port", str(port), "--workers", "2"],
                                env=_env(small_store, tmp_path / "cache"), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.time() + 420
        text = ""
        while time.time() < deadline and "warm-up done" not in text:
            assert proc.poll() is None, log.read_text()
            time.sleep(1)
            text = log.read_text()
        assert "warm-up done" in text, text
        pid = int(re.search(r"缓存预热进程已启动（pid (\d+)）", text).group(1))
        done = re.findall(r"warm-up done: \d+ views in [\d.]+ s \(pid (\d+)", text)
        assert done == [str(pid)], text  # warmed once, by the warm process, not by a worker
        assert "left to another" not in text  # the workers do not even try
        assert _alive(pid)  # --follow: it waits for the next load
        with open(f"/proc/{pid}/stat") as f:
            assert int(f.read().split(")")[-1].split()[16]) >= 10  # niceness: below the workers
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=30) as resp:
            assert resp.status == 200
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the master only: gunicorn's on_exit stops the warm process
        try:
            proc.wait(60)
        finally:
            _kill_group(proc)
    deadline = time.time() + 30
    while time.time() < deadline and _alive(pid):
        time.sleep(0.5)
    assert not _alive(pid), "the warm process outlived the server"


def test_serve_without_warm_up_starts_no_warm_process(small_store, tmp_path):
    port = _free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve", "--port", str(port), "--workers", "1"],
                                env={**_env(small_store, tmp_path / "cache"), "WAGEMAP_WARM": "0"},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        time.sleep(2)
        assert "缓存预热进程" not in log.read_text() and "warm-up" not in log.read_text()
    finally:
        _kill_group(proc)
