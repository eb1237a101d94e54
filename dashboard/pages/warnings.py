"""预警 `/warnings`: the warnings list (六)(八) with filters, the risk heat map (H3) and the riskiest entities.

URL state: ?month=YYYY-MM&t=<township>&rule=a,b&sev=red,orange&type=project|employer. Each
warning links to its project (or employer) page; clicking a hexagon lists what is in it and
why it is hot (layers.risk.hex_contents).
"""

from __future__ import annotations

from functools import lru_cache

import dash
import pandas as pd
from dash import Input, Output, Patch, State, callback, clientside_callback, dcc, html

from dashboard import access, components, services
from layers import mapfig
from layers.base import Filters, LayerData, LayerResult
from layers.risk import LAYER as HEAT
from layers.risk import hex_contents, score
from layers.rules import RULES, SEVERITY_COLOR, SEVERITY_ZH, filter_warnings, warnings, warnings_table

dash.register_page(__name__, path="/warnings", name="欠薪预警", title="欠薪预警 · 根治欠薪一张图", order=5)

MAP_CONFIG = {**components.GRAPH_CONFIG, "scrollZoom": True}
TYPES = {"project": "项目", "employer": "单位"}
Scope = tuple[str, ...] | None
GRID_COLUMNS = ["等级", "对象", "名称", "编号", "乡镇", "规则", "依据", "证据", "月份"]
RISK_COLUMNS = ["对象", "名称", "编号", "乡镇", "风险分", "主要因素"]


# ---- data (cached per store, data version, scope and month) -------------------------------------

def _data(scope) -> LayerData:
    """The page's data: the shared layer data (with the (八) indicators)."""
    return services.layer_data(scope)


@lru_cache(maxsize=8)
def _computed(url: str, version: str, scope: Scope, month: str) -> tuple[pd.DataFrame, pd.DataFrame, LayerResult]:
    sc = list(scope) if scope is not None else None
    d = _data(sc)
    f = Filters(month_to=month)
    w = warnings(d, f)
    s = score(d, f, warns=w)
    return w, s, HEAT.build(d, f)


def computed(scope, month: str) -> tuple[pd.DataFrame, pd.DataFrame, LayerResult]:
    """(warnings, risk scores, heat layer result) for one month."""
    st = services.store()
    return _computed(st.url, st.data_version(), services.scope_key(scope), month)


def _month(arg, scope) -> str:
    ms = services.months(scope)
    return arg if arg in ms else (ms[-1] if ms else pd.Timestamp.today().strftime("%Y-%m"))


def _list(arg) -> list[str]:
    return [x for x in arg.split(",") if x] if isinstance(arg, str) else []


# ---- pieces ---------------------------------------------------------------------------------------

def rows(w: pd.DataFrame, names: dict[str, str]) -> list[dict]:
    t = warnings_table(w)
    t["乡镇"] = w["township_code"].map(names).fillna("—")
    t["link"] = w["entity_type"].map({"project": "/project/", "employer": "/enterprise/"}) + w["entity_id"].astype(str)
    t = t[GRID_COLUMNS + ["link"]]
    return t.astype(object).where(t.notna(), None).to_dict("records")


def risk_rows(s: pd.DataFrame, names: dict[str, str], township: str | None, top: int = 50) -> list[dict]:
    s = s[s["score"] > 0]
    if township:
        s = s[s["township_code"] == township]
    s = s.head(top)
    t = pd.DataFrame({"对象": s["entity_type"].map(TYPES), "名称": s["name"].fillna(s["entity_id"]), "编号": s["entity_id"],
                      "乡镇": s["township_code"].map(names).fillna("—"), "风险分": s["score"].round(1),
                      "主要因素": s["top_factors"],
                      "link": s["entity_type"].map({"project": "/project/", "employer": "/enterprise/"}) + s["entity_id"]})
    return t.astype(object).where(t.notna(), None).to_dict("records")


def kpis(w: pd.DataFrame) -> html.Div:
    items = [{"label": f"{SEVERITY_ZH[k]}预警", "value": f"{int((w['severity'] == k).sum())}条",
              "tone": "bad" if k == "red" else "warn"}
             for k in ("red", "orange", "yellow")]
    items.append({"label": "涉及对象", "value": f"{w[['entity_type', 'entity_id']].drop_duplicates().shape[0]}个"})
    return components.kpi_cards(items)


