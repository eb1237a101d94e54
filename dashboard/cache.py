"""The services' context and view cache: the app's store, settings and the two-tier cache of views.

    from dashboard.cache import attach, cached
    attach(app.server, store, settings)     # dashboard/app.create_app, once per app
    view = cached("overview", scope, args, build)   # inside a request (or an app context)

`dashboard.services` re-exports what callers use (`attach`, `store`, `settings`, `scope_key`,
`release_rows`, `resident_rows`, `_ctx`, `_cached`), so pages and records keep calling the services.
Views are keyed by (function, store, data version, scope, arguments); an ETL load changes the data
version and so invalidates them (benchmarks/RESULTS.md, issue 8).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboard.viewdisk import COMPRESS_BYTES, DISK_CACHE_BYTES, _dumps, _loads, _open_disk  # noqa: F401
from geodata.settings import Settings, get_settings
from geodata.store import Store, open_store

CACHE_SIZE = 256
# The in-process LRU also keeps at most this many bytes (pickled size) of views that are in the shared cache, and
# none larger than a quarter of it: a province warm-up left ~1.6 GB of detail tables (Python lists of str) in the
# warming worker after it released the rows; such a view is read back from disk when asked for (grid, export).
PROCESS_VIEW_BYTES = 256 * 2**20
# ... and this many while the warm-up builds views (dashboard/warmup.py): at province the full budget of tables and
# point sets is ~0.7 GB of Python objects in the warming process on top of the rows (its peak RSS, RESULTS.md);
# what it reads back (a window's case and incident points, shared by its layers) is a few MB.
WARM_VIEW_BYTES = 64 * 2**20
LATER_MAX = 32  # by-products waiting for run_later beyond this are stored at once (nothing is running them)
# functions whose values are rows (or frames derived from them one-to-one): kept in the process only
RAW = ("kind", "townships", "window_data")
# views composed of parts that are shared one by one (dashboard.services.overview): kept in the process only
COMPOSED = ("overview_full", "overview_map")
# what release_rows forgets: the rows and what holds them (each window's memo, the project-status parts)
ROW_HOLDERS = ("kind", "window_data", "status_part")
log = logging.getLogger(__name__)

_MISS = object()


class _Cache:
    """Two tiers of cached views, keyed by (function, store, data version, scope, arguments).

    - in the process: a small thread-safe LRU; concurrent requests for the same key build it once
      (the others wait for it), so 100 users opening the same view cost one computation;
    - shared (optional, `settings.cache_dir`): a diskcache directory that every gunicorn worker on the
      host reads and writes, so a view built by one worker (or by the warm-up) serves all of them and
      a worker need not hold the rows it was built from (benchmarks/RESULTS.md, issue 8).
    Values are shared between requests and must not be modified. Only functions called with
    `shared=True` go to disk (views: dicts and frames); raw rows stay in the process.
    """

    def __init__(self, size: int = CACHE_SIZE, directory: str | None = None, salt: str = "",
                 max_bytes: int = PROCESS_VIEW_BYTES):
        self.size = size
        self.max_bytes = max_bytes
        self._d: OrderedDict[tuple, Any] = OrderedDict()
        self._nbytes: dict[tuple, int] = {}  # pickled size of the entries that are also on disk
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}
        self._salt = salt  # settings fingerprint: views built under other rules never mix
        self.disk = _open_disk(directory) if directory else None
        self._later: OrderedDict[tuple, tuple[Callable[[], Any], bool]] = OrderedDict()  # put_later, not yet made

    def _get(self, key: tuple) -> Any:
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
        return _MISS

    def _put(self, key: tuple, value: Any, nbytes: int = 0) -> None:
        """Keep `value` in the process (LRU by count, and by bytes for views that are on disk: `nbytes` > 0)."""
        with self._lock:
            self._nbytes.pop(key, None)
            if nbytes > self.max_bytes // 4:  # on disk, and too big to keep here: read back when asked for
                self._d.pop(key, None)
                return
            self._d[key] = value
            self._d.move_to_end(key)
            if nbytes:
                self._nbytes[key] = nbytes
            self._evict()

    def _evict(self) -> None:
        """Drop the oldest entries until both budgets hold (the caller holds the lock): by number any entry, by bytes
        only views that are on disk (read back when asked for). Rows and windows older than those views stay: pushing
        them out for bytes they do not count made the next view read every row again (province: ~20 s, and the
        per-read histories rebuilt)."""
        while len(self._d) > self.size:
            old, _ = self._d.popitem(last=False)
            self._nbytes.pop(old, None)
        total = sum(self._nbytes.values())
        if total > self.max_bytes:
            for k in [k for k in self._d if k in self._nbytes]:  # oldest first
                if total <= self.max_bytes or len(self._d) == 1:
                    break
                total -= self._nbytes.pop(k)
                del self._d[k]

    @contextmanager
    def view_budget(self, max_bytes: int):
        """Keep at most `max_bytes` (pickled) of on-disk views in the process meanwhile (the warm-up: the views it
        builds are for the other workers; it reads few back), then the usual budget again."""
        with self._lock:
            saved, self.max_bytes = self.max_bytes, min(self.max_bytes, max_bytes)
            self._evict()
        try:
            yield
        finally:
            with self._lock:
                self.max_bytes = saved

    def touch(self, where: Callable[[tuple], bool]) -> int:
        """Mark this process's entries whose key satisfies `where` as just used (none is built); how many."""
        with self._lock:
            keys = [k for k in self._d if where(k)]
            for k in keys:
                self._d.move_to_end(k)
        return len(keys)

    def process_bytes(self) -> int:
        """Pickled size of the on-disk views this process also keeps in memory."""
        with self._lock:
            return sum(self._nbytes.values())

    def disk_key(self, key: tuple) -> str:
        return hashlib.sha256(repr((self._salt, key)).encode()).hexdigest()

    def get_or_build(self, key: tuple, build: Callable[[], Any], shared: bool = False) -> Any:
        value = self._get(key)
        if value is not _MISS:
            return value
        with self._lock:
            flight = self._building.setdefault(key, threading.Lock())
        with flight:  # one build per key at a time in this process
            value = self._get(key)
            if value is not _MISS:
                return value
            nbytes = 0
            if shared and self.disk is not None:
                value, nbytes = self._disk_get(self.disk_key(key))
            if value is _MISS:  # promised by a view built in this process: made and stored now
                value = self._run_later(key)
                if value is not _MISS:
                    with self._lock:
                        self._building.pop(key, None)
                    return value
            if value is _MISS:
                value = build()
                stored = getattr(build, "stored_bytes", None)  # built by the warm process: on disk already
                if stored is not None:
                    nbytes = stored
                elif shared and self.disk is not None:
                    nbytes = self._disk_set(self.disk_key(key), value)
            self._put(key, value, nbytes)
        with self._lock:
            self._building.pop(key, None)
        return value

    def put(self, key: tuple, value: Any, shared: bool = False) -> None:
        """Store a value made as a by-product of another build (e.g. a view's table while building the view)."""
        nbytes = self._disk_set(self.disk_key(key), value) if shared and self.disk is not None else 0
        self._put(key, value, nbytes)

    def put_later(self, key: tuple, make: Callable[[], Any], shared: bool = False) -> None:
        """`put(key, make())` once the reply that made it possible is sent (`run_later`), or as soon as this process is
        asked for `key`. Why: a view's detail table (200,000+ rows at province) is a by-product of building the view's
        head; making it into records and pickling it took 0.6-1.2 s of the head's reply (benchmarks/RESULTS.md)."""
        with self._lock:
            self._later[key] = (make, shared)
            stale = len(self._later) - LATER_MAX
        for _ in range(max(stale, 0)):  # nobody ran them (a CLI, a test): do not hold their windows
            self.run_later(1)

    def run_later(self, limit: int | None = None) -> int:
        """Store what `put_later` promised (oldest first, at most `limit`); how many."""
        n = 0
        while limit is None or n < limit:
            with self._lock:
                if not self._later:
                    break
                key = next(iter(self._later))
            self._run_later(key)
            n += 1
        return n

    def _run_later(self, key: tuple) -> Any:
        """Make and store the value promised for `key`; it, or _MISS (none promised, or making it failed)."""
        with self._lock:
            job = self._later.pop(key, None)
        if job is None:
            return _MISS
        make, shared = job
        try:
            value = make()
        except Exception:  # noqa: BLE001 - a by-product: whoever asks for it builds it instead
            log.exception("making %s after the reply failed", key[0])
            return _MISS
        self.put(key, value, shared)
        return value

    def _disk_get(self, k: str) -> tuple[Any, int]:
        """(value, pickled size) of a stored view, or (_MISS, 0)."""
        try:
            blob = self.disk.get(k, default=_MISS)
            return (_MISS, 0) if blob is _MISS else _loads(blob)
        except Exception:  # noqa: BLE001 - a broken cache file must never fail a request: rebuild
            log.exception("view cache read failed; rebuilding")
            return _MISS, 0

    def _disk_set(self, k: str, value: Any) -> int:
        """Store a view; its pickled size (0 when it could not be stored: then it is kept in the process only)."""
        try:
            blob, nbytes = _dumps(value)
            self.disk.set(k, blob)
            return nbytes
        except Exception:  # noqa: BLE001 - a full disk degrades to the in-process cache
            log.exception("view cache write failed; kept in the process only")
            return 0

    def claim(self, name: str, seconds: float) -> bool:
        """True for the first process on this host to claim `name` (until `seconds` pass); always True without disk."""
        if self.disk is None:
            return True
        try:
            return bool(self.disk.add("claim:" + self._salt + name, os.getpid(), expire=seconds))
        except Exception:  # noqa: BLE001
            return True

    def drop(self, names: Sequence[str], where: Callable[[tuple], bool] | None = None) -> int:
        """Forget this process's entries of the given functions (the rows behind views already built), or only
        those whose key (function, store, version, scope, args) satisfies `where`. What views promised (put_later) is
        stored first: it holds the rows, and they would stay in memory until then."""
        self.run_later()
        with self._lock:
            gone = [k for k in self._d if k[0] in names and (where is None or where(k))]
            for k in gone:
                del self._d[k]
                self._nbytes.pop(k, None)
        return len(gone)

    def clear(self) -> None:
        with self._lock:
            self._later.clear()
            self._d.clear()
            self._nbytes.clear()
        if self.disk is not None:
            self.disk.clear()


