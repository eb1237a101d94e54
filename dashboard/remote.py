"""Cache misses of the serving workers are built by the warm process, which keeps the rows in memory.

    # a view's builder, in dashboard/services.py and dashboard/records.py:
    return _cached("township", scope, args, remote.guard("township", scope, args, build, township_view, args2))
    # the warm process (dashboard/warmproc.py):
    remote.serve(app, stop)

Why: a view nobody built yet (another start month on some layer, an old end month) needs every row of
every kind and their per-read histories. A gunicorn worker that builds it itself must first read them:
at province scale 5.76 M rows, ~15 s and several GB that the worker then holds (benchmarks/RESULTS.md).
The warm process holds them already (it just built the default views from them), so a worker asks it:
the request — the view's public function (from the whitelist `TARGETS`), its arguments (the scope the
worker's server-side role check gave, never anything the browser chose unchecked) and the data version
— goes into the shared cache directory (diskcache's queue, the same 0700 directory the views are in);
the warm process builds the view with its own resident rows, which puts it into the shared cache under
the same key, and answers "done"; the worker reads the view from the shared cache. If no warm process
is alive (its heartbeat is older than HEARTBEAT_TTL_S), the versions differ, it fails, or it takes
longer than WAIT_S, the worker builds the view itself exactly as before: asking is never required.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

QUEUE = "wagemap-remote"  # diskcache queue prefix
HEARTBEAT_S = 2.0
HEARTBEAT_TTL_S = 10.0
POLL_S = 0.01  # a worker polls the reply, the server the queue (SQLite reads: ~0.1 ms each)
WAIT_S = 120.0  # a worker waits this long for the warm process before building the view itself
REPLY_TTL_S = 600.0

_TARGETS: dict[str, Callable[..., Any]] = {}


def allowed(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: the warm process may run `fn` (a view's function) for a worker; nothing else is run."""
    _TARGETS[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def _resolve_targets() -> dict[str, Callable[..., Any]]:
    from dashboard import datasets, records, services  # noqa: F401 - importing them registers their targets

    return _TARGETS


def _disk(ctx):
    return ctx.cache.disk


def _heartbeat_key(ctx) -> str:
    return f"{QUEUE}:alive:{ctx.cache._salt}:{ctx.store.url}"


def serving(ctx) -> bool:
    """This process is the one that builds views for the others."""
    return bool(getattr(ctx, "remote_server", False))


def available(ctx) -> bool:
    """A warm process for this store (and these settings) is alive, and this process is not it."""
    disk = _disk(ctx)
    if disk is None or serving(ctx) or os.environ.get("WAGEMAP_REMOTE", "1") == "0":
        return False
    try:
        return disk.get(_heartbeat_key(ctx)) is not None
    except Exception:  # noqa: BLE001 - a broken cache dir: build locally
        return False


def guard(name: str, scope: Sequence[str] | None, args: tuple, build: Callable[[], Any],
          fn: Callable[..., Any], call: tuple) -> Callable[[], Any]:
    """`build`, or — in a worker with a warm process alive — ask it for `fn(*call)` and read the view it stored under
    the same key (name, scope, args) as `cached` does; `build` whenever that does not work out."""
    def run() -> Any:
        from dashboard import cache

        ctx = cache._ctx()
        if not available(ctx):
            return build()
        version = cache._version(ctx)
        if ask(ctx, fn, call, version):
            key = (name, ctx.store.url, version, cache.scope_key(scope), args)
            value, nbytes = ctx.cache._disk_get(ctx.cache.disk_key(key))
            if value is not cache._MISS:
                run.stored_bytes = nbytes  # get_or_build: on disk already, do not store it again
                return value
            log.warning("remote build of %s reported done but is not in the shared cache; building here", name)
        return build()

    return run


def ask(ctx, fn: Callable[..., Any], call: tuple, version: str) -> bool:
    """Queue `fn(*call)` for the warm process and wait for it; True when it built it for `version`."""
    fname = f"{fn.__module__}.{fn.__qualname__}"
    if fname not in _resolve_targets():
        raise ValueError(f"{fname} is not a remote target")
    disk = _disk(ctx)
    rid = uuid.uuid4().hex
    t0 = time.monotonic()
    polls = 0
    try:
        disk.push((rid, fname, call, version), prefix=f"{QUEUE}:q:{ctx.cache._salt}", expire=WAIT_S)
        while time.monotonic() - t0 < WAIT_S:
            reply = disk.get(f"{QUEUE}:r:{rid}")
            if reply is not None:
                disk.delete(f"{QUEUE}:r:{rid}")
                if reply != "done":
                    log.warning("remote build of %s: %s; building here", fname, reply)
                return reply == "done"
            if disk.get(_heartbeat_key(ctx)) is None:  # the warm process went away
                return False
            polls += 1
            time.sleep(min(POLL_S, 0.001 * polls))  # 1, 2, 3 … ms: a small view is answered in a few ms
    except Exception:  # noqa: BLE001 - asking is an optimisation: any failure builds locally
        log.exception("remote build of %s failed; building here", fname)
        return False
    log.warning("remote build of %s took more than %.0f s; building here", fname, WAIT_S)
    return False


_busy = threading.Condition()
_in_flight = 0  # remote builds running in this process (the warm-up waits for them: someone is waiting for these)
BUSY_WAIT_S = 60.0  # ... but never longer than this per warmed view


def wait_idle() -> None:
    """Block while this process builds a view a worker is waiting for (called by the warm-up between views)."""
    with _busy:
        _busy.wait_for(lambda: _in_flight == 0, timeout=BUSY_WAIT_S)


WINDOWS_KEPT = 3  # month windows (scope, end month) whose objects and month memos the server keeps between requests
SCOPES_KEPT = 2  # officials' scopes whose own rows it keeps (the citywide rows are always kept)


class _Retention:
    """What the server keeps in memory between requests: the citywide rows always; the objects of the last
    WINDOWS_KEPT windows (at province ~1 GB each: project status, case state, the month's warnings) and the rows
    of the last SCOPES_KEPT officials' scopes. Older ones are forgotten (their views are in the shared cache)."""

    def __init__(self) -> None:
        self.windows: list[tuple] = []
        self.scopes: list[tuple] = []

    def used(self, call: tuple) -> None:
        from dashboard import cache

        scope = cache.scope_key(call[0])  # every target's first argument is the scope
        months = [a for a in call[1:] if isinstance(a, str) and len(a) == 7 and a[4] == "-"]
        window = (scope, max(months) if months else None)
        self.windows = [w for w in self.windows if w != window] + [window]
        while len(self.windows) > WINDOWS_KEPT:
            old_scope, old_to = self.windows.pop(0)
            if old_to is not None:
                cache.forget_window(None if old_scope is None else list(old_scope), old_to)
        if scope is not None:
            self.scopes = [x for x in self.scopes if x != scope] + [scope]
            while len(self.scopes) > SCOPES_KEPT:
                old = self.scopes.pop(0)
                cache.forget_scope(list(old))
                self.windows = [w for w in self.windows if w[0] != old]
        cache.keep(("kind",), None)  # the citywide rows: never pushed out of the LRU by the views built


AHEAD_MAX = 200  # views the server may have queued to build ahead (layers and townships of the windows it keeps)
HEAD = "dashboard.services.overview_head"


class _Ahead:
    """What a user asks next after a window nobody built: another indicator of the same window, or a township of it.
    After a worker's miss of one layer's head, the server builds the other layers' views of that window (head and
    point sets), then — for a citywide window — its township pages (as the warm-up masks them), then the tables
    promised meanwhile, while no worker is waiting, newest window first. At province a new window costs 0.1-2 s per
    layer (benchmarks/RESULTS.md); built during the user's look at the first map, the switches and drill-downs hit."""

    def __init__(self) -> None:
        self.todo: list[tuple[str, tuple]] = []  # ("head" | "township", arguments); every one's [0] scope, [3] end month

    def note(self, fname: str, call: tuple) -> None:
        if fname != HEAD:
            return
        from dashboard import services
        from layers import registry

        scope, key, frm, to = call[:4]
        township = call[4] if len(call) > 4 else None
        new = [("head", (scope, k, frm, to, township)) for k in registry.LAYERS if k != key]
        if township is None:
            new += [("township", (scope, code, frm, to, True)) for code in services.township_names(scope)]
        self.todo = (new + [t for t in self.todo if t not in new])[:AHEAD_MAX]

    def step(self, app, kept: _Retention, ctx) -> bool:
        """One piece of work while no worker waits: the next view ahead (of a window the server still keeps: `kept`),
        else one detail table promised by an earlier build (cache.put_later); False when there is nothing to do. Small
        steps: a worker's request waits for at most one of them."""
        from dashboard import cache, services

        self.todo = [t for t in self.todo if (cache.scope_key(t[1][0]), t[1][3]) in kept.windows]
        if not self.todo and not ctx.cache._later:  # idle: nothing to build (no app context every poll)
            return False
        with app.server.app_context():
            if not self.todo:
                return cache.run_later(limit=1) > 0
            what, args = self.todo.pop(0)
            try:
                if what == "head":
                    services.overview_points(services.overview_head(*args), services.POINT_ORDER)
                else:
                    services.township_view(*args)
            except Exception:  # noqa: BLE001 - building ahead is optional: the worker builds it if it is asked for
                log.exception("building %s %s ahead failed", what, args[1])
        return True


def hold_rows(app) -> float:
    """Read (or keep) the citywide rows of every kind in this process: what the server builds views from. Seconds."""
    from dashboard import services

    t = time.perf_counter()
    with app.server.app_context():
        for kind in services.DATA_KINDS:
            services.kind_frame(None, kind)
    return time.perf_counter() - t


def serve(app, stop: threading.Event, on_request: Callable[[str, float], None] | None = None) -> threading.Thread:
    """Build the views workers ask for until `stop` is set (a daemon thread of the warm process)."""
    from dashboard import cache

    with app.server.app_context():
        ctx = cache._ctx()
    ctx.remote_server = True
    disk = _disk(ctx)
    if disk is None:
        raise ValueError("remote builds need the shared view cache (cache_dir)")
    targets = _resolve_targets()
    queue = f"{QUEUE}:q:{ctx.cache._salt}"
    kept = _Retention()
    ahead = _Ahead()

    def beat() -> None:
        while not stop.is_set():
            try:
                disk.set(_heartbeat_key(ctx), os.getpid(), expire=HEARTBEAT_TTL_S)
            except Exception:  # noqa: BLE001
                log.exception("remote heartbeat failed")
            stop.wait(HEARTBEAT_S)

    def loop() -> None:
        global _in_flight
        idle = 0
        while not stop.is_set():
            try:
                _, item = disk.pull(prefix=queue, default=(None, None))
            except Exception:  # noqa: BLE001
                log.exception("remote queue read failed")
                item = None
            if item is None and ahead.step(app, kept, ctx):  # nobody waiting: the window's next indicators, then tables
                continue
            if item is None:  # idle: look again soon after a request (a page asks for several views), slower later
                idle += 1
                stop.wait(min(POLL_S, 0.001 * idle))
                continue
            idle = 0
            rid, fname, call, version = item
            t0 = time.perf_counter()
            reply = "done"
            with _busy:
                _in_flight += 1
            try:
                fn = targets.get(fname)
                if fn is None:  # only the whitelisted view functions, whatever is in the queue
                    reply = f"unknown target {fname!r}"
                else:
                    with app.server.app_context():
                        if cache._version(ctx) != version:
                            reply = "data version changed"
                        else:
                            fn(*call)
            except Exception as e:  # noqa: BLE001 - a failed build is the worker's to retry locally
                log.exception("remote build of %s failed", fname)
                reply = f"error: {type(e).__name__}"
            finally:
                with _busy:
                    _in_flight -= 1
                    _busy.notify_all()
            try:
                disk.set(f"{QUEUE}:r:{rid}", reply, expire=REPLY_TTL_S)
            except Exception:  # noqa: BLE001
                log.exception("remote reply failed")
            if reply == "done":  # after the reply: what to keep (forgetting a window may store its tables), what next
                try:
                    with app.server.app_context():
                        kept.used(call)
                        ahead.note(fname, call)
                except Exception:  # noqa: BLE001 - bookkeeping: the worker has its view
                    log.exception("remote bookkeeping after %s failed", fname)
            if on_request is not None:
                on_request(fname, time.perf_counter() - t0)

    threading.Thread(target=beat, name="wagemap-remote-heartbeat", daemon=True).start()
    t = threading.Thread(target=loop, name="wagemap-remote", daemon=True)
    t.start()
    return t
