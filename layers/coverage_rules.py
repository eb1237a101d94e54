"""The policy's long-term mechanisms as vectorised rules: one status row per active project.

`project_status(data, filters)` gives, for every active project, for every mechanism key
(real_name, card, special_account, deposit, bank_payroll, monthly_settled, notice_board,
filing, labour_officer) three columns: `<key>_app` (the rule applies), `<key>_met` (it is
met) and `<key>_since` (when the gap began; NaT where met); a gap is `app & ~met`.

Which projects and which date (documented once, used by every coverage layer, the gap
worklist and the KPIs):
- active = status 在建 or 停工 (the store keeps the current status only, so a 竣工 project
  drops out of past months too); projects without a status are not counted;
- the reference date is the end of the filter's `month_to` (never after `as_of`/today);
  projects that start after it are left out; projects with no start date are kept;
  `month_from` does not change coverage: coverage is the status at the end of the range;
- facts dated after the reference date (a 备案 filed later, a deposit paid later) are
  ignored, so a past month shows what was true then;
- an unreported yes/no field (notice board, bank payroll...) counts as "not in place".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geodata.settings import Rules, get_settings
from layers.base import Filters, LayerData, of_frame
from layers.deposits import required_deposits
from layers.units import (
    as_dates,
    as_flags,
    as_numbers,
    as_text,
    column,
    eval_month,
    index_to_month,
    index_to_timestamp,
    month_index,
    month_of_index,
    ref_date,
)

ACTIVE_STATUSES = ("在建", "停工")
KEYS = ("real_name", "card", "special_account", "deposit", "bank_payroll", "monthly_settled",
        "notice_board", "filing", "labour_officer")
_PROJECT_TEXT = ("project_code", "name", "township_code", "contractor", "contractor_credit_code", "contractor_phone",
                 "labour_officer", "labour_officer_phone", "address", "status")


def project_status(data: LayerData, filters: Filters | None = None, rules: Rules | None = None) -> pd.DataFrame:
    """One row per active project with `<key>_app/_met/_since` per mechanism and the facts behind them.

    Memoised on the `data` object (same filters and rules -> same frame), so the nine
    coverage layers, the worklist and the KPIs of one view share one computation.
    """
    filters = filters or Filters()
    rules = rules or get_settings().rules
    memo = data.__dict__.setdefault("_wagemap_memo", {})
    key = ("status", filters.month_to, filters.as_of, filters.township, rules.model_dump_json())
    if key not in memo:
        memo[key] = _compute(data, filters, rules)
    return memo[key]


def _compute(data: LayerData, filters: Filters, rules: Rules) -> pd.DataFrame:
    ref = ref_date(filters)
    emi = float(month_index(pd.Series([eval_month(filters)])).iloc[0])
    p = _active_projects(data.projects, filters, ref)
    comp = _compliance(data.compliance, p["project_code"], emi)
    for c in ("comp_mi", "onsite", "registered", "cards", "paid_through_mi"):
        p[c] = comp[c]
    dep = _deposit_due(data, p["project_code"], ref, rules)
    for c in dep.columns:
        p[c] = dep[c].to_numpy()
    # the reporting month: the evaluation month, or the latest month any report reached if earlier
    # (reports come in after the month ends; mid-month "today" must not fail every project)
    rmi = min(emi, _data_month(data.compliance, emi))
    started_before_month = p["start_date"].isna() | (p["start_date"] < index_to_timestamp(pd.Series([rmi])).iloc[0])
    hist = comp.attrs["history"]
    _worker_rule(p, hist, "real_name", "registered", rules.real_name_min, started_before_month)  # (三) 实名制
    _worker_rule(p, hist, "card", "cards", rules.card_min, started_before_month)  # (三) 一卡通
    _special_account_rule(p, ref)  # (十一) 专户
    _deposit_rule(p)  # (九) 工资保证金, 差异化缴存
    _flag_rule(p, "bank_payroll", p["bank_payroll_flag"])  # (五) 银行代发
    _settled_rule(p, rmi, started_before_month)  # (五)(十九) 月结月清
    _flag_rule(p, "notice_board", p["notice_board_flag"])  # (三十一) 维权信息公示牌
    _filing_rule(p, ref, rules)  # (二) 用工备案
    _flag_rule(p, "labour_officer", p["labour_officer"].notna())  # (四) 劳资专管员
    p.attrs["eval_month"] = eval_month(filters)
    p.attrs["report_month"] = index_to_month(pd.Series([rmi])).iloc[0]
    p.attrs["due_month"] = index_to_month(pd.Series([rmi - 1])).iloc[0]
    p.attrs["ref_date"] = ref.strftime("%Y-%m-%d")
    return p


# ---- inputs --------------------------------------------------------------------------------


def _active_projects(projects: pd.DataFrame, filters: Filters, ref: pd.Timestamp) -> pd.DataFrame:
    """The projects counted (see module docstring), normalised; selection first, then the other columns."""
    df = projects if projects is not None else pd.DataFrame()
    norm = _normalised(df) if projects is None else of_frame(projects, ("coverage_rules.projects",), lambda: _normalised(df))
    status, start = norm["status"], norm["start_date"]
    keep = status.isin(ACTIVE_STATUSES) & (start.isna() | (start <= ref)) & norm["project_code"].notna()
    if filters.township:
        keep &= norm["township_code"].eq(filters.township)
    out = norm[keep.to_numpy()].copy()
    for c in ("filed_date", "sa_opened", "sa_filed"):
        out[c] = _until(out[c], ref)
    return out.drop_duplicates("project_code").reset_index(drop=True)


def _normalised(df: pd.DataFrame) -> pd.DataFrame:
    """Every project's columns normalised (dates not yet cut at the reference date), once per read of the frames."""
    idx = df.index
    out = pd.DataFrame({c: as_text(column(df, c), idx) for c in _PROJECT_TEXT}, index=idx)
    out["start_date"] = as_dates(column(df, "start_date"), idx)
    out["contract_value"] = as_numbers(column(df, "contract_value"), idx)
    out["lon"] = as_numbers(column(df, "lon"), idx)
    out["lat"] = as_numbers(column(df, "lat"), idx)
    out["filed_date"] = as_dates(column(df, "filed_date"), idx)
    out["sa_opened"] = as_dates(column(df, "special_account_opened"), idx)
    out["sa_filed"] = as_dates(column(df, "special_account_filed"), idx)
    out["sa_bank"] = as_text(column(df, "special_account_bank"), idx)
    out["sa_flag"] = as_flags(column(df, "special_account"), idx)
    out["bank_payroll_flag"] = as_flags(column(df, "bank_payroll"), idx)
    out["notice_board_flag"] = as_flags(column(df, "notice_board"), idx)
    return out


