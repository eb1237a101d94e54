"""Map figures every map page shares: geometry sent once, later changes are patches of values.

    from dashboard import components   # re-exports these: components.map_graph(...), components.map_patch(...)

A map page puts `map_graph` in its layout (the figure in a Store, fitted to the graph's box in the
browser by `fit_map_callback`, so plotly draws once at the final size and zoom); its callbacks answer
an indicator or point-set switch with `map_patch`, which re-sends only the parts whose digest changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dash import Input, Output, Patch, clientside_callback, dcc, html

POINT_ORDER = ("projects", "cases", "incidents")
POINT_ZH = {"projects": "工程项目", "cases": "欠薪案件", "incidents": "突发事件"}
# Trace slots of every map figure (patches address them by index):
# 0 township choropleth, 1 the layer's own extra trace (H3 hexes, warning objects...) or an empty
# placeholder, 2 township labels, 3-5 projects/cases/incidents, 6 the township page's selection.
SLOT_EXTRA, SLOT_LABELS, SLOT_POINTS, SLOT_SELECTION = 1, 2, 3, 6


def map_figure(view: dict, geojson: dict, frame: dict, points_on: Sequence[str]) -> dict:
    """The full map figure: choropleth (with geometry), the layer's extra trace, labels, the point sets."""
    choro = {**view["choropleth"], "geojson": geojson}
    data = [choro, view["extra"], frame["labels"]]
    for k in POINT_ORDER:
        data.append({**view["points"][k], "visible": k in points_on})
    return {"data": data, "layout": frame["layout"]}


def selection_trace(projects: dict, project_code: str) -> dict:
    """The ring around a selected project's point (slot SLOT_SELECTION; the township page's worklist)."""
    from urllib.parse import quote

    target = "/project/" + quote(str(project_code), safe="")
    at = [i for i, c in enumerate(projects.get("customdata") or []) if c == target]
    return {"type": "scattermap", "mode": "markers", "lon": [projects["lon"][i] for i in at],
            "lat": [projects["lat"][i] for i in at], "hoverinfo": "skip",
            "marker": {"size": 18, "color": "#000000", "opacity": 0.55}, "showlegend": False,
            "uid": "selection", "name": "选中项目"}


# What a map graph shows until the browser has fitted the figure to its size (app.js fitFigure): nothing,
# so the map itself is drawn once, at its final size and zoom.
BLANK_FIGURE = {"data": [], "layout": {"xaxis": {"visible": False}, "yaxis": {"visible": False},
                                       "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "paper_bgcolor": "#ffffff"}}


def map_graph(graph_id: str, figure: dict, config: dict, drawn: dict | None = None) -> html.Div:
    """The map area: a graph that fills its CSS-sized box, and the figure to fit to that box.

    The figure travels in a Store; a clientside callback (`fit_map_callback`) gives the graph the
    figure with the centre and zoom that fit the box, so plotly draws the map once, not once at the
    server's guess and again after the fit. `<graph_id>-drawn` holds the digests of the parts the
    browser has (services.overview "keys"), so a later patch re-sends only parts that changed.
    """
    return html.Div(className="map-graph", children=[
        dcc.Graph(id=graph_id, figure=BLANK_FIGURE, config=config, responsive=True, style={"height": "100%"}),
        dcc.Store(id=f"{graph_id}-fig", data=figure),
        dcc.Store(id=f"{graph_id}-drawn", data=drawn or {}),
    ])


def fit_map_callback(graph_id: str) -> None:
    """Register the clientside callback that fits `graph_id`'s stored figure to the graph's box."""
    clientside_callback(
        f"function(fig) {{ return window.wagemap.fitFigure({graph_id!r}, fig); }}",
        Output(graph_id, "figure", allow_duplicate=True),
        Input(f"{graph_id}-fig", "data"),
        prevent_initial_call="initial_duplicate",
    )


def map_patch(view: dict, points_on: Sequence[str], drawn: dict | None = None,
              points: Callable[[Sequence[str]], dict] | None = None) -> tuple[Patch, dict]:
    """Only what changed since the browser's figure (`drawn`: part -> digest), never township geometry.

    An indicator switch between arrears layers re-sends the choropleth values but not the case and
    incident points (330 KB decoded at city scale, the same for every indicator); a point-set switch
    only flips `visible`. `points(names)` loads the point sets that changed (services.overview_points:
    a switch reads none it does not send); without it they come from `view["points"]`. Returns the
    patch and the digests the browser has after it.
    """
    drawn = dict(drawn or {})
    keys = view.get("keys") or {}
    p = Patch()

    def changed(part: str) -> bool:
        return part not in keys or drawn.get(part) != keys[part]

    if changed("choropleth"):
        for k, v in view["choropleth"].items():
            p["data"][0][k] = v
    if changed("extra"):
        p["data"][SLOT_EXTRA] = view["extra"]
    todo = [k for k in POINT_ORDER if changed(k)]
    traces = (points(todo) if points is not None else view["points"]) if todo else {}
    for i, k in enumerate(POINT_ORDER):
        if k in todo:
            p["data"][SLOT_POINTS + i] = {**traces[k], "visible": k in points_on}
        else:
            p["data"][SLOT_POINTS + i]["visible"] = k in points_on
    drawn.update(keys)
    return p, drawn


def point_switch(switch_id: Any, value: Sequence[str]) -> dcc.Checklist:
    return dcc.Checklist(id=switch_id, value=list(value), className="point-switch",
                         options=[{"label": POINT_ZH[k], "value": k} for k in POINT_ORDER])


DEFAULT_POINTS = {"coverage": ["projects"], "arrears": ["cases", "incidents"], "incident": ["incidents"],
                  "risk": [], "assessment": []}  # risk layers draw their own objects / H3 cells


def parse_points(arg: Any, kind: str | None = None) -> list[str]:
    """The `pts` URL argument ('projects,cases' / 'none') -> point sets shown.

    Without one: the points that go with the layer's kind (projects over coverage, cases over
    arrears...), else all three.
    """
    if not isinstance(arg, str) or not arg:
        return list(DEFAULT_POINTS.get(kind or "", POINT_ORDER))
    return [k for k in arg.split(",") if k in POINT_ORDER]
