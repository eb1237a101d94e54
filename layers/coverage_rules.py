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

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geodata.settings import Rules, get_settings
from layers.base import DERIVED, Filters, LayerData, derived, of_frame
from layers.deposits import required_at, required_deposits
from layers.units import (
    as_dates,
    as_flags,
    as_numbers,
    as_text,
    column,
    eval_month,
    index_to_month,
    index_to_timestamp,
    links,
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
    pj = _projects_of(data.projects)
    p, rows = _active_projects(pj, filters, ref)
    reports = _reports_of(data, pj)
    comp, hist = _compliance(reports, pj.code[rows], emi)
    for c in ("comp_mi", "onsite", "registered", "cards", "paid_through_mi"):
        p[c] = comp[c]
    dep = _deposit_due(data, pj.first[pj.code[rows]], ref, rules)
    for c in dep.columns:
        p[c] = dep[c].to_numpy()
    # the reporting month: the evaluation month, or the latest month any report reached if earlier
    # (reports come in after the month ends; mid-month "today" must not fail every project)
    rmi = min(emi, _data_month(data.compliance, emi))
    started_before_month = p["start_date"].isna() | (p["start_date"] < index_to_timestamp(pd.Series([rmi])).iloc[0])
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
    p.__dict__.setdefault(DERIVED, {})[("coverage_rules.rows",)] = (pj, rows)  # each row's project row (links_of)
    return p


def links_of(status: pd.DataFrame, where: pd.Series) -> pd.Series:
    """'/project/<code>' of the status rows `where` (as units.links gives them), made once per project row."""
    sub = status["project_code"][where]
    if not len(sub):
        return links("/project/", sub)
    return pd.Series(links_at(status, np.flatnonzero(np.asarray(where, dtype=bool))), index=sub.index, dtype=object)


def links_at(status: pd.DataFrame, at: np.ndarray) -> np.ndarray:
    """links_of the status rows at positions `at` (an object array in that order)."""
    return row_texts(status, at, "link", lambda norm: links("/project/", norm["project_code"]).to_numpy(dtype=object))


def row_texts(status: pd.DataFrame, at: np.ndarray, name: str, make: Callable[[pd.DataFrame], np.ndarray]) -> np.ndarray:
    """Text `name` of the status rows at positions `at` (an object array in that order), made by `make(rows of
    the normalised projects frame)` once per project row and kept for every window over the same frames.

    `make` must be a pure function of the project row (two threads may fill the same rows with the same
    values). A status frame not made by project_status: `make` runs on its own rows (the same columns).
    """
    got = status.__dict__.get(DERIVED, {}).get(("coverage_rules.rows",))
    if got is None:
        return np.asarray(make(status.iloc[at]), dtype=object)
    pj, rows = got
    at = rows[at]
    made = pj.texts.get(name)
    if made is None:
        made = pj.texts.setdefault(name, (np.zeros(len(pj.norm), dtype=bool), np.full(len(pj.norm), None, dtype=object)))
    done, values = made
    todo = np.unique(at[~done[at]])
    if len(todo):
        values[todo] = make(pj.norm.iloc[todo])
        done[todo] = True  # after the values
    return values[at]


# ---- inputs (what does not depend on the month: once per read of the frames) -------------------


@dataclass
class _Projects:
    """Every project row normalised, with its code's number and the rows that can be counted, by township."""

    norm: pd.DataFrame
    code: np.ndarray  # number of the row's project_code (-1: none)
    codes: pd.Index  # the distinct codes (position = number)
    first: np.ndarray  # per code number: its first row
    counted: np.ndarray  # rows with an active status and a code, ascending
    by_township: dict  # township code -> its counted rows, ascending
    texts: dict = field(default_factory=dict)  # name -> (made per row, text per row): row_texts, made on first use


def _projects_of(projects: pd.DataFrame | None) -> _Projects:
    if projects is None:
        return _make_projects(pd.DataFrame())
    return of_frame(projects, ("coverage_rules.project_keys",), lambda: _make_projects(projects))


def _make_projects(df: pd.DataFrame) -> _Projects:
    norm = of_frame(df, ("coverage_rules.projects",), lambda: _normalised(df)) if len(df.columns) else _normalised(df)
    code, codes = pd.factorize(norm["project_code"].astype(object), use_na_sentinel=True)
    seen = np.flatnonzero(code >= 0)
    first = np.full(len(codes), -1, dtype=np.int64)
    numbers, at = np.unique(code[seen], return_index=True)  # first occurrence of each number
    first[numbers] = seen[at]
    counted = np.flatnonzero((norm["status"].isin(ACTIVE_STATUSES) & norm["project_code"].notna()).to_numpy(dtype=bool))
    towns = norm["township_code"].to_numpy()[counted]
    by_township = {str(k): counted[v] for k, v in pd.Series(towns).groupby(towns, sort=False).indices.items()}
    return _Projects(norm=norm, code=code, codes=pd.Index(codes, dtype=object), first=first, counted=counted,
                     by_township=by_township)


def _active_projects(pj: _Projects, filters: Filters, ref: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray]:
    """The projects counted (see module docstring), normalised, and their rows in the projects frame.

    A project code kept twice counts once (its first row kept).
    """
    rows = pj.by_township.get(filters.township, np.array([], dtype=np.int64)) if filters.township else pj.counted
    start = pj.norm["start_date"].iloc[rows]
    rows = rows[(start.isna() | (start <= ref)).to_numpy()]
    rows = rows[~pd.Series(pj.code[rows]).duplicated().to_numpy()]
    out = pj.norm.iloc[rows]  # a new frame (copy-on-write): the columns set below are its own
    for c in ("filed_date", "sa_opened", "sa_filed"):
        out[c] = _until(out[c], ref)
    return out.reset_index(drop=True), rows


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


@dataclass
class _Reports:
    """Monthly reports of the projects' codes sorted by (code number, month, row): per code a block of rows."""

    mi: np.ndarray
    onsite: np.ndarray
    registered: np.ndarray
    cards: np.ndarray
    pt: np.ndarray | None  # paid-through month index (None: the column is absent)
    start: np.ndarray  # per code number: first row of its block (end = start + length)
    length: np.ndarray


def _reports_of(data: LayerData, pj: _Projects) -> _Reports | None:
    comp = data.compliance
    if comp is None or comp.empty or not {"project_code", "month"} <= set(comp.columns):
        return None
    return derived(data, ("compliance", "projects"), ("coverage_rules.reports",), lambda: _make_reports(comp, pj))


def _make_reports(comp: pd.DataFrame, pj: _Projects) -> _Reports:
    code = pj.codes.get_indexer(comp["project_code"].astype(object))
    mi = month_index(comp["month"]).to_numpy()
    keep = np.flatnonzero((code >= 0) & ~np.isnan(mi))
    keep = keep[np.lexsort((mi[keep], code[keep]))]  # stable: equal (code, month) keep their row order
    num = lambda c: as_numbers(column(comp, c), comp.index).to_numpy()[keep]  # noqa: E731
    length = np.bincount(code[keep], minlength=len(pj.codes)).astype(np.int64)
    pt = month_index(comp["paid_through_month"]).to_numpy()[keep] if "paid_through_month" in comp.columns else None
    return _Reports(mi=mi[keep], onsite=num("workers_onsite"), registered=num("workers_registered"), cards=num("cards_issued"),
                    pt=pt, start=np.cumsum(length) - length, length=length)


def _compliance(reports: _Reports | None, act: np.ndarray, emi: float) -> tuple[pd.DataFrame, dict]:
    """Monthly reports up to the evaluation month, by project position: latest report, max paid-through.

    `act` holds the code numbers of the active projects. Returns a frame aligned with them (comp_mi,
    onsite, registered, cards, paid_through_mi) and the usable report history (arrays pid, mi,
    onsite, registered, cards: rows grouped by project position, by month within a project).
    """
    n = len(act)
    cols = ["comp_mi", "onsite", "registered", "cards", "paid_through_mi"]
    out = pd.DataFrame({c: np.full(n, np.nan) for c in cols})
    empty = np.array([], dtype=float)
    hist = {"pid": np.array([], dtype=np.int64), "mi": empty, "onsite": empty, "registered": empty, "cards": empty}
    if reports is None or not n:
        return out, hist
    lens = reports.length[act]
    total = int(lens.sum())
    pid = np.repeat(np.arange(n), lens)
    idx = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(reports.start[act], lens)
    keep = reports.mi[idx] <= emi
    idx, pid = idx[keep], pid[keep]
    hist = {"pid": pid, "mi": reports.mi[idx], "onsite": reports.onsite[idx], "registered": reports.registered[idx],
            "cards": reports.cards[idx]}
    if len(idx):
        last = np.r_[pid[1:] != pid[:-1], True]  # last row of each project (latest month; last row of equals)
        pos = pid[last]
        out.loc[pos, "comp_mi"] = hist["mi"][last]
        for c in ("onsite", "registered", "cards"):
            out.loc[pos, c] = hist[c][last]
        if reports.pt is not None:
            first = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
            out.loc[pid[first], "paid_through_mi"] = np.fmax.reduceat(reports.pt[idx], first)
    return out, hist


def _blocks(pid: np.ndarray) -> np.ndarray:
    """First row of each project's block in arrays grouped by project."""
    return np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])


