"""layers.base: the memos kept on the frames, and forgetting one month's of them."""

import datetime

import geopandas as gpd
import pandas as pd

from layers import base
from layers.base import LayerData, about_month, derived, forget, of_frame


def _data() -> LayerData:
    return LayerData(townships=gpd.GeoDataFrame({"code": ["1"]}), projects=pd.DataFrame({"a": [1, 2]}),
                     cases=pd.DataFrame({"b": [3]}))


def test_about_month_matches_the_month_and_dates_in_it_only():
    m = "2026-10"
    assert about_month(("rules.sorted_warnings", "2026-10", "2026-10-31 00:00:00", '{"x": "2026-10"}'), m)
    assert about_month(("deposits.required", pd.Timestamp("2026-10-31"), "{}"), m)
    assert about_month(("x", datetime.date(2026, 10, 1)), m) and about_month(("x", ("2026-10", None)), m)
    for key in [("rules.projects",), ("x", "2026-11"), ("x", pd.Timestamp("2026-11-30")), ("x", pd.NaT), ("x", 2026),
                ("x", '{"month": "2026-10"}'), ("x", "2026-100"), ("trend.township_rows", "410183001000"),
                ("x", ("结案", "已结案"))]:
        assert not about_month(key, m), key


def test_forget_drops_the_matching_entries_on_every_frame_and_they_are_rebuilt_equal():
    d = _data()
    calls = []

    def build(tag):
        calls.append(tag)
        return tag

    derived(d, ("projects",), ("p.month", "2026-10"), lambda: build("p10"))
    derived(d, ("projects", "cases"), ("p.month", "2026-09"), lambda: build("p09"))
    derived(d, ("projects",), ("p.history",), lambda: build("ph"))
    of_frame(d.cases, ("c.month", pd.Timestamp("2026-10-31")), lambda: build("c10"))
    assert forget(d, lambda k: about_month(k, "2026-10")) == 2
    assert set(d.projects.__dict__[base.DERIVED]) == {("p.month", "2026-09"), ("p.history",)}
    assert d.cases.__dict__[base.DERIVED] == {}
    # what stays is a hit; what went is built again
    assert derived(d, ("projects",), ("p.history",), lambda: build("again")) == "ph"
    assert derived(d, ("projects",), ("p.month", "2026-10"), lambda: build("p10")) == "p10"
    assert calls == ["p10", "p09", "ph", "c10", "p10"]
    assert forget(d.projects, lambda k: True) == 3 and forget(pd.DataFrame(), lambda k: True) == 0 and forget(None, bool) == 0


def test_a_lazy_table_is_made_once_on_first_read_and_its_shape_is_known_before():
    """LayerResult(table=LazyTable(...)): table_shape() without making it; `.table` makes it once; a plain frame and
    no table at all behave as before."""
    from layers.base import LayerResult, LazyTable

    made = []

    def make() -> pd.DataFrame:
        made.append(1)
        return pd.DataFrame({"项目编号": ["A", "B"], "链接": ["/project/A", "/project/B"]})

    r = LayerResult("k", "t", "u", pd.DataFrame(), table=LazyTable(make, 2, ["项目编号", "链接"]))
    assert r.table_shape() == (2, ["项目编号", "链接"]) and made == []
    assert list(r.table["项目编号"]) == ["A", "B"] and r.table is r.table and made == [1]
    assert r.table_shape() == (2, ["项目编号", "链接"])
    plain = LayerResult("k", "t", "u", pd.DataFrame(), table=pd.DataFrame({"x": [1, 2, 3]}))
    assert plain.table_shape() == (3, ["x"]) and len(plain.table) == 3
    none = LayerResult("k", "t", "u", pd.DataFrame())
    assert none.table.empty and none.table_shape() == (0, [])
    assert LayerResult("k", "t", "u", pd.DataFrame()).table is not none.table  # no default frame shared between results
