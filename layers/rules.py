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
frames (layers/rule_history.py, kept with `derived`); a window looks its month up in it. The checks
run once per month and as-of date for every township (`_sorted_warnings`); a township window filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geodata.settings import Rules, get_settings
from layers import mapfig, rule_history
from layers.base import DERIVED, Filters, LayerData, LayerResult, LegendItem, derived, memo, of_frame
from layers.credit import (
    _enterprise_info,
    arrears_record,
    as_bool,
    as_date,
    as_num,
    as_text,
    col,
    date_zh,
    escape,
    month_end,
    month_index,
    month_str,
    month_zh,
    rules_of,
)
from layers.deposits import required_deposits
from layers.palettes import amount_classes

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
SEVERITY_COLOR = {"red": "#d62728", "orange": "#ff7f0e", "yellow": "#e8c500"}
SEVERITY_RANK = {"red": 0, "orange": 1, "yellow": 2}
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


def _projects(data: LayerData) -> pd.DataFrame:
    """Every project, normalised for the rules (once per read of the frames)."""
    def build() -> pd.DataFrame:
        p = data.projects if data.projects is not None else pd.DataFrame()
        return pd.DataFrame({
            "project_code": as_text(col(p, "project_code", None)), "name": as_text(col(p, "name", None)),
            "township_code": as_text(col(p, "township_code", None)), "status": as_text(col(p, "status", None)),
            "start": as_date(col(p, "start_date")), "filed": as_date(col(p, "filed_date")),
            "contractor_credit_code": as_text(col(p, "contractor_credit_code", None)).str.upper(),
            "contractor": as_text(col(p, "contractor", None)), "builder": as_text(col(p, "builder", None)),
            "guarantee": as_bool(col(p, "payment_guarantee", False)),
        })

    return derived(data, ("projects",), ("rules.projects",), build)


def _reports(data: LayerData) -> pd.DataFrame:
    """Every monthly report, normalised for the rules (once per read of the frames)."""
    def build() -> pd.DataFrame:
        c = data.compliance if data.compliance is not None else pd.DataFrame()
        return pd.DataFrame({
            "project_code": as_text(col(c, "project_code", None)), "m": month_index(col(c, "month")),
            "onsite": as_num(col(c, "workers_onsite")), "registered": as_num(col(c, "workers_registered")),
            "cards": as_num(col(c, "cards_issued")), "due": as_num(col(c, "wages_due")),
            "paid_bank": as_num(col(c, "wages_paid_bank")),
            "funded": as_num(col(c, "account_funded")), "paid_through": month_index(col(c, "paid_through_month")),
        })

    return derived(data, ("compliance",), ("rules.reports",), build)


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


def _f(s: pd.Series | float, nd: int = 1) -> pd.Series | str:
    """Round and format numbers for evidence text (a scalar gives a str)."""
    if np.isscalar(s):
        return f"{round(float(s), nd):g}"
    r = pd.Series(s).round(nd)
    if (len(r) < 64 or not isinstance(r.dtype, np.dtype)
            or (r.dtype.kind == "f" and np.signbit(r.to_numpy()[r.to_numpy() == 0]).any())):
        return _format(r)
    # each distinct value formatted once (factorize keeps 0.0 and -0.0 together: those go the long way above)
    codes, uniq = pd.factorize(r, use_na_sentinel=True)
    txt = _format(pd.Series(np.asarray(uniq), dtype=r.dtype))
    return pd.Series(txt.array.take(codes, allow_fill=True), index=r.index, name=r.name)


def _format(r: pd.Series) -> pd.Series:
    return r.astype("string").str.replace(r"\.0$", "", regex=True)


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
    dep = required_deposits(ctx.data, ctx.as_of, ctx.rules)
    if dep.empty:
        return pd.DataFrame(columns=COLUMNS)
    hit = dep[dep["low_balance"] & dep["project_code"].isin(ctx.projects["project_code"])]
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
    builder_code = _builder_codes(ctx)
    listed = np.zeros(len(h.codes) + 1, dtype=bool)  # per credit code of the credit rows (last: not among them)
    listed[h.codes.get_indexer(bad.index)] = True
    ids = _credit_ids(ctx, h)
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


