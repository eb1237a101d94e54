"""Early-warning rules (六)(八): per project and per employer, each warning named, graded and evidenced.

`warnings(data, filters)` evaluates every rule for one month M (filters.month_to, else the latest
month with data) and the date `as_of` (filters.as_of, else the end of M), and returns a tidy
DataFrame: entity_type ('project'|'employer'), entity_id, entity_name, township_code, rule,
rule_zh, clause, severity ('red'|'orange'|'yellow'), evidence (Chinese), value, threshold, month.

Boundaries (each rule fires strictly past its threshold; the threshold itself is compliant):
  account_unfunded     account_funded < wages_due                      red below share `account_funded_red_share`
  wages_unpaid         paid_through_month < M-1 (月结月清)              yellow 1 month, orange/red from settings
  real_name_low        registered/onsite < real_name_min               orange < coverage_orange, red < coverage_red
  cards_low            cards/onsite < card_min                         same grading
  deposit_short        held balance < required·(1-tolerance) (九)       red when nothing held; contract
                       value unknown: fires when nothing is held
  filing_late          filed - start > filing_within_days (二)          yellow filed late, orange not filed
  stopped_with_workers status 停工 and workers_onsite > 0 in M          red
  payroll_below_min    wages_paid_bank·10000/onsite < min wage          red below `payroll_red_share`
  past_arrears         any case received ≤ as_of (重点监控)             yellow, orange while a case is open
  guarantee_missing    builder/contractor blacklisted or C/D, no guarantee (二十六)  red blacklisted, orange C/D
  drop_<indicator>     1 - value/baseline ≥ indicator_drop (8)          orange/red at indicator_drop_orange/red
Project rules look at active projects only (not 竣工, started on or before as_of).

Cost per month window: what does not depend on the month (normalised frames, each entity's case
record, indicator and credit history, the reports sorted by month) is built once per read of the
frames (layers/rule_history.py, layers/rule_arrays.py); a window looks its month up in it. The checks
run once per month and as-of date for every township (`_sorted_warnings`); a township window filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geodata.settings import Rules, get_settings
from layers import mapfig, rule_arrays, rule_history
from layers.base import Filters, LayerData, LayerResult, LazyTable, LegendItem, derived, memo, of_frame
from layers.credit import _enterprise_info, arrears_record, col, date_zh, month_end, month_index, month_str, month_zh, rules_of
from layers.palettes import amount_classes
from layers.rule_arrays import (  # noqa: F401 - re-exported: risk, risk_arrays, inputs and tests import them from here
    SEVERITY_COLOR,
    SEVERITY_RANK,
    _f,
    _format,
    _order,
    _projects,
    _reports,
    entity_locations,
    indicator_codes,
    indicator_trends,
    prepare_inputs,
)
from layers.rule_points import _points, _points_grouped, capped_points  # noqa: F401 - re-exported

INDICATOR_ZH = {"tax_paid": ("纳税额", "万元"), "electricity_kwh": ("用电量", "千瓦时"), "water_m3": ("用水量", "立方米"),
                "social_insurance_headcount": ("参保人数", "人"), "bank_inflow": ("银行资金流入", "万元")}
RULES: dict[str, tuple[str, str]] = {  # rule -> (Chinese name, clause)
    "account_unfunded": ("专户人工费拨付不足", "(十一)"),
    "wages_unpaid": ("工资未月结月清", "(五)"),
    "real_name_low": ("实名制登记率低", "(三)"),
    "cards_low": ("一卡通发放率低", "(三)"),
    "deposit_short": ("保证金缴存不足", "(九)"),
    "filing_late": ("用工备案逾期", "(二)"),
    "stopped_with_workers": ("停工仍有人员在场", "(八)"),
    "payroll_below_min": ("人均代发工资低于最低工资", "(五)(三十一)"),
    "past_arrears": ("曾发生欠薪（重点监控）", "(六)"),
    "guarantee_missing": ("失信单位未提供工程款支付担保", "(十七)(二十六)"),
    **{f"drop_{k}": (f"{zh}下降", "(八)") for k, (zh, _) in INDICATOR_ZH.items()},
}
SEVERITY_ZH = {"red": "红色", "orange": "橙色", "yellow": "黄色"}
COLUMNS = ["entity_type", "entity_id", "entity_name", "township_code", "rule", "rule_zh", "clause", "severity", "evidence",
           "value", "threshold", "month"]
EPS = 1e-9


@dataclass
class Context:
    """What every rule sees: the data, the month evaluated, the date and the normalised projects."""

    data: LayerData
    month: str
    m: int  # month_index(month)
    as_of: pd.Timestamp
    rules: Rules
    projects: pd.DataFrame  # active projects, normalised
    comp: pd.DataFrame  # compliance rows of month M for active projects
    active: np.ndarray | None = None  # mask of `projects` over every project (rules._projects); None: not known


def evaluation_point(data: LayerData, filters: Filters | None) -> tuple[str, pd.Timestamp]:
    """The month M evaluated and the as-of date (see module docstring)."""
    f = filters or Filters()
    as_of = pd.Timestamp(f.as_of) if f.as_of else None
    month = f.month_to
    if month is None:
        idx = rule_history.months_with_data(data)
        if as_of is not None:
            idx = idx[idx <= as_of.year * 12 + as_of.month - 1]
        ref = as_of if as_of is not None else pd.Timestamp.today()
        month = month_str(idx.max()) if len(idx) else f"{ref.year:04d}-{ref.month:02d}"
    return month, as_of if as_of is not None else month_end(month)


def context(data: LayerData, filters: Filters | None = None, rules: Rules | None = None) -> Context:
    """The evaluation context, memoised on `data` (the rules, both risk layers and the warnings page share it)."""
    r = rules_of(rules)
    f = filters
    key = ("rules.context", None if f is None else (f.month_to, f.as_of, f.township), r.model_dump_json())  # not month_from
    return memo(data, key, lambda: _context(data, filters, r))


def _context(data: LayerData, filters: Filters | None, r: Rules) -> Context:
    month, as_of = evaluation_point(data, filters)
    every = _projects(data)
    active = rule_history.active_projects(every, data, r, as_of)
    proj = every.take(np.flatnonzero(active)).reset_index(drop=True)
    reports = _reports(data)
    m = int(month_index(pd.Series([month])).iloc[0])
    ix = rule_history.report_index(data, every, reports)
    if ix is None:  # project codes missing or repeated: join as written
        comp = reports[(reports["m"] == m)].drop_duplicates("project_code", keep="last")
        comp = comp.merge(proj[["project_code", "name", "township_code", "status"]], on="project_code", how="inner")
        return Context(data, month, m, as_of, r, proj, comp.reset_index(drop=True), active)
    # = the month's reports, the last per project, inner-joined (in report order) to the active projects
    rows = rule_history.reports_of_month(ix, m)
    pos = ix.pos[rows]
    ok = pos >= 0
    ok[ok] = active[pos[ok]]
    rows, pos = rows[ok], pos[ok]
    comp = reports.take(rows).reset_index(drop=True)
    for c in ("name", "township_code", "status"):
        comp[c] = every[c].take(pos).reset_index(drop=True)
    return Context(data, month, m, as_of, r, proj, comp, active)


def _emit(entity_type: str, frame: pd.DataFrame, rule: str, severity: Any, evidence: pd.Series, value: Any, threshold: Any,
          ctx: Context) -> pd.DataFrame:
    """Warnings for the rows of `frame` (entity_id in column project_code or entity_id)."""
    ident = frame["project_code"] if "project_code" in frame.columns else frame["entity_id"]
    zh, clause = RULES[rule]
    return pd.DataFrame({
        "entity_type": entity_type, "entity_id": ident.to_numpy(), "entity_name": col(frame, "name", None).to_numpy(),
        "township_code": col(frame, "township_code", None).to_numpy(), "rule": rule, "rule_zh": zh, "clause": clause,
        "severity": np.broadcast_to(np.asarray(severity, dtype=object), len(frame)),
        "evidence": np.asarray(evidence, dtype=object), "value": np.broadcast_to(np.asarray(value, dtype=float), len(frame)),
        "threshold": np.broadcast_to(np.asarray(threshold, dtype=float), len(frame)), "month": ctx.month,
    }, columns=COLUMNS)


def _none() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS)


def _pct(s: pd.Series) -> pd.Series:
    return _f(pd.Series(s) * 100, 1) + "%"


# ---- project rules --------------------------------------------------------------------------

def rule_account_unfunded(ctx: Context) -> pd.DataFrame:
    """(十一) 人工费 not paid into the special account for the month's labour cost."""
    c = ctx.comp
    hit = c[(c["funded"] < c["due"] - EPS) & (c["due"] > 0)]
    if hit.empty:
        return _none()
    sev = np.where(hit["funded"] < hit["due"] * ctx.rules.account_funded_red_share, "red", "orange")
    ev = month_zh(ctx.month) + "专户拨付人工费" + _f(hit["funded"], 2) + "万元，低于当月应发工资" + _f(hit["due"], 2) + "万元"
    return _emit("project", hit, "account_unfunded", sev, ev, hit["funded"], hit["due"], ctx)


