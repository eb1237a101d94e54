"""Year-end assessment (三十二)(三十三): a score per township from the indicator set, with the evidence rows.

Indicators (value in [0, 1], score in [0, 1]; weights settings.assessment):
  real_name          share of active projects whose latest report of the year has registered/onsite ≥ real_name_min (三)
  special_account    share with a 专户 opened and filed on or before the start (十一)
  deposit            share that paid what the differentiated rule requires (九, layers.deposits)
  bank_payroll       share with 银行代发 (五);   notice_board  share with a 维权公示牌 (三十一)
  fund_at_floor      1 when the township's 应急周转金 balance ≥ its floor, else 0 (未报送 = 0) (十)
  case_closure       cases received in the year and closed by 31 Dec / cases received (十九)
  days_to_close      mean days received -> closed (open cases: -> 31 Dec); score 1 at ≤ assess_days_full,
                     0 at ≥ assess_days_zero, linear between
  incidents_handled  incidents of the year 已处置 + major cases (二十二) closed / both together (二十三)
  arrears_per_project Σ case amount of the year (万元) / active projects; score 1 − min(x / assess_arrears_zero, 1)
Coverage indicators: score = value. An indicator with nothing to measure (no project, no case,
no incident) is left out for that township and the weights of the others are renormalised:
  total = 100 × Σ w_i·s_i / Σ w_i   over the indicators defined for the township;
rank 1 = highest total (ties share the better rank). Active project in year Y: started by
31 Dec Y (or no start date) and either not 竣工 or reporting in Y. Facts dated after 31 Dec Y
are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geodata.settings import Assessment, Rules, get_settings
from geodata.townships import BY_CODE, TOWNSHIPS
from layers import mapfig
from layers.base import Filters, LayerData, LayerResult, derived
from layers.credit import as_bool, as_date, as_num, as_text, case_state, col, month_index, rules_of
from layers.deposits import required_deposits
from layers.exports import write_xlsx
from layers.funds import fund_table
from layers.palettes import BLUES, Classes

INDICATORS: dict[str, str] = {
    "real_name": "实名制覆盖率", "special_account": "工资专户覆盖率", "deposit": "保证金按规缴存率",
    "bank_payroll": "银行代发覆盖率", "notice_board": "维权公示牌覆盖率", "fund_at_floor": "应急周转金足额",
    "case_closure": "案件结案率", "days_to_close": "平均办结天数", "incidents_handled": "重大案件和群体事件处置率",
    "arrears_per_project": "项目平均欠薪金额",
}
UNITS = {"days_to_close": "天", "arrears_per_project": "万元/项目", "fund_at_floor": ""}
EVIDENCE_COLUMNS = ["township_code", "township", "item_type", "item_id", "item_name", "value", "passed", "note"]
EVIDENCE_ZH = {"township_code": "乡镇代码", "township": "乡镇", "item_type": "类型", "item_id": "编号", "item_name": "名称",
               "value": "数值", "passed": "是否达标", "note": "说明"}


@dataclass
class AssessmentResult:
    """scores: one row per township (code, name, <k>_value, <k>_score, <k>_n, total, rank); evidence per indicator."""

    year: int
    scores: pd.DataFrame
    evidence: dict[str, pd.DataFrame] = field(default_factory=dict)


def assess(data: LayerData, year: int, rules: Rules | None = None, weights: Assessment | None = None) -> AssessmentResult:
    """Score every township for `year` (see module docstring)."""
    r = rules_of(rules)
    w = weights if weights is not None else get_settings().assessment
    ref = pd.Timestamp(year=year, month=12, day=31)
    has_towns = data.townships is not None and not data.townships.empty
    codes = data.townships["code"].tolist() if has_towns else [t.code for t in TOWNSHIPS]
    proj = _active_projects(data, year, ref, r)
    ev: dict[str, pd.DataFrame] = {}
    ev.update(_project_indicators(data, proj, ref, r))
    ev["fund_at_floor"] = _fund_evidence(data, year, codes)
    cases = _year_cases(data, year, ref, r)
    ev.update(_case_indicators(data, cases, year, ref, r))
    ev["arrears_per_project"] = _arrears_evidence(cases, proj)
    scores = pd.DataFrame({"code": codes, "name": [BY_CODE[c].name if c in BY_CODE else c for c in codes]})
    for k in INDICATORS:
        value, n = _aggregate(k, ev[k], codes)
        scores[f"{k}_value"] = scores["code"].map(value)
        scores[f"{k}_n"] = scores["code"].map(n).fillna(0).astype(int)
        scores[f"{k}_score"] = _score(k, scores[f"{k}_value"], r)
    wv = np.array([getattr(w, k) for k in INDICATORS], dtype=float)
    s = scores[[f"{k}_score" for k in INDICATORS]].to_numpy(dtype=float)
    defined = ~np.isnan(s)
    denom = (defined * wv).sum(axis=1)
    scores["total"] = np.where(denom > 0, 100 * (np.nan_to_num(s) * wv).sum(axis=1) / np.where(denom > 0, denom, 1), np.nan)
    scores["rank"] = scores["total"].rank(ascending=False, method="min").astype("Int64")
    for k in ev:
        names = _map_distinct(ev[k]["township_code"], lambda c: BY_CODE[c].name if c in BY_CODE else c)
        ev[k] = ev[k].assign(township=names)[EVIDENCE_COLUMNS]
    return AssessmentResult(year, scores.sort_values(["rank", "code"]).reset_index(drop=True), ev)


def _map_distinct(s: pd.Series, fn: Any) -> pd.Series:
    """= s.map(fn), calling fn once per distinct value (same values and dtype)."""
    codes, _ = pd.factorize(s, use_na_sentinel=False)
    first = np.unique(codes, return_index=True)[1]
    return s.iloc[first].map(fn).take(codes).set_axis(s.index)


def _at(values: pd.Series, at: np.ndarray, keys: pd.Series) -> pd.Series:
    """= keys.map(values) where at = values.index.get_indexer(keys) (a unique index; -1 gives a missing value)."""
    if not len(keys) or values.index.has_duplicates:
        return keys.map(values)  # (the dtype of an empty map; the error of a duplicate index)
    return pd.Series(values.array.take(at, allow_fill=True), index=keys.index)


def _projects(data: LayerData) -> pd.DataFrame:
    """The project columns the assessment reads, normalised once per read of the frames (do not modify)."""
    def build() -> pd.DataFrame:
        p = data.projects if data.projects is not None else pd.DataFrame()
        return pd.DataFrame({
            "project_code": as_text(col(p, "project_code", None)), "name": as_text(col(p, "name", None)),
            "township_code": as_text(col(p, "township_code", None)), "start": as_date(col(p, "start_date")),
            "status": as_text(col(p, "status", None)), "sa": as_bool(col(p, "special_account", False)),
            "opened": as_date(col(p, "special_account_opened")), "filed": as_date(col(p, "special_account_filed")),
            "bank": as_bool(col(p, "bank_payroll", False)), "board": as_bool(col(p, "notice_board", False)),
        })

    return derived(data, ("projects",), ("assessment.projects",), build)


def _reports(data: LayerData) -> pd.DataFrame:
    """The monthly report columns the assessment reads, normalised once per read of the frames (do not modify)."""
    def build() -> pd.DataFrame:
        c = data.compliance if data.compliance is not None else pd.DataFrame()
        return pd.DataFrame({"project_code": as_text(col(c, "project_code", None)), "m": month_index(col(c, "month")),
                             "onsite": as_num(col(c, "workers_onsite")), "reg": as_num(col(c, "workers_registered"))})

    return derived(data, ("compliance",), ("assessment.reports",), build)


def _active_projects(data: LayerData, year: int, ref: pd.Timestamp, r: Rules) -> pd.DataFrame:
    cm = _reports(data)
    reporting = cm.loc[(cm["m"] >= year * 12) & (cm["m"] <= year * 12 + 11), "project_code"].dropna()
    out = _projects(data)[["project_code", "name", "township_code", "start", "status"]]
    done = out["status"].isin(r.completed_statuses).fillna(False)
    keep = (out["start"].isna() | (out["start"] <= ref)) & (~done | out["project_code"].isin(reporting))
    return out[keep & out["township_code"].notna()].reset_index(drop=True)


def _ev(frame: pd.DataFrame, item_type: str, id_col: str, name_col: str, value: Any, passed: Any, note: Any) -> pd.DataFrame:
    n = len(frame)
    return pd.DataFrame({
        "township_code": frame["township_code"].to_numpy(), "township": None, "item_type": item_type,
        "item_id": frame[id_col].to_numpy(), "item_name": frame[name_col].to_numpy() if name_col in frame else None,
        "value": np.broadcast_to(np.asarray(value, dtype=object), n),
        "passed": np.broadcast_to(np.asarray(passed, dtype=object), n),
        "note": np.broadcast_to(np.asarray(note, dtype=object), n),
    }, columns=EVIDENCE_COLUMNS)


def _project_indicators(data: LayerData, proj: pd.DataFrame, ref: pd.Timestamp, r: Rules) -> dict[str, pd.DataFrame]:
    """real_name, special_account, deposit, bank_payroll, notice_board: one evidence row per active project."""
    facts = derived(data, ("projects",), ("assessment.facts",),
                    lambda: _projects(data)[["project_code", "sa", "opened", "filed", "bank", "board"]].drop_duplicates(
                        "project_code"))
    f = proj.merge(facts, on="project_code", how="left")
    out: dict[str, pd.DataFrame] = {}

    # (三) the year's latest report with workers on site
    y = ref.year
    rep = _reports(data)
    rep = rep[(rep["m"] >= y * 12) & (rep["m"] <= y * 12 + 11)]
    has_report = f["project_code"].isin(rep["project_code"])
    last = rep[rep["onsite"] > 0].sort_values("m").drop_duplicates("project_code", keep="last").set_index("project_code")
    at = last.index.get_indexer(f["project_code"])  # = map(last[...]) by one lookup (one report per project and month)
    onsite = _at(last["onsite"], at, f["project_code"])
    reg = np.minimum(_at(last["reg"], at, f["project_code"]).fillna(0), onsite)
    ratio = reg / onsite
    m_txt = _map_distinct(_at(last["m"], at, f["project_code"]),
                          lambda i: f"{int(i) // 12}年{int(i) % 12 + 1}月" if pd.notna(i) else "")
    applicable = onsite.notna() | ~has_report  # reports with nobody on site: nothing to register
    passed = ratio >= r.real_name_min - 1e-9
    rn = f[applicable]
    out["real_name"] = _ev(rn, "项目", "project_code", "name", ratio[applicable].round(4),
                           np.where(passed[applicable], "是", "否"),
                           np.where(onsite[applicable].notna(),
                                    m_txt[applicable] + "在场" + onsite[applicable].astype("Int64").astype("string")
                                    + "人，实名登记" + reg[applicable].astype("Int64").astype("string") + "人", "本年度无月报"))

    # (十一) opened and filed on or before the start; dates after 31 Dec do not exist yet
    opened, filed = f["opened"].where(f["opened"] <= ref), f["filed"].where(f["filed"] <= ref)
    has = f["sa"].fillna(False) | opened.notna()
    ok_o = opened.notna() & (f["start"].isna() | (opened <= f["start"]))
    ok_f = filed.notna() & (f["start"].isna() | (filed <= f["start"]))
    sa_ok = has & ok_o & ok_f
    note = np.select([~has, opened.isna(), ~ok_o, filed.isna(), ~ok_f],
                     ["未开设专户", "无开户日期", "开工后才开户", "未备案", "开工后才备案"], "开工前开户并备案")
    out["special_account"] = _ev(f, "项目", "project_code", "name", np.where(sa_ok, 1, 0), np.where(sa_ok, "是", "否"), note)

    # (九) the differentiated rule
    dep = required_deposits(data, ref, r).set_index("project_code") if not f.empty else pd.DataFrame()
    if not f.empty and not dep.empty:
        at = dep.index.get_indexer(f["project_code"])
        short = _at(dep["short"], at, f["project_code"]).fillna(True).astype(bool)
        paid, req = _at(dep["paid"], at, f["project_code"]).fillna(0.0), _at(dep["required"], at, f["project_code"])
        why = _at(dep["rule_zh"], at, f["project_code"]).fillna("")
        due = ("应缴" + req.round(2).astype("string") + "万元").fillna("合同价款未报")
        out["deposit"] = _ev(f, "项目", "project_code", "name", paid.round(2), np.where(short, "否", "是"),
                             why + "：" + due + "，实缴" + paid.round(2).astype("string") + "万元")
    else:
        out["deposit"] = _ev(f, "项目", "project_code", "name", 0, "否", "")
    out["bank_payroll"] = _ev(f, "项目", "project_code", "name", f["bank"].astype(int), np.where(f["bank"], "是", "否"),
                              np.where(f["bank"], "实行银行代发", "未实行银行代发"))
    out["notice_board"] = _ev(f, "项目", "project_code", "name", f["board"].astype(int), np.where(f["board"], "是", "否"),
                              np.where(f["board"], "已设立维权公示牌", "未设立维权公示牌"))
    return out


def _fund_evidence(data: LayerData, year: int, codes: list[str]) -> pd.DataFrame:
    t = fund_table(data, [year], units=codes)
    t = t.assign(township_code=t["unit_code"])
    balance = t["balance"].round(2).astype("string").fillna("—")
    note = t["status"] + "：余额" + balance + "万元，下限" + t["floor"].round(0).astype(int).astype(str) + "万元"
    return _ev(t, "应急周转金", "unit_code", "unit_name", t["at_floor"].astype(int), np.where(t["at_floor"], "是", "否"), note)


def _case_towns(data: LayerData) -> pd.Series:
    """Each case's township (the first one given for its number), once per read of the frames (do not modify)."""
    def build() -> pd.Series:
        c = data.cases if data.cases is not None else pd.DataFrame()
        town = pd.Series(as_text(col(c, "township_code", None)).to_numpy(), index=as_text(col(c, "case_no")).to_numpy(),
                         dtype=object)
        return town.groupby(level=0).first() if len(town) else town

    return derived(data, ("cases",), ("assessment.case_towns",), build)