def _credit_ids(ctx: Context, h: rule_history.CreditHistory) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Builder and contractor of each active project as positions in h.codes (its length: not there), from every
    project's once per read of the frames; (None, None) when the active projects are not known."""
    if ctx.active is None:
        return None, None

    def build() -> tuple[np.ndarray, np.ndarray, pd.Index]:
        every = _projects(ctx.data)
        builder = derived(ctx.data, ("enterprises", "projects"), ("rules.builder_codes",),
                          lambda: every["builder"].map(_codes_by_name(ctx.data)))
        out = []
        for code in (builder, every["contractor_credit_code"]):
            i = h.codes.get_indexer(code)
            out.append(np.where(i >= 0, i, len(h.codes)))
        return out[0], out[1], h.codes

    key = ("rules.credit_ids", ctx.rules.model_dump_json())
    both = derived(ctx.data, ("credit", "projects", "enterprises"), key, build)
    if both[2] is not h.codes:
        return None, None
    pos = np.flatnonzero(ctx.active)
    return both[0][pos], both[1][pos]


def _builder_codes(ctx: Context) -> pd.Series:
    """The builder's credit code (by name) of each active project, from every project's once per read of the frames."""
    if ctx.active is None:
        return ctx.projects["builder"].map(_codes_by_name(ctx.data))
    every = derived(ctx.data, ("enterprises", "projects"), ("rules.builder_codes",),
                    lambda: _projects(ctx.data)["builder"].map(_codes_by_name(ctx.data)))
    return every.take(np.flatnonzero(ctx.active)).reset_index(drop=True)


def _codes_by_name(data: LayerData) -> pd.Series:
    """Credit code by employer name (first of each name), once per read of the frames."""
    def build() -> pd.Series:
        names = _enterprise_info(data)
        if names.empty:
            return pd.Series(dtype=object)
        return pd.Series(names.index, index=names["name"]).groupby(level=0).first()

    return derived(data, ("enterprises", "projects"), ("rules.codes_by_name",), build)


# ---- employer and shared rules --------------------------------------------------------------

def rule_past_arrears(ctx: Context) -> pd.DataFrame:
    """(六) 对发生过拖欠工资的企业实行重点监控: employers (and projects) with a case so far.

    = credit.arrears_record at as_of, looked up in the case history of every entity (rule_history).
    """
    h = rule_history.case_history(ctx.data, ctx.rules)
    ent = _case_entities(ctx.data, h, ctx.rules) if h is not None and ctx.active is not None else None
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


def _case_entities(data: LayerData, h: rule_history.CaseHistory, r: Rules) -> dict[str, np.ndarray] | None:
    """Per entity of the case history: whether a project, its row in the projects (-1: none), name and township
    (as rule_past_arrears maps them), and per history row the evidence after the date (once per read of the frames).
    None when project codes are missing or repeated."""
    def build() -> dict[str, np.ndarray] | None:
        every = _projects(data)
        codes = every["project_code"]
        if codes.isna().any() or codes.duplicated().any():
            return None
        info = _enterprise_info(data)
        eid = pd.Series(h.entity_id, dtype=every["project_code"].dtype)
        is_p = h.entity_type == "project"
        by_code = every.set_index("project_code")
        name = np.where(is_p, eid.map(by_code["name"]), eid.map(info["name"]))
        town = np.where(is_p, eid.map(by_code["township_code"]), eid.map(info["township_code"]))
        row = np.where(is_p, pd.Index(codes).get_indexer(eid), -1)
        middle = ("共有欠薪案件" + pd.Series(h.n_cases).astype(str) + "件（" + pd.Series(h.case_nos) + "），最近受理于"
                  + pd.Series(h.last_case_zh))
        return {"is_project": is_p, "project_row": row, "entity_id": h.entity_id, "name": name, "township_code": town,
                "middle": middle.to_numpy(dtype=object)}

    return derived(data, ("cases", "enterprises", "projects"), ("rules.case_entities", tuple(r.case_closed_statuses)), build)


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


def indicator_trends(data: LayerData, month: str, rules: Rules | None = None) -> pd.DataFrame:
    """(八) Each employer's indicators in `month` against its own mean of the previous months.

    Columns: credit_code, field, current, baseline, n_hist, drop (1 - current/baseline; NaN when
    fewer than `indicator_min_history` months or a non-positive baseline).
    Computed once per read of the frames, month and rules (LayerData.shared); callers must not modify it.
    """
    r = rules_of(rules)
    return derived(data, ("indicators",), ("rules.indicator_trends", month, r.model_dump_json()),
                   lambda: _indicator_trends(data, month, r))