def rule_wages_unpaid(ctx: Context) -> pd.DataFrame:
    """(五) 月结月清: wages paid through last month at the latest."""
    c = ctx.comp
    behind = (ctx.m - 1) - c["paid_through"]
    hit = c.assign(behind=behind)[behind >= 1]
    if hit.empty:
        return _none()
    r = ctx.rules
    sev = np.select([hit["behind"] >= r.unpaid_months_red, hit["behind"] >= r.unpaid_months_orange], ["red", "orange"], "yellow")
    paid_txt = hit["paid_through"].map(lambda i: month_zh(month_str(i)))
    due = month_zh(month_str(ctx.m - 1))
    ev = "工资发放至" + paid_txt + "，应至" + due + "，拖后" + hit["behind"].astype(int).astype(str) + "个月"
    return _emit("project", hit, "wages_unpaid", sev, ev, hit["behind"], 0, ctx)


def _coverage(ctx: Context, numer: str, rule: str, minimum: float, what: str) -> pd.DataFrame:
    c = ctx.comp
    ratio = c[numer].fillna(0) / c["onsite"]
    ok = c["onsite"] > 0
    hit = c.assign(ratio=ratio)[ok & (ratio < minimum - EPS)]
    if hit.empty:
        return _none()
    r = ctx.rules
    sev = np.select([hit["ratio"] < r.coverage_red - EPS, hit["ratio"] < r.coverage_orange - EPS], ["red", "orange"], "yellow")
    ev = (month_zh(ctx.month) + "在场" + _f(hit["onsite"], 0) + "人，" + what + _f(hit[numer].fillna(0), 0) + "人，比例"
          + _pct(hit["ratio"]) + "，低于" + _pct(pd.Series(minimum, index=hit.index)))
    return _emit("project", hit, rule, sev, ev, hit["ratio"], minimum, ctx)


