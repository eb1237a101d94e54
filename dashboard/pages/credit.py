"""信用 `/credit`: credit grades by year (十三), the current blacklist and the quarterly publication list (十四).

URL state: ?q=YYYYQn (the publication quarter; default the latest quarter with a listing or a
removal). The publication list (新列入 / 移出 / 继续公示) exports to xlsx through
/download/credit/publication.xlsx?q= (dashboard/downloads.py, layers.credit.publication_xlsx).
Data come from services.layer_data(scope), so a township-scoped user would see only the
employers of their territory (roles: dashboard/access.py PAGE_ROLES["credit"]).
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlencode

import dash
import pandas as pd
from dash import Input, Output, callback, clientside_callback, dcc, html

from dashboard import access, components, services
from layers.credit import (
    BLACKLIST_COLUMNS,
    PUBLICATION_COLUMNS,
    blacklist_table,
    date_zh,
    event_quarters,
    grade_distribution,
    grades_by_year,
    is_quarter,
    publication_list,
    quarter_of,
    quarter_zh,
)

dash.register_page(__name__, path="/credit", name="信用与黑名单", title="信用与黑名单 · 根治欠薪一张图", order=7)

Scope = tuple[str, ...] | None
KINDS = ("新列入", "移出", "继续公示")
PUB_GRID = [c for c in PUBLICATION_COLUMNS if c != "季度"]


# ---- data (cached per store, data version, scope, quarter and day) ------------------------------

def _data(scope: Scope):
    return services.layer_data(list(scope) if scope is not None else None)


@lru_cache(maxsize=32)
def _publication(url: str, version: str, scope: Scope, quarter: str) -> pd.DataFrame:
    return publication_list(_data(scope), quarter)


@lru_cache(maxsize=8)
def _static(url: str, version: str, scope: Scope, today: str) -> dict[str, pd.DataFrame | list[str]]:
    d = _data(scope)
    return {"blacklist": blacklist_table(d, pd.Timestamp(today)), "grades": grades_by_year(d),
            "distribution": grade_distribution(d), "events": event_quarters(d)}


def _key(scope) -> tuple[str, str, Scope]:
    st = services.store()
    return st.url, st.data_version(), services.scope_key(scope)


def publication(scope, quarter: str) -> pd.DataFrame:
    """The quarter's publication list (layers.credit.publication_list) for the scope."""
    return _publication(*_key(scope), quarter)


def tables(scope) -> dict:
    """The current blacklist, grades by year, the grade distribution and the quarters with events."""
    return _static(*_key(scope), pd.Timestamp.today().strftime("%Y-%m-%d"))


def quarters(scope) -> list[str]:
    """Quarters to choose from, newest first: from the first listing or removal up to this quarter."""
    now = quarter_of(pd.Timestamp.today())
    ev = [q for q in tables(scope)["events"] if q <= now]
    first = ev[0] if ev else now
    return [str(p) for p in pd.period_range(first, now, freq="Q")][::-1]


def default_quarter(scope) -> str:
    """The latest quarter in which someone joined or left the list (else this quarter)."""
    now = quarter_of(pd.Timestamp.today())
    ev = [q for q in tables(scope)["events"] if q <= now]
    return ev[-1] if ev else now


def _quarter(arg, scope) -> str:
    q = arg.upper() if isinstance(arg, str) else None
    return q if is_quarter(q) and q in quarters(scope) else default_quarter(scope)


# ---- pieces ---------------------------------------------------------------------------------------

def _records(df: pd.DataFrame, code_col: str = "统一社会信用代码") -> list[dict]:
    out = df.copy()
    for c in ("列入日期", "移出日期"):
        if c in out.columns:
            out[c] = date_zh(out[c]).fillna("—")
    out["link"] = "/enterprise/" + out[code_col].astype(str)
    if "单位名称" in out.columns:
        out["单位名称"] = out["单位名称"].fillna(out[code_col])
    return out.astype(object).where(out.notna(), None).to_dict("records")


