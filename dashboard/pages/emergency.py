"""应急 /emergency: find an incident site fast (phone or desktop), what is around it, who to call, the graded response."""

from __future__ import annotations

import dash
import pandas as pd
from dash import ALL, Input, Output, Patch, State, callback, ctx, dcc, html, no_update

from dashboard import access, components
from dashboard import emergency_service as svc
from geodata.settings import get_settings
from layers import incidents as inc
from layers import nearby as nb
from layers import response as resp
from layers import search as srch
from layers.mapfig import display_lonlat, label_trace, map_layout
from layers.units import fmt_wan

dash.register_page(__name__, path="/emergency", name="应急", title="应急指挥 · 根治欠薪一张图")

EDIT_ROLES = ("emergency", "township")  # township users: their own territory only (service checks)
SITE_COLOR, NEAR_COLORS = "#111111", {"project": "#3182bd", "enterprise": "#756bb1"}
_BTN = {"display": "block", "width": "100%", "textAlign": "left", "margin": "4px 0", "padding": "8px",
        "border": "1px solid #d9dee4", "borderRadius": "6px", "background": "#fff", "cursor": "pointer", "fontSize": "14px"}
_LIST = {"maxHeight": "320px", "overflowY": "auto"}


def layout(q: str | None = None, incident: str | None = None, r: str | None = None, **_):
    scope = access.current_scope()
    site = _incident_site(incident, scope) if incident else None
    radius = float(r) if r and _float(r) in nb.RADIUS_CHOICES_KM else nb.DEFAULT_RADIUS_KM
    search_card = components.card("查找现场", html.Div([
        dcc.Input(id="em-q", type="search", value=q or "", debounce=False, autoComplete="off",
                  placeholder="事件/案件编号、项目、单位、地址或坐标",
                  style={"width": "100%", "padding": "8px", "fontSize": "16px"}),
        html.Button("查找", id="em-go", n_clicks=0, className="button", style={"marginTop": "6px", "width": "100%"}),
        html.Small("坐标示例：113.38,34.54 · 34°32'N 113°23'E · 高德坐标加“高德”，百度坐标加“百度”", className="muted small"),
        html.Div("周边半径", className="filter-label", style={"marginTop": "8px"}),
        dcc.RadioItems(id="em-radius", value=radius, inline=True,
                       options=[{"label": f"{k:g} 公里", "value": k} for k in nb.RADIUS_CHOICES_KM]),
        html.Div(id="em-msg", role="status", style={"marginTop": "6px"}),
        html.Div(id="em-results", style=_LIST),
    ]))
    incidents_card = components.card("突发事件（最新在前）", html.Div([
        dcc.Checklist(id="em-grades", options=list(resp.GRADES), value=list(resp.GRADES), inline=True),
        dcc.Checklist(id="em-statuses", options=list(resp.STATUSES), value=list(resp.STATUSES), inline=True),
        html.Div(id="em-incidents", style=_LIST),
    ]))
    main = [
        components.card(None, dcc.Graph(id="em-map", figure=(fig := _figure(None, pd.DataFrame(), radius, scope)),
                                        config=components.GRAPH_CONFIG, className="map-graph", style={"height": "420px"})),
        components.card("现场", html.Div(id="em-site-panel", children=_site_panel(None))),
    ]
    side = [components.card("周边", html.Div(id="em-nearby")), components.card("联系人", html.Div(id="em-contacts")),
            components.card("应急周转金", html.Div(id="em-fund"))]
    details = [components.card("分级响应清单", html.Div(id="em-response")), _form()]
    stores = [dcc.Store(id="em-sites", data=[]), dcc.Store(id="em-site", data=site), dcc.Store(id="em-refresh", data=0),
              dcc.Store(id="em-autorun", data=bool(q)), dcc.Store(id="em-map-base", data=len(fig["data"]) - SITE_TRACES)]
    return components.page("应急指挥", [("全市总览", "/"), ("应急", None)], filters=[search_card, incidents_card],
                           main=main, side=side, details=details, extra=stores)


def _float(x) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


# ---- search, pick ----------------------------------------------------------------------------------

@callback(Output("em-results", "children"), Output("em-msg", "children"), Output("em-sites", "data"),
          Output("em-site", "data", allow_duplicate=True),
          Input("em-go", "n_clicks"), Input("em-q", "n_submit"), Input("em-autorun", "data"), State("em-q", "value"),
          prevent_initial_call="initial_duplicate")