def rule_real_name_low(ctx: Context) -> pd.DataFrame:
    """(三) 实名制 registration below the floor."""
    return _coverage(ctx, "registered", "real_name_low", ctx.rules.real_name_min, "实名登记")


def rule_cards_low(ctx: Context) -> pd.DataFrame:
    """(三) 一卡通 / 工作信息卡 not issued to every worker."""
    return _coverage(ctx, "cards", "cards_low", ctx.rules.card_min, "发放一卡通")


def rule_deposit_short(ctx: Context) -> pd.DataFrame:
    """(九) deposit balance below what the rate rule requires."""
    hit = rule_arrays.low_deposits(ctx)  # = required_deposits' rows held below the rule, of the active projects
    if hit.empty:
        return _none()
    sev = np.where(hit["balance"] <= EPS, "red", "orange")
    ev = ("按“" + hit["rule_zh"] + "”应缴" + _f(hit["required"], 2) + "万元（合同价款" + _f(hit["contract_value"], 0) + "万元×"
          + _pct(hit["rate"]) + "），实缴" + _f(hit["paid"], 2) + "万元，现余额" + _f(hit["balance"], 2) + "万元")
    unknown = "按“" + hit["rule_zh"] + "”须缴存，合同价款未报无法核定应缴额，现余额" + _f(hit["balance"], 2) + "万元"
    ev = ev.where(hit["required"].notna(), unknown)
    return _emit("project", hit, "deposit_short", sev, ev, hit["balance"], hit["required"], ctx)


