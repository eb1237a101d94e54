"""Tests for layers/search.py: every search form, coordinate systems, ranking, ambiguity, nothing found."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from geodata import gcj02
from geodata.boundaries import demo_boundaries
from layers import search as s

SITE = (113.4050, 34.4310)  # inside 超化镇
OTHER = (113.3780, 34.5405)  # 青屏街街道


def metres(a, b) -> float:
    dy = (a[1] - b[1]) * 110_574.0
    dx = (a[0] - b[0]) * 111_320.0 * math.cos(math.radians(a[1]))
    return math.hypot(dx, dy)


def frames() -> dict[str, pd.DataFrame]:
    """The hand-made sites every search form is tested on (also loaded into stores by test_search_sql.py)."""
    incidents = pd.DataFrame({
        "incident_no": ["SJ2024-0007", "SJ2024-0008"], "address": ["超化镇黄固寺村安置房工地门口", "青屏大街"],
        "grade": ["较大", "一般"], "status": ["处置中", "已结束"], "occurred_at": ["2024-05-01 09:00", "2024-01-02"],
        "township_code": ["410183104000", "410183001000"], "lon": [SITE[0], OTHER[0]], "lat": [SITE[1], OTHER[1]]})
    cases = pd.DataFrame({"case_no": ["AJ-2024-0315"], "employer_name": ["河南某某劳务有限公司"], "address": ["超化镇黄固寺村"],
                          "status": ["核查"], "township_code": ["410183104000"], "lon": [SITE[0] + 0.001], "lat": [SITE[1]]})
    projects = pd.DataFrame({
        "project_code": ["XM-410183-0042", "XM-410183-0043", "XM-410183-0044"],
        "name": ["金水湾安置房一期", "金水湾安置房二期", "青屏街道综合楼"],
        "address": ["超化镇黄固寺村北", "来集镇李堂村", "青屏大街18号"],
        "contractor": ["示例建工集团", "示例建工集团", "另一建设公司"],
        "contractor_credit_code": ["91410183MA0000001X", "91410183MA0000001X", "91410183MA0000002X"],
        "township_code": ["410183104000", "410183110000", "410183001000"],
        "lon": [SITE[0] + 0.002, 113.47, OTHER[0]], "lat": [SITE[1], 34.49, OTHER[1]],
    })
    enterprises = pd.DataFrame({
        "credit_code": ["91410183MA0000001X", "91410183MA47XYZ12Q"], "name": ["示例建工集团有限公司", "新密市耐火材料厂"],
        "address": ["青屏大街1号", "米村镇朝阳沟村"], "township_code": ["410183001000", "410183101000"],
        "lon": [OTHER[0] + 0.003, 113.2716], "lat": [OTHER[1], 34.5589]})
    gaz = pd.DataFrame({"name": ["黄固寺村", "朝阳沟村", "李堂村"], "aliases": ["黄固寺", "", ""], "kind": ["村", "村", "村"],
                        "township_code": ["410183104000", "410183101000", "410183110000"],
                        "lon": [SITE[0] - 0.002, 113.2716, 113.468], "lat": [SITE[1] + 0.001, 34.5589, 34.4914]})
    return {"incidents": incidents, "cases": cases, "projects": projects, "enterprises": enterprises, "gazetteer": gaz}


@pytest.fixture(scope="module")
def index():
    tw = demo_boundaries()
    tw["lon"] = tw.geometry.representative_point().x
    tw["lat"] = tw.geometry.representative_point().y
    return s.build_index(townships=tw, **frames())


@pytest.mark.parametrize("query, kind, key", [
    ("SJ2024-0007", "incident", "SJ2024-0007"),
    ("sj2024-0007", "incident", "SJ2024-0007"),
    ("AJ-2024-0315", "case", "AJ-2024-0315"),
    ("XM-410183-0044", "project", "XM-410183-0044"),
    ("青屏街道综合楼", "project", "XM-410183-0044"),
    ("综合楼", "project", "XM-410183-0044"),
    ("新密市耐火材料厂", "enterprise", "91410183MA47XYZ12Q"),
    ("耐火材料", "enterprise", "91410183MA47XYZ12Q"),
    ("91410183MA47XYZ12Q", "enterprise", "91410183MA47XYZ12Q"),
    ("９１４１０１８３ＭＡ４７ＸＹＺ１２Ｑ", "enterprise", "91410183MA47XYZ12Q"),  # full-width
    ("朝阳沟村", "place", "朝阳沟村"),
    ("超化镇黄固寺村东200米", "place", "黄固寺村"),
])
def test_each_form_finds_its_site(index, query, kind, key):
    r = s.search(query, index)
    assert r.status == "found", r.message
    assert (r.sites[0].kind, r.sites[0].key) == (kind, key)


def test_fuzzy_name_with_a_typo(index):
    r = s.search("新密耐火材科厂", index)  # 科 for 料, 市 missing
    assert r.sites and r.sites[0].key == "91410183MA47XYZ12Q"


def test_same_name_in_two_places_is_ambiguous(index):
    r = s.search("金水湾安置房", index)
    assert r.status == "ambiguous"
    assert {x.key for x in r.sites[:2]} == {"XM-410183-0042", "XM-410183-0043"}
    assert "请选择" in r.message


def test_nothing_found_is_said_plainly(index):
    r = s.search("火星基地", index)
    assert r.status == "none" and r.sites == []
    assert "未找到" in r.message and "坐标" in r.message
    assert s.search("   ", index).status == "empty"


def test_contractor_credit_code_also_lists_its_projects(index):
    r = s.search("91410183MA0000001X", index)
    assert r.sites[0].kind == "enterprise"
    assert {x.key for x in r.sites[1:3]} == {"XM-410183-0042", "XM-410183-0043"}


@pytest.mark.parametrize("typed", ["113.3805,34.5403", "34.5403 113.3805", "34.5403,113.3805", "113.3805 , 34.5403 WGS84",
                                   "（113.3805，34.5403）"])
def test_decimal_coordinates_either_order(index, typed):
    r = s.search(typed, index)
    site = r.sites[0]
    assert site.kind == "coordinate" and r.status == "found"
    assert (site.lon, site.lat) == pytest.approx((113.3805, 34.5403))
    assert site.township_code == "410183001000"


@pytest.mark.parametrize("typed", ["34°32'25\"N 113°22'50\"E", "N34°32′25″ E113°22′50″", "113°22′50″E,34°32′25″N",
                                   "34度32分25秒 113度22分50秒"])
def test_degrees_minutes_seconds(index, typed):
    site = s.search(typed, index).sites[0]
    assert site.lat == pytest.approx(34 + 32 / 60 + 25 / 3600, abs=1e-6)
    assert site.lon == pytest.approx(113 + 22 / 60 + 50 / 3600, abs=1e-6)


@pytest.mark.parametrize("fmt", ["gcj02:{x},{y}", "{x},{y} 高德", "GCJ-02 {y} {x}", "{x}，{y}（腾讯）"])
def test_gcj02_typed_lands_within_1m_of_the_wgs84_truth(index, fmt):
    truth = SITE
    gx, gy = gcj02.wgs_to_gcj(np.array([truth[0]]), np.array([truth[1]]))
    r = s.search(fmt.format(x=f"{gx[0]:.7f}", y=f"{gy[0]:.7f}"), index)
    site = r.sites[0]
    assert r.typed.crs == "gcj02"
    assert metres((site.lon, site.lat), truth) < 1.0
    assert metres((site.gcj_lon, site.gcj_lat), (gx[0], gy[0])) < 1.0
    assert site.township_code == "410183104000"


@pytest.mark.parametrize("fmt", ["bd09:{x},{y}", "{x},{y} 百度"])
def test_bd09_typed_lands_within_1m_of_the_wgs84_truth(index, fmt):
    bx, by = gcj02.wgs_to_bd(np.array([SITE[0]]), np.array([SITE[1]]))
    r = s.search(fmt.format(x=f"{bx[0]:.7f}", y=f"{by[0]:.7f}"), index)
    assert r.typed.crs == "bd09"
    assert metres((r.sites[0].lon, r.sites[0].lat), SITE) < 1.0


def test_coordinates_outside_the_city_are_flagged(index):
    r = s.search("116.39,39.91", index)
    assert r.sites[0].township_code == "" and "不在新密市" in r.message


def test_not_coordinates():
    for q in ["金水湾", "12345", "XM-410183-0042", "200,300", "113.38"]:
        assert s.parse_coordinates(q) is None, q


def test_results_carry_gcj02_and_township(index):
    site = s.search("SJ2024-0007", index).sites[0]
    gx, gy = gcj02.wgs_to_gcj(np.array([site.lon]), np.array([site.lat]))
    assert (site.gcj_lon, site.gcj_lat) == pytest.approx((gx[0], gy[0]), abs=1e-6)
    assert site.township_name == "超化镇"
    answer = json.loads(json.dumps(s.search("SJ2024-0007", index).to_dict(), ensure_ascii=False))
    assert answer["sites"][0]["kind_zh"] == "突发事件"


def test_township_name_ranks_villages_of_that_township_first(index):
    r = s.search("米村镇朝阳沟", index)
    assert r.sites[0].key == "朝阳沟村"


# ---- the demo data: each search form finds the planted site ------------------------------------

def _dms(v: float, pos: str, neg: str) -> str:
    h = pos if v >= 0 else neg
    v = abs(v)
    d, m = int(v), int((v - int(v)) * 60)
    sec = (v - d - m / 60) * 3600
    return f"{d}°{m}'{sec:.3f}\"{h}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The city demo written and loaded by the ETL into a GeoPackage store, with its manifest."""
    from itertools import groupby

    from etl.demo import write_demo
    from etl.kinds import LOAD_ORDER
    from etl.pipeline import load_files
    from geodata.store import open_store

    out = tmp_path_factory.mktemp("demo")
    manifest = write_demo(out, scale="city")
    store = open_store(str(out / "demo.gpkg"))
    files = sorted(manifest["files"], key=lambda f: LOAD_ORDER.index(f["kind"]))
    for crs, grp in groupby(files, key=lambda f: f.get("crs") or "wgs84"):
        load_files(store, [str(out / f["file"]) for f in grp], crs=crs, user="test", progress=False)
    return store, s.load_index(store), manifest


