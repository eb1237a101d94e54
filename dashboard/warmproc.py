"""The cache warm-up as its own process, beside the gunicorn workers (what `wagemap serve` starts).

    wagemap warm                 # warm the shared view cache for the store's current data version, then exit
    wagemap warm --follow        # ... and again after every load (what `wagemap serve` runs beside its workers)

Why a process and not a thread in a serving worker (dashboard/warmup.py `start`, still used by
`gunicorn dashboard.wsgi:server` with WAGEMAP_WARM=1): at province scale the warm-up is ~10 min of
CPU and holds the rows of every kind plus their histories (peak RSS in GBs, benchmarks/RESULTS.md).
In a worker that CPU shares the GIL with that worker's requests and the memory stays in a process
gunicorn keeps for days; in its own process it runs at a lower CPU priority (`nice`), the workers
answer from the shared cache it fills, and the warm process gives its rows back after each version.
It needs the shared cache (settings.cache_dir): without one, each worker can only warm itself.

Between warm-ups it builds what a worker misses (a view the warm-up does not build), from the rows it
holds, so no worker has to read them (dashboard/remote.py).

The warm process claims the data version in the shared cache as a warming worker does, so a worker
with WAGEMAP_WARM=1, a second `wagemap warm` or a restarted server never warm the same version twice.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

NICE = 10  # below the serving workers: a request never waits for the warm-up's CPU


def lower_priority(increment: int = NICE) -> None:
    try:
        os.nice(increment)
    except (OSError, AttributeError):  # not permitted / not POSIX: run at the normal priority
        pass


def warm_once(app, force: bool = False) -> dict | None:
    """Warm the current data version unless another process claimed it (then None); `force` ignores the claim."""
    from dashboard import services, warmup

    with app.server.app_context():
        version = services.store().data_version()
        if not force and not services._ctx().cache.claim(f"warm:{services.store().url}:{version}", warmup.CLAIM_S):
            return None
    return warmup.warm(app)


def follow(app, stop: threading.Event) -> None:
    """Warm now and after every data version change until `stop` is set (dashboard/warmup.py's loop), and meanwhile
    build the views the serving workers miss (dashboard/remote.py) from the citywide rows, which this process then
    keeps with what the layers derived from them (a warm-up here does not release them; read once more only after
    another process warmed this data version)."""
    from dashboard import remote, warmup

    remote.serve(app, stop, on_request=lambda name, s: log.warning("built %s for a worker in %.2f s", name, s))
    t = warmup.start(app, stop, force=True, hold=True,
                     after=lambda: log.warning("rows held for the workers' misses (%.1f s)", remote.hold_rows(app)))
    while t.is_alive() and not stop.is_set():
        t.join(1.0)


def stop_on_signals(stop: threading.Event) -> None:
    def handler(signum, frame) -> None:  # noqa: ARG001
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


def spawn(db: str | None) -> subprocess.Popen:
    """Start `wagemap warm --follow` for `serve` (the same environment and store as the workers)."""
    cmd = [sys.executable, "-m", "dashboard.cli", "warm", "--follow"]
    if db:
        cmd += ["--db", db]
    return subprocess.Popen(cmd, env={**os.environ, "WAGEMAP_WARM": "1"}, stdin=subprocess.DEVNULL)


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> int | None:
    """SIGTERM, then SIGKILL after `timeout` s (a warm-up in the middle of a pandas step may not notice SIGTERM)."""
    if proc is None or proc.poll() is not None:
        return None if proc is None else proc.returncode
    proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout)


def gunicorn_hooks(db: str | None, log_fn: Callable[[str], None]) -> dict:
    """`when_ready` starts the warm process once the workers listen; `on_exit` stops it with the server."""
    state: dict = {}

    def when_ready(server) -> None:  # noqa: ARG001
        state["proc"] = spawn(db)
        log_fn(f"缓存预热进程已启动（pid {state['proc'].pid}）")

    def on_exit(server) -> None:  # noqa: ARG001
        stop_process(state.get("proc"))

    return {"when_ready": when_ready, "on_exit": on_exit}