def rule_filing_late(ctx: Context) -> pd.DataFrame:
    """(二) 用工备案 within `filing_within_days` of the start."""
    p = ctx.projects
    filed = p["filed"].where(p["filed"] <= ctx.as_of)
    days = (filed.fillna(ctx.as_of) - p["start"]).dt.days
    hit = p.assign(days=days, filed_ok=filed.notna())[p["start"].notna() & (days > ctx.rules.filing_within_days)]
    if hit.empty:
        return _none()
    sev = np.where(hit["filed_ok"], "yellow", "orange")
    start_txt = date_zh(hit["start"])
    ev = np.where(hit["filed_ok"], start_txt + "开工，" + hit["days"].astype(int).astype(str) + "天后才备案",
                  start_txt + "开工，已" + hit["days"].astype(int).astype(str) + "天未办理用工备案")
    ev = pd.Series(ev, index=hit.index) + "（应在" + str(ctx.rules.filing_within_days) + "天内）"
    return _emit("project", hit, "filing_late", sev, ev, hit["days"], ctx.rules.filing_within_days, ctx)


def rule_stopped_with_workers(ctx: Context) -> pd.DataFrame:
    """(八) a stopped project that still has workers on site (wages at risk)."""
    c = ctx.comp
    hit = c[c["status"].isin(ctx.rules.stopped_statuses).fillna(False) & (c["onsite"] > 0)]
    if hit.empty:
        return _none()
    ev = "项目状态为" + hit["status"] + "，" + month_zh(ctx.month) + "仍有" + _f(hit["onsite"], 0) + "人在场"
    return _emit("project", hit, "stopped_with_workers", "red", ev, hit["onsite"], 0, ctx)


def rule_payroll_below_min(ctx: Context) -> pd.DataFrame:
    """(五)(三十一) bank payroll per worker below the minimum monthly wage."""
    c = ctx.comp
    avg = c["paid_bank"] * 10000 / c["onsite"]
    mw = ctx.rules.min_wage_monthly_yuan
    hit = c.assign(avg=avg)[(c["onsite"] > 0) & c["paid_bank"].notna() & (avg < mw - EPS)]
    if hit.empty:
        return _none()
    sev = np.where(hit["avg"] < mw * ctx.rules.payroll_red_share - EPS, "red", "orange")
    ev = (month_zh(ctx.month) + "银行代发" + _f(hit["paid_bank"], 2) + "万元/在场" + _f(hit["onsite"], 0) + "人，人均"
          + _f(hit["avg"], 0) + "元，低于最低工资" + _f(mw, 0) + "元")
    return _emit("project", hit, "payroll_below_min", sev, ev, hit["avg"], mw, ctx)


def rule_guarantee_missing(ctx: Context) -> pd.DataFrame:
    """(十七)(二十六) blacklisted or C/D builder/contractor and no 工程款支付担保."""
    # = credit.restricted_as_of(data, as_of), looked up in the credit history (rule_history)
    h = rule_history.credit_history(ctx.data, ctx.rules)
    bad = rule_history.restricted_at(h, ctx.as_of, ctx.rules, why=False).set_index("credit_code")
    if bad.empty:
        return pd.DataFrame(columns=COLUMNS)
    p = ctx.projects
    builder_code = rule_arrays._builder_codes(ctx)
    listed = np.zeros(len(h.codes) + 1, dtype=bool)  # per credit code of the credit rows (last: not among them)
    listed[h.codes.get_indexer(bad.index)] = True
    ids = rule_arrays._credit_ids(ctx, h)
    frames = []
    roles = (("建设单位", builder_code, p["builder"]), ("施工总承包单位", p["contractor_credit_code"], p["contractor"]))
    for (role, code, who), id_ in zip(roles, ids, strict=True):
        # = code.isin(bad.index) & ~guarantee, on integers
        rows = np.flatnonzero(listed[id_] & ~p["guarantee"].to_numpy(dtype=bool)) if id_ is not None else \
            np.flatnonzero((code.isin(bad.index) & ~p["guarantee"]).to_numpy(dtype=bool))
        if not len(rows):
            continue
        c = code.take(rows)
        hit = p.take(rows).assign(code=c, who=who.take(rows).fillna(c))
        black = hit["code"].map(bad["blacklisted"]).astype(bool)
        sev = np.where(black, "red", "orange")
        why = rule_history.reasons(bad[bad.index.isin(hit["code"])])  # the text of the employers hit only
        ev = role + hit["who"] + "（" + hit["code"].map(why) + "）未提供工程款支付担保"
        frames.append(_emit("project", hit, "guarantee_missing", sev, ev, np.nan, np.nan, ctx))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