def run_search(_n, _s, autorun, query):
    if ctx.triggered_id in (None, "em-autorun") and not (autorun and query):
        return [], "", [], no_update  # first render without ?q=: nothing searched yet
    result = svc.search(query or "", access.current_scope())
    sites = [s.to_dict() for s in result.sites]
    tone = {"found": "", "ambiguous": "warn", "none": "bad", "empty": ""}[result.status]
    msg = html.Div(result.message, className=f"notice {tone}".strip(), style={"padding": "6px 8px", "margin": 0})
    buttons = [html.Button(id={"type": "em-pick", "index": i}, n_clicks=0, style=_BTN, className="em-pick", children=[
        html.Span(s["kind_zh"], className="badge", style={"marginRight": "6px"}), html.B(s["title"]),
        html.Div(f"{s['township_name'] or '市外'} · {s['subtitle'] or s['address']}", className="muted small"),
    ]) for i, s in enumerate(sites)]
    auto = sites[0] if result.status == "found" and len(sites) == 1 else no_update
    return buttons, msg, sites, auto


@callback(Output("em-site", "data", allow_duplicate=True), Input({"type": "em-pick", "index": ALL}, "n_clicks"),
          State("em-sites", "data"), prevent_initial_call=True)
def pick_result(clicks, sites):
    if not ctx.triggered_id or not any(clicks or []):
        return no_update
    i = ctx.triggered_id["index"]
    return sites[i] if sites and 0 <= i < len(sites) else no_update


@callback(Output("em-incidents", "children"), Input("em-grades", "value"), Input("em-statuses", "value"),
          Input("em-refresh", "data"))
def list_incidents(grades, statuses, _refresh):
    rows = svc.incident_list(access.current_scope(), grades=grades or [], statuses=statuses or [])
    if rows.empty:
        return html.P("没有符合条件的突发事件。", className="muted")
    items = []
    for r in rows.head(100).itertuples(index=False):  # at most 100 buttons; a display loop, not data work
        when = r.occurred_at.strftime("%Y年%m月%d日 %H:%M") if pd.notna(r.occurred_at) else "时间不详"
        items.append(html.Button(id={"type": "em-inc", "no": str(r.incident_no)}, n_clicks=0, style=_BTN, children=[
            html.Span(r.grade, style={"background": resp.GRADE_COLORS.get(r.grade),
                                      "color": "#fff" if r.grade in ("重大", "特别重大") else "#222",
                                      "padding": "0 6px", "borderRadius": "4px", "marginRight": "6px"}),
            html.B(str(r.incident_no)), html.Span(f" · {r.status}", className="muted"),
            html.Div(f"{when} · {components.text(r.address)}", className="muted small"),
        ]))
    return items


@callback(Output("em-site", "data", allow_duplicate=True), Input({"type": "em-inc", "no": ALL}, "n_clicks"),
          prevent_initial_call=True)
def pick_incident(clicks):
    if not ctx.triggered_id or not any(clicks or []):
        return no_update
    return _incident_site(ctx.triggered_id["no"], access.current_scope()) or no_update


def _incident_site(no: str, scope) -> dict | None:
    it = svc.incident(no, scope)
    if it is None or it.get("lon") is None:
        return None
    gx, gy = srch.to_gcj02([it["lon"]], [it["lat"]])
    code = it.get("township_code") or ""
    return {"kind": "incident", "kind_zh": "突发事件", "key": str(no), "title": f"{no} {it.get('address') or ''}".strip(),
            "subtitle": f"{it['grade']} · {it['status']}", "address": it.get("address") or "", "lon": it["lon"],
            "lat": it["lat"], "gcj_lon": round(float(gx[0]), 6), "gcj_lat": round(float(gy[0]), 6), "township_code": code,
            "township_name": srch.BY_CODE[code].name if code in srch.BY_CODE else "", "score": 100, "matched": "事件编号"}


# ---- the chosen site ----------------------------------------------------------------------------------

@callback(Output("em-site-panel", "children"), Output("em-nearby", "children"), Output("em-contacts", "children"),
          Output("em-fund", "children"), Output("em-map", "figure"), Input("em-site", "data"), Input("em-radius", "value"),
          State("em-map-base", "data"))
