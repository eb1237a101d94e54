"""考核 `/assessment`: year-end score per township (三十二)(三十三), the map, ranks, weights, evidence, export.

URL state: ?year=YYYY&t=<township code>&ind=<indicator key>. Clicking a township (map or bar)
shows its breakdown (value, score, weight, points of every indicator) and the evidence rows
of the chosen indicator (which projects, which cases). The export is the same workbook as
`wagemap export assessment` (scores + one sheet per indicator with its evidence rows).
"""

from __future__ import annotations

from functools import lru_cache

import dash
import pandas as pd
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from dashboard import access, components, services
from layers import mapfig
from layers.assessment import (
    EVIDENCE_ZH,
    INDICATORS,
    AssessmentResult,
    assess,
    score_classes,
    scores_zh,
    township_breakdown,
    workbook_sheets,
)
from layers.exports import xlsx_bytes

dash.register_page(__name__, path="/assessment", name="年度考核", title="年度考核 · 根治欠薪一张图", order=6)

MAP_CONFIG = {**components.GRAPH_CONFIG, "scrollZoom": True}
EVIDENCE_COLUMNS = list(EVIDENCE_ZH.values())


# ---- data (cached per store, data version, scope and year) --------------------------------------

@lru_cache(maxsize=16)
def _cached(url: str, version: str, scope: tuple[str, ...] | None, year: int) -> AssessmentResult:
    return assess(services.layer_data(list(scope) if scope is not None else None), year)


def result(scope, year: int) -> AssessmentResult:
    st = services.store()
    return _cached(st.url, st.data_version(), services.scope_key(scope), int(year))


def years(scope) -> list[int]:
    """Years with monthly data, cases or incidents, newest first."""
    ms = services.months(scope)
    return sorted({int(m[:4]) for m in ms}, reverse=True)


def default_year(scope) -> int:
    """The last year that has ended in the data (December reached), else the latest year."""
    ms = services.months(scope)
    if not ms:
        return pd.Timestamp.today().year - 1
    last = ms[-1]
    return int(last[:4]) if last[5:] == "12" else max(int(ms[0][:4]), int(last[:4]) - 1)


def _year(arg, scope) -> int:
    ys = years(scope)
    try:
        y = int(arg)
    except (TypeError, ValueError):
        return default_year(scope)
    return y if y in ys else default_year(scope)


# ---- pieces ---------------------------------------------------------------------------------------

def _by_township(res: AssessmentResult) -> pd.DataFrame:
    s = res.scores
    by = pd.DataFrame({"code": s["code"], "name": s["name"], "value": s["total"]})
    by["label"] = [f"{v:.1f}分（第{r}名）" if pd.notna(v) else "无数据" for v, r in zip(s["total"], s["rank"], strict=False)]
    return by


def figure(scope, res: AssessmentResult) -> dict:
    by = _by_township(res)
    classes = score_classes(by["value"])
    frame = services.map_frame(scope)
    trace = mapfig.choropleth_trace(by, classes, f"{res.year}年度考核得分", geojson=services.geometry(scope))
    return {"data": [trace, frame["labels"]], "layout": frame["layout"]}


def bars(res: AssessmentResult) -> dict:
    by = _by_township(res)
    by["color"] = score_classes(by["value"]).color_of()
    return components.bars_from({"bars": by.to_dict("records"), "higher_is_better": True, "unit": "分"})


