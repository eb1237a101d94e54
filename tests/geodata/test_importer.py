"""Tests for geodata.importer: formats, CRSs, repairs, matching, refusals, both store backends."""

from __future__ import annotations

import zipfile

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geodata.boundaries import PROJECTED_CRS, demo_boundaries
from geodata.gcj02 import transform_geometries, wgs_to_gcj
from geodata.importer import BoundaryImportError, import_boundaries, parse_mapping
from geodata.importer_match import FUZZY_MIN
from geodata.importer_topology import repair
from geodata.townships import BY_CODE, TOWNSHIPS

KUANGQU, FUXISHAN, QULIANG, CHAOHUA, QINGPING = (
    "410183400000", "410183401000", "410183113000", "410183104000", "410183001000",
)


def demo(columns=("code", "name")) -> gpd.GeoDataFrame:
    """The demonstration boundaries as a fresh attribute table + geometry (WGS-84)."""
    d = demo_boundaries()
    return d[[*columns, "geometry"]].copy()


def rename(gdf: gpd.GeoDataFrame, code: str, name: str) -> gpd.GeoDataFrame:
    gdf.loc[gdf["code"] == code, "name"] = name
    return gdf


def snapshot(store) -> dict[str, tuple[bool, str]]:
    t = store.townships()
    return {c: (bool(d), g.wkb_hex) for c, d, g in zip(t["code"], t["is_demo"], t.geometry, strict=False)}


def assert_lands_on_demo(store, tol_m: float = 1.0) -> None:
    """Every stored unit is the demo boundary to within tol_m, not demo, with its point inside."""
    got = store.townships().set_index("code").to_crs(PROJECTED_CRS)
    want = demo_boundaries().set_index("code").to_crs(PROJECTED_CRS)
    assert sorted(got.index) == sorted(BY_CODE)
    assert not got["is_demo"].astype(bool).any()
    assert not store.boundaries_are_demo()
    for code in want.index:
        assert shapely.hausdorff_distance(got.geometry[code], want.geometry[code]) < tol_m, code
        assert got.loc[code, "area_km2"] == pytest.approx(want.loc[code, "area_km2"], rel=1e-4)
    pts = gpd.GeoSeries(gpd.points_from_xy(got["lon"], got["lat"]), crs=4326, index=got.index).to_crs(PROJECTED_CRS)
    assert got.geometry.contains(pts).all()


# ---- both backends ------------------------------------------------------------------------------
def test_shapefile_in_4547_round_trips(store, tmp_path):
    path = tmp_path / "townships.shp"
    demo().to_crs(4547).to_file(path)
    assert store.boundaries_are_demo()

    report = import_boundaries(store, path)

    assert report.written and "4547" in report.crs
    assert {m.method for m in report.matched} == {"code"}
    assert len(report.matched) == 19 and not report.missing
    assert report.overlaps == [] and report.gaps == [] and report.repaired == []
    assert sum(report.areas.values()) == pytest.approx(demo_boundaries()["area_km2"].sum(), rel=1e-4)
    assert_lands_on_demo(store)
    assert "示意" not in report.to_text().split("结果：")[1].replace("不再标注“示意边界”", "")


def test_geojson_in_gcj02_lands_within_1m(store, tmp_path):
    gdf = demo(("name",))
    gdf["geometry"] = transform_geometries(gdf.geometry.to_numpy(), wgs_to_gcj)
    path = tmp_path / "amap.geojson"
    gdf.to_file(path, driver="GeoJSON")

    report = import_boundaries(store, path, crs="gcj02")

    assert "GCJ-02" in report.crs
    assert {m.method for m in report.matched} == {"name"}
    assert_lands_on_demo(store, tol_m=1.0)


def test_refusal_leaves_store_unchanged(store, tmp_path):
    gdf = demo()
    gdf = rename(gdf, KUANGQU, "七里岗镇")
    gdf.loc[gdf["code"] == KUANGQU, "code"] = "410183111"  # obsolete code, falls back to the name
    gdf = gdf[gdf["code"] != CHAOHUA]  # a missing unit
    path = tmp_path / "bad.gpkg"
    gdf.to_file(path)
    before = snapshot(store)
    version = store.data_version()

    with pytest.raises(BoundaryImportError) as err:
        import_boundaries(store, path)

    msg = str(err.value)
    assert "七里岗镇" in msg and "已撤销" in msg  # the unmatched feature, named with its obsolete code
    assert "--map 七里岗镇=" in msg  # the --map to use
    assert "超化镇（410183104000）" in msg and "--allow-missing" in msg  # the missing unit
    assert all(t.name in msg for t in TOWNSHIPS)  # the valid names
    assert msg.rstrip().endswith("未写入任何数据。")
    assert snapshot(store) == before and store.data_version() == version
    assert store.boundaries_are_demo()


