"""乡镇 `/township/<code>`: the territory's map, the coverage-gap worklist, open cases, monthly trend.

(三十二) 属地负总责: the worklist is what the township must fix — each active project missing a
mechanism, which ones, since when, who to call, with a link to the project page and an xlsx
export. URL state: ?ind=&from=&to=&sel=<project code selected in the worklist>.
"""

from __future__ import annotations

import dash
from dash import Input, Output, callback, clientside_callback, dcc, html

from dashboard import access, components, services

dash.register_page(__name__, path_template="/township/<code>", name="乡镇", order=1,
                   title=lambda code=None, **_: "乡镇 · 根治欠薪一张图")

WORKLIST_COLUMNS = {
    "name": "项目名称", "project_code": "项目编号", "missing_zh": "缺失机制", "n_missing": "缺失项数",
    "since_label": "最早缺失自", "contractor": "施工总承包单位", "contact": "劳资专管员", "contact_phone": "联系电话",
    "status": "项目状态", "details": "情况说明",
}
TREND_SERIES = [("open_cases", "月末在办案件(件)", "#d73027"), ("new_cases", "新收案件(件)", "#fc8d59")]
COVERAGE_SERIES = [("real_name_pct", "实名制登记率(%)", "#08519c"), ("card_pct", "一卡通发放率(%)", "#6baed6"),
                   ("settled_pct", "月结月清率(%)", "#54278f")]


def worklist_rows(view: dict) -> list[dict]:
    """Worklist records renamed to the grid's Chinese column names (plus `link`)."""
    zh = [*WORKLIST_COLUMNS.values(), "link"]
    get = [*WORKLIST_COLUMNS, "link"]
    return [dict(zip(zh, map(r.get, get), strict=True)) for r in view["worklist"]]


