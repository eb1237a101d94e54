"""Tests for layers/nearby.py: radius in EPSG:4547, case totals, hand-counted cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from layers import nearby as nb

CENTRE = (113.38, 34.54)
_FWD = Transformer.from_crs(4326, 4547, always_xy=True)
_INV = Transformer.from_crs(4547, 4326, always_xy=True)


def at(dx: float, dy: float) -> tuple[float, float]:
    """The WGS-84 point dx metres east and dy metres north of CENTRE, in EPSG:4547."""
    x0, y0 = _FWD.transform(*CENTRE)
    lon, lat = _INV.transform(x0 + dx, y0 + dy)
    return float(lon), float(lat)


def hand_built():
    offsets = {"P0": (0, 0), "P1": (499, 0), "P2": (0, -999), "P3": (-707, 707), "P4": (1001, 0),
               "P5": (0, 1500), "P6": (3000, 3000)}
    pts = {k: at(*v) for k, v in offsets.items()}
    projects = pd.DataFrame({
        "project_code": list(pts), "name": [f"项目{k}" for k in pts], "address": "测试路",
        "township_code": "410183001000", "lon": [p[0] for p in pts.values()], "lat": [p[1] for p in pts.values()],
        "contractor": "某建设公司", "labour_officer": "张三", "status": "在建",
    })
    enterprises = pd.DataFrame({
        "credit_code": ["E1", "E2"], "name": ["单位一", "单位二"],
        "lon": [at(300, 300)[0], at(2000, 0)[0]], "lat": [at(300, 300)[1], at(2000, 0)[1]],
        "township_code": "410183001000",
    })
    cases = pd.DataFrame({
        "case_no": ["C1", "C2", "C3", "C4", "C5"],
        "project_code": ["P1", "P1", "P2", "P4", None],
        "credit_code": [None, None, None, None, "E1"],
        "status": ["核查", "结案", "立案", "受理", "限期整改"],
        "closed_date": [None, "2024-03-01", None, None, None],
        "workers": [10, 5, 7, 3, 4],
        "amount": [20.0, 8.0, 12.5, 1.0, 3.0],
        "recovered": [5.0, 8.0, None, None, 0.0],
    })
    return projects, enterprises, cases


def test_distances_are_metres_in_4547():
    lon, lat = at(1000, 0)
    d = nb.distances_m(*CENTRE, [lon], [lat])
    assert d[0] == pytest.approx(1000.0, abs=0.01)


def test_radius_returns_exactly_the_hand_counted_projects():
    projects, enterprises, cases = hand_built()
    rows = nb.nearby(*CENTRE, projects=projects, enterprises=enterprises, cases=cases, radius_km=1.0)
    got = rows.loc[rows["kind"] == "project", "key"].tolist()
    assert got == ["P0", "P1", "P2", "P3"]  # 0, 499, 999, 1000 (707*sqrt2 = 999.8) m; P4 at 1001 m is out
    assert rows.loc[rows["kind"] == "enterprise", "key"].tolist() == ["E1"]
    assert rows["distance_m"].is_monotonic_increasing


def test_case_totals_count_only_open_cases_net_of_recovered():
    projects, enterprises, cases = hand_built()
    rows = nb.nearby(*CENTRE, projects=projects, enterprises=enterprises, cases=cases, radius_km=1.0).set_index("key")
    assert rows.loc["P1", ["open_cases", "workers"]].tolist() == [1, 10]  # C2 is closed
    assert rows.loc["P1", "amount_owed"] == pytest.approx(15.0)
    assert rows.loc["P2", "amount_owed"] == pytest.approx(12.5)
    assert rows.loc["P0", ["open_cases", "workers", "amount_owed"]].tolist() == [0, 0, 0.0]
    assert rows.loc["E1", ["open_cases", "workers"]].tolist() == [1, 4]
    s = nb.summary(rows.reset_index())
    assert s == {"projects": 4, "enterprises": 1, "open_cases": 3, "workers": 21, "amount_owed": 30.5}


@pytest.mark.parametrize("radius_km, expected", [(0.5, 2), (1.0, 4), (2.0, 6), (5.0, 7)])
def test_radius_choices(radius_km, expected):
    projects, _, _ = hand_built()
    rows = nb.nearby(*CENTRE, projects=projects, enterprises=None, cases=None, radius_km=radius_km)
    assert len(rows) == expected


def test_bbox_holds_the_circle():
    x0, y0, x1, y1 = nb.bbox(*CENTRE, 1000)
    for dx, dy in [(1000, 0), (-1000, 0), (0, 1000), (0, -1000)]:
        lon, lat = at(dx, dy)
        assert x0 < lon < x1 and y0 < lat < y1


def test_empty_inputs_give_an_empty_frame():
    rows = nb.nearby(*CENTRE, projects=pd.DataFrame(), enterprises=None, cases=None)
    assert rows.empty and list(rows.columns) == nb.COLUMNS
    assert nb.summary(rows)["projects"] == 0


def test_points_without_coordinates_are_ignored():
    projects, _, _ = hand_built()
    projects.loc[0, ["lon", "lat"]] = np.nan
    rows = nb.nearby(*CENTRE, projects=projects, enterprises=None, cases=None)
    assert "P0" not in rows["key"].tolist()


def _load(store, kind: str, df: pd.DataFrame) -> None:
    with store.begin() as conn:
        batch = store.new_batch(conn, kind, "test.xlsx", "test")
        store.upsert(conn, kind, df, batch)


def test_radius_query_in_the_store_matches_the_hand_count(store):
    projects, enterprises, cases = hand_built()
    other = projects.iloc[[1]].assign(project_code="PX", township_code="410183104000")  # 499 m away, other township
    _load(store, "projects", pd.concat([projects, other], ignore_index=True))
    _load(store, "enterprises", enterprises)
    _load(store, "cases", cases.assign(received_date="2024-01-05", township_code="410183001000"))
    near = nb.fetch_nearby(store, *CENTRE, radius_km=1.0)
    rows = near.rows
    assert list(rows.columns) == nb.COLUMNS
    assert sorted(rows.loc[rows["kind"] == "project", "key"]) == ["P0", "P1", "P2", "P3", "PX"]
    assert rows.loc[rows["kind"] == "enterprise", "key"].tolist() == ["E1"]
    assert rows["distance_m"].is_monotonic_increasing and rows["key"].iloc[0] == "P0"
    by_key = rows.set_index("key")
    assert by_key.loc["P1", "open_cases"] == 1 and by_key.loc["P1", "amount_owed"] == pytest.approx(15.0)
    assert by_key.loc["P3", "distance_m"] == pytest.approx(999.8, abs=0.1)
    assert near.total == 6
    assert near.summary == {"projects": 5, "enterprises": 1, "open_cases": 3, "workers": 21, "amount_owed": 30.5}
    scoped = nb.fetch_nearby(store, *CENTRE, radius_km=1.0, scope=["410183001000"])
    assert "PX" not in scoped.rows["key"].tolist() and scoped.total == 5
    wide = nb.fetch_nearby(store, *CENTRE, radius_km=2.0)
    assert sorted(wide.rows.loc[wide.rows["kind"] == "project", "key"]) == ["P0", "P1", "P2", "P3", "P4", "P5", "PX"]
    empty = nb.fetch_nearby(store, 113.2, 34.6, radius_km=0.5)
    assert empty.rows.empty and empty.total == 0 and empty.summary["projects"] == 0


def test_radius_sends_the_nearest_rows_and_totals_over_all(store):
    """The panel gets `limit` rows, nearest first; its heading counts every site within the radius."""
    projects, enterprises, cases = hand_built()
    _load(store, "projects", projects)
    _load(store, "enterprises", enterprises)
    _load(store, "cases", cases.assign(received_date="2024-01-05", township_code="410183001000"))
    full = nb.fetch_nearby(store, *CENTRE, radius_km=5.0)
    near = nb.fetch_nearby(store, *CENTRE, radius_km=5.0, limit=3)
    assert near.rows["key"].tolist() == full.rows["key"].tolist()[:3] == ["P0", "E1", "P1"]
    assert near.total == full.total == len(full.rows) == 9
    assert near.summary == full.summary == {"projects": 7, "enterprises": 2, "open_cases": 4, "workers": 24,
                                            "amount_owed": 31.5}
    assert not {"contractor_phone", "labour_officer_phone", "phone"} & set(near.rows.columns)  # only what is shown


def test_radius_sql_uses_bound_parameters_only():
    from sqlalchemy.dialects import postgresql

    q = nb.nearest_select(439123.25, 3822334.5, 1000.0, 60, scope=["410183001000"])
    sql = str(q.compile(dialect=postgresql.dialect()))
    assert "439123" not in sql and "3822334" not in sql and "1000" not in sql and "410183001000" not in sql
    assert "结案" not in sql and "BETWEEN" in sql and "LIMIT" in sql and "sqrt" in sql