def _planted(demo, site):
    return next(p for p in demo[2]["planted_sites"] if p["site"] == site)


@pytest.mark.parametrize("site", ["incident", "project", "case"])
def test_demo_planted_site_by_number_fragment_and_address(demo, site):
    store, index, _ = demo
    p = _planted(demo, site)
    queries = [p["key"], p["key"].lower(), p["search"]]
    if site != "project":
        queries.append(p["address"])  # the whole address as typed from the file
    for q in queries:
        r = s.search(q, index)
        assert r.status == "found", (q, r.message)
        top = r.sites[0]
        assert (top.key, top.township_code) == (p["key"], p["township_code"]), q
        assert metres((top.lon, top.lat), (p["lon"], p["lat"])) < 1.0, q


@pytest.mark.parametrize("site", ["incident", "project", "case"])
def test_demo_planted_site_by_typed_coordinates(demo, site):
    _, index, _ = demo
    p = _planted(demo, site)
    x, y = p["lon"], p["lat"]
    gx, gy = gcj02.wgs_to_gcj(np.array([x]), np.array([y]))
    bx, by = gcj02.wgs_to_bd(np.array([x]), np.array([y]))
    typed = [f"{x},{y}", f"{y} {x}", f"{_dms(y, 'N', 'S')} {_dms(x, 'E', 'W')}",
             f"gcj02:{gx[0]:.7f},{gy[0]:.7f}", f"{gx[0]:.7f},{gy[0]:.7f} 高德", f"{bx[0]:.7f},{by[0]:.7f} 百度"]
    for q in typed:
        top = s.search(q, index).sites[0]
        assert top.kind == "coordinate" and top.township_code == p["township_code"], q
        assert metres((top.lon, top.lat), (x, y)) < 1.0, q