@components.safe_layout
def layout(code: str | None = None, ind: str | None = None, sel: str | None = None, pts: str | None = None,
           **kw: str) -> html.Div:
    scope = access.current_scope()
    frm, to = services.month_window(scope, kw.get("from"), kw.get("to"))
    key = services.indicator(ind)
    view = services.township_view(scope, code or "", frm, to, mask_pii=not access.can_see_personal_data())
    back = f"/?ind={key}&from={frm}&to={to}"
    if view is None:
        return components.page("乡镇", [("全市总览", back), ("未找到", None)], main=components.not_found("乡镇", code or ""),
                               wide=True)
    mv = services.overview_map(scope, key, frm, to, township=code)  # the map's parts, not the detail table
    points_on = components.parse_points(pts, mv["kind"])
    fig = components.map_figure(mv, services.geometry(scope), services.map_frame(scope, focus=code), points_on)
    if sel:
        fig["data"].append(components.selection_trace(mv["points"]["projects"], sel))
    filters = [
        components.card("图层", components.layer_switch("tw-ind", services.layer_options(), key)),
        components.card("时间", *components.month_controls("tw", services.month_options(scope, frm, to), frm, to)),
        components.card("点位", components.point_switch("tw-pts", points_on)),
    ]
    main = html.Div(className="card map-card", children=[
        html.Div(className="map-head", children=[
            html.Span(view["name"], className="map-title"), html.Span(mv["title"], id="tw-title", className="muted"),
            components.demo_badge(services.boundaries_are_demo(scope)),
        ]),
        components.map_graph("tw-map", fig, components.GRAPH_CONFIG, drawn=mv.get("keys")),
        html.Div(id="tw-notes", className="map-foot", children=[html.Div(n) for n in mv["notes"]]),
    ])
    side = [
        components.card("关键指标", html.Div(id="tw-kpis", children=components.kpi_items(view["kpis"], None, key))),
        components.card("图例", html.Div(id="tw-legend", children=_legend(mv))),
        components.card("月度趋势", dcc.Graph(id="tw-trend", figure=_trend(view), config=components.GRAPH_CONFIG)),
    ]
    details = [
        components.card(None, html.Div(className="toolbar", children=[
            html.H2("机制缺失工作清单", className="card-title"),
            html.Span(id="tw-wl-count", className="badge warn", children=_count(view)),
            html.Span("（点击项目名称打开项目页；选中一行在地图上标出）", className="muted small"),
            html.Span(className="spacer"),
            html.A("⤓ 导出 Excel", id="tw-download", className="button download", href=_download(code, frm, to)),
        ]), components.grid("tw-worklist", worklist_rows(view), list(WORKLIST_COLUMNS.values()), link_col="项目名称",
                            row_id="项目编号", selectedRows={"ids": [sel]} if sel else None,
                            dashGridOptions={"rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                              "enableClickSelection": True}})),
        components.card("在办欠薪案件", components.grid("tw-cases", view["cases"], view["case_columns"], link_col="案件编号",
                                                  height=300)),
    ]
    crumbs = [("全市总览", back), (view["name"], None)]
    return components.page(view["name"], crumbs, filters=filters, main=main, side=side, details=details,
                           extra=[dcc.Store(id="tw-sink"), dcc.Store(id="tw-code", data=code)])


def _legend(mv: dict) -> list:
    return [components.legend(f"{mv['title']}（{mv['unit']}）", mv["legend"]), components.legend("点位", mv["point_legend"])]


def _trend(view: dict) -> dict:
    import pandas as pd

    df = pd.DataFrame(view["trend"])
    return components.trend_figure(df, TREND_SERIES, COVERAGE_SERIES)


def _download(code: str, frm: str, to: str) -> str:
    return f"/download/worklist/{code}.xlsx?from={frm}&to={to}"


@callback(
    Output("tw-map", "figure"),
    Output("tw-kpis", "children"),
    Output("tw-legend", "children"),
    Output("tw-notes", "children"),
    Output("tw-title", "children"),
    Output("tw-trend", "figure"),
    Output("tw-worklist", "rowData"),
    Output("tw-wl-count", "children"),
    Output("tw-cases", "rowData"),
    Output("tw-download", "href"),
    Output("tw-map-drawn", "data"),
    Input("tw-ind", "value"),
    Input("tw-from", "value"),
    Input("tw-to", "value"),
    Input("tw-pts", "value"),
    Input("tw-code", "data"),
    dash.State("tw-map-drawn", "data"),
    prevent_initial_call=True,
)
def update(ind, frm, to, pts, code, drawn):
    """Indicator, months or point sets changed: patch the map, refresh worklist, cases and trend."""
    scope = access.current_scope()
    frm, to = services.month_window(scope, frm, to)
    view = services.township_view(scope, code, frm, to, mask_pii=not access.can_see_personal_data())
    if view is None:
        raise dash.exceptions.PreventUpdate
    mv = services.overview_head(scope, ind, frm, to, township=code)
    patch, drawn = components.map_patch(mv, pts or [], drawn, points=lambda names: services.overview_points(mv, names))
    return (
        patch, components.kpi_items(view["kpis"], None, mv["key"]), _legend(mv),
        [html.Div(n) for n in mv["notes"]], mv["title"], _trend(view), worklist_rows(view),
        _count(view), view["cases"], _download(code, frm, to), drawn,
    )


def _count(view: dict) -> str:
    """'12个项目', or with a province-sized list '共 8,214 个项目，表中为缺失最多的前 2,000 个（导出 Excel 得全部）'."""
    total, shown = view.get("worklist_total", len(view["worklist"])), len(view["worklist"])
    if total > shown:
        return f"共{total:,}个项目，表中为缺失最多的前{shown:,}个（导出 Excel 得全部）"
    return f"{total}个项目"


# URL state (replaceState: the back button walks the drill-down, not every filter change).
clientside_callback(
    """function(ind, frm, to, pts, rows, code) {
        var q = new URLSearchParams();
        q.set("ind", ind || ""); q.set("from", frm || ""); q.set("to", to || "");
        q.set("pts", (pts && pts.length) ? pts.join(",") : "none");
        if (rows && rows.length && rows[0]["项目编号"]) { q.set("sel", rows[0]["项目编号"]); }
        window.wagemap.setQuery("?" + q.toString(), "/township/" + code);
        return window.dash_clientside.no_update;
    }""",
    Output("tw-sink", "data"),
    Input("tw-ind", "value"), Input("tw-from", "value"), Input("tw-to", "value"), Input("tw-pts", "value"),
    Input("tw-worklist", "selectedRows"), dash.State("tw-code", "data"),
)

components.fit_map_callback("tw-map")

# A point on the map opens its project page.
clientside_callback(
    """function(click) {
        var link = window.wagemap.linkFromClick(click, 0);
        if (link && link.charAt(0) === "/") { window.wagemap.go(link); }
        return window.dash_clientside.no_update;
    }""",
    Output("tw-sink", "data", allow_duplicate=True),
    Input("tw-map", "clickData"),
    prevent_initial_call=True,
)

# The selected worklist row is marked on the map (a ring around its project point); the first view's
# ring comes with the figure (components.selection_trace), this follows later selections.
clientside_callback(
    """function(rows, fig) {
        if (!fig || !fig.data || fig.data.length <= 5) { return window.dash_clientside.no_update; }  // not drawn yet
        var sel = (rows && rows.length) ? rows[0]["项目编号"] : null;
        var p = fig.data[3] || {};  // components.SLOT_POINTS: the project points
        var lon = [], lat = [];
        if (sel && p.customdata) {
            var target = "/project/" + encodeURIComponent(sel);
            p.customdata.forEach(function (c, i) { if (c === target) { lon.push(p.lon[i]); lat.push(p.lat[i]); } });
        }
        var patch = new window.dash_clientside.Patch();
        patch.assign(["data", 6], {type: "scattermap", mode: "markers", lon: lon, lat: lat, hoverinfo: "skip",
                                   marker: {size: 18, color: "#000000", opacity: 0.55}, showlegend: false,
                                   uid: "selection", name: "选中项目"});
        return patch.build();
    }""",
    Output("tw-map", "figure", allow_duplicate=True),
    Input("tw-worklist", "selectedRows"),
    dash.State("tw-map", "figure"),
    prevent_initial_call=True,
)