# ---- employer and shared rules --------------------------------------------------------------

def rule_past_arrears(ctx: Context) -> pd.DataFrame:
    """(六) 对发生过拖欠工资的企业实行重点监控: employers (and projects) with a case so far.

    = credit.arrears_record at as_of, looked up in the case history of every entity (rule_history).
    """
    h = rule_history.case_history(ctx.data, ctx.rules)
    ent = rule_arrays._case_entities(ctx.data, h, ctx.rules) if h is not None and ctx.active is not None else None
    if ent is None:
        return _past_arrears_joined(ctx)
    rec = rule_history.record_at(h, ctx.as_of)
    if len(rec["last"]) == 0:
        return pd.DataFrame(columns=COLUMNS)
    grp = rec["group"]
    ppos = ent["project_row"][grp]
    is_p = ent["is_project"][grp]
    keep = ~is_p | ((ppos >= 0) & ctx.active[np.maximum(ppos, 0)])
    grp, last, n_open = grp[keep], rec["last"][keep], rec["n_open"][keep]
    is_p = is_p[keep]
    n_cases = h.n_cases[last]
    sev = np.where(n_open > 0, "orange", "yellow")
    since = "截至" + date_zh(pd.Series([ctx.as_of])).iloc[0]
    still = np.where(n_open > 0, "，未结" + pd.Series(n_open).astype(str) + "件", "，均已结案")
    ev = since + ent["middle"][last] + still
    frames = []
    for t in ("project", "employer"):
        mask = is_p if t == "project" else ~is_p
        g = grp[mask]
        frame = pd.DataFrame({"entity_id": ent["entity_id"][g], "name": ent["name"][g],
                              "township_code": ent["township_code"][g]})
        frames.append(_emit(t, frame, "past_arrears", sev[mask], ev[mask], n_cases[mask], 0, ctx))
    return pd.concat(frames, ignore_index=True)


def _past_arrears_joined(ctx: Context) -> pd.DataFrame:
    """rule_past_arrears from credit.arrears_record (when the case history cannot be used)."""
    rec = arrears_record(ctx.data, ctx.as_of, ctx.rules)
    if rec.empty:
        return pd.DataFrame(columns=COLUMNS)
    info = _enterprise_info(ctx.data)
    proj = ctx.projects.set_index("project_code")
    is_p = rec["entity_type"] == "project"
    rec = rec[~is_p | rec["entity_id"].isin(proj.index)].copy()
    is_p = rec["entity_type"] == "project"
    rec["name"] = np.where(is_p, rec["entity_id"].map(proj["name"]), rec["entity_id"].map(info["name"]))
    rec["township_code"] = np.where(is_p, rec["entity_id"].map(proj["township_code"]),
                                    rec["entity_id"].map(info["township_code"]))
    sev = np.where(rec["n_open"] > 0, "orange", "yellow")
    since = "截至" + date_zh(pd.Series([ctx.as_of])).iloc[0]
    still = np.where(rec["n_open"] > 0, "，未结" + rec["n_open"].astype(str) + "件", "，均已结案")
    ev = (since + "共有欠薪案件" + rec["n_cases"].astype(str) + "件（" + rec["case_nos"]
          + "），最近受理于" + date_zh(rec["last_case"], day=False) + still)
    frames = []
    for t in ("project", "employer"):
        mask = rec["entity_type"] == t
        frames.append(_emit(t, rec[mask], "past_arrears", sev[mask.to_numpy()], ev[mask], rec.loc[mask, "n_cases"], 0, ctx))
    return pd.concat(frames, ignore_index=True)