def _until(d: pd.Series, ref: pd.Timestamp) -> pd.Series:
    """Dates after the reference date did not exist yet."""
    return d.where(d <= ref)


def _positions(codes: pd.Series, values: pd.Series) -> np.ndarray:
    """Row position in `codes` (the active projects) of each value; -1 where absent. Integer keys from here on."""
    return pd.Index(codes.astype(object)).get_indexer(values.astype(object))


def _per_project(n: int, pid: np.ndarray, values: pd.Series | np.ndarray, how: str) -> np.ndarray:
    """Reduce `values` by project position into an array of length n (NaN where a project has none)."""
    out = pd.Series(np.asarray(values, dtype="float64")).groupby(pid).agg(how)
    return out.reindex(range(n)).to_numpy()


def _compliance(comp: pd.DataFrame, codes: pd.Series, emi: float) -> pd.DataFrame:
    """Monthly reports up to the evaluation month, by project position: latest report, max paid-through.

    Returns a frame aligned with `codes` (comp_mi, onsite, registered, cards, paid_through_mi)
    with the usable report history in `.attrs["history"]` (pid, mi, onsite, registered, cards).
    """
    n = len(codes)
    cols = ["comp_mi", "onsite", "registered", "cards", "paid_through_mi"]
    out = pd.DataFrame({c: np.full(n, np.nan) for c in cols})
    hist = pd.DataFrame({"pid": pd.Series(dtype="int64"), "mi": pd.Series(dtype="float64"),
                         **{c: pd.Series(dtype="float64") for c in ("onsite", "registered", "cards")}})
    if comp is not None and not comp.empty and {"project_code", "month"} <= set(comp.columns) and n:
        pid = _positions(codes, comp["project_code"])
        mi = month_index(comp["month"]).to_numpy()
        keep = (pid >= 0) & (mi <= emi)
        idx = comp.index[keep]
        hist = pd.DataFrame({
            "pid": pid[keep], "mi": mi[keep],
            "onsite": as_numbers(column(comp, "workers_onsite"), comp.index).to_numpy()[keep],
            "registered": as_numbers(column(comp, "workers_registered"), comp.index).to_numpy()[keep],
            "cards": as_numbers(column(comp, "cards_issued"), comp.index).to_numpy()[keep],
        }, index=idx)
        if len(hist):
            order = np.lexsort((hist["mi"].to_numpy(), hist["pid"].to_numpy()))
            h = hist.iloc[order]
            last = np.r_[h["pid"].to_numpy()[1:] != h["pid"].to_numpy()[:-1], True]  # last row of each project
            lat = h[last]
            pos = lat["pid"].to_numpy()
            out.loc[pos, "comp_mi"] = lat["mi"].to_numpy()
            for c in ("onsite", "registered", "cards"):
                out.loc[pos, c] = lat[c].to_numpy()
            if "paid_through_month" in comp.columns:
                pt = month_index(comp["paid_through_month"]).to_numpy()[keep]
                out["paid_through_mi"] = _per_project(n, pid[keep], pt, "max")
    out.attrs["history"] = hist
    return out


