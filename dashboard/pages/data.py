"""数据 `/data`: load history and the rejected rows with their reasons, downloadable to fix the source file.

(六) the data managers load the spreadsheets other offices send; every rejected row is listed
with its source file, row number, reason and the row as it was (ID/phone numbers masked).
URL state: ?batch=<load batch id>.
"""

from __future__ import annotations

import dash
from dash import Input, Output, callback, clientside_callback, dcc, html

from dashboard import access, components, services

dash.register_page(__name__, path="/data", name="数据", title="数据 · 根治欠薪一张图", order=5)

HISTORY_COLS = ["批次", "数据类型", "来源文件", "载入时间", "操作人", "读取行数", "载入行数", "拒绝行数"]
REJECTED_COLS = ["批次", "数据类型", "来源文件", "源文件行号", "拒绝原因", "原因代码", "原始内容"]


def _batch(arg) -> int | None:
    try:
        return int(arg) if arg not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _records(df) -> list[dict]:
    recs = df.astype(object).where(df.notna(), None).to_dict("records")
    for r in recs:
        r["row_id"] = str(r.get("批次"))  # AG Grid row ids are strings
    return recs


def _downloads(batch: int | None) -> tuple[str, str]:
    q = f"?batch={batch}" if batch is not None else ""
    return f"/download/rejected.xlsx{q}", f"/download/rejected.csv{q}"


@components.safe_layout
def layout(batch: str | None = None, **_: str) -> html.Div:
    if access.current_scope() is not None:  # load batches span townships: citywide roles only
        return components.page("数据", [("全市总览", "/"), ("数据", None)], main=components.not_found("数据", "载入记录"),
                               wide=True)
    b = _batch(batch)
    history = services.load_history()
    rejected = services.rejected(b)
    xlsx, csv = _downloads(b)
    total = int(history["拒绝行数"].fillna(0).sum()) if len(history) else 0
    intro = components.card("说明", html.P(
        "每次载入（wagemap etl load）记为一个批次：读取行数 = 载入行数 + 拒绝行数。点击批次查看该批被拒绝的行，"
        "按“拒绝原因”修改源文件后重新载入即可（同一行重复载入不会重复计数）。"), html.P(f"累计被拒绝 {total:,} 行。",
                                                                          className="muted"))
    main = components.card(
        None,
        html.Div(className="toolbar", children=[
            html.H2("载入记录", className="card-title"), html.Span(f"{len(history)}个批次", className="badge muted"),
            html.Span(className="spacer"),
            html.A("⤓ 导出载入记录", className="button download", href="/download/data/history.xlsx"),
        ]),
        components.grid("dt-history", _records(history), HISTORY_COLS, height=320, row_id="row_id",
                        selectedRows={"ids": [str(b)]} if b is not None else None,
                        dashGridOptions={"rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                          "enableClickSelection": True}}),
    )
    details = components.card(
        None,
        html.Div(className="toolbar", children=[
            html.H2("被拒绝的行" + (f"（批次{b}）" if b is not None else "（全部批次）"), id="dt-rej-title",
                    className="card-title"),
            html.Span(f"{len(rejected)}行", id="dt-rej-count", className="badge warn" if len(rejected) else "badge muted"),
            html.Span(className="spacer"),
            html.A("⤓ Excel", id="dt-rej-xlsx", className="button download", href=xlsx),
            html.A("⤓ CSV", id="dt-rej-csv", className="button download", href=csv),
        ]),
        components.grid("dt-rejected", _records(rejected), REJECTED_COLS, height=420),
    )
    return components.page("数据", [("全市总览", "/"), ("数据", None)], filters=[intro], main=main, details=details,
                           wide=True, extra=[dcc.Store(id="dt-sink")])


@callback(
    Output("dt-rejected", "rowData"),
    Output("dt-rej-title", "children"),
    Output("dt-rej-count", "children"),
    Output("dt-rej-xlsx", "href"),
    Output("dt-rej-csv", "href"),
    Input("dt-history", "selectedRows"),
    prevent_initial_call=True,
)
def select_batch(rows):
    """A batch picked in the history: show its rejected rows (none picked: all)."""
    if access.current_scope() is not None:
        raise dash.exceptions.PreventUpdate
    b = _batch(rows[0].get("批次")) if rows else None
    rejected = services.rejected(b)
    xlsx, csv = _downloads(b)
    title = "被拒绝的行" + (f"（批次{b}）" if b is not None else "（全部批次）")
    return _records(rejected), title, f"{len(rejected)}行", xlsx, csv


clientside_callback(
    """function(rows) {
        var b = (rows && rows.length) ? rows[0]["批次"] : null;
        window.wagemap.setQuery(b !== null && b !== undefined ? "?batch=" + encodeURIComponent(b) : "", "/data");
        return window.dash_clientside.no_update;
    }""",
    Output("dt-sink", "data"),
    Input("dt-history", "selectedRows"),
    prevent_initial_call=True,
)
