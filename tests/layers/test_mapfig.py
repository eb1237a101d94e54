"""Plotly MapLibre figure building: geometry once with code ids, values-only updates, basemaps, GCJ-02."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import prcoords
import pytest

from geodata.boundaries import demo_boundaries
from geodata.settings import load_settings
from layers import mapfig
from layers.coverage import LAYERS
from layers.palettes import NO_DATA
from tests.layers.builders import MARCH, XSS, A, B, data, project, townships


def test_geojson_ids_are_codes_and_coverage_stays_valid():
    t = demo_boundaries()
    gj = mapfig.township_geojson(t, basemap="none")
    assert [f["id"] for f in gj["features"]] == list(t["code"])
    assert all(set(f["properties"]) == {"name"} for f in gj["features"])
    import shapely
    from shapely.geometry import shape

    geoms = [shape(f["geometry"]) for f in gj["features"]]
    assert all(g.is_valid for g in geoms)
    # simplified, but the area barely moves (< 1%) and the shared edges stay shared (no gaps)
    before = shapely.area(np.asarray(t.geometry.values)).sum()  # degrees²: only the ratio matters
    assert abs(sum(g.area for g in geoms) - before) / before < 0.01
    assert shapely.union_all(geoms).area == pytest.approx(shapely.union_all(np.asarray(t.geometry.values)).area, rel=1e-2)
    assert len(json.dumps(gj)) < 60_000


def test_gcj02_forward_matches_prcoords():
    lon = np.array([113.3780, 113.2341, 113.6450, 113.5])
    lat = np.array([34.5405, 34.5909, 34.5000, 34.38])
    glon, glat = mapfig.wgs84_to_gcj02(lon, lat)
    for x, y, gx, gy in zip(lon, lat, glon, glat, strict=True):
        ref = prcoords.wgs_gcj(prcoords.Coords(y, x))
        assert gx == pytest.approx(ref.lon, abs=1e-9) and gy == pytest.approx(ref.lat, abs=1e-9)
    # display only on AMap
    assert mapfig.display_lonlat(lon, lat, "none")[0].tolist() == lon.tolist()


def test_amap_geometry_shifted_for_display():
    t = townships()
    from shapely.geometry import shape

    plain = shape(mapfig.township_geojson(t, basemap="none")["features"][0]["geometry"]).bounds
    shifted = shape(mapfig.township_geojson(t, basemap="amap")["features"][0]["geometry"]).bounds
    assert 0.003 < abs(shifted[0] - plain[0]) < 0.01  # a few hundred metres east-west


def test_choropleth_values_only_and_escaped_names():
    d = data([project("P1"), project("P2", B, notice_board=False)])
    d.townships.loc[0, "name"] = XSS
    r = LAYERS["notice_board"].build(d, MARCH)
    tr = r.traces[0]
    assert "geojson" not in tr and tr["locations"] == [A, B] and tr["customdata"] == [A, B]
    assert tr["z"] == [5, 1]  # 100% is the top class (4) + 1; 0% the lowest (0) + 1; 0 is reserved for no data
    assert tr["colorscale"][0][1] == NO_DATA
    assert XSS not in tr["text"][0] and "&lt;img" in tr["text"][0]
    vals = mapfig.choropleth_values(r.by_township, _classes(r), r.title)
    assert set(vals) == {"locations", "z", "zmin", "zmax", "colorscale", "text", "customdata", "name"}


def _classes(r):
    from layers.coverage import threshold_pct
    from layers.palettes import coverage_classes

    return coverage_classes(r.by_township["value"], threshold_pct(r.key))


def test_figure_is_valid_plotly_with_white_background_and_demo_label():
    d = data([project("P1")])
    r = LAYERS["real_name"].build(d, MARCH)
    s = load_settings(basemap="none")
    fig = mapfig.figure(r, d.townships, settings=s)
    f = go.Figure(fig)  # validates every key
    assert f.layout.map.style == "white-bg" and not f.layout.map.layers
    assert f.data[0].geojson["features"][0]["id"] == A
    assert f.layout.uirevision == "map-city"
    assert any("示意边界" in a.text for a in f.layout.annotations)
    assert f.data[-1].mode == "text"
    official = mapfig.map_layout(townships(is_demo=False), s)
    assert not official["annotations"]
    focused = mapfig.map_layout(d.townships, s, focus=B)
    assert focused["uirevision"] == f"map-{B}" and focused["map"]["center"]["lon"] == pytest.approx(113.45)
    assert focused["map"]["zoom"] > fig["layout"]["map"]["zoom"]


@pytest.mark.parametrize("basemap,key,n,needle", [
    ("none", "", 0, None), ("tianditu", "", 0, None), ("tianditu", "KEY", 2, "tk=KEY"),
    ("amap", "", 1, "autonavi"), ("osm", "", 1, "openstreetmap")])
def test_basemap_layers(basemap, key, n, needle):
    s = load_settings(basemap=basemap, tianditu_key=key)
    layers = mapfig.basemap_layers(s)
    assert len(layers) == n
    if needle:
        assert needle in layers[0]["source"][0] and layers[0]["sourcetype"] == "raster"
        go.Figure(layout={"map": {"layers": layers}})


def test_point_trace_skips_unplaced_points():
    d = data([project("P1"), project("P2", lon=None, lat=None)])
    r = LAYERS["filing"].build(d, MARCH)
    tr = r.traces[1]
    assert tr["type"] == "scattermap" and len(tr["lon"]) == 1 and tr["customdata"] == ["/project/P1"]