def _data_month(comp: pd.DataFrame | None, emi: float) -> float:
    """Latest report month in the data up to the evaluation month (the whole frame given, not one project)."""
    if comp is None or comp.empty or "month" not in comp.columns:
        return emi
    months = of_frame(comp, ("coverage_rules.months",), lambda: np.unique(month_index(comp["month"]).dropna().to_numpy()))
    i = np.searchsorted(months, emi, side="right")
    return float(months[i - 1]) if i else emi


def _deposit_due(data: LayerData, rows: np.ndarray, ref: pd.Timestamp, rules: Rules) -> pd.DataFrame:
    """(九) 差异化缴存 per project (the projects frame's `rows`): layers.deposits.required_deposits at `ref`.

    One reading for this coverage rule, the deposit_short warning, the deposit layer and the
    assessment: the contractor's arrears record sets the rule and the rate; paid = money paid in
    (缴存/动用/退还), balance = still held (缴存), both up to `ref`; `deposit_low` is the
    warnings' `low_balance` (held below required less `deposit_tolerance`; with no contract
    value, nothing held). Deposits keyed by credit code only are not attributed to a project.
    `rows` are each active project's first row (the first with its code, as a lookup by code gives);
    a township's window reads only its rows (`deposits.required_at`).
    """
    cols = {"rule": None, "rule_zh": None, "rate": np.nan, "required": np.nan, "paid": 0.0, "balance": 0.0,
            "low_balance": True, "flags": ""}
    if len(rows):
        at = required_at(data, ref, rows, rules)
    else:
        dep = required_deposits(data, ref, rules).reindex(columns=["project_code", *cols])
        dep = dep[dep["project_code"].notna()].drop_duplicates("project_code").set_index("project_code")
        at = dep.reindex(pd.Index([], dtype=object))
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


def _worker_rule(p: pd.DataFrame, hist: dict, key: str, col: str, minimum: float, started: pd.Series) -> None:
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


def _since_from_history(p: pd.DataFrame, hist: dict, col: str, minimum: float) -> pd.Series:
    """First month of the current run of failing months (months with onsite 0 or no report are skipped)."""
    n = len(p)
    first_bad = np.full(n, np.nan)
    pid, mi, onsite = hist["pid"], hist["mi"], hist["onsite"]
    if len(pid):
        with np.errstate(invalid="ignore"):
            counted = onsite > 0
            ok = counted & (np.minimum(np.nan_to_num(hist[col], nan=0.0), onsite) >= minimum * onsite - 1e-9)
        first = _blocks(pid)
        last_ok = np.full(n, np.nan)
        last_ok[pid[first]] = np.fmax.reduceat(np.where(ok, mi, np.nan), first)
        after = counted & ~ok & (mi > np.nan_to_num(last_ok[pid], nan=-np.inf))
        first_bad[pid[first]] = np.fmin.reduceat(np.where(after, mi, np.nan), first)
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