# ---- formats and CRSs (embedded store) -------------------------------------------------------------
def test_zipped_shapefile(gpkg_store, tmp_path):
    folder = tmp_path / "shp"
    folder.mkdir()
    demo().to_crs(3857).to_file(folder / "xz.shp")
    zpath = tmp_path / "乡镇界.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for f in folder.iterdir():
            z.write(f, f"data/{f.name}")

    report = import_boundaries(gpkg_store, zpath)

    assert "3857" in report.crs and report.written
    assert_lands_on_demo(gpkg_store, tol_m=0.01)


@pytest.mark.parametrize("epsg", [4490, 3395, 4326])
def test_other_crs_from_file(gpkg_store, tmp_path, epsg):
    path = tmp_path / f"b{epsg}.gpkg"
    demo().set_crs(4490, allow_override=True).to_file(path) if epsg == 4490 else demo().to_crs(epsg).to_file(path)
    report = import_boundaries(gpkg_store, path)
    assert str(epsg) in report.crs
    assert_lands_on_demo(gpkg_store, tol_m=0.01)


def test_file_without_crs_is_refused_then_crs_overrides(gpkg_store, tmp_path):
    path = tmp_path / "noprj.shp"
    demo().to_crs(4547).to_file(path)
    path.with_suffix(".prj").unlink()

    with pytest.raises(BoundaryImportError) as err:
        import_boundaries(gpkg_store, path)
    msg = str(err.value)
    assert ".prj" in msg and "--crs" in msg
    for allowed in ("wgs84", "cgcs2000", "EPSG:4547", "EPSG:3857", "EPSG:3395", "gcj02"):
        assert allowed in msg
    assert "像 EPSG:4547" in msg  # a hint from the coordinate range
    assert gpkg_store.boundaries_are_demo()

    report = import_boundaries(gpkg_store, path, crs="EPSG:4547")
    assert "--crs" in report.crs
    assert_lands_on_demo(gpkg_store)


def test_wrong_crs_is_refused(gpkg_store, tmp_path):
    path = tmp_path / "merc.gpkg"
    demo().to_crs(3857).to_file(path)
    with pytest.raises(BoundaryImportError, match="坐标系很可能不对"):
        import_boundaries(gpkg_store, path, crs="EPSG:4547")
    with pytest.raises(BoundaryImportError, match="无法识别"):
        import_boundaries(gpkg_store, path, crs="not-a-crs")
    assert gpkg_store.boundaries_are_demo()


def test_undeclared_gcj02_is_hinted(gpkg_store, tmp_path):
    gdf = demo()
    gdf["geometry"] = transform_geometries(gdf.geometry.to_numpy(), wgs_to_gcj)
    path = tmp_path / "amap.geojson"
    gdf.to_file(path, driver="GeoJSON")
    report = import_boundaries(gpkg_store, path)  # GeoJSON says WGS-84; the shape says otherwise
    assert any("--crs gcj02" in w for w in report.warnings)


# ---- repairs ---------------------------------------------------------------------------------------
def test_bow_tie_polygon_is_repaired():
    bow_tie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])
    assert not bow_tie.is_valid
    fixed, repairs = repair(np.array([bow_tie, shapely.box(5, 5, 6, 6)], dtype=object), lambda g: shapely.area(g))
    assert fixed[0].is_valid and fixed[0].geom_type == "MultiPolygon" and len(fixed[0].geoms) == 2
    assert fixed[0].area == pytest.approx(2.0)
    assert [r.feature for r in repairs] == [0] and "自相交" in repairs[0].problem and repairs[0].parts == 2
    assert fixed[1].geom_type == "MultiPolygon"  # valid parts are kept, as MultiPolygon


def test_bow_tie_feature_is_repaired_and_reported(gpkg_store, tmp_path):
    gdf = demo()
    i = int(np.flatnonzero(gdf["code"] == CHAOHUA)[0])
    ring = np.asarray(gdf.geometry.iloc[i].geoms[0].exterior.coords)
    ring[[3, 4]] = ring[[4, 3]]  # swap two vertices: the ring crosses itself (a bow-tie)
    twisted = shapely.Polygon(ring)
    assert not twisted.is_valid
    gdf.loc[gdf.index[i], "geometry"] = twisted
    path = tmp_path / "twisted.geojson"
    gdf.to_file(path, driver="GeoJSON")

    report = import_boundaries(gpkg_store, path)

    assert [r.feature for r in report.repaired] == [i]
    assert "自相交" in report.repaired[0].problem and report.repaired[0].parts >= 1
    assert "已修复 1 个无效几何" in report.to_text()
    stored = gpkg_store.townships().set_index("code")
    assert stored.geometry[CHAOHUA].is_valid and stored.geometry[CHAOHUA].geom_type == "MultiPolygon"
    before = demo_boundaries().set_index("code").loc[CHAOHUA, "area_km2"]
    assert stored.loc[CHAOHUA, "area_km2"] == pytest.approx(before, rel=0.15)
    assert any(CHAOHUA in g.neighbours for g in report.gaps)  # the cut-off triangle shows as a gap