@dataclass
class Context:
    """What an app's services work with (kept on the Flask app, not in module globals)."""

    store: Store
    settings: Settings
    cache: _Cache = field(default_factory=_Cache)
    rows_read: int = 0  # raw rows read into this process's cache (release_rows)


def code_version() -> str:
    """A digest of wagemap's own source files: views cached by other code are never read back (their shape may differ)."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        root = Path(__file__).resolve().parent.parent
        h = hashlib.sha256()
        for pkg in ("dashboard", "layers", "geodata", "etl"):
            for f in sorted((root / pkg).rglob("*.py")):
                h.update(str(f.relative_to(root)).encode())
                h.update(f.read_bytes())
        _CODE_VERSION = h.hexdigest()[:16]
    return _CODE_VERSION


_CODE_VERSION: str | None = None


def _context(store: Store, settings: Settings) -> Context:
    salt = hashlib.sha256((code_version() + settings.model_dump_json(exclude={"secret_key"})).encode()).hexdigest()[:16]
    return Context(store=store, settings=settings, cache=_Cache(directory=settings.cache_dir or None, salt=salt))


_FALLBACK: dict[str, Context] = {}  # outside a Flask app (CLI, tests): one context per store url


def attach(server, store: Store, settings: Settings) -> Context:
    """Give a Flask server its store, settings and cache (called by create_app).

    Raises SettingsError (Chinese, naming WAGEMAP_CACHE_DIR and the path) when the cache directory is not usable.
    """
    ctx = _context(store, settings)
    server.extensions["wagemap"] = ctx

    def run_later_in_app() -> None:
        with server.app_context():
            ctx.cache.run_later()

    @server.after_request
    def _later(response):  # what a view promised is stored once the response has gone out
        if ctx.cache._later:
            response.call_on_close(run_later_in_app)
        return response

    return ctx


def _ctx() -> Context:
    from flask import current_app, has_app_context

    if has_app_context() and "wagemap" in current_app.extensions:
        return current_app.extensions["wagemap"]
    s = get_settings()
    if s.db not in _FALLBACK:
        _FALLBACK[s.db] = _context(open_store(s.db), s)
    return _FALLBACK[s.db]


def store() -> Store:
    """The app's store (other services, e.g. the emergency page, use it too)."""
    return _ctx().store


