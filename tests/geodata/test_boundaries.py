"""Tests for geodata.boundaries: the demonstration boundaries meet the numbers of issue 2."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from geodata.boundaries import DEMO_LABEL, PROJECTED_CRS, area_km2, city_outline, demo_boundaries, township_points
from geodata.townships import TOWNSHIPS


@pytest.fixture(scope="module")
def demo():
    return demo_boundaries()


@pytest.fixture(scope="module")
def projected(demo):
    return demo.to_crs(PROJECTED_CRS)


def test_one_valid_multipolygon_per_unit(demo):
    assert list(demo["code"]) == [t.code for t in TOWNSHIPS]
    assert demo.crs.to_epsg() == 4326
    assert demo.geometry.is_valid.all()
    assert (demo.geometry.geom_type == "MultiPolygon").all()
    assert not demo.geometry.is_empty.any()
    assert demo["is_demo"].all() and DEMO_LABEL == "示意边界"


def test_union_equals_outline(projected):
    outline = gpd.GeoSeries([city_outline()], crs=4326).to_crs(PROJECTED_CRS).iloc[0]
    union = shapely.union_all(projected.geometry.to_numpy())
    assert abs(union.area - outline.area) / outline.area < 0.001
    assert shapely.symmetric_difference(union, outline).area / outline.area < 0.001
    assert 900 < outline.area / 1e6 < 1100  # 新密市 is about 1000 km²


def test_no_overlap_above_a_hectare(projected):
    geoms = projected.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    areas = shapely.area(shapely.intersection(geoms[left[keep]], geoms[right[keep]])) / 1e6
    assert len(areas) > 0  # neighbours do touch
    assert areas.max() <= 0.01


def test_each_unit_contains_its_own_point(demo):
    pts = township_points()
    assert list(pts["code"]) == list(demo["code"])
    assert demo.geometry.contains(pts.geometry).all()
    # and no other unit's point
    for i, g in enumerate(demo.geometry):
        inside = pts.geometry.within(g)
        assert list(inside[inside].index) == [i]


def test_areas_are_computed_in_4547(demo, projected):
    expected = projected.geometry.area.to_numpy() / 1e6
    assert demo["area_km2"].to_numpy() == pytest.approx(expected, rel=1e-9)
    assert area_km2(demo) == pytest.approx(expected, rel=1e-9)
    # not square degrees (which would be ~0.01 for a unit this size)
    assert (demo["area_km2"] > 1).all()
    # EPSG:4547 is CGCS2000 / 3-degree Gauss-Kruger CM 114E
    assert "114" in gpd.GeoSeries([], crs=PROJECTED_CRS).crs.name