def pub_kpis(table: pd.DataFrame) -> html.Div:
    n = table["类别"].value_counts()
    tone = {"新列入": "bad", "移出": "good", "继续公示": "warn"}
    return components.kpi_cards({"label": k, "value": f"{int(n.get(k, 0))}家", "tone": tone[k]} for k in KINDS)


def download_href(quarter: str) -> str:
    return "/download/credit/publication.xlsx?" + urlencode({"q": quarter})


def _distribution_card(dist: pd.DataFrame) -> html.Div:
    head = html.Thead(html.Tr([html.Th(c) for c in dist.columns]))
    body = html.Tbody([html.Tr([html.Td(str(v)) for v in row]) for row in dist.itertuples(index=False)])
    return components.card("各年度诚信等级分布（家）", html.Table([head, body], className="simple-table"),
                           html.Small("(十三) 每年3—5月评定上一年度等级，当年6月起生效。", className="muted"))


# ---- layout and callbacks -------------------------------------------------------------------------

@components.safe_layout
def layout(q: str | None = None, **_: str) -> html.Div:
    scope = access.current_scope()
    crumbs = [("全市总览", "/"), ("信用与黑名单", None)]
    t = tables(scope)
    quarter = _quarter(q, scope)
    pub = publication(scope, quarter)
    today = pd.Timestamp.today()
    filters = [
        components.card("公示季度", dcc.Dropdown(
            id="cr-q", value=quarter, clearable=False, searchable=False,
            options=[{"label": quarter_zh(x), "value": x} for x in quarters(scope)])),
        components.card("导出", html.A(["⤓ ", "导出本季度公示名单（Excel）"], id="cr-download", href=download_href(quarter),
                                     className="button download", download=""),
                        html.Small("新列入、移出和继续公示的单位，一张工作表", className="muted")),
        _distribution_card(t["distribution"]),
    ]
    main = components.card(
        None,
        html.Div(className="toolbar", children=[
            html.H2(id="cr-pub-title", className="card-title", children=f"{quarter_zh(quarter)}黑名单公示名单"),
        ]),
        html.Div(id="cr-pub-kpis", children=pub_kpis(pub)),
        html.P("(十四) 拖欠农民工工资“黑名单”每季度公布一次：本季度新列入、本季度移出，以及此前列入仍在名单上的单位。",
               className="muted small"),
        components.grid("cr-pub-grid", _records(pub), PUB_GRID, link_col="单位名称"),
    )
    black = t["blacklist"]
    details = html.Div([
        components.card(f"当前黑名单（截至{today.year}年{today.month}月{today.day}日，{len(black)}家）",
                        components.grid("cr-black-grid", _records(black), BLACKLIST_COLUMNS, link_col="单位名称")),
        components.card("诚信等级（按年度）",
                        html.P("(十三) 各单位逐年诚信等级；C/D级及黑名单单位须提供工程款支付担保 (十七)(二十六)。",
                               className="muted small"),
                        components.grid("cr-grades-grid", _records(t["grades"]), list(t["grades"].columns),
                                        link_col="单位名称")),
    ])
    return components.page("信用与黑名单", crumbs, filters=filters, main=main, details=details, wide=True,
                           extra=[dcc.Store(id="cr-sink")])


@callback(
    Output("cr-pub-grid", "rowData"),
    Output("cr-pub-kpis", "children"),
    Output("cr-pub-title", "children"),
    Output("cr-download", "href"),
    Input("cr-q", "value"),
    prevent_initial_call=True,
)
def choose_quarter(q):
    """Another quarter chosen: its publication list, counts and export link."""
    scope = access.current_scope()
    quarter = _quarter(q, scope)
    pub = publication(scope, quarter)
    return _records(pub), pub_kpis(pub), f"{quarter_zh(quarter)}黑名单公示名单", download_href(quarter)


clientside_callback(
    """function(q) {
        if (q) { window.wagemap.setQuery("?q=" + encodeURIComponent(q), "/credit"); }
        return window.dash_clientside.no_update;
    }""",
    Output("cr-sink", "data"),
    Input("cr-q", "value"),
)