def show_site(site, radius, base):
    scope = access.current_scope()
    radius = float(radius or nb.DEFAULT_RADIUS_KM)
    if not site:
        hint = html.P("选定现场后显示周边的项目和单位。", className="muted")
        return _site_panel(None), hint, "", "", _map_patch(None, pd.DataFrame(), radius, base)
    personal = access.can_see_personal_data()
    near = svc.nearby(site["lon"], site["lat"], radius, scope, personal=personal)
    rows = near.rows
    projects = rows.loc[rows["kind"] == "project", "key"] if len(rows) else pd.Series(dtype=str)
    context = svc.site_context(site, scope, personal=personal,
                               nearest_project=projects.iloc[0] if len(projects) else None)
    if personal and context["contacts"]:
        access.audit("view_contacts", f"{site.get('kind')}:{site.get('key')}", context.get("project_code") or "")
    return (_site_panel(site), _nearby_list(near, radius), _contacts(context["contacts"]), _fund(context["fund"]),
            _map_patch(site, rows, radius, base))


def _site_panel(site: dict | None):
    if not site:
        return html.P("在左侧检索或点选一起突发事件。", className="muted")
    wgs, gcj = f"{site['lon']:.6f},{site['lat']:.6f}", f"{site['gcj_lon']:.6f},{site['gcj_lat']:.6f}"
    nav = svc.amap_link(site["gcj_lon"], site["gcj_lat"], site["title"])
    return html.Div(id="em-site-info", children=[
        html.H3([html.Span(site.get("kind_zh", ""), className="badge", style={"marginRight": "6px"}), site["title"]],
                style={"margin": "0 0 6px", "fontSize": "16px"}),
        html.Div([html.B("所属乡镇："), site.get("township_name") or "不在新密市范围内"]),
        html.Div(site.get("address") or "", className="muted"),
        _coord_row("WGS-84（GPS/天地图）", wgs, "em-copy-wgs"),
        _coord_row("GCJ-02（高德/腾讯）", gcj, "em-copy-gcj"),
        html.A("用高德地图导航到现场 ↗", id="em-nav", href=nav, target="_blank", rel="noopener noreferrer", className="button",
               style={"display": "inline-block", "marginTop": "8px", "padding": "8px 12px"}),
    ])


def _coord_row(label: str, value: str, cid: str):
    return html.Div(style={"display": "flex", "alignItems": "center", "gap": "6px", "flexWrap": "wrap", "marginTop": "4px"},
                    children=[html.Span(label, className="muted small", style={"minWidth": "130px"}),
                              html.Code(value, id=f"{cid}-text"),
                              dcc.Clipboard(id=cid, content=value, title="复制",
                                            style={"cursor": "pointer", "fontSize": "18px"})])


def _nearby_list(near: nb.Nearby, radius: float):
    s, rows = near.summary, near.rows
    head = html.P(f"{radius:g} 公里内：项目 {s['projects']} 个、单位 {s['enterprises']} 家；在办欠薪案件 {s['open_cases']} 件，"
                  f"涉及 {s['workers']} 人，欠薪 {fmt_wan(s['amount_owed'])}", id="em-nearby-summary")
    if rows.empty:
        return [head, html.P("半径内没有项目或单位。", className="muted")]
    items = []
    for r in rows.itertuples(index=False):  # display loop over at most nb.NEAREST rows
        href = f"/project/{r.key}" if r.kind == "project" else f"/enterprise/{r.key}"
        warn = {"color": "#c0392b", "fontWeight": 700} if r.open_cases else {}
        items.append(html.Li(style={"padding": "6px 0", "borderBottom": "1px solid #eef1f4"}, children=[
            html.Span(r.kind_zh, className="muted small", style={"marginRight": "6px"}),
            dcc.Link(components.text(r.name), href=href), html.Span(f"  {r.distance_m:,.0f} 米", className="muted"),
            html.Div([html.Span(f"在办案件 {r.open_cases} 件 · {r.workers} 人 · {fmt_wan(r.amount_owed)}", style=warn)],
                     className="small"),
        ]))
    more = (html.P(f"以上为最近的 {len(rows)} 个（图上同）；另有 {near.total - len(rows)} 个未列出，已计入上方合计。",
                   className="muted small") if near.total > len(rows) else None)
    return [head, html.Ul(items, id="em-nearby-list", style={"listStyle": "none", "padding": 0, "margin": 0}), more]