def _indicator_trends(data: LayerData, month: str, r: Rules) -> pd.DataFrame:
    ind = data.indicators
    cols = ["credit_code", "field", "current", "baseline", "n_hist", "drop"]
    if ind is None or ind.empty:
        return pd.DataFrame(columns=cols)
    m = int(month_index(pd.Series([month])).iloc[0])
    base, codes = derived(data, ("indicators",), ("rules.indicator_base",), lambda: _indicator_base(ind))
    window = None
    frames = []
    for field in r.indicator_fields:
        if field not in ind.columns:
            continue
        v = derived(data, ("indicators",), ("rules.indicator_values", field), lambda field=field: as_num(ind[field]))
        h = rule_history.indicator_history(data, field, base, v, len(codes))
        t = None if h is None else rule_history.trend_at(h, m, r.indicator_baseline_months, r.indicator_min_history)
        if t is not None:  # the month's rows of the employer × month matrix (history once per read)
            frames.append(pd.DataFrame({"credit_code": codes.take(t["code"]), "field": field, "current": t["current"],
                                        "baseline": t["baseline"], "n_hist": t["n_hist"], "drop": t["drop"]}))
            continue
        if window is None:
            window = ((base["m"] >= m - r.indicator_baseline_months) & (base["m"] <= m) & (base["code"] >= 0)).to_numpy()
        long = base.assign(v=v)[window].dropna(subset=["v"])
        # = pivot_table(index=credit_code, columns=m, values=v, aggfunc="last"), grouped on integer codes (sorted
        # like the text) instead of the text itself
        wide = long.groupby(["code", "m"])["v"].last().unstack("m")
        wide.index = codes.take(wide.index.to_numpy())
        hist_cols = [c for c in wide.columns if c < m]
        hist = wide[hist_cols] if hist_cols else pd.DataFrame(index=wide.index)
        cur = wide[m] if m in wide.columns else pd.Series(np.nan, index=wide.index)
        n_hist = hist.notna().sum(axis=1) if hist_cols else pd.Series(0, index=wide.index)
        baseline = hist.mean(axis=1) if hist_cols else pd.Series(np.nan, index=wide.index)
        usable = (n_hist >= r.indicator_min_history) & (baseline > 0) & cur.notna()
        drop = (1 - cur / baseline).where(usable)
        frames.append(pd.DataFrame({"credit_code": wide.index, "field": field, "current": cur.to_numpy(),
                                    "baseline": baseline.to_numpy(), "n_hist": n_hist.to_numpy(), "drop": drop.to_numpy()}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def prepare_inputs(data: LayerData, r: Rules) -> None:
    """Normalise the projects, reports, indicators and locations the rules read (layers.inputs.prepare)."""
    _projects(data)
    _reports(data)
    entity_locations(data)
    ind = data.indicators
    if ind is not None and not ind.empty:
        derived(data, ("indicators",), ("rules.indicator_base",), lambda: _indicator_base(ind))
        for field in r.indicator_fields:
            if field in ind.columns:
                derived(data, ("indicators",), ("rules.indicator_values", field), lambda field=field: as_num(ind[field]))


def indicator_codes(data: LayerData) -> pd.Index:
    """The employers (credit codes, upper case) that report indicators, sorted (once per read of the frames)."""
    ind = data.indicators
    if ind is None or ind.empty:
        return pd.Index([], name="credit_code")
    return derived(data, ("indicators",), ("rules.indicator_base",), lambda: _indicator_base(ind))[1]


def _indicator_base(ind: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index]:
    """Integer employer codes (in text order; -1 where missing) and month index of every indicator row, and the codes."""
    code, uniq = pd.factorize(as_text(ind["credit_code"]).str.upper(), sort=True, use_na_sentinel=True)
    return pd.DataFrame({"code": code, "m": month_index(col(ind, "month")).to_numpy()}), pd.Index(uniq, name="credit_code")


def rule_indicator_drop(ctx: Context) -> pd.DataFrame:
    """(八) tax, electricity, water, social insurance, bank inflow down against the employer's own history."""
    tr = indicator_trends(ctx.data, ctx.month, ctx.rules)
    r = ctx.rules
    hit = tr[tr["drop"] >= r.indicator_drop - EPS]
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
        rank = _entity_rank(out)
        out = out[mine].reset_index(drop=True)
        if rank is not None:
            of_frame(out, ("rules.entity_rank",), lambda: (rank[0][mine], rank[1]))
    return out


def _entity_rank(w: pd.DataFrame) -> tuple[np.ndarray, dict] | None:
    """The rank of each row's entity id in the id universe, and the universe (kept on frames made by `warnings`)."""
    return w.__dict__.get(DERIVED, {}).get(("rules.entity_rank",))


def _sorted_warnings(ctx: Context) -> pd.DataFrame:
    """Every warning, red first, then by township, entity and rule (once per read of the frames and month; do not modify)."""
    def build() -> pd.DataFrame:
        out = _every_warning(ctx)
        universe = derived(ctx.data, RULE_KINDS, ("rules.entity_universe",), lambda: {"ids": _known_ids(ctx.data)})
        order, rank, ids = _ranked_order(out, universe)
        sorted_ = out.take(order).reset_index(drop=True)
        if rank is not None:  # the ids as integers, for _points
            of_frame(sorted_, ("rules.entity_rank",), lambda: (rank[order], ids))
        return sorted_

    key = ("rules.sorted_warnings", ctx.month, str(ctx.as_of), ctx.rules.model_dump_json())
    return derived(ctx.data, RULE_KINDS, key, build)


def _known_ids(data: LayerData) -> pd.Index:
    """Every project and employer id the checks may warn about, sorted (the seed of the id universe, once per read)."""
    parts = [_projects(data)["project_code"], pd.Series(_enterprise_info(data).index), pd.Series(indicator_codes(data))]
    ids = pd.Index(pd.concat([p.dropna().astype(str) for p in parts], ignore_index=True).unique())
    return ids.sort_values()


def _order(out: pd.DataFrame, universe: dict) -> np.ndarray:
    return _ranked_order(out, universe)[0]


def _ranked_order(out: pd.DataFrame, universe: dict) -> tuple[np.ndarray, np.ndarray | None, pd.Index | None]:
    """The rows of `out` as out.sort_values([severity rank, township_code, entity_id, rule]) orders them (stable,
    missing last), from integer ranks: the entity ids are ranked in `universe['ids']`, every id seen so far sorted
    once (kept on the frames, so a month window sorts only the ids new to it), instead of sorting the text per window."""
    if out.empty or out["entity_id"].isna().any():
        o = out["severity"].map(SEVERITY_RANK)
        return out.assign(_o=o).sort_values(["_o", "township_code", "entity_id", "rule"]).index.to_numpy(), None, None
    ids = universe.get("ids")
    rank = ids.get_indexer(out["entity_id"]) if ids is not None else None
    if rank is None or (rank < 0).any():
        new = pd.Index(out["entity_id"].unique())
        ids = new if ids is None else ids.append(new)
        ids = ids.unique().sort_values()
        universe["ids"] = ids
        rank = ids.get_indexer(out["entity_id"])
    order = np.lexsort((_rank(out["rule"]), rank, _rank(out["township_code"]), _severity_rank(out["severity"]).to_numpy()))
    return order, rank, ids


def _severity_rank(s: pd.Series) -> pd.Series:
    """s.map(SEVERITY_RANK), looked up once per distinct value."""
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    if (codes < 0).any() or not all(u in SEVERITY_RANK for u in uniq):
        return s.map(SEVERITY_RANK)
    return pd.Series(np.array([SEVERITY_RANK[u] for u in uniq], dtype=np.int64)[codes], index=s.index)


def _rank(s: pd.Series) -> np.ndarray:
    """Sort rank of each value (missing last)."""
    codes, uniq = pd.factorize(s, sort=True, use_na_sentinel=True)
    return np.where(codes < 0, len(uniq), codes)


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


def warnings_table(w: pd.DataFrame) -> pd.DataFrame:
    """The warnings with Chinese headers, for grids and exports."""
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
        pts = _points(data, w)
        month = w["month"].iloc[0] if len(w) else context(data, filters).month
        notes = [f"评估月份：{month_zh(month)}；(六)(八) 预警规则见“预警清单”页"]
        limit = get_settings().max_points_per_layer
        if len(pts) > limit:  # red first (see _points); province: 100,000+ objects, 45 MB of trace uncapped
            pts = pts.head(limit).reset_index(drop=True)
            notes.append(f"预警对象过多，地图仅显示{limit}个（红色优先），全部见明细表")
        return LayerResult(key=self.key, title=self.title, unit="条", by_township=by, points=pts, table=warnings_table(w),
                           legend=classes.legend() + [LegendItem(f"{SEVERITY_ZH[s]}预警", c) for s, c in SEVERITY_COLOR.items()],
                           traces=[mapfig.choropleth_trace(by, classes, self.title), mapfig.point_trace(pts, "预警对象")],
                           notes=notes)

    def export_folium(self, result: LayerResult, fmap: Any) -> None:
        from layers.folium_export import add_layer

        add_layer(result, fmap)


def entity_locations(data: LayerData) -> pd.DataFrame:
    """entity_type, entity_id, lon, lat for projects and employers that have coordinates (once per read; do not modify)."""
    return derived(data, ("projects", "enterprises"), ("rules.entity_locations",), lambda: _entity_locations(data))


def _entity_locations(data: LayerData) -> pd.DataFrame:
    frames = []
    for kind, df, key in (("project", data.projects, "project_code"), ("employer", data.enterprises, "credit_code")):
        if df is not None and not df.empty and {"lon", "lat"} <= set(df.columns):
            ids = as_text(df[key]).str.upper() if kind == "employer" else as_text(df[key])
            frames.append(pd.DataFrame({"entity_type": kind, "entity_id": ids, "lon": as_num(df["lon"]),
                                        "lat": as_num(df["lat"])}))
    if not frames:
        return pd.DataFrame(columns=["entity_type", "entity_id", "lon", "lat"])
    return pd.concat(frames, ignore_index=True).dropna().drop_duplicates(["entity_type", "entity_id"])


def _points(data: LayerData, w: pd.DataFrame) -> pd.DataFrame:
    """One point per warned entity with a location: its worst severity, its rules (distinct, worst first) and a label.

    = `_points_grouped` (the pandas spelling), computed from integer group codes: the rules of each entity joined
    in one pass (np.add.reduceat) and the locations looked up in an index kept on the frames, not merged per window.
    """
    if w.empty:
        return pd.DataFrame()
    if (not isinstance(w.index, pd.RangeIndex) or w.index.start != 0 or w.index.step != 1
            or w["entity_id"].isna().any() or w["rule_zh"].isna().any()):
        return _points_grouped(data, w)
    perm = _severity_rank(w["severity"]).sort_values().index.to_numpy()  # the rows as sort_values("_o") orders them
    etype, eid = w["entity_type"].take(perm), w["entity_id"].take(perm)
    tcode, _ = pd.factorize(etype)
    ranked = _entity_rank(w)  # the ids as integers when `warnings` made w
    if ranked is not None and len(ranked[0]) == len(w):
        icode, ids = ranked[0][perm], ranked[1]
    else:
        ranked = None
        icode, ids = pd.factorize(eid)
    gid, _ = pd.factorize(tcode.astype(np.int64) * max(len(ids), 1) + icode)  # groups by first appearance (sort=False)
    n = int(gid.max()) + 1
    first = np.unique(gid, return_index=True)[1]
    groups = pd.DataFrame({"entity_type": etype.iloc[first].reset_index(drop=True),
                           "entity_id": eid.iloc[first].reset_index(drop=True),
                           "severity": _first_valid(w["severity"].take(perm), gid, n),
                           "name": _first_valid(w["entity_name"].take(perm), gid, n)})
    # each entity's distinct rules in the order above, joined with 、
    rcode, _ = pd.factorize(w["rule_zh"].take(perm))
    pair = gid.astype(np.int64) * (int(rcode.max()) + 1) + rcode
    d = np.flatnonzero(~pd.Series(pair).duplicated().to_numpy())
    d = d[np.argsort(gid[d], kind="stable")]
    zh = w["rule_zh"].take(perm).to_numpy(dtype=object)[d]
    starts = np.flatnonzero(np.append(True, gid[d][1:] != gid[d][:-1]))
    later = np.ones(len(d), dtype=bool)
    later[starts] = False
    zh[later] = "、" + zh[later]
    groups["rules"] = pd.Series(np.add.reduceat(zh, starts), dtype=object).astype("str")
    etypes = groups["entity_type"].to_numpy(dtype=object)
    if ranked is None:
        at = _location_rows(data, etypes, groups["entity_id"])
    else:  # each id of the universe located once
        by_type = _locations_of_ids(data, ids)
        idx = icode[first]
        at = np.full(len(groups), -1, dtype=np.int64)
        for t, rows in by_type.items():
            mine = np.flatnonzero(etypes == t)
            at[mine] = rows[idx[mine]]
    keep = np.flatnonzero(at >= 0)
    loc = entity_locations(data)
    pts = groups.take(keep).reset_index(drop=True)
    pts["lon"] = loc["lon"].to_numpy()[at[keep]]
    pts["lat"] = loc["lat"].to_numpy()[at[keep]]
    pts = pts.astype(_merged_dtypes(groups, loc))
    link = np.where(pts["entity_type"] == "project", "/project/", "/enterprise/")
    codes, uniq = pd.factorize(pts["rules"])  # a few hundred distinct lists of rules: each escaped once
    rules_html = pd.Series(escape(pd.Series(uniq)).to_numpy()[codes], index=pts.index, dtype=object)
    label = "<b>" + escape(pts["name"].fillna(pts["entity_id"])) + "</b><br>" + rules_html
    return pts.assign(label=label, color=pts["severity"].map(SEVERITY_COLOR),
                      size=np.where(pts["severity"] == "red", 12, 9), link=link + pts["entity_id"])


def _first_valid(values: pd.Series, gid: np.ndarray, n: int) -> pd.Series:
    """Per group the first value that is not missing (groupby(...).first()); missing when the group has none."""
    ok = np.flatnonzero(values.notna().to_numpy(dtype=bool))
    pos = np.full(n, -1, dtype=np.int64)
    u, i = np.unique(gid[ok], return_index=True)
    pos[u] = ok[i]
    out = values.iloc[np.maximum(pos, 0)].reset_index(drop=True)
    return out if (pos >= 0).all() else out.where(pos >= 0)


def _location_rows(data: LayerData, etype: np.ndarray, eid: pd.Series) -> np.ndarray:
    """Row of entity_locations of each (entity_type, entity_id); -1 where it has none."""
    def build() -> dict[str, tuple[pd.Index, np.ndarray]]:
        loc = entity_locations(data)
        out = {}
        for t in ("project", "employer"):
            rows = np.flatnonzero((loc["entity_type"] == t).to_numpy(dtype=bool))
            out[t] = (pd.Index(loc["entity_id"].take(rows)), rows)  # unique: entity_locations drops duplicates
        return out

    ix = derived(data, ("projects", "enterprises"), ("rules.location_index",), build)
    at = np.full(len(eid), -1, dtype=np.int64)
    for t, (ids, rows) in ix.items():
        mine = np.flatnonzero(etype == t)
        found = ids.get_indexer(eid.iloc[mine])
        if len(rows):  # a scope without any located entity of this type (an official's township) finds none
            at[mine] = np.where(found >= 0, rows[np.maximum(found, 0)], -1)
    return at


def _locations_of_ids(data: LayerData, ids: pd.Index) -> dict[str, np.ndarray]:
    """Per entity type, the row of entity_locations of each id of the universe `ids` (-1: none); kept for the latest."""
    box = derived(data, ("projects", "enterprises"), ("rules.locations_of_ids",), dict)
    hit = box.get("value")
    if hit is not None and hit[0] is ids:
        return hit[1]
    by_type = {t: _location_rows(data, np.full(len(ids), t, dtype=object), pd.Series(ids)) for t in ("project", "employer")}
    box["value"] = (ids, by_type)
    return by_type


def _merged_dtypes(left: pd.DataFrame, loc: pd.DataFrame) -> dict:
    """The column types left.merge(loc, on=[entity_type, entity_id]) gives (the key columns may be coerced)."""
    proto = left.iloc[:0].merge(loc.iloc[:0], on=["entity_type", "entity_id"], how="inner")
    return proto.dtypes.to_dict()


def _points_grouped(data: LayerData, w: pd.DataFrame) -> pd.DataFrame:
    """_points spelt with groupby and merge (w with missing ids or another index)."""
    worst = w.assign(_o=w["severity"].map(SEVERITY_RANK)).sort_values("_o")
    g = worst.groupby(["entity_type", "entity_id"], sort=False).agg(severity=("severity", "first"), name=("entity_name", "first"))
    # each entity's rules, distinct, in the order above (one pass for all entities instead of one per entity)
    distinct = worst.drop_duplicates(["entity_type", "entity_id", "rule_zh"])
    g["rules"] = distinct.groupby(["entity_type", "entity_id"], sort=False)["rule_zh"].agg("、".join)
    pts = g.reset_index().merge(entity_locations(data), on=["entity_type", "entity_id"], how="inner")
    link = np.where(pts["entity_type"] == "project", "/project/", "/enterprise/")
    label = "<b>" + escape(pts["name"].fillna(pts["entity_id"])) + "</b><br>" + escape(pts["rules"])
    return pts.assign(label=label, color=pts["severity"].map(SEVERITY_COLOR),
                      size=np.where(pts["severity"] == "red", 12, 9), link=link + pts["entity_id"])


LAYER = WarningsLayer()
