"""The four 台账 of (六)(十九) as DataFrames with Chinese headers, ready for grids and xlsx.

(六) "建立建设工程项目台账，建设工程项目欠薪问题排查台账、欠薪举报投诉台账、欠薪案件办理台账":
- 建设工程项目台账: every project in scope started by the reference date, with its mechanisms;
- 欠薪问题排查台账: every active project screened at the reference date: gaps and open cases;
- 欠薪举报投诉台账: cases from complaints (举报投诉, 12345, 信访, 线索平台) received in the range;
- 欠薪案件办理台账: every case received in the range or still open, with days to close.
Headers are the schema's Chinese headers where one exists, so `exports.mask_frame` finds the
personal-data columns; `mask_pii=True` (the default) masks them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geodata.schema import DATA_TABLES
from layers.arrears import case_state
from layers.base import Filters, LayerData
from layers.coverage_rules import project_status
from layers.exports import mask_frame
from layers.gaps import worklist
from layers.units import as_dates, as_flags, as_text, column, fmt_dates, fmt_months, ref_date

COMPLAINT_SOURCES = ("举报投诉", "12345", "信访", "线索平台")
NAMES = ("建设工程项目台账", "欠薪问题排查台账", "欠薪举报投诉台账", "欠薪案件办理台账")


def _zh(kind: str, field: str) -> str:
    return DATA_TABLES[kind].columns[field].info["zh"]


def _yes(s: pd.Series) -> pd.Series:
    return pd.Series(np.where(as_flags(s, s.index), "是", "否"), index=s.index)


def _numbered(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    df.insert(0, "序号", np.arange(1, len(df) + 1))
    return df


def _town_names(data: LayerData) -> dict[str, str]:
    return dict(zip(data.townships["code"].astype(str), data.townships["name"].astype(str), strict=True))


def project_ledger(data: LayerData, filters: Filters | None = None, mask_pii: bool = True) -> pd.DataFrame:
    """建设工程项目台账: all projects in scope (any status) started by the reference date."""
    filters = filters or Filters()
    p = data.projects if data.projects is not None else pd.DataFrame()
    if p.empty:
        return _numbered(pd.DataFrame(columns=[_zh("projects", "project_code"), _zh("projects", "name")]))
    ref = ref_date(filters)
    start = as_dates(column(p, "start_date"), p.index)
    town = as_text(column(p, "township_code"), p.index)
    keep = start.isna() | (start <= ref)
    if filters.township:
        keep &= (town == filters.township).fillna(False)
    p = p[keep]
    out = pd.DataFrame(index=p.index)
    text = ["project_code", "name", "category", "funding", "builder", "contractor", "contractor_credit_code",
            "contractor_phone", "address"]
    for f in text:
        out[_zh("projects", f)] = as_text(column(p, f), p.index)
    out["所属乡镇"] = town[keep].map(_town_names(data))
    out[_zh("projects", "contract_value")] = pd.to_numeric(column(p, "contract_value"), errors="coerce") \
        if "contract_value" in p.columns else np.nan
    out[_zh("projects", "start_date")] = fmt_dates(start[keep])
    out[_zh("projects", "status")] = as_text(column(p, "status"), p.index)
    out[_zh("projects", "filed_date")] = fmt_dates(as_dates(column(p, "filed_date"), p.index))
    for f in ("labour_officer", "labour_officer_phone", "special_account_bank"):
        out[_zh("projects", f)] = as_text(column(p, f), p.index)
    for f in ("notice_board", "special_account", "bank_payroll", "payment_guarantee"):
        out[_zh("projects", f)] = _yes(column(p, f)) if f in p.columns else "否"
    for f in ("special_account_opened", "special_account_filed"):
        out[_zh("projects", f)] = fmt_dates(as_dates(column(p, f), p.index))
    st = project_status(data, filters).set_index("project_code")
    code = out[_zh("projects", "project_code")]
    out["已缴保证金(万元)"] = code.map(st["deposit_paid"]).round(2)
    out["最近月报"] = fmt_months(code.map(st["comp_month"])).replace("—", "")
    out["在场人数"] = code.map(st["onsite"])
    out["实名登记人数"] = code.map(st["registered"])
    out["一卡通发放数"] = code.map(st["cards"])
    out["工资发放至"] = fmt_months(code.map(st["paid_through"])).replace("—", "")
    out = out.sort_values(["所属乡镇", _zh("projects", "project_code")], kind="stable")
    return _finish(out, mask_pii)


def screening_ledger(data: LayerData, filters: Filters | None = None, mask_pii: bool = True) -> pd.DataFrame:
    """欠薪问题排查台账: each active project at the reference date — mechanisms missing, open cases."""
    filters = filters or Filters()
    st = project_status(data, filters)
    ref = ref_date(filters)
    wl = worklist(data, filters, mask_pii=False).set_index("project_code")
    cs = case_state(data, filters)
    open_cs = cs[cs["open"] & cs["project_code"].notna()]
    per = open_cs.groupby("project_code").agg(n=("case_no", "size"), owed=("owed", "sum"), workers=("workers", "sum"))
    code = st["project_code"]
    n_open = code.map(per["n"]).fillna(0).astype(int)
    missing = code.map(wl["missing_zh"]).fillna("")
    problems = missing.where(missing == "", "缺" + missing)
    cases_txt = np.where(problems != "", "；", "") + "在办欠薪案件" + n_open.astype(str) + "件"
    problems = problems + np.where(n_open > 0, cases_txt, "")
    out = pd.DataFrame({
        "排查日期": f"{ref.year}年{ref.month}月{ref.day}日",
        _zh("projects", "project_code"): code, _zh("projects", "name"): st["name"],
        "所属乡镇": st["township_code"].map(_town_names(data)), _zh("projects", "contractor"): st["contractor"],
        _zh("projects", "labour_officer"): st["labour_officer"],
        _zh("projects", "labour_officer_phone"): st["labour_officer_phone"],
        _zh("projects", "status"): st["status"], "在场人数": st["onsite"],
        "工资发放至": fmt_months(st["paid_through"]).replace("—", ""),
        "在办欠薪案件(件)": n_open, "欠薪金额(万元)": code.map(per["owed"]).fillna(0.0).round(2),
        "涉及人数(人)": code.map(per["workers"]).fillna(0).astype(int),
        "存在问题": problems.replace("", "未发现问题"),
        "问题数": code.map(wl["n_missing"]).fillna(0).astype(int) + (n_open > 0).astype(int),
        "最早缺失自": code.map(wl["since_label"]).fillna(""),
        "处理意见": np.where((n_open > 0) | (missing != ""), "限期整改", "—"),
    })
    out = out.sort_values(["问题数", _zh("projects", "project_code")], ascending=[False, True], kind="stable")
    return _finish(out, mask_pii)


def _cases_frame(data: LayerData, filters: Filters) -> pd.DataFrame:
    """Case state joined with the raw fields the ledgers show (complainant, description...)."""
    cs = case_state(data, filters)
    raw = data.cases if data.cases is not None else pd.DataFrame()
    extra = ["description", "complainant", "complainant_id", "complainant_phone", "advance_source"]
    if raw.empty:
        return cs.assign(**{f: pd.Series(dtype="string") for f in extra})
    r = pd.DataFrame({f: as_text(column(raw, f), raw.index) for f in ["case_no", *extra]}).drop_duplicates("case_no")
    return cs.merge(r, on="case_no", how="left")


def complaint_ledger(data: LayerData, filters: Filters | None = None, mask_pii: bool = True) -> pd.DataFrame:
    """欠薪举报投诉台账: complaints received in the range (first-contact register, (十九) 台账登记制)."""
    filters = filters or Filters()
    c = _cases_frame(data, filters)
    c = c[c["source"].isin(COMPLAINT_SOURCES).fillna(False) & c["new_in_range"]]
    out = pd.DataFrame({
        _zh("cases", "case_no"): c["case_no"], _zh("cases", "received_date"): fmt_dates(c["received"]),
        _zh("cases", "source"): c["source"], _zh("cases", "complainant"): c["complainant"],
        _zh("cases", "complainant_id"): c["complainant_id"], _zh("cases", "complainant_phone"): c["complainant_phone"],
        _zh("cases", "employer_name"): c["employer_name"], _zh("cases", "credit_code"): c["credit_code"],
        _zh("cases", "project_code"): c["project_code"], _zh("cases", "address"): c["address"],
        "所属乡镇": c["township_code"].map(_town_names(data)), _zh("cases", "workers"): c["workers"].round().astype(int),
        _zh("cases", "amount"): c["amount"].round(2), _zh("cases", "description"): c["description"],
        _zh("cases", "status"): c["shown_status"], _zh("cases", "closed_date"): fmt_dates(c["closed_at"]).replace("—", ""),
    }).sort_values(_zh("cases", "case_no"), kind="stable")
    return _finish(out, mask_pii)


def case_ledger(data: LayerData, filters: Filters | None = None, mask_pii: bool = True) -> pd.DataFrame:
    """欠薪案件办理台账: cases received in the range or still open, with recovery, advances and days to close."""
    filters = filters or Filters()
    c = _cases_frame(data, filters)
    c = c[c["new_in_range"] | c["open"]]
    ref = ref_date(filters)
    end = c["closed_at"].fillna(ref)
    out = pd.DataFrame({
        _zh("cases", "case_no"): c["case_no"], _zh("cases", "received_date"): fmt_dates(c["received"]),
        _zh("cases", "source"): c["source"], _zh("cases", "employer_name"): c["employer_name"],
        _zh("cases", "credit_code"): c["credit_code"], _zh("cases", "project_code"): c["project_code"],
        "所属乡镇": c["township_code"].map(_town_names(data)), _zh("cases", "workers"): c["workers"].round().astype(int),
        _zh("cases", "amount"): c["amount"].round(2), _zh("cases", "status"): c["shown_status"],
        _zh("cases", "closed_date"): fmt_dates(c["closed_at"]).replace("—", ""),
        "办理天数": (end - c["received"]).dt.days.astype("Int64"),
        _zh("cases", "recovered"): c["recovered"].round(2), _zh("cases", "advanced"): c["advanced"].round(2),
        _zh("cases", "advance_source"): c["advance_source"],
    }).sort_values(_zh("cases", "case_no"), kind="stable")
    return _finish(out, mask_pii)


def _finish(out: pd.DataFrame, mask_pii: bool) -> pd.DataFrame:
    return _numbered(mask_frame(out) if mask_pii else out)


LEDGERS = {
    "建设工程项目台账": project_ledger,
    "欠薪问题排查台账": screening_ledger,
    "欠薪举报投诉台账": complaint_ledger,
    "欠薪案件办理台账": case_ledger,
}


def ledgers(data: LayerData, filters: Filters | None = None, mask_pii: bool = True) -> dict[str, pd.DataFrame]:
    """All four ledgers, keyed by their Chinese names (sheet names of the xlsx export)."""
    return {name: fn(data, filters, mask_pii=mask_pii) for name, fn in LEDGERS.items()}