def breakdown(res: AssessmentResult, code: str | None) -> list:
    if not code or code not in set(res.scores["code"]):
        return [html.P("点击地图或排名中的乡镇，查看各项指标的得分明细。", className="muted")]
    row = res.scores.set_index("code").loc[code]
    b = township_breakdown(res, code)
    head = html.Div(className="kpis", children=[
        html.Div([html.Div("乡镇", className="kpi-label"), html.Div(row["name"], className="kpi-value")], className="kpi"),
        html.Div([html.Div("总分", className="kpi-label"),
                  html.Div(components.text(None if pd.isna(row["total"]) else f"{row['total']:.1f}分"),
                                                                  className="kpi-value")], className="kpi"),
        html.Div([html.Div("排名", className="kpi-label"),
                  html.Div(f"第{row['rank']}名 / {len(res.scores)}", className="kpi-value")], className="kpi"),
    ])
    cols = ["指标", "数值", "计数", "得分", "权重", "计入总分"]
    return [head, components.grid("as-breakdown-grid", b[cols].astype(object).where(b[cols].notna(), None).to_dict("records"),
                                  cols,
                                  height=540, dashGridOptions={"pagination": False})]


def evidence(res: AssessmentResult, key: str, code: str | None) -> list[dict]:
    ev = res.evidence.get(key, pd.DataFrame())
    if code:
        ev = ev[ev["township_code"] == code]
    out = ev.rename(columns=EVIDENCE_ZH)[EVIDENCE_COLUMNS]
    links = {"项目": "/project/", "在建项目": "/project/", "案件": "/case/", "重大案件": "/case/"}
    out = out.assign(link=[links[t] + str(i) if t in links else "" for t, i in zip(out["类型"], out["编号"], strict=True)])
    return out.astype(object).where(out.notna(), None).to_dict("records")


def _weights_card() -> html.Div:
    w = services.settings().assessment
    rows = [html.Tr([html.Td(zh), html.Td(f"{getattr(w, k):g}")]) for k, zh in INDICATORS.items()]
    return components.card("指标与权重", html.Table([html.Thead(html.Tr([html.Th("指标"), html.Th("权重")])), html.Tbody(rows)],
                                                className="simple-table"),
                           html.Small("权重在设置 assessment.* 中修改；无可计数据的指标不计分，其余权重按比例折算。",
                                      className="muted"))


# ---- layout and callbacks -------------------------------------------------------------------------

@components.safe_layout
def layout(year: str | None = None, t: str | None = None, ind: str | None = None, **_: str) -> html.Div:
    scope = access.current_scope()
    crumbs = [("全市总览", "/"), ("年度考核", None)]
    if not services.has_data(scope):
        return components.page("年度考核", crumbs, main=components.empty_store_help(), wide=True)
    y = _year(year, scope)
    res = result(scope, y)
    key = ind if ind in INDICATORS else "real_name"
    code = t if t in set(res.scores["code"]) else None
    table = scores_zh(res)
    filters = [
        components.card("考核年度", dcc.Dropdown(id="as-year", options=[{"label": f"{v}年度", "value": v} for v in years(scope)],
                                               value=y, clearable=False, searchable=False)),
        _weights_card(),
        components.card("导出", html.Button("⤓ 导出考核表（Excel）", id="as-export", className="button download", n_clicks=0),
                        html.Small("得分表及每项指标的证据明细，各一张工作表", className="muted"),
                        dcc.Download(id="as-download")),
    ]
    main = html.Div(className="card map-card", children=[
        html.Div(className="map-head", children=[
            html.Span(f"{y}年度各乡镇考核得分", className="map-title"),
            components.demo_badge(services.boundaries_are_demo(scope)),
        ]),
        html.Div(dcc.Graph(id="as-map", figure=figure(scope, res), config=MAP_CONFIG, responsive=True, style={"height": "100%"}),
                 className="map-graph"),
        html.Div(className="map-foot", children=[html.Div("(三十二)(三十三) 总分=100×Σ(权重×得分)/Σ权重；点击乡镇查看明细")]),
    ])
    side = [
        components.card("图例", components.legend("考核得分", [(i.label,
                                                          i.color) for i in score_classes(res.scores["total"]).legend()])),
        components.card("各乡镇排名（点击查看明细）", dcc.Graph(id="as-bars", figure=bars(res), config=components.GRAPH_CONFIG)),
    ]
    details = html.Div([
        components.card("得分明细", html.Div(id="as-breakdown", children=breakdown(res, code))),
        components.card(
            None,
            html.Div(className="toolbar", children=[
                html.H2("指标证据", className="card-title"), html.Span(className="spacer"),
                dcc.Dropdown(id="as-ind", options=[{"label": v, "value": k} for k, v in INDICATORS.items()], value=key,
                             clearable=False, searchable=False, style={"minWidth": "240px"}),
            ]),
            html.Div(id="as-evidence-title", className="muted", children=_evidence_title(res, key, code)),
            components.grid("as-evidence", evidence(res, key, code), EVIDENCE_COLUMNS, link_col="编号"),
        ),
        components.card("各乡镇得分表", components.grid("as-table", _records(table), list(table.columns))),
    ])
    return components.page("年度考核", crumbs, filters=filters, main=main, side=side, details=details,
                           extra=[dcc.Store(id="as-town", data=code), dcc.Store(id="as-sink")])