def _year_cases(data: LayerData, year: int, ref: pd.Timestamp, r: Rules) -> pd.DataFrame:
    st = case_state(data, ref, r)
    town = _case_towns(data)
    st["township_code"] = st["case_no"].map(town) if len(town) else pd.NA
    st = st[(st["received"].dt.year == year) & st["township_code"].notna()].copy()
    st["days"] = np.where(st["closed_date"].notna(), (st["closed_date"] - st["received"]).dt.days,
                          np.where(st["closed"], np.nan, (ref - st["received"]).dt.days))
    st["major"] = (st["amount"] >= r.major_case_amount) | (st["workers"] >= r.major_case_workers)
    return st


def _case_indicators(data: LayerData, st: pd.DataFrame, year: int, ref: pd.Timestamp, r: Rules) -> dict[str, pd.DataFrame]:
    rec = st["received"].dt.strftime("%Y-%m-%d")
    closed_txt = st["closed_date"].dt.strftime("%Y-%m-%d").fillna("未结")
    base_note = "受理" + rec + "，结案" + closed_txt + "，状态" + st["status"].fillna("—")
    out = {
        "case_closure": _ev(st, "案件", "case_no", "employer_name", st["closed"].astype(int), np.where(st["closed"], "是", "否"),
                            base_note),
    }
    d = st[st["days"].notna()]
    out["days_to_close"] = _ev(d, "案件", "case_no", "employer_name", d["days"].astype(int),
                               np.where(d["days"] <= r.assess_days_full, "是", "否"),
                               np.where(d["closed"], "已结案", "未结，计至年底"))
    major = st[st["major"]]
    mj = _ev(major, "重大案件", "case_no", "employer_name", major["closed"].astype(int), np.where(major["closed"], "是", "否"),
             "欠薪" + major["amount"].round(2).astype("string") + "万元、" + major["workers"].astype("Int64").astype("string")
             + "人；" + base_note[st["major"]])
    it = derived(data, ("incidents",), ("assessment.incidents",), lambda: _incidents(data))
    it = it[(it["when"].dt.year == year) & it["township_code"].notna()]
    done = it["status"].isin(r.incident_done_statuses).fillna(False)
    ij = _ev(it, "群体事件", "incident_no", "grade", done.astype(int), np.where(done, "是", "否"),
             it["when"].dt.strftime("%Y-%m-%d") + "，" + it["headcount"].astype("Int64").astype("string") + "人，"
             + it["grade"].fillna("") + "，" + it["status"].fillna("—"))
    out["incidents_handled"] = pd.concat([x for x in (mj, ij) if not x.empty] or [mj], ignore_index=True)
    return out


