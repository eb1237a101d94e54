"""The shared view cache directory: an unusable one stops the app at start-up with a message naming the setting."""

import os

import pandas as pd
import pytest

from dashboard import cache, services
from geodata.settings import SettingsError, load_settings


def _app(store, cache_dir):
    from dashboard.app import create_app

    return create_app(store=store, settings=load_settings(db=store.url, cache_dir=cache_dir))


def test_cache_dir_under_a_file_fails_at_start_with_the_setting_and_path(small_store, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    bad = blocker / "cache"
    with pytest.raises(SettingsError) as e:
        _app(small_store, str(bad))
    msg = str(e.value)
    assert "WAGEMAP_CACHE_DIR" in msg and "cache_dir" in msg and str(bad) in msg and "视图缓存目录不可用" in msg


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_cache_dir_fails_at_start(small_store, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    inside = ro / "cache"
    ro.chmod(0o500)
    try:
        with pytest.raises(SettingsError, match="WAGEMAP_CACHE_DIR"):
            _app(small_store, str(inside))
    finally:
        ro.chmod(0o700)


def test_usable_cache_dir_is_private_and_empty_setting_keeps_views_in_process(small_store, tmp_path):
    d = tmp_path / "views"
    app = _app(small_store, str(d))
    assert app.server.extensions["wagemap"].cache.disk is not None and (d.stat().st_mode & 0o777) == 0o700
    assert not [p for p in d.iterdir() if p.suffix == ".val"]  # the start-up probe leaves no file behind
    local = _app(small_store, "")
    with local.server.app_context():
        assert services._ctx().cache.disk is None
        frm, to = services.month_window(None, None, None)
        assert services.overview(None, "arrears", frm, to)["bars"]


def test_services_keeps_the_cache_names(small_store):
    """Callers and tests use the cache machinery through dashboard.services."""
    for name in ("attach", "Context", "code_version", "scope_key", "release_rows", "resident_rows", "store", "settings",
                 "_ctx", "_cached"):
        assert getattr(services, name) is getattr(cache, name)


def test_tables_stored_by_column_read_back_as_the_records_to_dict_gives():
    """services._columns + overview_table's rebuild give exactly DataFrame.to_dict("records") (values and types)."""
    import numpy as np
    import pandas as pd

    df = pd.DataFrame({"项目编号": ["P-1", "P-2", None], "n": [1, 2, 3], "x": [1.5, np.nan, 2.0],
                       "flag": [True, False, True], "when": pd.to_datetime(["2024-01-02", None, "2024-03-04"])})
    t = df.astype(object).where(pd.notna(df), None)
    t["mixed"] = pd.Series([np.int64(7), np.float64(1.25), "text"], dtype=object)
    cols, data = services._columns(t)
    rebuilt = [dict(zip(cols, row, strict=True)) for row in zip(*data, strict=True)]
    expected = t.to_dict("records")
    assert rebuilt == expected
    assert [[type(v) for v in r.values()] for r in rebuilt] == [[type(v) for v in r.values()] for r in expected]


def test_large_views_are_stored_compressed_and_read_back_equal(tmp_path):
    """Views over COMPRESS_BYTES go to disk zlib-compressed (province tables: GBs otherwise), small ones as plain
    pickles; both read back equal, in another process's cache object too; a damaged entry is rebuilt, not raised."""
    import pickle

    import pandas as pd

    one = cache._Cache(directory=str(tmp_path / "v"))
    big = pd.DataFrame({"项目编号": [f"XM-{i:06d}" for i in range(40_000)], "缺失": ["专用账户、保证金"] * 40_000})
    small = {"key": "arrears", "bars": [1, 2, 3]}
    assert one.get_or_build(("t", "big"), lambda: big, shared=True) is big
    one.get_or_build(("t", "small"), lambda: small, shared=True)
    raw_big, raw_small = one.disk.get(one.disk_key(("t", "big"))), one.disk.get(one.disk_key(("t", "small")))
    assert raw_big[:1] == b"z" and raw_small[:1] == b"p"
    plain = len(pickle.dumps(big, protocol=pickle.HIGHEST_PROTOCOL))
    assert plain > cache.COMPRESS_BYTES and len(raw_big) < plain / 5
    two = cache._Cache(directory=str(tmp_path / "v"))
    pd.testing.assert_frame_equal(two.get_or_build(("t", "big"), lambda: pytest.fail("rebuilt"), shared=True), big)
    assert two.get_or_build(("t", "small"), lambda: pytest.fail("rebuilt"), shared=True) == small
    two.disk.set(two.disk_key(("t", "bad")), b"z not zlib")
    three = cache._Cache(directory=str(tmp_path / "v"))
    assert three.get_or_build(("t", "bad"), lambda: "rebuilt", shared=True) == "rebuilt"


def test_the_process_keeps_a_bounded_number_of_bytes_of_views_that_are_on_disk(tmp_path):
    """Views on disk count against max_bytes (pickled size) in the process: the oldest go first, and one over a quarter
    of the budget is not kept at all; all are still answered from disk without rebuilding."""
    one = cache._Cache(directory=str(tmp_path / "v"), max_bytes=400_000)
    blocks = {i: bytes([i]) * 90_000 for i in range(6)}  # ~90 KB each: four fit
    for i, b in blocks.items():
        one.get_or_build(("b", i), lambda b=b: b, shared=True)
    assert [k[1] for k in one._d] == [2, 3, 4, 5] and 0 < one.process_bytes() <= 400_000
    huge = b"x" * 150_000  # over a quarter of the budget: on disk only
    assert one.get_or_build(("b", "huge"), lambda: huge, shared=True) == huge and ("b", "huge") not in one._d
    assert one.get_or_build(("b", "huge"), lambda: pytest.fail("rebuilt"), shared=True) == huge
    assert one.get_or_build(("b", 0), lambda: pytest.fail("rebuilt"), shared=True) == blocks[0]
    local = cache._Cache(max_bytes=10)  # without a disk nothing is counted: the LRU keeps by number as before
    local.get_or_build(("b", 1), lambda: huge, shared=True)
    assert ("b", 1) in local._d and local.process_bytes() == 0


@pytest.mark.parametrize("link", ["链接", "项目编号", None])
def test_a_layer_table_by_column_equals_the_copying_spelling(link):
    """services._table_columns (one pass per column) gives exactly _columns(_with_links(table)): names, values, types."""
    import numpy as np
    import pandas as pd

    t = pd.DataFrame({"n": [1, 2, 3], "x": [1.5, np.nan, 2.0], "flag": [True, False, True],
                      "when": pd.to_datetime(["2024-01-02", None, "2024-03-04"]), "text": ["a", None, "c/d"],
                      "mixed": pd.Series([np.int64(7), np.float64(1.25), None], dtype=object)})
    if link == "链接":
        t.insert(1, "链接", ["/project/A", None, "/case/B"])
    elif link == "项目编号":
        t["项目编号"] = ["XM 1", "XM/2", None]
    want = services._columns(services._with_links(t))
    got = services._table_columns(t)
    assert got[0] == want[0] and got[1] == want[1]
    assert [[type(v) for v in c] for c in got[1]] == [[type(v) for v in c] for c in want[1]]


def test_forget_window_drops_the_months_memos_on_the_scopes_frames_and_keep_touches_without_building(small_store, tmp_path):
    """forget_window lets go of the window objects of one end month and of what the layers derived for that month on
    the scope's frames (layers.base.derived); the month-independent entries and other months stay. `keep` moves
    entries to the young end of the LRU and builds nothing; forget_scope drops one scope's rows only."""
    from layers import base

    app = _app(small_store, str(tmp_path / "v"))
    with app.server.app_context():
        d = services.window_data(None, "2026-10")
        services.window_data(None, "2026-09")
        proj = d.projects
        base.derived(d, ("projects",), ("x.month", "2026-10", "{}"), lambda: 1)
        base.derived(d, ("projects",), ("x.due", pd.Timestamp("2026-10-31")), lambda: 2)
        base.derived(d, ("projects",), ("x.month", "2026-09", "{}"), lambda: 3)
        base.derived(d, ("projects",), ("x.history",), lambda: 4)
        c = services._ctx().cache
        assert cache.forget_month(None, "2026-08") == 0
        assert services.forget_window(None, "2026-10") == 1
        assert set(proj.__dict__[base.DERIVED]) >= {("x.month", "2026-09", "{}"), ("x.history",)}
        assert not any(base.about_month(k, "2026-10") for k in proj.__dict__[base.DERIVED])
        assert [k[4] for k in c._d if k[0] == "window_data"] == [("2026-09", None)]
        services.has_data(None)  # the youngest entry, then the rows are touched: they are
        kinds = sum(k[0] == "kind" for k in c._d)
        assert cache.keep(("kind",), None) == kinds >= 1 and cache.keep(("kind",), ["nowhere"]) == 0
        assert all(k[0] == "kind" for k in list(c._d)[-kinds:]) and services.kind_frame(None, "projects") is proj
        services.window_data(["x1"], "2026-10")
        assert cache.forget_scope(["x1"]) == 1 and cache.forget_scope(["x1"]) == 0
        assert services.kind_frame(None, "projects") is proj


def test_put_later_stores_after_the_reply_or_when_asked_for_and_never_twice(tmp_path):
    """A by-product promised with put_later is not made by the reply that promised it; run_later (after the response,
    between warmed views) stores it on disk; asking for it first makes it then, once; LATER_MAX bounds what waits."""
    one = cache._Cache(directory=str(tmp_path / "v"))
    made = []

    def make(v):
        return lambda: made.append(v) or v

    one.put_later(("t", "a"), make("A"), shared=True)
    one.put_later(("t", "b"), make("B"), shared=True)
    assert made == [] and one.disk.get(one.disk_key(("t", "a"))) is None
    assert one.get_or_build(("t", "b"), lambda: pytest.fail("built again"), shared=True) == "B" and made == ["B"]
    assert one.run_later() == 1 and made == ["B", "A"] and one.run_later() == 0
    two = cache._Cache(directory=str(tmp_path / "v"))  # another worker reads both from disk
    assert [two.get_or_build(("t", k), lambda: pytest.fail("rebuilt"), shared=True) for k in "ab"] == ["A", "B"]
    one.put_later(("t", "bad"), lambda: 1 / 0, shared=True)  # a failing by-product is built by whoever asks
    assert one.get_or_build(("t", "bad"), lambda: "built", shared=True) == "built"
    for i in range(cache.LATER_MAX + 3):
        one.put_later(("n", i), make(i), shared=True)
    assert len(one._later) == cache.LATER_MAX and made[-3:] == [0, 1, 2]


def test_the_head_of_a_miss_leaves_the_table_for_after_the_response(small_store, tmp_path):
    """overview_head does not make the detail table; closing the response (the server does once it is sent) stores it,
    and the grid then reads it without building the layer again; the records equal a build with the table made at once."""
    from layers import registry

    app = _app(small_store, str(tmp_path / "v"))
    server = app.server
    layer = registry.get("warnings")
    orig, builds = type(layer).build, []

    def counting(self, data, f):
        builds.append(1)
        return orig(self, data, f)

    type(layer).build = counting
    try:
        with server.test_request_context("/"):
            c = services._ctx().cache
            frm, to = services.month_window(None, None, None)
            head = services.overview_head(None, "warnings", frm, to)
            assert builds == [1] and len(c._later) == 1 and head["table_rows"] > 0
            resp = server.process_response(server.response_class("ok"))
        assert len(c._later) == 1
        resp.close()
        assert len(c._later) == 0
        with server.app_context():
            rows = services.overview_table(None, "warnings", frm, to)
            assert builds == [1] and len(rows) == head["table_rows"]
            assert [k for k in rows[0] if k != "link"] == head["columns"]
            cols, data = services._build_overview(None, "warnings", frm, to, None, table_now=True)[1]
            assert [dict(zip(cols, r, strict=True)) for r in zip(*data, strict=True)] == rows
    finally:
        type(layer).build = orig


def test_views_over_the_byte_budget_push_out_older_views_not_older_rows(tmp_path):
    """The byte budget counts on-disk views: when it is exceeded the oldest such views go, never the rows (kept in the
    process only, older than the views built from them), which a re-read would cost seconds to bring back."""
    one = cache._Cache(directory=str(tmp_path / "v"), max_bytes=400_000)
    one.get_or_build(("kind", "projects"), lambda: "rows", shared=False)
    for i in range(6):
        one.get_or_build(("b", i), lambda i=i: bytes([i]) * 90_000, shared=True)
    assert ("kind", "projects") in one._d and [k[1] for k in one._d if k[0] == "b"] == [2, 3, 4, 5]
    assert one.get_or_build(("kind", "projects"), lambda: pytest.fail("read again")) == "rows"