# ---- matching --------------------------------------------------------------------------------------
def test_names_with_banshichu_old_names_and_jianshan_match_by_alias(gpkg_store, tmp_path):
    gdf = demo(("name",)).assign(code=demo()["code"])
    gdf = rename(gdf, QINGPING, "青屏街街道办事处")
    gdf = rename(gdf, KUANGQU, "新密市矿区办事处")
    gdf = rename(gdf, QULIANG, "曲梁乡")
    gdf = rename(gdf, FUXISHAN, "尖山风景区管委")
    path = tmp_path / "names.geojson"
    gdf.drop(columns="code").to_file(path, driver="GeoJSON")

    report = import_boundaries(gpkg_store, path)

    by_code = {m.code: m for m in report.matched}
    for code in (QINGPING, KUANGQU, QULIANG, FUXISHAN):
        assert by_code[code].method == "alias", code
    assert by_code[CHAOHUA].method == "name"
    assert_lands_on_demo(gpkg_store)


def test_misspelt_name_matches_fuzzily_with_score(gpkg_store, tmp_path):
    gdf = rename(demo(("code", "name")), CHAOHUA, "超化真").drop(columns="code")
    path = tmp_path / "typo.geojson"
    gdf.to_file(path, driver="GeoJSON")

    report = import_boundaries(gpkg_store, path)

    m = next(m for m in report.matched if m.code == CHAOHUA)
    assert m.method == "fuzzy" and FUZZY_MIN <= m.score < 100 and m.score == pytest.approx(80.0)
    assert "模糊名称，得分 80" in report.to_text()


def test_obsolete_code_falls_back_to_name(gpkg_store, tmp_path):
    gdf = rename(demo(), FUXISHAN, "尖山风景区管委")
    gdf["code"] = gdf["code"].str[:9]  # 9-digit codes
    gdf.loc[gdf["code"] == FUXISHAN[:9], "code"] = "410183201"  # 尖山乡, abolished
    path = tmp_path / "old.shp"
    gdf.to_file(path)

    report = import_boundaries(gpkg_store, path)

    by_code = {m.code: m for m in report.matched}
    assert by_code[FUXISHAN].method == "alias"
    assert by_code[CHAOHUA].method == "code"
    assert any("410183201" in w and "已撤销" in w for w in report.warnings)


def test_map_takes_precedence(gpkg_store, tmp_path):
    gdf = rename(demo(("code", "name")), KUANGQU, "七里岗镇").drop(columns="code")
    gdf = rename(gdf.assign(code=demo()["code"]), CHAOHUA, "乙").drop(columns="code")
    path = tmp_path / "map.geojson"
    gdf.to_file(path, driver="GeoJSON")

    report = import_boundaries(gpkg_store, path, mapping={"七里岗镇": "410183400", "乙": CHAOHUA, "不存在": QINGPING})

    by_code = {m.code: m for m in report.matched}
    assert by_code[KUANGQU].method == "map" and by_code[CHAOHUA].method == "map"
    assert any("不存在" in w for w in report.warnings)
    with pytest.raises(BoundaryImportError, match="--map 的右边"):
        import_boundaries(gpkg_store, path, mapping={"七里岗镇": "4101839999"})


def test_unmatched_feature_refused_even_with_allow_missing(gpkg_store, tmp_path):
    gdf = rename(demo(("code", "name")), CHAOHUA, "某某开发区").drop(columns="code")
    path = tmp_path / "x.geojson"
    gdf.to_file(path, driver="GeoJSON")
    with pytest.raises(BoundaryImportError) as err:
        import_boundaries(gpkg_store, path, allow_missing=True)
    msg = str(err.value)
    assert "要素" in msg and "某某开发区" in msg and "--map 某某开发区=" in msg
    assert "超化镇（410183104000）" in msg  # also named as missing
    assert err.value.report is not None and CHAOHUA in err.value.report.missing
    assert gpkg_store.boundaries_are_demo()