def rule_indicator_drop(ctx: Context) -> pd.DataFrame:
    """(八) tax, electricity, water, social insurance, bank inflow down against the employer's own history."""
    r = ctx.rules
    hit = rule_arrays.trend_rows_from(ctx.data, ctx.month, r, r.indicator_drop - EPS)  # = tr[tr["drop"] >= threshold]
    if hit.empty:
        return pd.DataFrame(columns=COLUMNS)
    info = _enterprise_info(ctx.data)
    hit = hit.assign(entity_id=hit["credit_code"], name=hit["credit_code"].map(info["name"]),
                     township_code=hit["credit_code"].map(info["township_code"]))
    frames = []
    for field, g in hit.groupby("field", sort=False):
        zh, unit = INDICATOR_ZH.get(field, (field, ""))
        sev = np.select([g["drop"] >= r.indicator_drop_red - EPS, g["drop"] >= r.indicator_drop_orange - EPS],
                        ["red", "orange"], "yellow")
        ev = (month_zh(ctx.month) + zh + _f(g["current"], 1) + unit + "，前" + g["n_hist"].astype(int).astype(str) + "个月均值"
              + _f(g["baseline"], 1) + unit + "，下降" + _pct(g["drop"]))
        frames.append(_emit("employer", g, f"drop_{field}", sev, ev, g["drop"], r.indicator_drop, ctx))
    return pd.concat(frames, ignore_index=True)


CHECKS = (rule_account_unfunded, rule_wages_unpaid, rule_real_name_low, rule_cards_low, rule_deposit_short, rule_filing_late,
          rule_stopped_with_workers, rule_payroll_below_min, rule_guarantee_missing, rule_past_arrears, rule_indicator_drop)


def warnings(data: LayerData, filters: Filters | None = None, rules: Rules | None = None) -> pd.DataFrame:
    """Every warning for the month evaluated (see module docstring), red first.

    Memoised on `data` like coverage_rules.project_status: the warnings layer, both risk layers
    and the warnings page of one view share one evaluation. Callers must not modify the frame.
    """
    r = rules_of(rules)
    memo = data.__dict__.setdefault("_wagemap_memo", {})
    f = filters
    key = ("warnings", None if f is None else (f.month_to, f.as_of, f.township), r.model_dump_json())  # not month_from
    if key not in memo:
        memo[key] = _warnings(data, filters, r)
    return memo[key]


RULE_KINDS = ("projects", "compliance", "deposits", "cases", "enterprises", "credit", "indicators")  # what CHECKS read


def _warnings(data: LayerData, filters: Filters | None, rules: Rules) -> pd.DataFrame:
    ctx = context(data, filters, rules)
    out = _sorted_warnings(ctx)
    if filters is not None and filters.township:  # a stable sort: the township's rows keep their order
        mine = (out["township_code"] == filters.township).fillna(False).to_numpy(dtype=bool)
        rank = rule_arrays._entity_rank(out)
        out = out[mine].reset_index(drop=True)
        if rank is not None:
            of_frame(out, ("rules.entity_rank",), lambda: (rank[0][mine], rank[1]))
    return out


def _sorted_warnings(ctx: Context) -> pd.DataFrame:
    """Every warning, red first, then by township, entity and rule (once per read of the frames and month; do not modify)."""
    def build() -> pd.DataFrame:
        out = _every_warning(ctx)
        universe = derived(ctx.data, RULE_KINDS, ("rules.entity_universe",), lambda: {"ids": rule_arrays._known_ids(ctx.data)})
        order, rank, ids = rule_arrays._ranked_order(out, universe)
        sorted_ = out.take(order).reset_index(drop=True)
        if rank is not None:  # the ids as integers, for _points
            of_frame(sorted_, ("rules.entity_rank",), lambda: (rank[order], ids))
        return sorted_

    key = ("rules.sorted_warnings", ctx.month, str(ctx.as_of), ctx.rules.model_dump_json())
    return derived(ctx.data, RULE_KINDS, key, build)