def _data_month(comp: pd.DataFrame, emi: float) -> float:
    """Latest report month in the data up to the evaluation month (the whole frame given, not one project)."""
    if comp is None or comp.empty or "month" not in comp.columns:
        return emi
    mi = month_index(comp["month"])
    mi = mi[mi <= emi]
    return float(mi.max()) if len(mi) and mi.notna().any() else emi


def _deposit_due(data: LayerData, codes: pd.Series, ref: pd.Timestamp, rules: Rules) -> pd.DataFrame:
    """(九) 差异化缴存 per project (aligned with `codes`): layers.deposits.required_deposits at `ref`.

    One reading for this coverage rule, the deposit_short warning, the deposit layer and the
    assessment: the contractor's arrears record sets the rule and the rate; paid = money paid in
    (缴存/动用/退还), balance = still held (缴存), both up to `ref`; `deposit_low` is the
    warnings' `low_balance` (held below required less `deposit_tolerance`; with no contract
    value, nothing held). Deposits keyed by credit code only are not attributed to a project.
    """
    cols = {"rule": None, "rule_zh": None, "rate": np.nan, "required": np.nan, "paid": 0.0, "balance": 0.0,
            "low_balance": True, "flags": ""}
    dep = required_deposits(data, ref, rules).reindex(columns=["project_code", *cols])
    dep = dep[dep["project_code"].notna()].drop_duplicates("project_code").set_index("project_code")
    at = dep.reindex(pd.Index(codes.astype(object)))
    out = pd.DataFrame({f"deposit_{c}": at[c].fillna(d).to_numpy() if d is not None else at[c].to_numpy()
                        for c, d in cols.items()})
    out["deposit_low"] = out.pop("deposit_low_balance").astype(bool)
    out["deposit_exempt"] = (out["deposit_rule"] == "exempt").to_numpy()
    for c in ("deposit_rate", "deposit_required", "deposit_paid", "deposit_balance"):
        out[c] = out[c].astype(float)
    return out


# ---- rules ---------------------------------------------------------------------------------


def _set(p: pd.DataFrame, key: str, app: pd.Series, met: pd.Series, since: pd.Series) -> None:
    app = app.fillna(False).astype(bool)
    met = met.fillna(False).astype(bool) & app
    p[f"{key}_app"] = app
    p[f"{key}_met"] = met
    p[f"{key}_since"] = as_dates(since).where(app & ~met)


def _flag_rule(p: pd.DataFrame, key: str, present: pd.Series) -> None:
    """A yes/no mechanism that every active project must have from its start."""
    _set(p, key, pd.Series(True, index=p.index), present, p["start_date"])


def _worker_rule(p: pd.DataFrame, hist: pd.DataFrame, key: str, col: str, minimum: float, started: pd.Series) -> None:
    """(三) registered (or cards issued) / onsite in the latest monthly report, per project ≥ minimum.

    Per project the count is capped at onsite (registered workers who left do not raise the
    rate). Onsite = 0: nothing to register, the rule does not apply. No report at all: a gap
    when the project started before the reporting month (no report means no 实名制 evidence).
    """
    onsite, n = p["onsite"], p[col]
    covered = np.minimum(n.fillna(0.0), onsite)
    p[f"{key}_covered"] = covered
    p[f"{key}_value"] = (covered / onsite * 100).where(onsite > 0)
    reported = p["comp_mi"].notna()
    app = (reported & (onsite > 0)) | (~reported & started)
    met = reported & (onsite > 0) & (covered >= minimum * onsite - 1e-9)
    since = _since_from_history(p, hist, col, minimum)
    _set(p, key, app, met, since.fillna(p["start_date"]))


