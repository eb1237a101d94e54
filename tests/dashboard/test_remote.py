"""A serving worker's cache miss is built by the warm process (which holds the rows), the worker reads the view
from the shared cache and never reads a row itself; anything else (no warm process, another data version, a
name not on the whitelist, a failure) falls back to building the view in the worker."""

import json
import threading
import time

import pytest

from dashboard import cache, remote, services
from geodata.settings import load_settings
from layers import registry


def _app(store, cache_dir):
    from dashboard.app import create_app

    return create_app(store=store, settings=load_settings(db=store.url, cache_dir=str(cache_dir)))


def _same(a, b) -> bool:
    dump = lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False, default=str)  # noqa: E731
    return dump(a) == dump(b)


@pytest.fixture
def pair(small_store, tmp_path):
    """(server app with remote.serve running, worker app on the same shared cache, a reference app on its own)."""
    server = _app(small_store, tmp_path / "shared")
    worker = _app(small_store, tmp_path / "shared")
    reference = _app(small_store, tmp_path / "own")
    stop = threading.Event()
    built: list[str] = []
    remote.serve(server, stop, on_request=lambda name, s: built.append(name.rsplit(".", 1)[-1]))
    with worker.server.app_context():
        deadline = time.time() + 10
        while not remote.available(services._ctx()) and time.time() < deadline:
            time.sleep(0.05)
    yield server, worker, reference, built
    stop.set()


def _views(app):
    """Views of a window nobody warmed: an older window, every layer, a township page, its project pages' part,
    a ledger and an enterprise page."""
    from dashboard import records

    with app.server.app_context():
        ms = services.months(None)
        frm, to = ms[0], ms[-2]
        code = sorted(services.township_names(None))[0]
        out = {"heads": {k: services.overview_head(None, k, frm, to) for k in registry.LAYERS}}
        out["points"] = services.overview_points(out["heads"][registry.DEFAULT], services.POINT_ORDER)
        out["table"] = services.overview_table(None, registry.DEFAULT, frm, to)
        out["township"] = services.township_view(None, code, frm, to, mask_pii=True)
        out["status_part"] = records.status_part(None, to, code)
        out["ledger"] = services.ledger(None, services.LEDGER_NAMES[0], frm, to).to_dict("records")
        out["rows_read"] = services._ctx().rows_read
        return out


def test_a_miss_is_built_by_the_warm_process_and_the_worker_reads_no_rows(pair):
    server, worker, reference, built = pair
    got = _views(worker)
    want = _views(reference)
    assert got.pop("rows_read") == 0  # the worker never read a row
    assert want.pop("rows_read") > 0
    for k in want:
        assert _same(got[k], want[k]), k
    # (the township page may have been built ahead, after the first head: then the worker did not need to ask)
    assert "overview_head" in built and "status_part" in built and "ledger" in built
    with server.server.app_context():
        assert services._ctx().rows_read > 0  # the warm process read them, once
    n = len(built)
    again = _views(worker)  # now hits: nothing more is asked for
    assert len(built) == n and _same(again["heads"], got["heads"])


def test_enterprise_page_is_built_remotely(pair):
    _, worker, reference, built = pair
    with reference.server.app_context():
        credit = str(services.kind_frame(None, "enterprises")["credit_code"].iloc[0])
        want = services.enterprise_view(None, credit, None, mask_pii=True)
    with worker.server.app_context():
        got = services.enterprise_view(None, credit, None, mask_pii=True)
        assert services._ctx().rows_read == 0
    assert _same(got, want) and "enterprise_view" in built


def test_without_a_warm_process_the_worker_builds_itself(small_store, tmp_path):
    worker = _app(small_store, tmp_path / "shared")
    with worker.server.app_context():
        assert not remote.available(services._ctx())
        frm, to = services.month_window(None, None, None)
        assert services.overview_head(None, registry.DEFAULT, frm, to)["key"] == registry.DEFAULT
        assert services._ctx().rows_read > 0


def test_the_warm_process_runs_only_whitelisted_functions(pair):
    _, worker, _, built = pair
    with worker.server.app_context():
        ctx = services._ctx()
        disk = ctx.cache.disk
        disk.push(("r1", "os.system", ("echo pwned",), "v"), prefix=f"{remote.QUEUE}:q:{ctx.cache._salt}")
        deadline = time.time() + 10
        while disk.get(f"{remote.QUEUE}:r:r1") is None and time.time() < deadline:
            time.sleep(0.02)
        assert disk.get(f"{remote.QUEUE}:r:r1").startswith("unknown target")
        with pytest.raises(ValueError):
            remote.ask(ctx, len, ([],), "v")  # a worker refuses to send anything else too


