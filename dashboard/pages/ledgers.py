"""台账 `/ledgers`: the four ledgers of (六)(十九) as filterable grids with xlsx export.

建设工程项目台账, 欠薪问题排查台账, 欠薪举报投诉台账, 欠薪案件办理台账 (layers/ledgers.py). Personal
data masked for the role; the export neutralises cells starting with = + - @. URL state:
?name=<台账>&from=&to=&tw=<township code>.
"""

from __future__ import annotations

from urllib.parse import urlencode

import dash
from dash import Input, Output, callback, clientside_callback, dcc, html

from dashboard import access, components, services

dash.register_page(__name__, path="/ledgers", name="台账", title="台账 · 根治欠薪一张图", order=4)

def _rows(df) -> tuple[list[dict], list[str], str | None]:
    """Grid records, columns and the link column (project pages) of a ledger frame."""
    cols = [str(c) for c in df.columns]
    d = df.copy()
    d.columns = cols
    link_col = None
    if "项目编号" in cols:
        d["link"] = "/project/" + d["项目编号"].fillna("").astype(str).map(_quote)
        d.loc[d["项目编号"].isna(), "link"] = ""
        link_col = "项目名称" if "项目名称" in cols else "项目编号"
    return d.astype(object).where(d.notna(), None).to_dict("records"), cols, link_col


def _quote(s: str) -> str:
    from urllib.parse import quote

    return quote(s, safe="")


def _download(name: str | None, frm: str, to: str, tw: str | None) -> str:
    q = {"from": frm, "to": to}
    if name:
        q["name"] = name
    if tw:
        q["township"] = tw
    return "/download/ledgers.xlsx?" + urlencode(q)


@components.safe_layout
def layout(name: str | None = None, tw: str | None = None, **kw: str) -> html.Div:
    scope = access.current_scope()
    frm, to = services.month_window(scope, kw.get("from"), kw.get("to"))
    name = name if name in services.LEDGER_NAMES else services.LEDGER_NAMES[0]
    names = services.township_names(scope)
    tw = tw if tw in names else None
    df = services.ledger(scope, name, frm, to, tw, mask_pii=not access.can_see_personal_data())
    records, cols, link_col = _rows(df)
    filters = [
        components.card("台账", dcc.RadioItems(id="lg-name", value=name, className="layer-switch",
                                             options=[{"label": n, "value": n} for n in services.LEDGER_NAMES])),
        components.card("范围", *components.month_controls("lg", services.month_options(scope, frm, to), frm, to),
                        components.filter_group("乡镇", dcc.Dropdown(
                            id="lg-tw", value=tw, placeholder="全部乡镇" if scope is None else "全部（本辖区）",
                            options=[{"label": v, "value": k} for k, v in names.items()]))),
    ]
    main = components.card(
        None,
        html.Div(className="toolbar", children=[
            html.H2(name, id="lg-title", className="card-title"),
            html.Span(f"{len(records)}行", id="lg-count", className="badge muted"), html.Span(className="spacer"),
            html.A("⤓ 导出本台账", id="lg-download", className="button download", href=_download(name, frm, to, tw)),
            html.A("⤓ 导出全部四本台账", id="lg-download-all", className="button download",
                   href=_download(None, frm, to, tw)),
        ]),
        html.P("各列可筛选、排序；个人信息按角色脱敏。依据：(六) 建立台账制度，(十九) 台账登记制。", className="muted small"),
        components.grid("lg-grid", records, cols, link_col=link_col, height=620),
    )
    return components.page("台账", [("全市总览", f"/?from={frm}&to={to}"), ("台账", None)], filters=filters, main=main,
                           wide=True, extra=[dcc.Store(id="lg-sink")])


@callback(
    Output("lg-grid", "rowData"),
    Output("lg-grid", "columnDefs"),
    Output("lg-title", "children"),
    Output("lg-count", "children"),
    Output("lg-download", "href"),
    Output("lg-download-all", "href"),
    Input("lg-name", "value"),
    Input("lg-from", "value"),
    Input("lg-to", "value"),
    Input("lg-tw", "value"),
    prevent_initial_call=True,
)
def update(name, frm, to, tw):
    scope = access.current_scope()
    frm, to = services.month_window(scope, frm, to)
    df = services.ledger(scope, name, frm, to, tw or None, mask_pii=not access.can_see_personal_data())
    records, cols, link_col = _rows(df)
    return (records, components.column_defs(cols, link_col, records=records), name, f"{len(records)}行",
            _download(name, frm, to, tw), _download(None, frm, to, tw))


clientside_callback(
    """function(name, frm, to, tw) {
        var q = new URLSearchParams();
        q.set("name", name || ""); q.set("from", frm || ""); q.set("to", to || "");
        if (tw) { q.set("tw", tw); }
        window.wagemap.setQuery("?" + q.toString(), "/ledgers");
        return window.dash_clientside.no_update;
    }""",
    Output("lg-sink", "data"),
    Input("lg-name", "value"), Input("lg-from", "value"), Input("lg-to", "value"), Input("lg-tw", "value"),
)