def _contacts(contacts: list[dict]):
    if not contacts:
        return html.P("没有登记的联系人。", className="muted")
    return html.Ul(style={"listStyle": "none", "padding": 0, "margin": 0}, children=[
        html.Li(style={"padding": "4px 0"}, children=[
            html.Span(c["role"], className="muted small", style={"marginRight": "6px"}), html.B(components.text(c["name"])),
            html.A(f"  {c['phone']}", href=f"tel:{c['phone']}") if c.get("phone") and "*" not in str(c["phone"]) else
            html.Span(f"  {c['phone']}" if c.get("phone") else ""),
            html.Div(components.text(c.get("of")), className="muted small") if c.get("of") else None,
        ]) for c in contacts])


def _fund(f: dict | None):
    if not f:
        return html.P("现场不在任何乡镇范围内。", className="muted")
    if f["year"] is None:
        return html.P(f"尚未载入该乡镇的应急周转金数据（下限 {fmt_wan(f['floor'])}，(十)）。", className="muted")
    tone = {"color": "#c0392b", "fontWeight": 700} if f["below_floor"] else {}
    return html.Div([html.Div([f"{f['year']}年余额：", html.Span(fmt_wan(f["balance"]), style=tone)]),
                     html.Div(f"预算 {fmt_wan(f['budgeted'])} · 已动用 {fmt_wan(f['used'])} · 下限 {fmt_wan(f['floor'])}",
                              className="muted small"),
                     html.Div("低于 (十) 规定下限，须及时补足" if f["below_floor"] else "可用于 (二十四) 先行垫付",
                              className="small")])


SITE_TRACES = 3  # the last traces of the map: sites around, the radius circle, the site itself
FIRST_INCIDENT_TRACE = 2  # after the township fill and the township labels


def _figure(site: dict | None, rows: pd.DataFrame, radius_km: float, scope) -> dict:
    """The page map: townships, labels and incidents (sent once, with the page), then the SITE_TRACES site traces."""
    s = get_settings()
    tw, gj = svc.map_base()
    fig_layout = map_layout(tw, s)
    traces = [{"type": "choroplethmap", "geojson": gj, "locations": tw["code"].tolist(), "z": [0] * len(tw),
               "featureidkey": "id", "showscale": False, "colorscale": [[0, "#f7f7f7"], [1, "#f7f7f7"]],
               "marker": {"line": {"color": "#737373", "width": 1}, "opacity": 0.6}, "hoverinfo": "skip"},
              label_trace(tw, s.basemap)]
    traces += _incident_traces(tw, scope)  # from FIRST_INCIDENT_TRACE up to em-map-base
    site_traces, view = _site_traces(site, rows, radius_km)
    fig_layout["map"].update({k: v for k, v in view.items() if k != "uirevision"})
    if "uirevision" in view:
        fig_layout["uirevision"] = view["uirevision"]
    return {"data": traces + site_traces, "layout": fig_layout}


def _map_patch(site: dict | None, rows: pd.DataFrame, radius_km: float, base: int | None):
    """Only what a site or radius changes on the map (the incidents, ~800 KB at province, stay in the browser)."""
    site_traces, view = _site_traces(site, rows, radius_km)
    if base is None:  # a page rendered before this store existed: send the whole figure
        return _figure(site, rows, radius_km, access.current_scope())
    p = Patch()
    for i, t in enumerate(site_traces):
        p["data"][int(base) + i] = t
    for k, v in view.items():
        if k == "uirevision":
            p["layout"]["uirevision"] = v
        else:
            p["layout"]["map"][k] = v
    return p