def test_another_data_version_is_built_by_the_worker(pair):
    _, worker, _, built = pair
    with worker.server.app_context():
        ctx = services._ctx()
        frm, to = services.month_window(None, None, None)
        assert remote.ask(ctx, services.overview_head, (None, registry.DEFAULT, frm, to, None), "not-the-version") is False
    assert "overview_head" in built  # it was asked, answered "data version changed", and built nothing on disk


def test_a_failed_remote_build_falls_back_to_the_worker(pair, monkeypatch):
    server, worker, reference, built = pair

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setitem(remote._TARGETS, "dashboard.services.township_view", boom)
    with worker.server.app_context():
        frm, to = services.month_window(None, None, None)
        code = sorted(services.township_names(None))[0]
        v = services.township_view(None, code, frm, to, mask_pii=True)
        assert v["code"] == code and services._ctx().rows_read > 0  # built here after the warm process failed


def test_the_server_keeps_the_citywide_rows_and_only_the_last_windows_and_scopes(pair):
    server, worker, _, built = pair
    with worker.server.app_context():
        ms = services.months(None)
        codes = sorted(services.township_names(None))
        for to in ms[-8:]:  # eight windows nobody built
            services.overview_head(None, registry.DEFAULT, ms[0], to)
        for code in codes[:4]:  # four officials' own views
            services.overview_head([code], registry.DEFAULT, ms[0], ms[-3])
        assert services._ctx().rows_read == 0
    with server.server.app_context():
        deadline = time.time() + 30  # the server forgets after its reply: give it the moment to
        while True:
            entries = list(services._ctx().cache._d)
            windows = {k[4][0] for k in entries if k[0] == "window_data" and k[3] is None}
            scoped = {k[3] for k in entries if k[0] == "kind" and k[3] is not None}
            if (len(windows) <= remote.WINDOWS_KEPT and len(scoped) <= remote.SCOPES_KEPT) or time.time() > deadline:
                break
            time.sleep(0.05)
        assert len(windows) <= remote.WINDOWS_KEPT and len(scoped) <= remote.SCOPES_KEPT
        assert {"projects", "cases"} <= {k[4][0] for k in entries if k[0] == "kind" and k[3] is None}  # citywide rows kept


def test_the_warm_up_waits_while_a_worker_waits_for_a_remote_build(pair, monkeypatch):
    _, worker, _, built = pair
    started, finished = threading.Event(), []

    def slow(*a):
        started.set()
        time.sleep(1.0)
        finished.append(time.monotonic())

    monkeypatch.setitem(remote._TARGETS, "dashboard.services.map_frame", slow)
    with worker.server.app_context():
        ctx = services._ctx()
        version = services._ctx().store.data_version()
        asker = threading.Thread(target=remote.ask, args=(ctx, services.map_frame, (None, None), version))
        asker.start()
        assert started.wait(10)
        remote.wait_idle()  # what the warm-up calls before each view: returns once the build is done
        assert finished and time.monotonic() >= finished[0]
        asker.join(10)
    t = time.monotonic()
    remote.wait_idle()  # idle: no wait
    assert time.monotonic() - t < 0.5


def test_after_a_miss_the_server_builds_the_other_layers_of_that_window_ahead(pair):
    """One layer's head of a window nobody built is asked for; while no worker waits, the server builds the window's
    other layers (head, point sets, table) and township pages, so the next indicator switches and drill-downs are hits
    that ask it for nothing."""
    server, worker, reference, built = pair
    with worker.server.app_context():
        ms = services.months(None)
        frm, to = ms[0], ms[-4]
        services.overview_head(None, registry.DEFAULT, frm, to)  # built by the server (rows_read stays 0 below)
        ctx = services._ctx()
        others = [k for k in registry.LAYERS if k != registry.DEFAULT]
        keys = [ctx.cache.disk_key(("overview", ctx.store.url, cache._version(ctx), None, (k, frm, to, None)))
                for k in others]
        code = sorted(services.township_names(None))[-1]
        keys.append(ctx.cache.disk_key(("township", ctx.store.url, cache._version(ctx), None, (code, frm, to, True))))
        keys.append(ctx.cache.disk_key(("overview_table", ctx.store.url, cache._version(ctx), None,
                                        (others[-1], frm, to, None))))  # the tables come last
        deadline = time.time() + 120
        while not all(k in ctx.cache.disk for k in keys) and time.time() < deadline:
            time.sleep(0.1)
        n = len(built)
        got = {k: services.overview_head(None, k, frm, to) for k in others}
        table = services.overview_table(None, others[-1], frm, to)
        town = services.township_view(None, code, frm, to, mask_pii=True)
        assert len(built) == n and services._ctx().rows_read == 0  # all hits: nothing more asked, no row read
    with reference.server.app_context():
        for k in others:
            assert _same(got[k], services.overview_head(None, k, frm, to)), k
        assert _same(table, services.overview_table(None, others[-1], frm, to))
        assert _same(town, services.township_view(None, code, frm, to, mask_pii=True))
