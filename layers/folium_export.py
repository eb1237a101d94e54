"""A standalone folium map of a territory with the same layers, legends and popups, that works offline.

`export_map(data, filters, path)` writes one HTML file: township outlines, one choropleth +
points group per registered layer (a radio switch, legend follows it), popups in Chinese.
Offline: no tiles, and every CDN script/style folium would link is removed; Leaflet 1.9.4
(vendored from npm in assets/vendor/leaflet, BSD-2-Clause) is inlined with its images as
data URIs. Safety: every user-supplied text is html.escape'd before it reaches the page, and
feature properties carry only escaped text and numbers. While the boundaries are
demonstration ones the map says "示意边界".
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from geodata.boundaries import DEMO_LABEL
from geodata.townships import CITY_NAME, to_code, valid_names
from layers.base import Filters, LayerData, LayerResult
from layers.mapfig import SIMPLIFY_DEG
from layers.palettes import NO_DATA, OUTLINE
from layers.units import eval_month, fmt_month

VENDOR = Path(__file__).resolve().parents[1] / "assets" / "vendor" / "leaflet"
FONT = '"Microsoft YaHei","PingFang SC","Noto Sans CJK SC",sans-serif'


class ExportError(ValueError):
    """An export that cannot be made; `user_msg` is the Chinese message for the CLI."""

    def __init__(self, user_msg: str):
        super().__init__(user_msg)
        self.user_msg = user_msg


# ---- map and layers ------------------------------------------------------------------------


def new_map(townships: gpd.GeoDataFrame, focus: str | None = None) -> folium.Map:
    """A folium map with no tiles, the township outlines, fitted to `focus` (a code) or the city.

    Layers added with `add_layer` need this map: it carries the simplified township
    geometry (`fmap.wagemap_townships`) their choropleths are drawn on.
    """
    t = townships.to_crs(4326).copy()
    t["geometry"] = shapely.coverage_simplify(np.asarray(t.geometry.values, dtype=object), SIMPLIFY_DEG) \
        if len(t) else t.geometry
    t["geometry"] = shapely.set_precision(np.asarray(t.geometry.values, dtype=object), 1e-5)
    fit = t[t["code"] == focus] if focus is not None and (t["code"] == focus).any() else t
    minx, miny, maxx, maxy = fit.total_bounds
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=11, tiles=None,
                      control_scale=True, prefer_canvas=False)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    fmap.wagemap_townships = t
    fmap.wagemap_legends = []
    fmap.wagemap_groups = []
    feats = [_feature(g, {"tooltip": html.escape(str(n))}, str(c))
             for c, n, g in zip(t["code"], t["name"], t.geometry, strict=True)]
    outline = folium.GeoJson(
        {"type": "FeatureCollection", "features": feats}, name="乡镇边界", control=False,
        style_function=lambda f: {"color": OUTLINE, "weight": 1.2, "fillOpacity": 0.0, "fill": False},
        tooltip=folium.GeoJsonTooltip(fields=["tooltip"], labels=False),
    )
    outline.add_to(fmap)
    return fmap


def _feature(geom, props: dict[str, Any], fid: str) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "properties": props, "geometry": json.loads(shapely.to_geojson(geom))}


def add_layer(result: LayerResult, fmap: folium.Map) -> folium.FeatureGroup:
    """Add one layer: choropleth and its points in one switchable group, and its legend.

    `result.points["label"]` is already escaped HTML (the layers escape user text);
    township names and labels are escaped here. Returns the group: a layer with more to
    draw (e.g. hexagons) adds it there, so it switches with the layer instead of covering all.
    """
    towns: gpd.GeoDataFrame = fmap.wagemap_townships
    first = not fmap.wagemap_legends
    group = folium.FeatureGroup(name=result.title, overlay=False, control=True, show=first)
    by = result.by_township.set_index("code")
    colors = _class_colors(result)
    inside = towns[towns["code"].isin(by.index)]
    feats = []
    for code, name, geom in zip(inside["code"], inside["name"], inside.geometry, strict=True):
        label = by.at[code, "label"] if "label" in by.columns else ""
        popup = f"<b>{html.escape(str(name))}</b><br>{html.escape(result.title)}：{html.escape(str(label))}"
        feats.append(_feature(geom, {"popup": popup, "fill": colors.get(code, NO_DATA)}, str(code)))
    if feats:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": feats}, name=result.title,
            style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": OUTLINE, "weight": 1,
                                      "fillOpacity": 0.75},
            popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
        ).add_to(group)
    pts = result.points
    if len(pts):
        pts = pts[pts["lon"].notna() & pts["lat"].notna()]
        pfeats = [
            {"type": "Feature", "id": f"p{i}", "geometry": {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]},
             "properties": {"popup": _point_popup(lab, link), "c": col, "r": round(float(sz) / 2, 1)}}
            for i, (x, y, lab, col, sz, link) in enumerate(
                zip(pts["lon"], pts["lat"], pts["label"], pts["color"], pts["size"], pts.get("link", [""] * len(pts)),
                    strict=True))
        ]
        folium.GeoJson(
            {"type": "FeatureCollection", "features": pfeats}, name=result.title + "·点",
            marker=folium.CircleMarker(radius=5),
            style_function=lambda f: {"radius": f["properties"]["r"], "fill": True, "fillColor": f["properties"]["c"],
                                      "color": "#525252", "weight": 0.8, "fillOpacity": 0.85},
            popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
        ).add_to(group)
    group.add_to(fmap)
    fmap.wagemap_groups.append(group)
    fmap.wagemap_legends.append((result.title, _legend_html(result), first))
    return group


def _extras_off(fmap: folium.Map, names: set[str]) -> None:
    """Overlays a layer added to the map itself (not through `add_layer`) start switched off.

    Otherwise they would cover whichever layer is chosen; the user ticks them in the control.
    """
    for name in names:
        child = fmap._children[name]
        if isinstance(child, folium.map.Layer) and child not in fmap.wagemap_groups and getattr(child, "control", False):
            child.show = False


def _point_popup(label: str, link: Any) -> str:
    """The point's escaped label; the page it links to named as text (the file is standalone)."""
    text = str(label)
    if isinstance(link, str) and link:
        text += f"<br><span style='color:#737373'>页面：{html.escape(link)}</span>"
    return text