def settings() -> Settings:
    return _ctx().settings


def _version(ctx: Context) -> str:
    """The store's data version, read once per request (or app context: the warm-up, a CLI call)."""
    from flask import g, has_app_context

    if has_app_context():
        v = getattr(g, "_wagemap_version", None)
        if v is None:
            v = g._wagemap_version = ctx.store.data_version()
        return v
    return ctx.store.data_version()


def scope_key(scope: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if scope is None else tuple(sorted(set(scope)))


def cached(name: str, scope: Sequence[str] | None, args: tuple, build: Callable[[], Any]) -> Any:
    """`build()` once per (name, store, data version, scope, args); shared between workers unless RAW or COMPOSED."""
    ctx = _ctx()
    key = (name, ctx.store.url, _version(ctx), scope_key(scope), args)
    return ctx.cache.get_or_build(key, build, shared=name not in RAW and name not in COMPOSED)


_cached = cached  # the name dashboard.records and older callers use


def put(name: str, scope: Sequence[str] | None, args: tuple, value: Any) -> None:
    """Store `value` under the key `cached(name, scope, args, ...)` reads (a part made while building another view)."""
    ctx = _ctx()
    key = (name, ctx.store.url, _version(ctx), scope_key(scope), args)
    ctx.cache.put(key, value, shared=name not in RAW and name not in COMPOSED)


def put_later(name: str, scope: Sequence[str] | None, args: tuple, make: Callable[[], Any]) -> None:
    """`put(name, scope, args, make())` after the current reply (see _Cache.put_later; `run_later`)."""
    ctx = _ctx()
    key = (name, ctx.store.url, _version(ctx), scope_key(scope), args)
    ctx.cache.put_later(key, make, shared=name not in RAW and name not in COMPOSED)


def run_later(ctx: Context | None = None, limit: int | None = None) -> int:
    """Store what views built in this process promised (`put_later`; at most `limit`); after a reply is sent, between
    warmed views, when the warm process has nothing else to do."""
    return (ctx or _ctx()).cache.run_later(limit)


def keep(names: Sequence[str], scope: Sequence[str] | None, where: Callable[[tuple], bool] | None = None) -> int:
    """Mark this process's entries of the functions `names` for `scope` (those whose arguments satisfy `where`) as just
    used in the in-process LRU, building none: the warm-up keeps the citywide rows from being pushed out by the views
    it builds (a re-read costs seconds at province and, while a window still holds the old frames, twice the memory)."""
    sk = scope_key(scope)
    return _ctx().cache.touch(lambda k: k[0] in names and k[3] == sk and (where is None or where(k[4])))


def forget_window(scope: Sequence[str] | None, month_to: str) -> int:
    """Drop this process's window objects of one end month (citywide and every township's) and what they memoise
    (project status, worklists, case state: ~1 GB per window at province). The warm-up calls it after building an
    earlier window's views, which are in the shared cache by then; the frames and their per-read histories stay."""
    ctx = _ctx()
    sk = scope_key(scope)
    n = ctx.cache.drop(("window_data",), where=lambda k: k[3] == sk and k[4][0] == month_to)
    forget_month(scope, month_to)
    return n


def forget_month(scope: Sequence[str] | None, month: str) -> int:
    """Drop what the layers derived for one month (or a date in it) and kept on the scope's frames (`layers.base.derived`:
    that month's warnings, deposits due at its end, indicator trends, risk factors: ~0.9 GB per month at province);
    the month-independent entries (histories, normalised rows) stay. How many entries. Recomputed when asked again."""
    from layers import base

    ctx = _ctx()
    sk = scope_key(scope)
    with ctx.cache._lock:
        frames = [v for k, v in ctx.cache._d.items() if k[0] == "kind" and k[3] == sk]
    return sum(base.forget(f, lambda key: base.about_month(key, month)) for f in frames)


def forget_scope(scope: Sequence[str] | None) -> int:
    """Drop this process's rows of one scope and what holds them (its windows, project-status parts), as release_rows
    does for every scope: the warm-up calls it once an official's own views are stored. How many entries."""
    sk = scope_key(scope)
    return _ctx().cache.drop(ROW_HOLDERS, where=lambda k: k[3] == sk)


def rows_to_release() -> bool:
    """Whether release_rows would forget the rows now (more than settings.resident_max_rows read, a shared cache)."""
    ctx = _ctx()
    return ctx.rows_read > settings().resident_max_rows and ctx.cache.disk is not None


def resident_rows() -> int:
    """How many rows this process holds in its cache of raw frames."""
    ctx = _ctx()
    with ctx.cache._lock:
        frames = [v for k, v in ctx.cache._d.items() if k[0] == "kind"]
    return sum(len(f) for f in frames)


def release_rows() -> int:
    """Forget the raw frames (and the windows built on them) once more than settings.resident_max_rows were read.

    Called after the warm-up: the default views are then in the shared cache, and a province-scale
    worker need not keep gigabytes of rows for them; a later miss reads the kinds it needs again.
    The freed heap is handed back to the system (glibc keeps it otherwise).
    """
    ctx = _ctx()
    if not rows_to_release():
        return 0
    n = ctx.cache.drop(ROW_HOLDERS)
    ctx.rows_read = resident_rows()
    _trim_heap()
    return n


def trim_heap() -> None:
    """Collect cycles and hand the free heap back to the system (after forgetting a window or rows)."""
    _trim_heap()


def _trim_heap() -> None:
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the memory is reused by the process instead
        pass
