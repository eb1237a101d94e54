"""Geocoding (coordinates, swapped, GCJ-02/BD-09, outside the city, gazetteer, township), township assignment, gazetteer."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from etl import gazetteer as gz
from etl.coords import from_wgs84, haversine_m
from etl.geocode import Geography, assign_township, geocode, match_addresses, related_township, trie_regex

CHAOHUA = "410183104000"
LIUZHAI = "410183107000"


@pytest.fixture(scope="module")
def geo():
    return Geography.build()


def _village(geo, township, i=0):
    g = geo.gazetteer
    return g[(g["township_code"] == township) & (g["kind"] == "村") & ~g["name"].isin(gz.SHARED_NAMES)].iloc[i]


def frame(**cols):
    n = len(next(iter(cols.values())))
    df = pd.DataFrame(cols)
    df["source_row"] = np.arange(2, 2 + n)
    for c in ("lon", "lat"):
        if c not in df:
            df[c] = np.nan
    return df


def test_coordinates_swapped_and_outside(geo):
    df = frame(lon=[113.40, 34.43, 120.0, 113.40, 0.0], lat=[34.43, 113.40, 30.0, np.nan, 0.0])
    g = geocode(df, geo)
    got = g.data.set_index("source_row")
    assert got.loc[2, "geocode_method"] == "coord" and got.loc[2, "geocode_confidence"] == 1.0
    assert got.loc[3, "geocode_method"] == "coord_swapped" and (got.loc[3, "lon"], got.loc[3, "lat"]) == (113.40, 34.43)
    assert got.loc[6, "geocode_method"] == "none"  # 0,0 is a placeholder, not a place
    rej = g.rejected.set_index("source_row")
    assert rej.loc[4, "reason_code"] == "outside_city" and "经度 120" in rej.loc[4, "reason"]
    assert rej.loc[5, "reason_code"] == "bad_coord"


@pytest.mark.parametrize("crs", ["gcj02", "bd09", "EPSG:4547"])
def test_declared_crs_is_converted_to_wgs84(geo, crs):
    truth_lon, truth_lat = np.array([113.40, 113.52]), np.array([34.43, 34.60])
    x, y = from_wgs84(truth_lon, truth_lat, crs)
    g = geocode(frame(lon=x, lat=y), geo, crs)
    assert (g.data["geocode_method"] == "coord").all()
    assert haversine_m(g.data["lon"], g.data["lat"], truth_lon, truth_lat).max() < 0.5


def test_swapped_gcj02(geo):
    x, y = from_wgs84([113.40], [34.43], "gcj02")
    g = geocode(frame(lon=y, lat=x), geo, "gcj02")
    assert g.data["geocode_method"].tolist() == ["coord_swapped"]
    assert haversine_m(g.data["lon"], g.data["lat"], 113.40, 34.43)[0] < 0.5


def test_address_to_gazetteer_point(geo):
    v = _village(geo, CHAOHUA)
    short = v["name"][:-1]
    df = frame(
        address=[f"新密市超化镇{v['name']}3组", f"超化镇{short}东100米", "新密市超化镇人民路", "地址不详", None],
        declared_township=[None, None, None, None, LIUZHAI],
    )
    g = geocode(df, geo).data.set_index("source_row")
    assert g.loc[2, "geocode_method"] == g.loc[3, "geocode_method"] == "gazetteer"
    assert (g.loc[2, "lon"], g.loc[2, "lat"]) == (v["lon"], v["lat"])
    assert g.loc[4, "geocode_method"] == "township" and g.loc[4, "geocode_confidence"] == 0.4  # township named in the address
    assert g.loc[5, "geocode_method"] == "none" and g.loc[5, "geocode_confidence"] == 0
    assert g.loc[6, "geocode_method"] == "township" and g.loc[6, "geocode_confidence"] == 0.3  # the declared township's point


def test_a_name_in_two_townships_is_resolved_by_the_township(geo):
    g = geo.gazetteer
    wz = g[g["name"] == "王庄村"]
    assert set(wz["township_code"]) == {CHAOHUA, LIUZHAI}
    m = match_addresses(
        pd.Series(["新密市刘寨镇王庄村", "新密市超化镇王庄村", "新密市王庄村"]), pd.Series([None, None, None]), geo
    )
    lz = wz[wz["township_code"] == LIUZHAI].iloc[0]
    assert (m.loc[0, "lon"], m.loc[0, "lat"]) == (lz["lon"], lz["lat"]) and m.loc[0, "confidence"] == 0.8
    assert m.loc[1, "lon"] != lz["lon"]
    assert m.loc[2, "method"] == "gazetteer" and m.loc[2, "confidence"] == 0.5  # ambiguous


def test_fuzzy_match_of_a_misspelt_village(geo):
    g = geo.gazetteer
    long_names = g[(g["township_code"] == CHAOHUA) & (g["name"].str.len() >= 4) & ~g["name"].isin(gz.SHARED_NAMES)]
    v = long_names.iloc[0]
    typo = v["name"][0] + "某" + v["name"][2:]
    m = match_addresses(pd.Series([f"新密市超化镇{typo}5号"]), pd.Series([None]), geo)
    assert m.loc[0, "method"] == "gazetteer_fuzzy"
    assert (m.loc[0, "lon"], m.loc[0, "lat"]) == (v["lon"], v["lat"]) and 0 < m.loc[0, "confidence"] < 0.8


def test_assign_township_flags_a_disagreeing_declaration(geo):
    v = _village(geo, CHAOHUA)
    df = frame(lon=[v["lon"], v["lon"], np.nan], lat=[v["lat"], v["lat"], np.nan], declared_township=[CHAOHUA, LIUZHAI, LIUZHAI])
    out = assign_township(geocode(df, geo).data, geo)
    assert out["township_code"].tolist() == [CHAOHUA, CHAOHUA, LIUZHAI]
    assert out["declared_township"].tolist() == [CHAOHUA, LIUZHAI, LIUZHAI]
    assert out["township_mismatch"].tolist() == [False, True, False]


def test_points_in_the_outline_buffer_get_the_nearest_township(geo):
    outline = gpd.GeoSeries([geo.outline], crs=4326)
    inner = gpd.GeoSeries(list(geo.townships.geometry), crs=4326).union_all()
    ring = outline.difference(inner).iloc[0]  # inside the buffered outline, outside every township
    p = ring.representative_point()
    out = assign_township(frame(lon=[p.x], lat=[p.y]), geo)
    assert out["township_code"].iloc[0] in set(geo.townships["code"])


def test_related_township_for_kinds_without_points():
    lookups = {"projects": pd.Series({"XM-1": CHAOHUA}), "enterprises": pd.Series({"E1": LIUZHAI})}
    df = pd.DataFrame({"project_code": ["XM-1", "XM-9", None], "credit_code": [None, "E1", "E9"]})
    code, source = related_township(df, "deposits", lookups)
    assert code.tolist()[:2] == [CHAOHUA, LIUZHAI] and pd.isna(code.iloc[2])
    assert source.tolist() == ["project", "enterprise", "none"]
    code, source = related_township(pd.DataFrame({"unit_code": ["410183000000", CHAOHUA]}), "funds", {})
    assert code.tolist() == ["410183000000", CHAOHUA] and source.tolist() == ["unit_code", "unit_code"]


def test_trie_regex_prefers_the_longest_name():
    import re

    pat = re.compile(trie_regex(["王庄", "王庄村", "王家沟村"]))
    assert pat.search("新密市王庄村东").group(0) == "王庄村"
    assert pat.search("王家沟村").group(0) == "王家沟村"


# ---- the gazetteer ------------------------------------------------------------------------------


def test_bundled_gazetteer_is_synthetic_and_inside_each_township():
    from geodata.boundaries import demo_boundaries

    g = gz.bundled()
    assert len(g) > 150 and g["source"].str.contains("示例数据").all()
    b = demo_boundaries().set_index("code")
    pts = gpd.points_from_xy(g["lon"], g["lat"])
    assert all(b.geometry[c].contains(p) for c, p in zip(g["township_code"], pts, strict=False))
    assert set(g["township_code"]) == set(b.index)


def test_name_forms():
    assert gz.name_forms("黄固寺村") == {"黄固寺村", "黄固寺", "黄固寺村委会", "黄固寺村民委员会"}
    assert "幸福社区居委会" in gz.name_forms("幸福社区", "社区")


def test_official_village_list_import(store, tmp_path):
    p = tmp_path / "村级名录.csv"
    p.write_text(
        "统计用区划代码,名称,城乡分类代码,经度,纬度\n"
        "410183104201,黄固寺村民委员会,220,113.41,34.42\n"
        "410183001001,青华社区居民委员会,111,,\n"
        "999999999999,外地村委会,220,,\n",
        encoding="gbk",
    )
    rep = gz.import_village_list(store, p)
    assert (rep["rows_read"], rep["rows_loaded"], rep["rows_rejected"]) == (3, 2, 1)
    got = gz.entries(store).set_index("name")
    assert got.loc["黄固寺村", "township_code"] == CHAOHUA and got.loc["黄固寺村", "aliases"] == "黄固寺村民委员会"
    assert got.loc["青华社区", "kind"] == "社区" and pd.isna(got.loc["青华社区", "lon"])
    geo = Geography.from_store(store)
    m = match_addresses(pd.Series(["新密市超化镇黄固寺3组", "新密市青华社区"]), pd.Series([None, None]), geo)
    assert m.loc[0, "method"] == "gazetteer" and (m.loc[0, "lon"], m.loc[0, "lat"]) == (113.41, 34.42)
    assert m.loc[1, "method"] is None and m.loc[1, "township"] == "410183001000"  # no point: only its township
