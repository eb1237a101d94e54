"""全市总览 `/`: township choropleth of the chosen indicator, points, KPIs, legend, ranked bars, table.

URL state: ?ind=<layer key>&from=YYYY-MM&to=YYYY-MM&pts=projects,cases,incidents. The map's
geometry is sent once with the layout; switching indicator, months or point sets patches values
only (uirevision keeps the zoom). Clicking a township (map or bar) opens /township/<code>;
clicking a point opens its project (or enterprise) page.
"""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, callback, clientside_callback, dcc, html

from dashboard import access, components, services

dash.register_page(__name__, path="/", name="全市总览", title="全市总览 · 根治欠薪一张图", order=0)

MAP_CONFIG = {**components.GRAPH_CONFIG, "scrollZoom": True}


def _query(key: str, frm: str, to: str) -> str:
    return f"?ind={key}&from={frm}&to={to}"


@components.safe_layout
def layout(ind: str | None = None, pts: str | None = None, **kw: str) -> html.Div:
    scope = access.current_scope()
    frm, to = services.month_window(scope, kw.get("from"), kw.get("to"))
    key = services.indicator(ind)
    crumbs = [("全市总览", None)]
    if not services.has_data(scope):
        return components.page("全市总览", crumbs, main=components.empty_store_help(), wide=True)
    view = services.overview_map(scope, key, frm, to)  # the map's parts; the detail rows come when opened
    points_on = components.parse_points(pts, view["kind"])
    fig = components.map_figure(view, services.geometry(scope), services.map_frame(scope), points_on)
    demo = services.boundaries_are_demo(scope)

    filters = [
        components.card("图层", components.layer_switch("ov-ind", services.layer_options(), key)),
        components.card("时间", *components.month_controls("ov", services.month_options(scope, frm, to), frm, to)),
        components.card("点位", components.point_switch("ov-pts", points_on),
                        html.Small("点击点位打开项目或单位页面", className="muted")),
    ]
    main = html.Div(className="card map-card", children=[
        html.Div(className="map-head", children=[
            html.Span(view["title"], id="ov-title", className="map-title"),
            html.Span(f"{components.month_zh(frm)}—{components.month_zh(to)}", id="ov-period", className="muted"),
            components.demo_badge(demo),
        ]),
        components.map_graph("ov-map", fig, MAP_CONFIG, drawn=view.get("keys")),
        html.Div(id="ov-notes", className="map-foot", children=_notes(view)),
    ])
    side = [
        components.card("关键指标", html.Div(id="ov-kpis", children=components.kpi_items(view["kpis"], "ov-kpi", view["key"]))),
        components.card("各乡镇排名（点击进入乡镇）",
                        dcc.Graph(id="ov-bars", figure=components.bars_from(view), config=components.GRAPH_CONFIG)),
        components.card("图例", html.Div(id="ov-legend", children=_legend(view))),
    ]
    # The rows, and the grid itself, come when the section is opened: the first view stays small and does not
    # load AG Grid's bundle or lay out a hidden grid (≈ 0.15 s of browser CPU on the first view).
    details = components.card(
        None,
        html.Div(className="toolbar", children=[
            html.H2(f"明细：{view['title']}", id="ov-table-title", className="card-title"),
            html.Span(f"{view['table_rows']}行", id="ov-table-count", className="badge muted"), html.Span(className="spacer"),
            html.A("⤓ 导出 Excel", id="ov-download", className="button download", href=_download(key, frm, to)),
        ]),
        html.Details(id="ov-details", open=False, className="lazy-details", children=[
            html.Summary("展开明细表（可筛选、排序，点击名称进入项目页）", id="ov-details-summary", n_clicks=0),
            html.Div(id="ov-table-box"),  # the "ov-table" grid, mounted by `table` while the section is open
        ]),
    )
    return components.page("全市总览", crumbs, filters=filters, main=main, side=side, details=details,
                           extra=[dcc.Store(id="ov-sink")])


def _notes(view: dict) -> list:
    return [html.Div(n) for n in view["notes"]]


def _legend(view: dict) -> list:
    return [
        components.legend(f"{view['title']}（{view['unit']}）", view["legend"]),
        components.legend("点位", view["point_legend"], note="案件点大小表示欠薪金额"),
    ]


def _link_col(columns: list[str]) -> str | None:
    for c in ("项目名称", "案件编号", "项目编号"):
        if c in columns:
            return c
    return None


def _download(key: str, frm: str, to: str) -> str:
    return f"/download/layer/{key}.xlsx?from={frm}&to={to}"