def _every_warning(ctx: Context) -> pd.DataFrame:
    """Every check over the whole scope for the context's month, as-of date and rules.

    The checks read the context and per-frame memos only, never the township filter, so every window
    of the same frames (the overview and each township page) shares one evaluation (`_sorted_warnings`)
    and filters it.
    """
    frames = [f for f in (check(ctx) for check in CHECKS) if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def filter_warnings(w: pd.DataFrame, township: str | None = None, rules: list[str] | None = None,
                    severities: list[str] | None = None, entity_type: str | None = None) -> pd.DataFrame:
    """The warnings a list page shows: any filter left empty keeps everything."""
    keep = pd.Series(True, index=w.index)
    if township:
        keep &= w["township_code"] == township
    if rules:
        keep &= w["rule"].isin(rules)
    if severities:
        keep &= w["severity"].isin(severities)
    if entity_type:
        keep &= w["entity_type"] == entity_type
    return w[keep]


TABLE_COLUMNS = ["等级", "对象", "编号", "名称", "乡镇代码", "规则", "依据", "证据", "月份"]


def warnings_table(w: pd.DataFrame) -> pd.DataFrame:
    """The warnings with Chinese headers (TABLE_COLUMNS), for grids and exports."""
    return pd.DataFrame({
        "等级": w["severity"].map(SEVERITY_ZH), "对象": w["entity_type"].map({"project": "项目", "employer": "单位"}),
        "编号": w["entity_id"], "名称": w["entity_name"], "乡镇代码": w["township_code"], "规则": w["rule_zh"],
        "依据": w["clause"], "证据": w["evidence"], "月份": w["month"],
    })


class WarningsLayer:
    """欠薪预警: count of warnings per township and the flagged projects/employers; city scale."""

    key = "warnings"
    title = "欠薪预警"
    kind = "risk"
    higher_is_better = False

    def build(self, data: LayerData, filters: Filters) -> LayerResult:
        w = warnings(data, filters)
        counts = w.groupby("township_code").size()
        reds = w[w["severity"] == "red"].groupby("township_code").size()
        by = pd.DataFrame({"code": data.townships["code"].to_numpy() if not data.townships.empty else []})
        by["value"] = by["code"].map(counts).fillna(0).astype(float)
        n_red = by["code"].map(reds).fillna(0).astype(int).astype(str)
        by["label"] = by["value"].astype(int).astype(str) + "条（红色" + n_red + "条）"
        classes = amount_classes(by["value"], "条")
        limit = get_settings().max_points_per_layer
        pts, n_pts = capped_points(data, w, limit)  # = _points(data, w), made for the points kept only
        month = w["month"].iloc[0] if len(w) else context(data, filters).month
        notes = [f"评估月份：{month_zh(month)}；(六)(八) 预警规则见“预警清单”页"]
        if n_pts > limit:  # red first (see _points); province: 100,000+ objects, 45 MB of trace uncapped
            notes.append(f"预警对象过多，地图仅显示{limit}个（红色优先），全部见明细表")
        return LayerResult(key=self.key, title=self.title, unit="条", by_township=by, points=pts,
                           table=LazyTable(lambda: warnings_table(w), len(w), TABLE_COLUMNS),
                           legend=classes.legend() + [LegendItem(f"{SEVERITY_ZH[s]}预警", c) for s, c in SEVERITY_COLOR.items()],
                           traces=[mapfig.choropleth_trace(by, classes, self.title), mapfig.point_trace(pts, "预警对象")],
                           notes=notes)

    def export_folium(self, result: LayerResult, fmap: Any) -> None:
        from layers.folium_export import add_layer

        add_layer(result, fmap)


LAYER = WarningsLayer()
