"""Building blocks every page shares: header, page grid, filters, KPI cards, legend, bars, notices.

Text given to these functions is always rendered as text (Dash escapes children); nothing here
uses dangerously_allow_html. Number/month formatting with units lives here too.
"""

from __future__ import annotations

import functools
import logging
import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import dash_ag_grid as dag
import pandas as pd
from dash import dcc, html

from dashboard.mapview import (  # noqa: F401 - re-exported: pages use them as components.<name>
    BLANK_FIGURE,
    DEFAULT_POINTS,
    POINT_ORDER,
    POINT_ZH,
    SLOT_EXTRA,
    SLOT_LABELS,
    SLOT_POINTS,
    SLOT_SELECTION,
    fit_map_callback,
    map_figure,
    map_graph,
    map_patch,
    parse_points,
    point_switch,
    selection_trace,
)
from geodata.townships import CITY_NAME
from layers.units import fmt_count, fmt_date, fmt_month, fmt_pct, fmt_people, fmt_value, fmt_wan  # noqa: F401

log = logging.getLogger(__name__)

APP_NAME = "根治欠薪一张图"
FONT = '"Microsoft YaHei","PingFang SC","Noto Sans CJK SC",sans-serif'
# Graph config: no plotly logo/link, Chinese-friendly toolbar, no external calls
GRAPH_CONFIG = {"displaylogo": False, "responsive": True, "locale": "zh-CN",
                "modeBarButtonsToRemove": ["lasso2d", "select2d", "sendDataToCloud", "sendChartToCloud"], "scrollZoom": True}

# ---- formatting (the layers' formatters, so pages and exports agree) -----------------------

month_zh = fmt_month
date_zh = fmt_date
wan = fmt_wan
people = fmt_people
count = fmt_count
pct = fmt_pct  # a percentage already x100: 95.24 -> "95.2%"


def text(x: Any) -> str:
    """Any cell value as display text ('—' when empty)."""
    if x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, bool):
        return "是" if x else "否"
    return str(x)


# ---- page frame ------------------------------------------------------------------------------

Crumb = tuple[str, str | None]  # (label, href or None for the current page)


def header(page: str, crumbs: Sequence[Crumb] = ()) -> html.Header:
    """City, app name, page name and breadcrumbs (every page)."""
    trail: list[Any] = []
    for i, (label, href) in enumerate(crumbs):
        if i:
            trail.append(html.Span("›", className="crumb-sep", **{"aria-hidden": "true"}))
        trail.append(dcc.Link(label, href=href, className="crumb") if href else html.Span(label, className="crumb current"))
    return html.Header(
        className="app-header",
        children=[
            dcc.Link(className="brand", href="/", children=[
                html.Img(src="/assets/logo.svg", alt="", className="brand-logo"),
                html.Span(CITY_NAME, className="brand-city"),
                html.Span(APP_NAME, className="brand-app"),
            ]),
            html.H1(page, className="page-title"),
            html.Nav(trail, className="breadcrumbs", **{"aria-label": "位置"}),
            html.Nav(className="top-nav", children=[
                dcc.Link("总览", href="/"), dcc.Link("台账", href="/ledgers"), dcc.Link("应急", href="/emergency"),
                dcc.Link("信用", href="/credit"), dcc.Link("数据", href="/data"),
            ]),
            _user_box(),
        ],
    )


def _user_box() -> Any:
    """Who is signed in and a logout button (from the login module, when installed)."""
    try:
        from dashboard import auth
    except ImportError:  # pragma: no cover - login not installed
        return None
    try:
        return auth.user_box()
    except Exception:  # noqa: BLE001 - fall back to the same form built here
        pass
    try:
        from dashboard import access
        from dashboard.users import ROLE_ZH

        u = access.current_user()
        if not u.authenticated:
            return None
        return html.Form(action="/logout", method="POST", className="user-box", children=[
            html.Span(u.name, className="user-name"), html.Span(ROLE_ZH.get(u.role, u.role), className="user-role"),
            dcc.Input(type="hidden", name="csrf_token", value=auth.csrf_token()),
            html.Button("退出", type="submit", className="button small"),
        ])
    except Exception:  # noqa: BLE001 - outside a request (tests): no box
        return None


def page(title: str, crumbs: Sequence[Crumb], *, filters: Any = None, main: Any = None, side: Any = None,
         details: Any = None, extra: Sequence[Any] = (), wide: bool = False) -> html.Div:
    """The standard grid: header; filters left, map middle, KPIs/legend/bars right, details below.

    `wide=True`: no right column, the main area takes its place (tables, ledgers).
    """
    body = [
        html.Aside(filters, className="pane filters", **{"aria-label": "筛选"}) if filters is not None else None,
        html.Section(main, className="pane main") if main is not None else None,
        html.Aside(side, className="pane side") if side is not None else None,
        html.Section(details, className="pane details") if details is not None else None,
    ]
    return html.Div(className="page", children=[header(title, crumbs),
                                                html.Main([b for b in body if b is not None],
                                                          className="grid wide" if wide else "grid"), *extra])