def _incidents(data: LayerData) -> pd.DataFrame:
    inc = data.incidents if data.incidents is not None else pd.DataFrame()
    return pd.DataFrame({"incident_no": as_text(col(inc, "incident_no", None)), "when": as_date(col(inc, "occurred_at")),
                         "township_code": as_text(col(inc, "township_code", None)), "status": as_text(col(inc, "status", None)),
                         "grade": as_text(col(inc, "grade", None)), "headcount": as_num(col(inc, "headcount"))})


def _arrears_evidence(st: pd.DataFrame, proj: pd.DataFrame) -> pd.DataFrame:
    cases = _ev(st, "案件", "case_no", "employer_name", st["amount"].fillna(0).round(2), "—", "本年度受理案件欠薪金额（万元）")
    projects = _ev(proj, "在建项目", "project_code", "name", 1, "—", "计入分母的在建项目")
    return pd.concat([x for x in (cases, projects) if not x.empty] or [cases], ignore_index=True)


def _aggregate(k: str, ev: pd.DataFrame, codes: list[str]) -> tuple[pd.Series, pd.Series]:
    """Township value and denominator for indicator `k` from its evidence rows."""
    e = ev.assign(v=pd.to_numeric(ev["value"], errors="coerce"))
    if k == "arrears_per_project":
        amount = e[e["item_type"] == "案件"].groupby("township_code")["v"].sum()
        n = e[e["item_type"] == "在建项目"].groupby("township_code").size()
        value = (amount.reindex(n.index).fillna(0.0) / n).where(n > 0)
        return value, n
    if k == "days_to_close":
        g = e.groupby("township_code")["v"]
        return g.mean(), g.size()
    g = e.assign(ok=(e["passed"] == "是").astype(float)).groupby("township_code")["ok"]  # share of items that pass
    return g.mean(), g.size()


