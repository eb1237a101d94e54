"""Flask routes for the xlsx/csv downloads: worklist, ledgers, layer tables, load history, rejected rows, blacklist.

Every route takes its scope from `access.current_scope()` and its data from `services`;
files are masked for the role (ID/phone/name) and formula-neutralised (layers.exports).
Role checks by URL prefix are done in front of these routes by dashboard/auth.py.
"""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
from flask import Response, abort, request, send_file

from dashboard import access, services
from layers import registry
from layers.credit import is_quarter, publication_list, publication_xlsx, quarter_zh
from layers.exports import csv_bytes, xlsx_bytes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


def register(server) -> None:
    """Add the download routes to the Flask server."""
    server.add_url_rule("/download/worklist/<code>.xlsx", "dl_worklist", worklist_xlsx)
    server.add_url_rule("/download/ledgers.xlsx", "dl_ledgers", ledgers_xlsx)
    server.add_url_rule("/download/layer/<key>.xlsx", "dl_layer", layer_xlsx)
    server.add_url_rule("/download/data/history.xlsx", "dl_history", history_xlsx)
    server.add_url_rule("/download/rejected.<fmt>", "dl_rejected", rejected_file)
    server.add_url_rule("/download/credit/publication.xlsx", "dl_credit_publication", credit_publication_xlsx)


def _months() -> tuple[str, str]:
    return services.month_window(access.current_scope(), request.args.get("from"), request.args.get("to"))


def _mask() -> bool:
    return not access.can_see_personal_data()


def _xlsx(sheets: dict[str, pd.DataFrame] | pd.DataFrame, name: str) -> Response:
    return send_file(io.BytesIO(xlsx_bytes(sheets)), mimetype=XLSX, as_attachment=True,
                     download_name=f"{name}_{date.today():%Y%m%d}.xlsx", max_age=0)


def worklist_xlsx(code: str) -> Response:
    """/download/worklist/<code>.xlsx?from=&to=: the township's coverage-gap worklist."""
    scope = access.current_scope()
    frm, to = _months()
    df = services.worklist_frame(scope, code, frm, to, mask_pii=_mask())
    if df is None:
        abort(404)
    name = services.township_names(scope)[code]
    return _xlsx({f"{name}机制缺失清单": df}, f"{name}_机制缺失清单")


def ledgers_xlsx() -> Response:
    """/download/ledgers.xlsx?name=&from=&to=&township=: one ledger (name) or all four."""
    scope = access.current_scope()
    frm, to = _months()
    names = [request.args["name"]] if request.args.get("name") else list(services.LEDGER_NAMES)
    if any(n not in services.LEDGER_NAMES for n in names):
        abort(404)
    township = request.args.get("township") or None
    sheets = {n: services.ledger(scope, n, frm, to, township, mask_pii=_mask()) for n in names}
    return _xlsx(sheets, names[0] if len(names) == 1 else "欠薪治理台账")


def layer_xlsx(key: str) -> Response:
    """/download/layer/<key>.xlsx?from=&to=: the table under the overview map for one layer."""
    if key not in registry.LAYERS:
        abort(404)
    scope = access.current_scope()
    frm, to = _months()
    view = services.overview(scope, key, frm, to)
    df = pd.DataFrame(view["table"], columns=view["columns"])
    return _xlsx({view["title"]: df}, view["title"])


def _citywide() -> None:
    """Load batches and rejected rows span townships: citywide roles only."""
    if access.current_scope() is not None:
        abort(403)


def history_xlsx() -> Response:
    """/download/data/history.xlsx: every load batch."""
    _citywide()
    return _xlsx({"载入记录": services.load_history()}, "数据载入记录")


def rejected_file(fmt: str) -> Response:
    """/download/rejected.xlsx|csv?batch=N: rejected rows with reasons, for fixing the source file."""
    _citywide()
    batch = request.args.get("batch")
    try:
        batch_id = int(batch) if batch else None
    except ValueError:
        abort(404)
    df = services.rejected(batch_id)
    stem = f"被拒绝的行_批次{batch_id}" if batch_id is not None else "被拒绝的行"
    if fmt == "csv":
        return send_file(io.BytesIO(csv_bytes(df)), mimetype=CSV, as_attachment=True,
                         download_name=f"{stem}_{date.today():%Y%m%d}.csv", max_age=0)
    if fmt == "xlsx":
        return _xlsx({"被拒绝的行": df}, stem)
    abort(404)


def credit_publication_xlsx() -> Response:
    """/download/credit/publication.xlsx?q=YYYYQn: (十四) the quarter's blacklist publication list."""
    q = (request.args.get("q") or "").upper()
    if not is_quarter(q):
        abort(404)
    table = publication_list(services.layer_data(access.current_scope()), q)
    buf = io.BytesIO()
    publication_xlsx(table, buf)
    buf.seek(0)
    return send_file(buf, mimetype=XLSX, as_attachment=True, download_name=f"黑名单公示名单_{quarter_zh(q)}.xlsx", max_age=0)