def test_demo_employer_by_name_and_credit_code(demo):
    store, index, _ = demo
    p = _planted(demo, "case")
    case = pd.DataFrame(store.read("cases", where={"case_no": p["key"]}))
    code = str(case["credit_code"].iloc[0])
    ent = pd.DataFrame(store.read("enterprises", where={"credit_code": code}))
    assert len(ent) == 1
    for q in (code, str(ent["name"].iloc[0])):
        top = s.search(q, index).sites[0]
        assert (top.kind, top.key) == ("enterprise", code), q


def test_demo_address_through_the_gazetteer(demo):
    store, index, _ = demo
    p = _planted(demo, "case")
    from etl.gazetteer import entries

    villages = entries(store)
    village = next(v for v in villages.loc[villages["township_code"] == p["township_code"], "name"] if v in p["address"])
    top = s.search(village, index).sites[0]
    assert (top.kind, top.key, top.township_code) == ("place", village, p["township_code"])
    nearest = s.search(p["address"].replace(p["search"], ""), index).sites[0]  # "新密市超化镇何湾村": the village
    assert nearest.kind == "place" and nearest.key == village


def test_search_cli_gives_ranked_sites_with_both_coordinates_and_what_is_near(store):
    with store.begin() as conn:
        b = store.new_batch(conn, "projects", "t.xlsx", "t")
        store.upsert(conn, "projects", pd.DataFrame({
            "project_code": ["XM-1", "XM-2"], "name": ["金水湾安置房一期", "远处项目"], "township_code": "410183104000",
            "lon": [SITE[0], SITE[0] + 0.05], "lat": [SITE[1], SITE[1]]}), b)
    out = s.search_cli(store, "金水湾", radius_km=1.0)
    json.dumps(out, ensure_ascii=False)  # serialisable as is
    site = out["sites"][0]
    assert out["status"] == "found" and out["radius_km"] == 1.0
    assert (site["key"], site["township_code"]) == ("XM-1", "410183104000")
    gx, gy = gcj02.wgs_to_gcj(np.array([SITE[0]]), np.array([SITE[1]]))
    assert (site["gcj_lon"], site["gcj_lat"]) == pytest.approx((gx[0], gy[0]), abs=1e-6)
    assert [i["key"] for i in site["nearby"]["items"]] == ["XM-1"] and site["nearby"]["summary"]["projects"] == 1
    none = s.search_cli(store, "不存在的地方")
    assert none["status"] == "none" and none["sites"] == [] and "未找到" in none["message"]