@callback(
    Output("ov-map", "figure"),
    Output("ov-kpis", "children"),
    Output("ov-legend", "children"),
    Output("ov-bars", "figure"),
    Output("ov-notes", "children"),
    Output("ov-title", "children"),
    Output("ov-period", "children"),
    Output("ov-table-title", "children"),
    Output("ov-table-count", "children"),
    Output("ov-download", "href"),
    Output("ov-map-drawn", "data"),
    Input("ov-ind", "value"),
    Input("ov-from", "value"),
    Input("ov-to", "value"),
    Input("ov-pts", "value"),
    dash.State("ov-map-drawn", "data"),
    prevent_initial_call=True,
)
def update(ind, frm, to, pts, drawn):
    """Indicator, months or point sets changed: patch what changed on the map, refresh the panels."""
    scope = access.current_scope()
    frm, to = services.month_window(scope, frm, to)
    view = services.overview_head(scope, ind, frm, to)  # no points, no table: a switch loads only what it sends
    patch, drawn = components.map_patch(view, pts or [], drawn, points=lambda names: services.overview_points(view, names))
    return (
        patch,
        components.kpi_items(view["kpis"], "ov-kpi", view["key"]),
        _legend(view),
        components.bars_from(view),
        _notes(view),
        view["title"],
        f"{components.month_zh(frm)}—{components.month_zh(to)}",
        f"明细：{view['title']}",
        f"{view['table_rows']}行",
        _download(view["key"], frm, to),
        drawn,
    )


@callback(
    Output("ov-table-box", "children"),
    Input("ov-details", "open"),
    Input("ov-ind", "value"),
    Input("ov-from", "value"),
    Input("ov-to", "value"),
    prevent_initial_call=True,
)
def table(is_open, ind, frm, to):
    """The detail grid with the indicator's rows, sent only while the section is open."""
    if not is_open:
        return []
    scope = access.current_scope()
    frm, to = services.month_window(scope, frm, to)
    view = services.overview_head(scope, ind, frm, to)
    rows = services.overview_table(scope, ind, frm, to)
    return components.grid("ov-table", rows, view["columns"], link_col=_link_col(view["columns"]))


# The URL carries the view (a copied link reproduces it); replaceState keeps one history entry.
clientside_callback(
    """function(ind, frm, to, pts) {
        var q = new URLSearchParams();
        q.set("ind", ind || ""); q.set("from", frm || ""); q.set("to", to || "");
        q.set("pts", (pts && pts.length) ? pts.join(",") : "none");
        window.wagemap.setQuery("?" + q.toString(), "/");
        return window.dash_clientside.no_update;
    }""",
    Output("ov-sink", "data"),
    Input("ov-ind", "value"), Input("ov-from", "value"), Input("ov-to", "value"), Input("ov-pts", "value"),
)

# The browser opens and closes <details> itself without telling Dash: its `open` (the table callback's input)
# follows the clicks on the summary.
clientside_callback(
    "function(n, open) { return n ? !open : window.dash_clientside.no_update; }",
    Output("ov-details", "open"),
    Input("ov-details-summary", "n_clicks"),
    State("ov-details", "open"),
    prevent_initial_call=True,
)

# The map is drawn once, fitted to the screen it is on.
components.fit_map_callback("ov-map")

# Click on a township (map or bar) drills down; click on a point opens its page.
clientside_callback(
    """function(mapClick, barClick) {
        var trig = window.dash_clientside.callback_context.triggered.map(function (t) { return t.prop_id; });
        var data = trig.indexOf("ov-bars.clickData") >= 0 ? barClick : mapClick;
        var pt = data && data.points && data.points[0];
        var link = window.wagemap.linkFromClick(data, 0);
        if (!pt || !link || (link.charAt(0) !== "/" && pt.curveNumber !== 0)) { return window.dash_clientside.no_update; }
        var q = new URLSearchParams(window.location.search);
        var keep = new URLSearchParams();
        ["ind", "from", "to"].forEach(function (k) { if (q.get(k)) { keep.set(k, q.get(k)); } });
        if (link.charAt(0) === "/") { window.wagemap.go(link); }
        else { window.wagemap.go("/township/" + encodeURIComponent(link) + "?" + keep.toString()); }
        return window.dash_clientside.no_update;
    }""",
    Output("ov-sink", "data", allow_duplicate=True),
    Input("ov-map", "clickData"), Input("ov-bars", "clickData"),
    prevent_initial_call=True,
)

# A KPI card that belongs to a layer switches the map to it.
clientside_callback(
    """function(clicks) {
        var t = window.dash_clientside.callback_context.triggered_id;
        if (!t || !clicks || !clicks.some(function (n) { return n; })) { return window.dash_clientside.no_update; }
        return t.key;
    }""",
    Output("ov-ind", "value"),
    Input({"type": "ov-kpi", "key": ALL}, "n_clicks"),
    State("ov-ind", "value"),
    prevent_initial_call=True,
)