def card(title: str | None, *children: Any, class_name: str = "", **kw: Any) -> html.Div:
    """A titled panel."""
    head = [html.H2(title, className="card-title")] if title else []
    return html.Div(head + list(children), className=f"card {class_name}".strip(), **kw)


def filter_group(label: str, control: Any, help_text: str | None = None) -> html.Div:
    return html.Div(className="filter-group", children=[
        html.Label(label, className="filter-label"), control,
        html.Small(help_text, className="filter-help") if help_text else None,
    ])


# ---- figures and indicators ----------------------------------------------------------------


def kpi_cards(items: Iterable[dict]) -> html.Div:
    """Cards from dicts {label, value (formatted), note?, tone? ('warn'|'bad'|'good'|''), href?}."""
    cards = []
    for it in items:
        body = [html.Div(it["label"], className="kpi-label"), html.Div(it["value"], className="kpi-value")]
        if it.get("note"):
            body.append(html.Div(it["note"], className="kpi-note"))
        cls = f"kpi {it.get('tone') or ''}".strip()
        cards.append(dcc.Link(body, href=it["href"], className=cls) if it.get("href") else html.Div(body, className=cls))
    return html.Div(cards, className="kpis")


def legend(title: str, items: Iterable[Any], note: str | None = None) -> html.Div:
    """Legend rows from LegendItem-like objects (label, color) or (label, color) tuples."""
    rows = []
    for it in items:
        label, color = (it.label, it.color) if hasattr(it, "label") else (it[0], it[1])
        rows.append(html.Li([html.Span(className="swatch", style={"background": color}), html.Span(label)]))
    return html.Div(className="legend", children=[
        html.Div(title, className="legend-title"), html.Ul(rows, className="legend-items"),
        html.Div(note, className="legend-note") if note else None,
    ])


def demo_badge(show: bool = True) -> html.Span | None:
    """The "示意边界" label shown wherever demonstration boundaries are on screen."""
    if not show:
        return None
    return html.Span("示意边界", className="badge demo",
                     title="乡镇边界为示意边界，非法定界线；可用 wagemap geodata import-boundaries 导入正式边界")


def trend_figure(df: pd.DataFrame, left: Sequence[tuple[str, str, str]], right: Sequence[tuple[str, str, str]] = (),
                 left_unit: str = "件", right_unit: str = "%") -> dict:
    """A monthly line chart: `left` series (column, Chinese name, colour) on the left axis, `right` on a % axis."""
    months = [month_zh(m) for m in df.get("month", pd.Series(dtype=str))]
    data = []
    for series, axis in ((left, "y"), (right, "y2")):
        for c, name, color in series:
            if c in df:
                data.append({"type": "scatter", "mode": "lines+markers", "x": months, "y": df[c].tolist(), "name": name,
                             "yaxis": axis, "line": {"color": color, "dash": "dot" if axis == "y2" else "solid"},
                             "hovertemplate": "%{x}：%{y}<extra>" + name + "</extra>"})
    layout = {
        "height": 300, "margin": {"l": 40, "r": 40, "t": 10, "b": 10}, "font": {"family": FONT, "size": 12},
        "legend": {"orientation": "h", "y": -0.2, "x": 0}, "hovermode": "x unified",
        "xaxis": {"type": "category", "nticks": 6, "tickangle": 0, "automargin": True},
        "yaxis": {"title": {"text": left_unit}, "rangemode": "tozero", "fixedrange": True, "tickformat": ",d"},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
    }
    if right:
        layout["yaxis2"] = {"title": {"text": right_unit}, "overlaying": "y", "side": "right", "range": [0, 105],
                            "tickvals": [0, 25, 50, 75, 100], "fixedrange": True, "showgrid": False}
    return {"data": data, "layout": layout}


# ---- notices -----------------------------------------------------------------------------------


def empty_store_help() -> html.Div:
    """Shown instead of an empty map when the store has no data: how to load some."""
    return html.Div(className="notice empty", children=[
        html.H2("还没有数据"),
        html.P("数据库中还没有项目、案件等业务数据，地图暂无可显示的内容。可以这样载入："),
        html.Ol([
            html.Li(["生成演示数据：", html.Code("wagemap demo --out demo-data")]),
            html.Li(["载入文件（可一次多个）：", html.Code("wagemap etl load demo-data/*.xlsx")]),
            html.Li(["刷新本页。载入情况和被拒绝的行见 ", dcc.Link("数据", href="/data"), " 页。"]),
        ]),
    ])