def _site_traces(site: dict | None, rows: pd.DataFrame, radius_km: float) -> tuple[list[dict], dict]:
    """The SITE_TRACES traces (empty without a site) and the map centre, zoom and uirevision for the site."""
    s = get_settings()
    empty = {"type": "scattermap", "lon": [], "lat": [], "hoverinfo": "skip", "showlegend": False}
    if not site:
        return [dict(empty, name=n) for n in ("周边", "半径", "现场")], {}
    near = dict(empty, name="周边")
    if len(rows):
        x, y = display_lonlat(rows["lon"], rows["lat"], s.basemap)
        near = {"type": "scattermap", "mode": "markers", "lon": x.round(6).tolist(), "lat": y.round(6).tolist(),
                "marker": {"size": 9, "color": rows["kind"].map(NEAR_COLORS).tolist()},
                "text": (rows["kind_zh"] + "：" + rows["name"].astype(str).map(_esc)).tolist(),
                "hovertemplate": "%{text}<extra></extra>", "name": "周边"}
    cx, cy = _circle(site["lon"], site["lat"], radius_km)
    x, y = display_lonlat(cx, cy, s.basemap)
    circle = {"type": "scattermap", "mode": "lines", "lon": x.round(6).tolist(), "lat": y.round(6).tolist(),
              "line": {"color": "#c0392b", "width": 2}, "hoverinfo": "skip", "name": "半径"}
    x, y = display_lonlat([site["lon"]], [site["lat"]], s.basemap)
    mark = {"type": "scattermap", "mode": "markers+text", "lon": x.tolist(), "lat": y.tolist(),
            "marker": {"size": 16, "color": SITE_COLOR}, "text": ["现场"], "textposition": "top center",
            "hovertemplate": _esc(site["title"]) + "<extra></extra>", "name": "现场"}
    view = {"center": {"lon": float(x[0]), "lat": float(y[0])},
            "zoom": {0.5: 14.2, 1.0: 13.2, 2.0: 12.2, 5.0: 10.9}.get(radius_km, 13.2),
            "uirevision": f"site-{site['kind']}-{site['key']}-{radius_km}"}
    return [near, circle, mark], view


def _circle(lon: float, lat: float, radius_km: float, n: int = 72):
    import numpy as np  # noqa: PLC0415

    from layers.nearby import _to_projected  # noqa: PLC0415

    t = _to_projected()
    x0, y0 = t.transform(lon, lat)
    a = np.linspace(0, 2 * np.pi, n + 1)
    return t.transform(x0 + radius_km * 1000 * np.cos(a), y0 + radius_km * 1000 * np.sin(a), direction="INVERSE")


def _esc(x) -> str:
    import html as h  # noqa: PLC0415

    return h.escape(str(x))


@callback(Output("em-map", "figure", allow_duplicate=True), Input("em-refresh", "data"), State("em-map-base", "data"),
          prevent_initial_call=True)
def refresh_incidents(_refresh, base):
    """A saved incident appears on the map at once: only the incident traces are re-sent (the site,
    the radius and the view stay as they are)."""
    traces = _incident_traces(svc.map_base()[0], access.current_scope())
    if base is None or int(base) - FIRST_INCIDENT_TRACE != len(traces):
        return no_update  # a page from before the em-map-base store: it shows the new incident on reload
    p = Patch()
    for i, t in enumerate(traces):
        p["data"][FIRST_INCIDENT_TRACE + i] = t
    return p


def _incident_traces(tw, scope) -> list[dict]:
    res = inc.LAYER.build(_layer_data(tw, scope), inc.Filters())
    return [t for t in res.traces if t.get("type") == "scattermap"]


def _layer_data(tw, scope):
    from layers.base import LayerData  # noqa: PLC0415

    return LayerData(townships=tw, incidents=svc.incident_list(scope))


# ---- the response checklist and the incident form -------------------------------------------------------

@callback(Output("em-response", "children"), Input("em-site", "data"), Input({"type": "em-step", "key": ALL}, "n_clicks"),
          Input("em-refresh", "data"))
def show_response(site, clicks, _refresh):
    if not site or site.get("kind") != "incident":
        return html.P("选定一起突发事件后显示其分级响应清单与完成时间（(二十三) 分级响应、逐级报告）。", className="muted")
    scope = access.current_scope()
    user = access.current_user()
    trig = ctx.triggered_id
    if isinstance(trig, dict) and trig.get("type") == "em-step" and any(clicks or []):
        if user.role not in EDIT_ROLES:
            return html.P("当前角色无权记录处置步骤。", className="notice bad")
        it, table = svc.response_table(site["key"], scope)
        done = table.loc[table["key"] == trig["key"], "done_at"].notna().any() if len(table) else False
        svc.record_step(site["key"], trig["key"], user.name, done=not done, scope=scope)
    it, table = svc.response_table(site["key"], scope)
    if it is None:
        return components.not_found("事件", site["key"])
    s = resp.summary(table)
    colors = {"已完成": "#1a7f5a", "超时完成": "#c77700", "已超时": "#c0392b", "待办": "#5b6773"}
    rows = [html.Li(style={"padding": "6px 0", "borderBottom": "1px solid #eef1f4"}, children=[
        html.Button("撤销" if pd.notna(r.done_at) else "完成", id={"type": "em-step", "key": r.key}, n_clicks=0,
                    className="button small", style={"marginRight": "8px"}),
        html.B(r.text), html.Span(f"（{r.who}）", className="muted small"),
        html.Div([html.Span(r.state, style={"color": colors[r.state], "fontWeight": 700}),
                  f" · 时限 {r.due_at:%m-%d %H:%M}" if pd.notna(r.due_at) else "",
                  f" · 完成于 {r.done_at:%m-%d %H:%M}（{r.user_name}）" if pd.notna(r.done_at) else "",
                  f" · {r.clause}"], className="small"),
    ]) for r in table.itertuples(index=False)]
    return [html.P(f"{it['incident_no']}：{it['grade']}事件 · {resp.elapsed_zh(it['occurred_at'])} · "
                   f"已完成 {s['done']}/{s['total']}，"
                   f"超时未办 {s['overdue']} 项"), html.Ul(rows, style={"listStyle": "none", "padding": 0, "margin": 0})]