def _class_colors(result: LayerResult) -> dict[str, str]:
    """Colour per township from the layer's choropleth trace (z = class + 1, 0 = no data)."""
    tr = next((t for t in result.traces if t.get("type") == "choroplethmap"), None)
    if tr is None:
        return {}
    scale = tr["colorscale"]
    palette = [scale[2 * i][1] for i in range(len(scale) // 2)]
    return {loc: palette[int(z)] if 0 <= int(z) < len(palette) else NO_DATA
            for loc, z in zip(tr["locations"], tr["z"], strict=True)}


def _legend_html(result: LayerResult) -> str:
    rows = "".join(
        f"<div><i style='background:{html.escape(i.color)}'></i>{html.escape(i.label)}</div>" for i in result.legend
    )
    unit = f"（{html.escape(result.unit)}）" if result.unit else ""
    notes = "".join(f"<div class='wm-note'>{html.escape(n)}</div>" for n in result.notes[:2])
    return f"<div class='wm-legend-title'>{html.escape(result.title)}{unit}</div>{rows}{notes}"


_SWITCH = Template("""
{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.on('baselayerchange', function (e) {
    document.querySelectorAll('.wm-legend').forEach(function (d) {
        d.style.display = (d.getAttribute('data-title') === e.name) ? 'block' : 'none';
    });
});
{% endmacro %}
""")


def finish(fmap: folium.Map, title: str, is_demo: bool) -> folium.Map:
    """Layer switch, legends, title, the 示意边界 label, and offline assets (no CDN)."""
    folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    legends = "".join(
        f"<div class='wm-legend' data-title='{html.escape(t, quote=True)}' "
        f"style='display:{'block' if shown else 'none'}'>{body}</div>"
        for t, body, shown in fmap.wagemap_legends
    )
    demo = f"<div class='wm-demo'>{DEMO_LABEL}（非法定界线，仅供示意）</div>" if is_demo else ""
    root = fmap.get_root()
    root.html.add_child(Element(f"<div class='wm-title'>{html.escape(title)}</div>{legends}{demo}"))
    switch = MacroElement()
    switch._template = _SWITCH
    fmap.add_child(switch)
    root.header.add_child(Element(f"<style>{_CSS}</style>"), name="wagemap_css")
    make_offline(fmap)
    return fmap


_CSS = f"""
html,body{{font-family:{FONT};}}
.leaflet-container{{background:#ffffff;font-family:{FONT};}}
.wm-title{{position:fixed;top:10px;left:60px;z-index:1000;background:rgba(255,255,255,.92);padding:6px 10px;
  border-radius:4px;font-size:16px;font-weight:bold;box-shadow:0 1px 4px rgba(0,0,0,.3);}}
.wm-legend{{position:fixed;bottom:90px;left:10px;z-index:1000;background:rgba(255,255,255,.95);padding:8px 10px;
  border-radius:4px;font-size:12px;line-height:18px;max-width:260px;box-shadow:0 1px 4px rgba(0,0,0,.3);}}
.wm-legend i{{display:inline-block;width:14px;height:14px;margin-right:6px;vertical-align:-2px;border:1px solid #bdbdbd;}}
.wm-legend-title{{font-weight:bold;margin-bottom:4px;}}
.wm-note{{color:#737373;margin-top:4px;}}
.wm-demo{{position:fixed;bottom:56px;left:10px;z-index:1000;background:rgba(255,255,255,.92);padding:4px 8px;
  border:1px dashed #737373;border-radius:4px;font-size:13px;color:#525252;}}
"""


# ---- offline -------------------------------------------------------------------------------


def _walk(el):
    yield el
    for child in getattr(el, "_children", {}).values():
        yield from _walk(child)


def make_offline(fmap: folium.Map) -> None:
    """Drop every CDN <script>/<link> folium would emit and inline the vendored Leaflet instead."""
    root = fmap.get_root()
    for el in _walk(root):
        if hasattr(el, "default_js"):
            el.default_js = []
        if hasattr(el, "default_css"):
            el.default_css = []
    js = (VENDOR / "leaflet.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    root.header.add_child(Element(f"<style>{leaflet_css()}</style>"), name="leaflet_css", index=0)
    root.header.add_child(Element(f"<script>{js}</script>"), name="leaflet_js", index=1)


def leaflet_css() -> str:
    """leaflet.css with its images (layers control icon, markers) inlined as data URIs."""
    css = (VENDOR / "leaflet.css").read_text(encoding="utf-8")
    for png in sorted((VENDOR / "images").glob("*.png")):
        uri = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
        css = css.replace(f"url(images/{png.name})", f"url({uri})")
    return css


# ---- entry points ------------------------------------------------------------------------


def export_map(data: LayerData, filters: Filters | None = None, path: str | Path | None = None,
               layer_keys: list[str] | None = None) -> str:
    """Build the standalone HTML (every registered layer unless `layer_keys`), write it to `path` if given.

    Only the first layer's group is shown at first; the radio switch in the corner picks another.
    """
    from layers import registry

    filters = filters or Filters()
    towns = data.townships
    focus = filters.township
    fmap = new_map(towns, focus)
    keys = layer_keys or list(registry.LAYERS)
    for key in keys:
        layer = registry.get(key)
        before = set(fmap._children)
        layer.export_folium(layer.build(data, filters), fmap)
        _extras_off(fmap, set(fmap._children) - before)
    name = CITY_NAME
    if focus is not None:
        hit = towns.loc[towns["code"] == focus, "name"]
        name = f"{CITY_NAME} · {hit.iloc[0]}" if len(hit) else name
    is_demo = bool(pd.Series(towns.get("is_demo", pd.Series([True]))).fillna(True).astype(bool).any())
    title = f"{name} 根治欠薪一张图（截至{fmt_month(eval_month(filters))}）"
    finish(fmap, title, is_demo)
    out = fmap.get_root().render()
    if path is not None:
        Path(path).write_text(out, encoding="utf-8")
    return out


def export_township(store, township: str, out: str | Path, filters: Filters | None = None) -> Path:
    """`wagemap export map --township CODE --out FILE.html`: read the territory through the store, write the map.

    `township` may be a 12/9-digit code or any name/alias; an unknown one raises ExportError
    with the valid names.
    """
    code = to_code(township)
    if code is None:
        raise ExportError(f"乡镇“{township}”无法识别；可用：{valid_names()}")
    towns = store.townships()
    if not (towns["code"] == code).any():
        raise ExportError(f"数据库中没有乡镇 {code} 的边界；请先运行 wagemap db init")
    data = read_territory(store, code)
    f = filters or Filters()
    f = Filters(month_from=f.month_from, month_to=f.month_to, township=code, as_of=f.as_of)
    export_map(data, f, out)
    return Path(out)


def read_territory(store, code: str) -> LayerData:
    """Everything the layers may use for one township, through the store interface.

    Rows are scoped by township; monthly reports and deposits also by the territory's project
    codes (a report row may carry no township), credit grades and fund rows are read whole
    (they are keyed by enterprise or unit, not by place), indicators for the territory's employers.
    """
    scope = [code]
    projects = store.read("projects", scope=scope)
    codes = sorted(set(projects["project_code"].dropna())) if len(projects) else []
    enterprises = store.read("enterprises", scope=scope)
    credit_codes = sorted(set(enterprises.get("credit_code", pd.Series(dtype=object)).dropna())
                          | set(projects.get("contractor_credit_code", pd.Series(dtype=object)).dropna()))

    def by_codes(kind: str, column: str, values: list[str]) -> pd.DataFrame:
        scoped = store.read(kind, scope=scope)
        if not values:
            return scoped
        return pd.concat([scoped, store.read(kind, where={column: values})]).drop_duplicates("id").reset_index(drop=True)

    return LayerData(
        townships=store.townships(), projects=projects, enterprises=enterprises,
        compliance=by_codes("compliance", "project_code", codes), deposits=by_codes("deposits", "project_code", codes),
        cases=store.read("cases", scope=scope), incidents=store.read("incidents", scope=scope),
        funds=store.read("funds"), credit=store.read("credit"),
        indicators=by_codes("indicators", "credit_code", credit_codes),
    )


def export_township_map(store, township: str, out: str | Path, filters: Filters | None = None) -> Path:
    """The name the CLI (`wagemap export map`) calls: same as `export_township`."""
    return export_township(store, township, out, filters)
