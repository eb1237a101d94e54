"""Pieces of the detail pages (project, enterprise): fact lists, small tables, the location card."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from dash import dcc, html

from dashboard import components, services
from layers import mapfig

GEOCODE_ZH = {
    "coord": "文件中的坐标", "coord_swapped": "文件中的坐标（经纬度互换后）", "gazetteer": "地址匹配地名库",
    "gazetteer_fuzzy": "地址模糊匹配地名库", "township": "仅到乡镇（乡镇代表点）", "none": "未定位",
}


def facts(items: Sequence[tuple[str, Any]]) -> html.Dl:
    """A definition list; values are text (or components such as links)."""
    out: list[Any] = []
    for label, value in items:
        out.append(html.Dt(label))
        out.append(html.Dd(value if _is_component(value) else components.text(value)))
    return html.Dl(out, className="facts")


def _is_component(v: Any) -> bool:
    return hasattr(v, "to_plotly_json")


def enterprise_link(name: Any, credit_code: Any) -> Any:
    """The contractor's name linking to its enterprise page (text when there is no credit code)."""
    label = components.text(name)
    if not credit_code:
        return label
    return dcc.Link(label, href=f"/enterprise/{quote(str(credit_code), safe='')}")


def table(records: list[dict], columns: Sequence[tuple[str, str, Callable[[Any], str] | None]]) -> Any:
    """A small read-only table: (field, Chinese header, formatter or None)."""
    if not records:
        return html.P("无记录", className="muted")
    head = html.Thead(html.Tr([html.Th(h) for _, h, _ in columns]))
    body = html.Tbody([
        html.Tr([html.Td((fmt or components.text)(r.get(f))) for f, _, fmt in columns]) for r in records
    ])
    return html.Div(html.Table([head, body], className="checklist"), className="table-scroll")


def location_card(scope, row: dict) -> html.Div:
    """A small map of the row's point inside its township, with the geocoding method and confidence."""
    lon, lat = row.get("lon"), row.get("lat")
    method = row.get("geocode_method") or "none"
    conf = row.get("geocode_confidence")
    info = facts([
        ("经纬度（WGS-84）", f"{float(lon):.6f}, {float(lat):.6f}" if lon is not None and lat is not None else "未定位"),
        ("定位方式", GEOCODE_ZH.get(method, method)),
        ("定位可信度", f"{float(conf) * 100:.0f}%" if conf is not None else "—"),
        ("乡镇核对", "申报乡镇与坐标所在乡镇不一致" if row.get("township_mismatch") else "一致或未申报"),
    ])
    if lon is None or lat is None:
        return components.card("位置", info)
    return components.card("位置", html.Div(dcc.Graph(id="detail-map", figure=small_map(scope, row),
                                                   config={**components.GRAPH_CONFIG, "scrollZoom": False},
                                                   responsive=True, style={"height": "100%"}),
                                         className="map-graph small"), info)


def _fit(bounds, lon: float, lat: float) -> dict:
    """Centre and zoom showing the township around the point in the small map (~340 x 280 px)."""
    if not bounds:
        return {"center": {"lon": lon, "lat": lat}, "zoom": 12}
    box = [min(bounds[0], lon), min(bounds[1], lat), max(bounds[2], lon), max(bounds[3], lat)]
    return services.fit_view(box, 340, 280, pad=1.15)


def small_map(scope, row: dict) -> dict:
    """The township outline (focused) and one point."""
    s = services.settings()
    code = row.get("township_code")
    t = services.townships(scope)
    geo = services.geometry(scope)
    frame = services.map_frame(scope, focus=code)
    layout = {**frame["layout"], "annotations": frame["layout"].get("annotations", []), "uirevision": "detail"}
    x, y = mapfig.display_lonlat([float(row["lon"])], [float(row["lat"])], s.basemap)
    layout["map"] = {**layout["map"], **_fit(layout.get("meta", {}).get("fit"), float(x[0]), float(y[0]))}
    layout.pop("meta", None)
    outline = {"type": "choroplethmap", "geojson": geo, "featureidkey": "id", "locations": list(t["code"]),
               "z": [1 if c == code else 0 for c in t["code"]], "colorscale": [[0, "#f5f5f5"], [1, "#deebf7"]],
               "zmin": 0, "zmax": 1, "showscale": False, "hoverinfo": "skip",
               "marker": {"line": {"color": "#737373", "width": 1}}}
    point = {"type": "scattermap", "mode": "markers", "lon": [float(x[0])], "lat": [float(y[0])], "hoverinfo": "skip",
             "marker": {"size": 14, "color": "#d73027"}, "showlegend": False}
    return {"data": [outline, frame["labels"], point], "layout": layout}