def _score(k: str, v: pd.Series, r: Rules) -> pd.Series:
    if k == "days_to_close":
        span = max(r.assess_days_zero - r.assess_days_full, 1e-9)
        return ((r.assess_days_zero - v) / span).clip(0, 1)
    if k == "arrears_per_project":
        return 1 - (v / r.assess_arrears_zero).clip(0, 1)
    return v.astype(float)


# ---- tables, workbook, layer -----------------------------------------------------------------

def scores_zh(res: AssessmentResult) -> pd.DataFrame:
    """The score table with Chinese headers: rank, township, total, then value and score per indicator."""
    s = res.scores
    out = pd.DataFrame({"排名": s["rank"], "乡镇代码": s["code"], "乡镇": s["name"], "总分": s["total"].round(2)})
    for k, zh in INDICATORS.items():
        unit = UNITS.get(k, "%")
        v = s[f"{k}_value"]
        out[f"{zh}{'(' + unit + ')' if unit else ''}"] = (v * 100).round(1) if unit == "%" else v.round(2)
        out[f"{zh}得分"] = (s[f"{k}_score"] * 100).round(1)
    return out


def write_sheets(sheets: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Write DataFrames to one xlsx through layers.exports (formula-like text neutralised, legal sheet names)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_xlsx({name: _plain(df) for name, df in sheets.items()}, path)
    return path


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """pd.NA -> None in object and nullable columns (the xlsx writer compares cells with themselves)."""
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if s.dtype == object or isinstance(s.dtype, pd.api.extensions.ExtensionDtype):
            out[c] = s.astype(object).where(s.notna(), None)
    return out


def workbook_sheets(data: LayerData, year: int, rules: Rules | None = None, weights: Assessment | None = None,
                    res: AssessmentResult | None = None) -> dict[str, pd.DataFrame]:
    """(三十三) The sheets of the export: scores, one per indicator with its evidence rows, the method and weights."""
    res = res if res is not None else assess(data, year, rules, weights)
    w = weights if weights is not None else get_settings().assessment
    sheets = {f"{year}年度得分": scores_zh(res)}
    for k, zh in INDICATORS.items():
        sheets[zh] = res.evidence[k].rename(columns=EVIDENCE_ZH)
    sheets["指标与权重"] = pd.DataFrame({"指标": list(INDICATORS.values()), "权重": [getattr(w, k) for k in INDICATORS],
                                    "计算": [_METHOD[k] for k in INDICATORS]})
    return sheets


def assessment_workbook(data: LayerData, year: int, path: str | Path, rules: Rules | None = None,
                        weights: Assessment | None = None) -> Path:
    """`wagemap export assessment --year YYYY --out FILE.xlsx`: scores, one sheet per indicator with evidence, method."""
    return write_sheets(workbook_sheets(data, year, rules, weights), path)


def export_assessment_xlsx(store: Any, year: int, path: str | Path) -> Path:
    """`wagemap export assessment --year YYYY --out FILE.xlsx`: read the store (all townships), write the workbook."""
    kinds = ("projects", "enterprises", "compliance", "deposits", "cases", "incidents", "funds", "credit")
    data = LayerData(townships=store.townships(), **{k: store.read(k) for k in kinds})
    return assessment_workbook(data, year, path)


def township_breakdown(res: AssessmentResult, code: str, weights: Assessment | None = None) -> pd.DataFrame:
    """One township's indicators: value, score, weight and points (the points add up to its total)."""
    w = weights if weights is not None else get_settings().assessment
    row = res.scores.set_index("code").loc[code]
    wv = pd.Series({k: float(getattr(w, k)) for k in INDICATORS})
    sc = pd.Series({k: row[f"{k}_score"] for k in INDICATORS}, dtype=float)
    denom = wv[sc.notna()].sum()
    pts = (100 * wv * sc / denom) if denom > 0 else sc * np.nan
    val = pd.Series({k: row[f"{k}_value"] for k in INDICATORS}, dtype=float)
    shown = [f"{v:.1f}{UNITS[k]}" if k in ("days_to_close", "arrears_per_project") else ("是" if v == 1 else "否")
             if k == "fund_at_floor" else f"{v * 100:.1f}%" for k, v in val.items() if pd.notna(v)]
    shown_full = pd.Series("无数据（不计分）", index=val.index)
    shown_full[val.notna()] = shown
    return pd.DataFrame({
        "key": list(INDICATORS), "指标": list(INDICATORS.values()), "数值": shown_full.to_numpy(),
        "计数": [int(row[f"{k}_n"]) for k in INDICATORS], "得分": (sc * 100).round(1).to_numpy(), "权重": wv.to_numpy(),
        "计入总分": pts.round(2).to_numpy(),
    })


_METHOD = {
    "real_name": "年度最后一次有人在场的月报：实名登记/在场 ≥ 下限为达标；达标项目/在建项目",
    "special_account": "开工前开设并备案工资专户的项目/在建项目 (十一)",
    "deposit": "按差异化比例足额缴存的项目/在建项目 (九)",
    "bank_payroll": "实行银行代发的项目/在建项目 (五)",
    "notice_board": "设立维权公示牌的项目/在建项目 (三十一)",
    "fund_at_floor": "年末余额不低于下限（乡镇50万元）得满分，否则0分 (十)",
    "case_closure": "本年受理并于年底前结案的案件/本年受理案件 (十九)",
    "days_to_close": "本年受理案件平均办结天数（未结计至年底）；不超过满分天数得满分，达到零分天数得0分",
    "incidents_handled": "本年处置完毕的群体事件与结案的重大案件/两者合计 (二十二)(二十三)",
    "arrears_per_project": "本年受理案件欠薪金额合计/在建项目数；为0得满分，达到零分线得0分",
}


def assessment_year(data: LayerData, filters: Filters | None) -> int:
    """The year assessed: of month_to or as_of, else the latest year with cases, else last year."""
    f = filters or Filters()
    if f.month_to:
        return int(f.month_to[:4])
    if f.as_of:
        return int(str(f.as_of)[:4])
    d = as_date(col(data.cases,
                    "received_date")) if data.cases is not None and not data.cases.empty else pd.Series(dtype="datetime64[ns]")
    return int(d.dt.year.max()) if d.notna().any() else pd.Timestamp.today().year - 1


ASSESS_KINDS = ("projects", "compliance", "cases", "incidents", "funds", "deposits", "enterprises", "townships")  # assess reads


class AssessmentLayer:
    """考核得分 per township for one year (三十二)(三十三); city scale."""

    key = "assessment"
    title = "年度考核得分"
    kind = "assessment"
    higher_is_better = True

    def build(self, data: LayerData, filters: Filters) -> LayerResult:
        year = assessment_year(data, filters)
        st = get_settings()  # the township filter plays no part in the scores: every window of the frames shares them
        key = ("assessment.assess", year, st.rules.model_dump_json(), st.assessment.model_dump_json())
        res = derived(data, ASSESS_KINDS, key, lambda: assess(data, year))
        s = res.scores
        by = pd.DataFrame({"code": s["code"], "value": s["total"]})
        by["label"] = np.where(s["total"].notna(),
                               s["total"].round(1).astype("string") + "分（第" + s["rank"].astype("string") + "名）", "无数据")
        table = scores_zh(res)
        if filters.township:
            table = table[table["乡镇代码"] == filters.township]
        classes = score_classes(by["value"])
        return LayerResult(key=self.key, title=self.title, unit="分", by_township=by, table=table, legend=classes.legend(),
                           traces=[mapfig.choropleth_trace(by, classes, self.title)],
                           notes=[f"{year}年度；总分=100×Σ权重×得分/Σ权重（无可计指标不计）；依据(三十二)(三十三)"])

    def export_folium(self, result: LayerResult, fmap: Any) -> None:
        from layers.folium_export import add_layer

        add_layer(result, fmap)


def score_classes(values) -> Classes:
    """Total scores in five fixed classes (<60, 60-70, 70-80, 80-90, ≥90), ColorBrewer Blues."""
    y = np.asarray(values, dtype="float64")
    idx = np.where(np.isnan(y), -1, np.digitize(y, [60, 70, 80, 90]))
    return Classes(index=idx.astype(int), colors=list(BLUES), labels=["低于60分", "60–70分", "70–80分", "80–90分", "90分及以上"])


LAYER = AssessmentLayer()