def rule_bars(w: pd.DataFrame) -> dict:
    """Warnings per rule, stacked by severity."""
    order = w["rule_zh"].value_counts().index.tolist()[::-1]
    data = []
    for sev in ("red", "orange", "yellow"):
        c = w[w["severity"] == sev]["rule_zh"].value_counts().reindex(order).fillna(0)
        data.append({"type": "bar", "orientation": "h", "x": c.tolist(), "y": order, "name": SEVERITY_ZH[sev],
                     "marker": {"color": SEVERITY_COLOR[sev]},
                     "hovertemplate": "%{y}：%{x}条<extra>" + SEVERITY_ZH[sev] + "</extra>"})
    layout = {"barmode": "stack", "height": max(180, 22 * len(order) + 60), "font": {"family": components.FONT},
              "margin": {"l": 8, "r": 8, "t": 4, "b": 30}, "yaxis": {"automargin": True, "fixedrange": True},
              "xaxis": {"fixedrange": True, "title": {"text": "条"}}, "showlegend": False,
              "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}
    return {"data": data, "layout": layout}


def heat_figure(scope, heat: LayerResult, township: str | None) -> dict:
    """Township outlines (risk sum), the H3 cells on top, labels; focused on the chosen township."""
    t = services.townships(scope)
    fig = mapfig.figure(heat, t, services.settings(), focus=township, geojson=services.geometry(scope))
    fig["data"][0] = {**fig["data"][0], "marker": {"line": {"color": "#737373", "width": 1}, "opacity": 0.25}}
    fig["layout"] = {**fig["layout"], "annotations": services.map_frame(scope)["layout"].get("annotations", [])}
    return fig


def hex_panel(s: pd.DataFrame, data: LayerData, heat: LayerResult, cell: str | None) -> list:
    if not cell:
        return [html.P("点击地图上的六边形，查看格内的项目和单位及其风险原因。", className="muted")]
    hexes = next((tr for tr in heat.traces if tr.get("uid") == "hexes"), {"locations": [], "text": []})
    why = dict(zip(hexes["locations"], hexes["text"], strict=False)).get(cell, "")
    inside = hex_contents(s, data, cell)
    inside = inside.rename(columns={"链接": "link"})
    recs = inside.astype(object).where(inside.notna(), None).to_dict("records")
    return [html.Div(f"H3格 {cell}：{pd.Series([why]).str.replace('<[^>]+>', '', regex=True).iloc[0]}", className="muted"),
            components.grid("wn-hex-grid", recs, ["对象", "名称", "编号", "风险分", "主要因素"], link_col="名称", height=300)]


# ---- layout and callbacks -------------------------------------------------------------------------

@components.safe_layout
def layout(month: str | None = None, t: str | None = None, rule: str | None = None, sev: str | None = None,
           type: str | None = None, **_: str) -> html.Div:  # noqa: A002 - URL argument name
    scope = access.current_scope()
    crumbs = [("全市总览", "/"), ("欠薪预警", None)]
    if not services.has_data(scope):
        return components.page("欠薪预警", crumbs, main=components.empty_store_help(), wide=True)
    m = _month(month, scope)
    names = services.township_names(scope)
    town = t if t in names else None
    rules_on = [r for r in _list(rule) if r in RULES]
    sev_on = [s for s in _list(sev) if s in SEVERITY_ZH] or list(SEVERITY_ZH)
    etype = type if type in TYPES else None
    w, s, heat = computed(scope, m)
    shown = filter_warnings(w, town, rules_on, sev_on, etype)
    rule_opts = [{"label": f"{zh} {cl}", "value": k} for k, (zh, cl) in RULES.items()]
    sev_opts = [{"label": f"{v}预警", "value": k} for k, v in SEVERITY_ZH.items()]
    type_opts = [{"label": "全部", "value": ""}, *({"label": v, "value": k} for k, v in TYPES.items())]
    month_opts = services.month_options(scope, m, m)
    town_opts = [{"label": v, "value": k} for k, v in names.items()]
    month_dd = dcc.Dropdown(id="wn-month", value=m, clearable=False, searchable=False, options=month_opts)
    town_dd = dcc.Dropdown(id="wn-town", value=town, placeholder="全部乡镇", options=town_opts)
    rule_dd = dcc.Dropdown(id="wn-rule", value=rules_on, multi=True, placeholder="全部规则", options=rule_opts)
    filters = [components.card(
        "筛选",
        components.filter_group("评估月份", month_dd),
        components.filter_group("乡镇", town_dd),
        components.filter_group("规则", rule_dd),
        components.filter_group("等级", dcc.Checklist(id="wn-sev", value=sev_on, className="point-switch", options=sev_opts)),
        components.filter_group("对象", dcc.RadioItems(id="wn-type", value=etype or "", className="point-switch",
                                                     options=type_opts)),
    )]
    main = html.Div(className="card map-card", children=[
        html.Div(className="map-head", children=[html.Span(f"欠薪风险热力（{components.month_zh(m)}）", className="map-title"),
                                                 components.demo_badge(services.boundaries_are_demo(scope))]),
        html.Div(dcc.Graph(id="wn-map", figure=heat_figure(scope, heat, town), config=MAP_CONFIG, responsive=True,
                           style={"height": "100%"}),
                 className="map-graph"),
        html.Div(className="map-foot", children=[html.Div(n) for n in heat.notes]),
    ])
    side = [
        components.card("预警概况", html.Div(id="wn-kpis", children=kpis(shown))),
        components.card("各规则预警数", dcc.Graph(id="wn-rules", figure=rule_bars(shown), config=components.GRAPH_CONFIG)),
    ]
    details = html.Div([
        components.card("六边形内的对象", html.Div(id="wn-hex", children=hex_panel(s, _data(scope), heat, None))),
        components.card(None, html.Div(className="toolbar", children=[
            html.H2(id="wn-count", className="card-title", children=f"预警清单（{len(shown)}条）"),
        ]), components.grid("wn-grid", rows(shown, names), GRID_COLUMNS, link_col="名称", height=520)),
        components.card("风险分最高的对象（前50）", html.Div(id="wn-risk-wrap", children=components.grid(
            "wn-risk", risk_rows(s, names, town), RISK_COLUMNS, link_col="名称", height=420))),
    ])
    return components.page("欠薪预警", crumbs, filters=filters, main=main, side=side, details=details,
                           extra=[dcc.Store(id="wn-sink")])


@callback(
    Output("wn-grid", "rowData"),
    Output("wn-count", "children"),
    Output("wn-kpis", "children"),
    Output("wn-rules", "figure"),
    Output("wn-risk", "rowData"),
    Output("wn-map", "figure"),
    Input("wn-month", "value"),
    Input("wn-town", "value"),
    Input("wn-rule", "value"),
    Input("wn-sev", "value"),
    Input("wn-type", "value"),
    prevent_initial_call=True,
)
def refilter(month, town, rules_on, sev_on, etype):
    """Any filter changed: the list, the counts, the riskiest entities and the map focus."""
    scope = access.current_scope()
    m = _month(month, scope)
    names = services.township_names(scope)
    town = town if town in names else None
    w, s, heat = computed(scope, m)
    shown = filter_warnings(w, town, [r for r in (rules_on or []) if r in RULES], [x for x in (sev_on or []) if x in SEVERITY_ZH],
                            etype if etype in TYPES else None)
    if not sev_on:
        shown = shown.iloc[0:0]
    return (rows(shown, names), f"预警清单（{len(shown)}条）", kpis(shown), rule_bars(shown), risk_rows(s, names, town),
            focus_patch(scope, town))


def focus_patch(scope, town: str | None) -> Patch:
    """Only the map's centre, zoom and uirevision change with the township (geometry is sent once)."""
    lay = mapfig.map_layout(services.townships(scope), services.settings(), focus=town)
    p = Patch()
    p["layout"]["map"]["center"] = lay["map"]["center"]
    p["layout"]["map"]["zoom"] = lay["map"]["zoom"]
    p["layout"]["uirevision"] = lay["uirevision"]
    return p


@callback(
    Output("wn-hex", "children"),
    Input("wn-map", "clickData"),
    State("wn-month", "value"),
    prevent_initial_call=True,
)
def hex_clicked(click, month):
    """A hexagon clicked: what is in it and why it is hot (township clicks are ignored)."""
    scope = access.current_scope()
    m = _month(month, scope)
    pt = (click or {}).get("points", [{}])[0]
    cell = pt.get("location") if isinstance(pt.get("location"), str) and len(pt.get("location", "")) == 15 else None
    if cell is None:
        return dash.no_update
    w, s, heat = computed(scope, m)
    return hex_panel(s, _data(scope), heat, cell)


clientside_callback(
    """function(month, town, rule, sev, type) {
        var q = new URLSearchParams();
        if (month) { q.set("month", month); } if (town) { q.set("t", town); }
        if (rule && rule.length) { q.set("rule", rule.join(",")); }
        if (sev) { q.set("sev", sev.join(",")); } if (type) { q.set("type", type); }
        window.wagemap.setQuery("?" + q.toString());
        return window.dash_clientside.no_update;
    }""",
    Output("wn-sink", "data"),
    Input("wn-month", "value"), Input("wn-town", "value"), Input("wn-rule", "value"), Input("wn-sev", "value"),
    Input("wn-type", "value"),
)