def not_found(what: str, key: str) -> html.Div:
    return html.Div(className="notice", children=[
        html.H2(f"未找到{what}"), html.P(["编号 ", html.Code(key), f" 的{what}不存在，或不在您的查看范围内。"]),
        dcc.Link("返回总览", href="/"),
    ])


def user_message(err: BaseException) -> str:
    """The Chinese message for an error: its user_msg when it has one, else a generic one."""
    msg = getattr(err, "user_msg", None)
    return msg if isinstance(msg, str) and msg else "数据暂时无法显示，请稍后重试；如仍出错，请联系管理员。"


def error_block(err: BaseException) -> html.Div:
    """An in-page error notice (never a traceback); the error is logged with a reference."""
    ref = uuid.uuid4().hex[:8]
    log.exception("page error %s", ref, exc_info=err)
    return html.Div(className="notice error", role="alert", children=[
        html.H2("页面出错了"), html.P(user_message(err)), html.Small(f"错误编号：{ref}"),
    ])


def safe_layout(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a page layout so an exception renders a Chinese notice instead of breaking the app."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - the boundary: show, log, carry on
            return html.Div(className="page", children=[header("出错了", [("全市总览", "/")]), error_block(e)])

    return wrapper


def download_link(label: str, href: str) -> html.A:
    """A plain link to a Flask download route (xlsx/csv)."""
    return html.A(["⤓ ", label], href=href, className="button download", download="")


# ---- grids --------------------------------------------------------------------------------------

GRID_LOCALE = {
    "page": "页", "more": "更多", "to": "至", "of": "共", "next": "下一页", "last": "末页", "first": "首页",
    "previous": "上一页", "loadingOoo": "加载中…", "noRowsToShow": "没有数据", "filterOoo": "筛选…",
    "equals": "等于", "notEqual": "不等于", "contains": "包含", "notContains": "不包含", "startsWith": "开头是",
    "endsWith": "结尾是", "blank": "为空", "notBlank": "不为空", "lessThan": "小于", "greaterThan": "大于",
    "lessThanOrEqual": "小于等于", "greaterThanOrEqual": "大于等于", "inRange": "介于", "andCondition": "且",
    "orCondition": "或", "applyFilter": "应用", "resetFilter": "重置", "clearFilter": "清除", "cancelFilter": "取消",
    "searchOoo": "搜索…", "selectAll": "全选", "pageSizeSelectorLabel": "每页行数：", "ariaPageSizeSelectorLabel": "每页行数",
    "pinColumn": "固定列", "autosizeThisColumn": "自动调整此列", "autosizeAllColumns": "自动调整全部列",
    "resetColumns": "重置列", "sortAscending": "升序", "sortDescending": "降序", "sortUnSort": "取消排序",
    "columns": "列", "filters": "筛选", "copy": "复制", "export": "导出", "csvExport": "导出 CSV",
}


def column_defs(columns: Sequence[str], link_col: str | None = None, widths: dict[str, int] | None = None,
                records: Sequence[dict] = ()) -> list[dict]:
    """AG Grid column definitions; `link_col` renders as a link to the row's `link` (text only).

    Columns whose values are all numbers get a number filter; everything else a text filter
    (no browser date pickers: dates are shown as 2024年3月5日 text).
    """
    numeric = {c for c in columns if _all_numbers({type(r.get(c)) for r in records} - {type(None)})}
    defs = []
    for c in columns:
        d: dict[str, Any] = {"field": c, "headerName": c,
                             "filter": "agNumberColumnFilter" if c in numeric else "agTextColumnFilter"}
        if c == link_col:
            d.update(cellRenderer="WagemapLink", cellRendererParams={"linkField": "link"}, pinned="left")
        if widths and c in widths:
            d["width"] = widths[c]
        defs.append(d)
    return defs


def _all_numbers(types: set[type]) -> bool:
    """Some values, every one an int or float but not a bool (by type: one set per column, not a test per cell)."""
    return bool(types) and all(issubclass(t, (int, float)) and not issubclass(t, bool) for t in types)


def grid(grid_id: Any, records: list[dict], columns: Sequence[str], link_col: str | None = None,
         height: int = 420, row_id: str | None = None, **kw: Any) -> dag.AgGrid:
    """A filterable, sortable grid (20 rows a page, height follows the rows; `height` is ignored).

    Cells are plain text (AG Grid escapes them); `link_col` links through the WagemapLink renderer.
    """
    opts = {"localeText": GRID_LOCALE, "pagination": True, "paginationPageSize": 20, "domLayout": "autoHeight",
            "paginationPageSizeSelector": [20, 50, 100], "enableCellTextSelection": True,
            "ensureDomOrder": True, "suppressMenuHide": False}
    opts.update(kw.pop("dashGridOptions", {}))
    extra = {"getRowId": f"params.data.{row_id}"} if row_id else {}
    return dag.AgGrid(
        id=grid_id, rowData=records, columnDefs=column_defs(columns, link_col, kw.pop("widths", None), records),
        defaultColDef={"sortable": True, "resizable": True, "floatingFilter": True, "minWidth": 90, "cellDataType": False},
        dashGridOptions=opts, columnSize="autoSize", style={"width": "100%", "minHeight": "120px"},
        className="grid-wrap", **extra, **kw,
    )


def month_controls(prefix: str, options: list[dict], month_from: str, month_to: str) -> list[Any]:
    return [
        filter_group("起始月份", dcc.Dropdown(id=f"{prefix}-from", options=options, value=month_from, clearable=False,
                                           searchable=False)),
        filter_group("截止月份", dcc.Dropdown(id=f"{prefix}-to", options=options, value=month_to, clearable=False,
                                           searchable=False), "覆盖率按截止月份末的状态计算"),
    ]


def layer_switch(switch_id: Any, options: list[dict], value: str) -> dcc.RadioItems:
    """The layer switcher from the registry's options, each kind's first option headed by the kind."""
    seen: set[str] = set()
    items = []
    for o in options:
        kind_zh, _, title = o["label"].partition(" · ")
        head = None
        if o["kind"] not in seen:
            seen.add(o["kind"])
            head = html.Div(kind_zh, className="layer-kind")
        items.append({"label": html.Span([head, html.Span(title or o["label"])], className="layer-option"),
                      "value": o["value"]})
    return dcc.RadioItems(id=switch_id, options=items, value=value, className="layer-switch")


def kpi_items(records: Iterable[dict], button_type: str | None = None, active: str | None = None) -> html.Div:
    """KPI cards from service records; with `button_type`, cards that map to a layer are buttons.

    A policy note ("(三) 最近月报…") shows its clause on the card and the rest as a tooltip.
    Records marked `compact` (the coverage rates) go in a denser grid after the main figures.
    """
    cards: list[Any] = []
    small: list[Any] = []
    for it in records:
        target = small if it.get("compact") else cards
        note = it.get("note") or ""
        short, tip = (note.split(" ", 1)[0], note) if note.startswith("(") else (note, it["label"])
        body = [html.Div(it["label"], className="kpi-label"), html.Div(it["value"], className="kpi-value")]
        if short:
            body.append(html.Div(short, className="kpi-note"))
        cls = f"kpi {it.get('tone') or ''} {'active' if active and it.get('layer') == active else ''}".split()
        cls = " ".join(cls)
        if button_type and it.get("layer"):
            target.append(html.Button(body, id={"type": button_type, "key": it["layer"]}, className=cls + " clickable",
                                      n_clicks=0, title=f"{tip}（点击在地图上查看）"))
        else:
            target.append(html.Div(body, className=cls, title=tip))
    return html.Div([html.Div(cards, className="kpis"), html.Div(small, className="kpis compact") if small else None])


def bars_from(view: dict) -> dict:
    """The ranked bar chart of the view's indicator by township (colours as on the map)."""
    d = pd.DataFrame(view["bars"])
    if d.empty:
        return {"data": [], "layout": {"height": 120}}
    # plotly draws the first bar at the bottom: sort so the worst township ends up on top
    d = d.dropna(subset=["value"]).sort_values("value", ascending=not view["higher_is_better"], kind="stable")
    if "color" not in d.columns:
        d["color"] = "#3182bd"
    if "label" not in d.columns:
        d["label"] = d["value"].map(lambda v: f"{v:,.1f}{view.get('unit', '')}")
    return {
        "data": [{
            "type": "bar", "orientation": "h", "x": d["value"].tolist(), "y": d["name"].tolist(),
            "customdata": d["code"].tolist(), "text": d["label"].tolist(), "textposition": "none",
            "hovertemplate": "%{y}：%{text}<extra></extra>",
            "marker": {"color": d["color"].tolist(), "line": {"color": "#737373", "width": 0.5}},
        }],
        "layout": {
            "height": max(160, 20 * len(d) + 50), "margin": {"l": 8, "r": 12, "t": 4, "b": 36},
            "font": {"family": FONT, "size": 12},
            "xaxis": {"title": {"text": view["unit"]}, "fixedrange": True, "automargin": True, "rangemode": "tozero"},
            "yaxis": {"automargin": True, "fixedrange": True}, "bargap": 0.25,
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        },
    }