_FIELDS = [("incident_no", "事件编号", "text"), ("occurred_at", "发生时间（如 2024-03-01 14:30）", "text"),
           ("headcount", "聚集人数", "number"), ("address", "发生地点", "text"), ("project_code", "项目编号", "text"),
           ("responding_units", "处置单位", "text"), ("description", "事件简述", "text")]


def _form():
    inputs = [html.Label([html.Span(label, className="filter-label"),
                          dcc.Input(id=f"em-f-{name}", type=kind, style={"width": "100%", "padding": "6px"})],
                         style={"display": "block", "margin": "4px 0"}) for name, label, kind in _FIELDS]
    return components.card(None, html.Details([
        html.Summary("新建 / 更新突发事件", style={"fontWeight": 700, "cursor": "pointer"}),
        html.P("地点取自上方选定的现场（WGS-84）；编号已存在则更新该事件。", className="muted small"),
        *inputs,
        html.Div([dcc.Dropdown(id="em-f-grade", options=list(resp.GRADES), value="一般", clearable=False, placeholder="事件等级"),
                  dcc.Dropdown(id="em-f-status", options=list(resp.STATUSES), value="处置中", clearable=False)],
                 style={"display": "grid", "gridTemplateColumns": "1fr 1fr", "gap": "6px", "margin": "6px 0"}),
        html.Button("保存", id="em-f-save", n_clicks=0, className="button"),
        html.Div(id="em-f-msg", role="status", style={"marginTop": "6px"}),
    ]))


@callback([Output(f"em-f-{n}", "value") for n, _, _ in _FIELDS] + [Output("em-f-grade", "value"), Output("em-f-status", "value")],
          Input("em-site", "data"), prevent_initial_call=True)
def fill_form(site):
    if not site or site.get("kind") != "incident":
        return [no_update] * (len(_FIELDS) + 2)
    it = svc.incident(site["key"], access.current_scope()) or {}
    vals = {**it, "occurred_at": f"{it['occurred_at']:%Y-%m-%d %H:%M}" if it.get("occurred_at") is not None else ""}
    return [vals.get(n) for n, _, _ in _FIELDS] + [it.get("grade") or "一般", it.get("status") or "处置中"]


@callback(Output("em-f-msg", "children"), Output("em-refresh", "data"), Input("em-f-save", "n_clicks"),
          [State(f"em-f-{n}", "value") for n, _, _ in _FIELDS], State("em-f-grade", "value"), State("em-f-status", "value"),
          State("em-site", "data"), State("em-refresh", "data"), prevent_initial_call=True)
def save_incident(_n, *args):
    *values, grade, status, site, refresh = args
    user = access.current_user()
    if user.role not in EDIT_ROLES:
        return html.P("当前角色无权录入突发事件（应急或属地乡镇角色可录入）。", className="notice bad"), no_update
    form = {n: v for (n, _, _), v in zip(_FIELDS, values, strict=False)} | {"grade": grade, "status": status}
    if site:
        form |= {"lon": site["lon"], "lat": site["lat"]}
    try:
        row = svc.save_incident(form, user.name, access.current_scope())
    except inc.IncidentInputError as e:
        return html.Ul([html.Li(m) for m in e.errors.values()], className="notice bad"), no_update
    word = "已新建" if row["created"] else "已更新"
    return html.P(f"{word}事件 {row['incident_no']}（{row['township_name'] or ''}）。", className="notice"), (refresh or 0) + 1