def _since_from_history(p: pd.DataFrame, hist: pd.DataFrame, col: str, minimum: float) -> pd.Series:
    """First month of the current run of failing months (months with onsite 0 or no report are skipped)."""
    h = hist[hist["onsite"] > 0]
    ok = (np.minimum(h[col].fillna(0.0), h["onsite"]) >= minimum * h["onsite"] - 1e-9).to_numpy()
    n = len(p)
    last_ok = _per_project(n, h["pid"].to_numpy()[ok], h["mi"].to_numpy()[ok], "max") if ok.any() else np.full(n, np.nan)
    bad = h[~ok]
    after = bad["mi"].to_numpy() > np.nan_to_num(last_ok[bad["pid"].to_numpy()], nan=-np.inf)
    first_bad = _per_project(n, bad["pid"].to_numpy()[after], bad["mi"].to_numpy()[after], "min") \
        if after.any() else np.full(n, np.nan)
    return index_to_timestamp(pd.Series(first_bad, index=p.index))


def _special_account_rule(p: pd.DataFrame, ref: pd.Timestamp) -> None:
    """(十一) 每个项目一个专户，开工前开设并书面备案.

    Met when the account exists (flag or an opening date), was opened on or before the
    start date and its 备案 is dated on or before the start date (same day counts as before
    start). Without a start date the order cannot be checked: opened and filed is enough.
    """
    start = p["start_date"]
    has = p["sa_flag"] | p["sa_opened"].notna()
    opened_ok = p["sa_opened"].notna() & (start.isna() | (p["sa_opened"] <= start))
    filed_ok = p["sa_filed"].notna() & (start.isna() | (p["sa_filed"] <= start))
    _set(p, "special_account", pd.Series(True, index=p.index), has & opened_ok & filed_ok, start)


def _deposit_rule(p: pd.DataFrame) -> None:
    """(九) 差异化缴存: the deposit still held covers what the contractor's record requires.

    Met exactly when the deposit_short warning (layers.rules) does not fire: exempt projects
    (two clean years and a 无拖欠证明) need nothing; a 减免 claimed without qualifying, a deposit
    used and not replenished, or one below required·(1 - tolerance) is a gap.
    """
    req = p["deposit_required"]
    p["deposit_value"] = (p["deposit_balance"] / req * 100).where(req > 0)
    _set(p, "deposit", pd.Series(True, index=p.index), ~p["deposit_low"], p["start_date"])


def _settled_rule(p: pd.DataFrame, rmi: float, started: pd.Series) -> None:
    """(五)(十九) 月结月清: wages paid through the month before the reporting month.

    The reporting month is the evaluation month, or the latest month the reports reach if
    that is earlier (October's report is the newest in mid-November: wages due through
    September). Applies to projects started before the reporting month began. The gap began
    with the first unpaid month (paid through + 1), or at the start without any record.
    """
    pt = p["paid_through_mi"]
    met = pt >= rmi - 1
    since = index_to_timestamp(pt + 1).fillna(p["start_date"])
    _set(p, "monthly_settled", started, met, since)
    p["paid_through"] = index_to_month(pt)
    p["settled_due"] = month_of_index(rmi - 1)  # the month wages must be paid through (a column: survives merges)
    p["comp_month"] = index_to_month(p["comp_mi"])


def _filing_rule(p: pd.DataFrame, ref: pd.Timestamp, rules: Rules) -> None:
    """(二) 开工后1个月内办理用工备案: filed on or before start + filing_within_days.

    Not yet due (deadline not passed and not filed) -> the rule does not apply yet. A late
    filing stays a gap (it was not filed within the month). Without a start date: filed is met.
    """
    start = p["start_date"]
    deadline = start + pd.Timedelta(days=rules.filing_within_days)
    filed = p["filed_date"]
    p["filing_deadline"] = deadline
    app = filed.notna() | start.isna() | (ref > deadline)
    met = filed.notna() & (start.isna() | (filed <= deadline))
    _set(p, "filing", app, met, deadline + pd.Timedelta(days=1))


def gaps(status: pd.DataFrame, key: str) -> pd.Series:
    """Boolean per project: the mechanism applies and is not met."""
    return status[f"{key}_app"] & ~status[f"{key}_met"]