def _records(df: pd.DataFrame) -> list[dict]:
    return df.astype(object).where(df.notna(), None).to_dict("records")


def _evidence_title(res: AssessmentResult, key: str, code: str | None) -> str:
    where = res.scores.set_index("code").loc[code, "name"] if code else "全部乡镇"
    return f"{res.year}年度 · {INDICATORS[key]} · {where}"


clientside_callback(
    """function(mapClick, barClick) {
        var trig = window.dash_clientside.callback_context.triggered.map(function (t) { return t.prop_id; });
        var data = trig.indexOf("as-bars.clickData") >= 0 ? barClick : mapClick;
        var code = window.wagemap.linkFromClick(data, 0);
        return code ? code : window.dash_clientside.no_update;
    }""",
    Output("as-town", "data"),
    Input("as-map", "clickData"), Input("as-bars", "clickData"),
    prevent_initial_call=True,
)

# The year is part of the page: changing it reloads the view; township and indicator stay in the URL.
clientside_callback(
    """function(year, town, ind) {
        var q = new URLSearchParams();
        q.set("year", year); if (town) { q.set("t", town); } if (ind) { q.set("ind", ind); }
        var trig = window.dash_clientside.callback_context.triggered.map(function (t) { return t.prop_id; });
        if (trig.indexOf("as-year.value") >= 0) { window.wagemap.go("/assessment?" + q.toString()); }
        else { window.wagemap.setQuery("?" + q.toString()); }
        return window.dash_clientside.no_update;
    }""",
    Output("as-sink", "data"),
    Input("as-year", "value"), Input("as-town", "data"), Input("as-ind", "value"),
    prevent_initial_call=True,
)


@callback(
    Output("as-breakdown", "children"),
    Output("as-evidence", "rowData"),
    Output("as-evidence-title", "children"),
    Input("as-town", "data"),
    Input("as-ind", "value"),
    State("as-year", "value"),
    prevent_initial_call=True,
)
def show_township(code, key, year):
    """A township clicked or an indicator chosen: its breakdown and the evidence rows."""
    scope = access.current_scope()
    res = result(scope, _year(year, scope))
    key = key if key in INDICATORS else "real_name"
    code = code if code in set(res.scores["code"]) else None
    return breakdown(res, code), evidence(res, key, code), _evidence_title(res, key, code)


@callback(
    Output("as-download", "data"),
    Input("as-export", "n_clicks"),
    State("as-year", "value"),
    prevent_initial_call=True,
)
def export(n, year):
    """The assessment workbook for the year (scores + evidence sheets), audited."""
    if not n:
        return dash.no_update
    scope = access.current_scope()
    y = _year(year, scope)
    sheets = workbook_sheets(services.layer_data(scope), y, res=result(scope, y))
    access.audit("export", f"assessment {y}", "年度考核表")
    return dcc.send_bytes(xlsx_bytes(sheets), f"{y}年度根治欠薪考核.xlsx")