def test_allow_missing_keeps_old_boundary(gpkg_store, tmp_path):
    gdf = demo()
    gdf = gdf[gdf["code"] != CHAOHUA]
    path = tmp_path / "part.gpkg"
    gdf.to_file(path)

    report = import_boundaries(gpkg_store, path, allow_missing=True)

    assert report.missing == [CHAOHUA] and report.written
    t = gpkg_store.townships().set_index("code")
    assert bool(t.loc[CHAOHUA, "is_demo"]) and not t.drop(index=CHAOHUA)["is_demo"].astype(bool).any()
    assert gpkg_store.boundaries_are_demo()  # one unit still shows 示意边界
    assert "保留原边界" in report.to_text()


def test_two_features_of_one_unit_are_merged(gpkg_store, tmp_path):
    gdf = demo()
    geom = gdf.loc[gdf["code"] == CHAOHUA, "geometry"].iloc[0]
    minx, miny, maxx, maxy = geom.bounds
    mid = (minx + maxx) / 2
    west = shapely.intersection(geom, shapely.box(minx - 1, miny - 1, mid, maxy + 1))
    east = shapely.intersection(geom, shapely.box(mid, miny - 1, maxx + 1, maxy + 1))
    gdf = gdf[gdf["code"] != CHAOHUA]
    extra = gpd.GeoDataFrame({"code": [CHAOHUA, CHAOHUA], "name": ["超化镇", "超化镇"]}, geometry=[west, east], crs=4326)
    path = tmp_path / "split.geojson"
    both = np.concatenate([gdf.to_numpy(), extra.to_numpy()])
    gpd.GeoDataFrame(both, columns=gdf.columns, geometry="geometry", crs=4326).to_file(path, driver="GeoJSON")

    report = import_boundaries(gpkg_store, path)

    assert [m.feature for m in report.matched if m.code == CHAOHUA] == [18, 19]
    assert any("已合并" in w and "18、19" in w for w in report.warnings)
    assert_lands_on_demo(gpkg_store, tol_m=1.0)


def test_gaps_and_overlaps_are_reported(gpkg_store, tmp_path):
    gdf = demo().to_crs(PROJECTED_CRS)
    grow, shrink = gdf["code"] == CHAOHUA, gdf["code"] == QINGPING
    gdf.loc[grow, "geometry"] = gdf.loc[grow].buffer(300)  # overlaps its neighbours
    gdf.loc[shrink, "geometry"] = gdf.loc[shrink].buffer(-300)  # leaves a ring-shaped gap
    path = tmp_path / "messy.gpkg"
    gdf.to_file(path)

    report = import_boundaries(gpkg_store, path)

    assert report.overlaps and all(CHAOHUA in (o.code_a, o.code_b) for o in report.overlaps)
    assert all(o.area_km2 > 0.01 for o in report.overlaps)
    assert report.gaps and QINGPING in report.gaps[0].neighbours
    assert report.gaps[0].area_km2 > 1.0
    text = report.to_text()
    assert "重叠" in text and "超化镇" in text and "缝隙" in text


def test_gbk_shapefile_without_cpg(gpkg_store, tmp_path):
    path = tmp_path / "gbk.shp"
    demo(("name",)).to_file(path, encoding="gbk")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    report = import_boundaries(gpkg_store, path)
    assert {m.method for m in report.matched} == {"name"}


def test_unreadable_inputs_are_refused(gpkg_store, tmp_path):
    with pytest.raises(BoundaryImportError, match="不存在"):
        import_boundaries(gpkg_store, tmp_path / "nope.shp")
    (tmp_path / "a.csv").write_text("x\n")
    with pytest.raises(BoundaryImportError, match="不支持"):
        import_boundaries(gpkg_store, tmp_path / "a.csv")
    pts = gpd.GeoDataFrame({"name": ["超化镇"]}, geometry=gpd.points_from_xy([113.4], [34.43]), crs=4326)
    pts.to_file(tmp_path / "pts.geojson", driver="GeoJSON")
    with pytest.raises(BoundaryImportError, match="不含任何面要素"):
        import_boundaries(gpkg_store, tmp_path / "pts.geojson")


def test_parse_mapping():
    assert parse_mapping(["七里岗镇=410183400000", " 乙 = 410183104 "]) == {"七里岗镇": "410183400000", "乙": "410183104"}
    assert parse_mapping(None) == {}
    with pytest.raises(BoundaryImportError, match="格式不对"):
        parse_mapping(["七里岗镇"])
    with pytest.raises(BoundaryImportError, match="可用的单位"):
        parse_mapping(["七里岗镇=999"])
