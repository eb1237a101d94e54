"""Plotly MapLibre figure building shared by the layers: township geometry once, values and points as traces.

Geometry is sent once: `township_geojson()` makes a FeatureCollection whose feature ids are
the 12-digit codes; a layer's choropleth trace (`traces[0]`) carries `locations`, `z`,
colours and hover text but no `geojson`, and `figure()` (or the page, once) attaches it.
Switching indicator or months changes only `choropleth_values()`: patch those keys of
`data[0]` and keep `layout.uirevision` so zoom survives.

Basemap from geodata.settings: none (`map_style="white-bg"`, fully offline), 天地图 (needs
`tianditu_key`), AMap (geometry and points shifted to GCJ-02 for display only) or OSM.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodata.boundaries import DEMO_LABEL
from geodata.gcj02 import transform_geometries, wgs_to_gcj
from geodata.settings import Settings, get_settings
from layers.base import LayerResult
from layers.palettes import NO_DATA, OUTLINE, Classes, stepped_colorscale

FONT = '"Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", sans-serif'
SIMPLIFY_DEG = 0.0008  # ~80 m: invisible at township zoom, a third fewer vertices
PRECISION_DEG = 1e-5  # ~1 m
TIANDITU = "https://t{n}.tianditu.gov.cn/DataServer?T={layer}_w&x={{x}}&y={{y}}&l={{z}}&tk={key}"
AMAP = "https://webrd0{n}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={{x}}&y={{y}}&z={{z}}"
OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


# ---- coordinates for display ---------------------------------------------------------------

def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 -> GCJ-02 (geodata.gcj02, vectorised); for AMap display only."""
    return wgs_to_gcj(np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64"))


def display_lonlat(lon, lat, basemap: str) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates as drawn on the chosen basemap (GCJ-02 on AMap, WGS-84 elsewhere)."""
    if basemap == "amap":
        return wgs84_to_gcj02(lon, lat)
    return np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")


# ---- township geometry (sent once) ----------------------------------------------------------


def township_geojson(townships: gpd.GeoDataFrame, basemap: str | None = None,
                     tolerance: float = SIMPLIFY_DEG) -> dict[str, Any]:
    """FeatureCollection of the townships, ids = codes, simplified as a coverage (shared edges stay shared)."""
    basemap = basemap or get_settings().basemap
    geoms = np.asarray(townships.to_crs(4326).geometry.values, dtype=object)
    try:
        geoms = shapely.coverage_simplify(geoms, tolerance)
    except Exception:  # not a clean coverage (e.g. an imported file with overlaps): per polygon
        geoms = shapely.simplify(geoms, tolerance, preserve_topology=True)
    if basemap == "amap":
        geoms = transform_geometries(geoms, wgs_to_gcj)
    geoms = shapely.set_precision(geoms, PRECISION_DEG)
    texts = shapely.to_geojson(geoms)
    features = [
        {"type": "Feature", "id": code, "properties": {"name": name}, "geometry": json.loads(t)}
        for code, name, t in zip(townships["code"], townships["name"], texts, strict=True)
        if t is not None
    ]
    return {"type": "FeatureCollection", "features": features}


def center_zoom(townships: gpd.GeoDataFrame, focus: str | None = None, width_px: int = 700,
                height_px: int = 560) -> tuple[dict[str, float], float]:
    """Map centre and zoom that fit the city (or one township when `focus` is its code)."""
    g = townships
    if focus is not None and (townships["code"] == focus).any():
        g = townships[townships["code"] == focus]
    minx, miny, maxx, maxy = g.to_crs(4326).total_bounds
    if not np.isfinite([minx, miny, maxx, maxy]).all():
        return {"lon": 113.39, "lat": 34.50}, 9.5
    span_x = max(maxx - minx, 1e-3) * 1.15
    span_y = max(maxy - miny, 1e-3) * 1.15 / math.cos(math.radians((miny + maxy) / 2))
    # MapLibre: the world is 512 px wide at zoom 0
    zoom = min(math.log2(width_px * 360 / (512 * span_x)), math.log2(height_px * 360 / (512 * span_y)))
    return {"lon": (minx + maxx) / 2, "lat": (miny + maxy) / 2}, round(min(zoom, 16.0), 2)


# ---- traces ---------------------------------------------------------------------------------


def choropleth_values(by_township: pd.DataFrame, classes: Classes, title: str,
                      names: dict[str, str] | None = None) -> dict[str, Any]:
    """The keys of the choropleth trace that change with the indicator (z, colours, hover)."""
    codes = by_township["code"].astype(str).tolist()
    z = (np.asarray(classes.index) + 1).tolist()  # 0 = no data
    colors = [NO_DATA, *classes.colors]
    names = names or {}
    name_col = by_township["name"] if "name" in by_township.columns else by_township["code"].map(names)
    text = [
        f"<b>{html.escape(str(n if isinstance(n, str) else c))}</b><br>{html.escape(title)}：{html.escape(str(lab))}"
        for c, n, lab in zip(codes, name_col, by_township["label"], strict=True)
    ]
    return {
        "locations": codes,
        "z": z,
        "zmin": -0.5,
        "zmax": len(colors) - 0.5,
        "colorscale": stepped_colorscale(colors),
        "text": text,
        "customdata": codes,
        "name": title,
    }


def choropleth_trace(by_township: pd.DataFrame, classes: Classes, title: str,
                     geojson: dict | None = None) -> dict[str, Any]:
    """A `choroplethmap` trace; without `geojson` (attached once by the page or `figure()`)."""
    tr = {
        "type": "choroplethmap",
        "featureidkey": "id",
        "showscale": False,
        "marker": {"line": {"color": OUTLINE, "width": 1}, "opacity": 0.85},
        "hovertemplate": "%{text}<extra></extra>",
        "uid": "townships",
        **choropleth_values(by_township, classes, title),
    }
    if geojson is not None:
        tr["geojson"] = geojson
    return tr


def point_trace(points: pd.DataFrame, name: str, basemap: str | None = None, uid: str = "points") -> dict[str, Any]:
    """A `scattermap` trace from LayerResult.points (lon, lat, label, color, size, link).

    `label` must already be escaped HTML (the layers escape user text); `customdata` holds
    the link a click opens (/project/<code> or /enterprise/<credit_code>).
    """
    basemap = basemap or get_settings().basemap
    pts = points[points["lon"].notna() & points["lat"].notna()] if len(points) else points
    lon, lat = display_lonlat(pts.get("lon", []), pts.get("lat", []), basemap)
    return {
        "type": "scattermap",
        "mode": "markers",
        "name": name,
        "uid": uid,
        "lon": lon.round(6).tolist(),
        "lat": lat.round(6).tolist(),
        "marker": {"size": pts["size"].round(1).tolist() if len(pts) else [],
                   "color": pts["color"].tolist() if len(pts) else [], "opacity": 0.85},
        "text": pts["label"].tolist() if len(pts) else [],
        "customdata": pts["link"].fillna("").tolist() if len(pts) else [],
        "hovertemplate": "%{text}<extra></extra>",
        "showlegend": False,
    }


def label_trace(townships: gpd.GeoDataFrame, basemap: str | None = None) -> dict[str, Any]:
    """Township names as map text (MapLibre asks for glyphs online; labels still render offline)."""
    basemap = basemap or get_settings().basemap
    if "lon" in townships.columns and townships["lon"].notna().all():
        lon, lat = townships["lon"].to_numpy(float), townships["lat"].to_numpy(float)
    else:
        rp = shapely.point_on_surface(np.asarray(townships.to_crs(4326).geometry.values, dtype=object))
        lon, lat = shapely.get_x(rp), shapely.get_y(rp)
    lon, lat = display_lonlat(lon, lat, basemap)
    short = [html.escape(_short(n)) for n in townships["name"]]
    return {"type": "scattermap", "mode": "text", "lon": lon.round(6).tolist(), "lat": lat.round(6).tolist(),
            "text": short, "textfont": {"size": 11, "color": "#252525"}, "hoverinfo": "skip",
            "showlegend": False, "uid": "labels", "name": "乡镇名称"}


def _short(name: str) -> str:
    for suffix in ("管理委员会", "街道", "镇", "乡"):
        if isinstance(name, str) and name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return str(name)


# ---- layout ---------------------------------------------------------------------------------


def basemap_layers(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Raster tile layers for the chosen basemap; [] for "none" (or 天地图 without a key)."""
    s = settings or get_settings()
    if s.basemap == "tianditu" and s.tianditu_key:
        return [
            {"sourcetype": "raster", "below": "traces", "sourceattribution": "天地图",
             "source": [TIANDITU.format(n=n, layer=layer, key=s.tianditu_key) for n in range(8)]}
            for layer in ("vec", "cva")
        ]
    if s.basemap == "amap":
        return [{"sourcetype": "raster", "below": "traces", "sourceattribution": "高德地图",
                 "source": [AMAP.format(n=n) for n in range(1, 5)]}]
    if s.basemap == "osm":
        return [{"sourcetype": "raster", "below": "traces", "sourceattribution": "© OpenStreetMap contributors",
                 "source": [OSM]}]
    return []


def map_layout(townships: gpd.GeoDataFrame, settings: Settings | None = None, focus: str | None = None,
               is_demo: bool | None = None, size: tuple[int, int] = (700, 560)) -> dict[str, Any]:
    """Layout: white background (offline) or tiles, fitted to the city or the focused township.

    `uirevision` depends on the focus only, so zoom and pan survive indicator/month changes
    and reset on drill-down. `size` is the map's expected pixel size (width, height) for the fit.
    """
    s = settings or get_settings()
    center, zoom = center_zoom(townships, focus, *size)
    clon, clat = display_lonlat([center["lon"]], [center["lat"]], s.basemap)
    if is_demo is None:
        is_demo = bool(townships["is_demo"].fillna(True).any()) if "is_demo" in townships.columns else True
    annotations = []
    if is_demo:
        annotations.append({"text": DEMO_LABEL + "（非法定界线）", "showarrow": False, "xref": "paper", "yref": "paper",
                            "x": 0.01, "y": 0.01, "xanchor": "left", "yanchor": "bottom",
                            "bgcolor": "rgba(255,255,255,0.85)", "font": {"size": 12, "color": "#525252"}})
    return {
        "map": {"style": "white-bg", "center": {"lon": float(clon[0]), "lat": float(clat[0])}, "zoom": zoom,
                "layers": basemap_layers(s)},
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "uirevision": f"map-{focus or 'city'}",
        "font": {"family": FONT},
        "showlegend": False,
        "annotations": annotations,
        "paper_bgcolor": "#ffffff",
        "clickmode": "event",
    }


def figure(result: LayerResult, townships: gpd.GeoDataFrame, settings: Settings | None = None,
           focus: str | None = None, geojson: dict | None = None, labels: bool = True,
           size: tuple[int, int] = (700, 560)) -> dict[str, Any]:
    """A complete plotly figure dict: the layer's traces with the geometry attached, labels, layout."""
    s = settings or get_settings()
    gj = geojson or township_geojson(townships, s.basemap)
    traces = []
    for tr in result.traces:
        t = dict(tr)
        if t.get("type") == "choroplethmap" and "geojson" not in t:
            t["geojson"] = gj
        traces.append(t)
    if labels:
        traces.append(label_trace(townships, s.basemap))
    return {"data": traces, "layout": map_layout(townships, s, focus, size=size)}
