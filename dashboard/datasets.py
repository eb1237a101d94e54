"""The 台账 (ledgers) and the 数据 page's load history and rejected rows, cached like every other view.

Split out of `dashboard.services` (which re-exports these names: pages and downloads call them as
`services.ledger`, `services.load_history`, `services.rejected`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dashboard import remote
from dashboard import services as S
from dashboard.cache import _cached, _ctx
from geodata import schema
from layers import ledgers

LEDGER_NAMES = ledgers.NAMES


@remote.allowed
def ledger(scope: Sequence[str] | None, name: str, month_from: str, month_to: str, township: str | None = None,
           mask_pii: bool = True) -> pd.DataFrame:
    """One of the four 台账 (六)(十九) for the scope and months (masked unless the role may see PII)."""
    if name not in ledgers.LEDGERS:
        raise S.ServiceError(f"unknown ledger {name!r}", f"未知台账“{name}”；可选：" + "、".join(LEDGER_NAMES))
    if township is not None and township not in S.township_names(scope):
        township = None
    args = (name, month_from, month_to, township, mask_pii)
    return S.view("ledger", scope, args,
                  lambda: ledgers.LEDGERS[name](S.window_data(scope, month_to, township),
                                                S._filters(month_from, month_to, township), mask_pii=mask_pii),
                  ledger, (scope, *args))


HISTORY_COLUMNS = ["批次", "数据类型", "来源文件", "载入时间", "操作人", "读取行数", "载入行数", "拒绝行数"]


def load_history() -> pd.DataFrame:
    """Every load batch, newest first, with Chinese headers (the 数据 page; not township data)."""
    def build() -> pd.DataFrame:
        b = _ctx().store.read("load_batches")
        if b.empty:
            return pd.DataFrame(columns=HISTORY_COLUMNS)
        b = b.sort_values("id", ascending=False)
        return pd.DataFrame({
            "批次": b["id"].astype(int), "数据类型": b["kind"].map(schema.KIND_ZH).fillna(b["kind"]),
            "来源文件": b["source_file"], "载入时间": pd.to_datetime(b["loaded_at"]).dt.strftime("%Y-%m-%d %H:%M"),
            "操作人": b["user_name"], "读取行数": b["rows_read"], "载入行数": b["rows_loaded"], "拒绝行数": b["rows_rejected"],
        }).reset_index(drop=True)

    return _cached("load_history", None, (), build)


def rejected(batch_id: int | None = None) -> pd.DataFrame:
    """Rejected rows (all, or of one batch) with reason and the source row (ID/phone numbers masked)."""
    def build() -> pd.DataFrame:
        from dashboard.access import scrub

        where = {"batch_id": int(batch_id)} if batch_id is not None else None
        r = _ctx().store.read("rejected_rows", where=where)
        cols = ["批次", "数据类型", "来源文件", "源文件行号", "拒绝原因", "原因代码", "原始内容"]
        if r.empty:
            return pd.DataFrame(columns=cols)
        r = r.sort_values(["batch_id", "source_row"])
        return pd.DataFrame({
            "批次": r["batch_id"].astype(int), "数据类型": r["kind"].map(schema.KIND_ZH).fillna(r["kind"]),
            "来源文件": r["source_file"], "源文件行号": r["source_row"], "拒绝原因": r["reason"],
            "原因代码": r["reason_code"], "原始内容": r["row_json"].fillna("").map(scrub),
        }).reset_index(drop=True)

    return _cached("rejected", None, (batch_id,), build)


# project and enterprise pages (dashboard/records.py builds them with the helpers above)
