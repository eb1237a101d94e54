"""Coverage layers: one Layer per long-term mechanism, per township and per project.

The rules live in layers/coverage_rules.py (one status row per active project); this
module aggregates them by township, classes and colours them, and writes the evidence
text shown in tables and popups. Township figure:
- 实名制 / 一卡通: workers — Σ registered (cards) capped at onsite / Σ onsite, latest report (三);
- every other mechanism: projects — share of the projects the rule applies to that meet it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geodata.settings import get_settings
from layers import mapfig
from layers.base import Filters, LayerData, LayerResult, LazyTable, of_frame
from layers.coverage_rules import KEYS, gaps, links_at, project_status, row_texts
from layers.palettes import NEUTRAL, OK, WARNING, coverage_classes
from layers.units import (
    eval_month,
    fmt_dates,
    fmt_month,
    fmt_month_of_dates,
    fmt_months,
    fmt_numbers,
    fmt_pct,
    ref_date,
)


@dataclass(frozen=True)
class Mechanism:
    """A policy mechanism: names, clause and how its township figure is counted."""

    key: str
    title: str  # layer switcher, with "率"
    short: str  # worklist: "缺：专户、保证金"
    clause: str
    rule: str  # one line for the legend / notes
    basis: str = "projects"  # "workers" | "projects"


MECHANISMS: dict[str, Mechanism] = {m.key: m for m in (
    Mechanism("real_name", "实名制登记率", "实名制", "(三)", "最近月报实名登记人数/在场人数，项目达标线按设置", "workers"),
    Mechanism("card", "一卡通发放率", "一卡通", "(三)", "最近月报工作信息卡发放数/在场人数", "workers"),
    Mechanism("special_account", "工资专户开设率", "工资专户", "(十一)", "开工前开设农民工工资专用账户并书面备案"),
    Mechanism("deposit", "工资保证金足额率", "工资保证金", "(九)", "保证金余额不低于应缴额（合同价款×按欠薪记录差异化的比例）"),
    Mechanism("bank_payroll", "银行代发覆盖率", "银行代发", "(五)", "委托银行通过专户代发农民工工资"),
    Mechanism("monthly_settled", "月结月清率", "月结月清", "(五)(十九)", "工资已发放至上月"),
    Mechanism("notice_board", "维权公示牌设置率", "维权公示牌", "(三十一)", "工地醒目位置设立维权信息告示牌"),
    Mechanism("filing", "用工备案及时率", "用工备案", "(二)", "开工后1个月内到人社局办理用工备案"),
    Mechanism("labour_officer", "劳资专管员配备率", "劳资专管员", "(四)", "项目部配备劳资专管员"),
)}
assert tuple(MECHANISMS) == KEYS
TABLE_COLUMNS = ["项目编号", "项目名称", "所属乡镇", "施工总承包单位", "项目状态", "落实情况", "指标值", "缺失自", "依据",
                 "政策条款"]  # CoverageLayer.table


def township_coverage(status: pd.DataFrame, townships: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per township: value (%), label, projects counted, met, gaps, numerator and denominator."""
    m = MECHANISMS[key]
    app = status[f"{key}_app"]
    num, den = _terms(status, key)
    number, codes = _township_numbers(status)
    frame = pd.DataFrame({
        "code": number, "numerator": num, "denominator": den,
        "n_projects": 1, "n_applicable": app.astype(int), "n_met": status[f"{key}_met"].astype(int),
        "n_gap": gaps(status, key).astype(int),
    })
    # grouped by the number of the code (numbers in the order of the codes): the sums of a grouping by the code itself
    g = frame.groupby("code", as_index=False).sum()
    g = g[g["code"].to_numpy() >= 0]
    g = g.assign(code=codes[g["code"].to_numpy()])
    out = townships[["code", "name"]].merge(g, on="code", how="left")
    for c in ("numerator", "denominator", "n_projects", "n_applicable", "n_met", "n_gap"):
        out[c] = out[c].fillna(0)
    out["value"] = (out["numerator"] / out["denominator"] * 100).where(out["denominator"] > 0)
    out["label"] = [fmt_pct(v) if v == v else "无数据" for v in out["value"]]
    if m.basis == "workers":
        out["label"] = out["label"] + np.where(out["denominator"] > 0,
                                               "（" + out["numerator"].round().astype(int).astype(str) + "/"
                                               + out["denominator"].round().astype(int).astype(str) + "人）", "")
    else:
        out["label"] = out["label"] + np.where(out["n_applicable"] > 0,
                                               "（" + out["n_met"].astype(int).astype(str) + "/"
                                               + out["n_applicable"].astype(int).astype(str) + "个项目）", "")
    return out


def _township_numbers(status: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per status row: the number of its township code (-1: none) and the codes, sorted; kept on the status frame
    (the nine layers of a window share them)."""
    def make() -> tuple[np.ndarray, np.ndarray]:
        number, codes = pd.factorize(status["township_code"].astype(object), sort=True, use_na_sentinel=True)
        return number, np.asarray(codes, dtype=object)

    return of_frame(status, ("coverage.township_numbers",), make)


def overall(status: pd.DataFrame, key: str) -> float:
    """The citywide (or scope-wide) coverage % of one mechanism; NaN when nothing counts.

    The sums of township_coverage over the townships present (same sums, same order), without its labels.
    """
    num, den = _terms(status, key)
    code = status["township_code"]
    g = pd.DataFrame({"numerator": num, "denominator": den}).groupby(code).sum()
    t = g.reindex(code.dropna().unique()).fillna(0)
    total = t["denominator"].sum()
    return float(t["numerator"].sum() / total * 100) if total > 0 else float("nan")


def overall_all(status: pd.DataFrame) -> dict[str, float]:
    """`overall` of every mechanism from one grouped sum (each column summed as `overall` sums it)."""
    code = status["township_code"]
    cols = {}
    for key in KEYS:
        cols[f"{key}.numerator"], cols[f"{key}.denominator"] = _terms(status, key)
    t = pd.DataFrame(cols).groupby(code).sum().reindex(code.dropna().unique()).fillna(0)
    out = {}
    for key in KEYS:
        total = t[f"{key}.denominator"].sum()
        out[key] = float(t[f"{key}.numerator"].sum() / total * 100) if total > 0 else float("nan")
    return out


def _terms(status: pd.DataFrame, key: str) -> tuple[pd.Series, pd.Series]:
    """Numerator and denominator per project: workers covered / onsite, or projects met / applicable."""
    app = status[f"{key}_app"]
    if MECHANISMS[key].basis == "workers":
        has = app & status["onsite"].gt(0)
        return status[f"{key}_covered"].where(has, 0.0), status["onsite"].where(has, 0.0)
    return (status[f"{key}_met"] & app).astype(float), app.astype(float)


def threshold_pct(key: str) -> float:
    """The class boundary the legend is anchored on: the policy minimum (实名制/一卡通) or 95%."""
    r = get_settings().rules
    return {"real_name": r.real_name_min * 100, "card": r.card_min * 100}.get(key, 95.0)


# ---- evidence text -------------------------------------------------------------------------


def _n(s: pd.Series) -> pd.Series:
    return fmt_numbers(s, "%.0f")


def _w(s: pd.Series) -> pd.Series:
    return (fmt_numbers(s, "%.1f") + "万元").replace("—万元", "—")


def _p(s: pd.Series) -> pd.Series:
    return (fmt_numbers(s, "%.1f") + "%").replace("—%", "—")


def evidence(status: pd.DataFrame, key: str) -> pd.Series:
    """Chinese evidence per project for one mechanism (dates, amounts, counts); plain text, not escaped."""
    s = status
    yes = lambda b, t, f: pd.Series(np.where(b, t, f), index=s.index, dtype=object)  # noqa: E731
    month = fmt_months(s["comp_month"])
    if key in ("real_name", "card"):
        what = "实名登记" if key == "real_name" else "发卡"
        col = "registered" if key == "real_name" else "cards"
        txt = month + "月报：" + what + _n(s[col]) + "/在场" + _n(s["onsite"]) + "人（" + _p(s[f"{key}_value"]) + "）"
        txt = txt.where(s["onsite"].fillna(0) > 0, month + "月报：在场0人，不适用")
        return txt.where(s["comp_month"].notna(), "无月报")
    if key == "special_account":
        base = "开户" + fmt_dates(s["sa_opened"]) + "，备案" + fmt_dates(s["sa_filed"]) + "；开工" + fmt_dates(s["start_date"])
        bank = s["sa_bank"].fillna("")
        opened = "已开设" + bank.where(bank == "", "（" + bank + "）") + "，"
        return yes(s["sa_flag"] | s["sa_opened"].notna(), opened, "未开设专户；") + base
    if key == "deposit":
        # (九) 差异化缴存: the rule and rate come from layers.deposits (the contractor's arrears record)
        held = "已缴" + _w(s["deposit_paid"]) + "，余额" + _w(s["deposit_balance"])
        rule = s["deposit_rule_zh"].fillna("正常比例").astype(object)
        txt = held + "/应缴" + _w(s["deposit_required"]) + "（合同价款" + _w(s["contract_value"]) + "×" \
            + _p(s["deposit_rate"] * 100) + "，" + rule + "）"
        txt = txt.where(s["deposit_required"].notna(), held + "（合同价款未报，无法核定应缴额）")
        return txt.where(~s["deposit_exempt"], "减免：" + rule)
    if key == "bank_payroll":
        return yes(s["bank_payroll_flag"], "银行代发：是", "银行代发：否或未报")
    if key == "monthly_settled":
        paid = "工资发放至" + fmt_months(s["paid_through"]) + "（应至" + fmt_months(s["settled_due"]) + "）"
        return paid.where(s["paid_through"].notna(), "无工资发放记录")
    if key == "notice_board":
        return yes(s["notice_board_flag"], "维权公示牌：已设立", "维权公示牌：未设立或未报")
    if key == "filing":
        filed = ("备案" + fmt_dates(s["filed_date"])).where(s["filed_date"].notna(), "未备案")
        return "开工" + fmt_dates(s["start_date"]) + "，期限" + fmt_dates(s["filing_deadline"]) + "，" + filed
    if key == "labour_officer":
        return yes(s["labour_officer"].notna(), "劳资专管员：已配备", "劳资专管员：未配备")
    raise KeyError(key)


def states(status: pd.DataFrame, key: str) -> np.ndarray:
    """达标 / 缺失 / 不适用 per project for one mechanism (tables, the project page's checklist)."""
    return np.where(gaps(status, key), "缺失", np.where(status[f"{key}_met"], "达标", "不适用"))


def since_text(status: pd.DataFrame, key: str) -> pd.Series:
    """When the gap began: a month for monthly rules, a date otherwise."""
    since = status[f"{key}_since"]
    if key in ("real_name", "card", "monthly_settled"):
        return fmt_month_of_dates(since)
    return fmt_dates(since)


# ---- the layer -----------------------------------------------------------------------------


class CoverageLayer:
    """Coverage of one mechanism: township choropleth, project points (gap/met), project table."""

    kind = "coverage"
    higher_is_better = True
    unit = "%"

    def __init__(self, key: str):
        self.mechanism = MECHANISMS[key]
        self.key = key
        self.title = self.mechanism.title

    def build(self, data: LayerData, filters: Filters) -> LayerResult:
        st = project_status(data, filters)
        towns = _towns(data, filters)
        by = township_coverage(st, towns, self.key)
        classes = coverage_classes(by["value"], threshold_pct(self.key))
        points, notes = self._points(st, located_rows(st))
        m = self.mechanism
        when = f"截至{fmt_month(eval_month(filters))}（{ref_date(filters):%Y-%m-%d}）在建/停工项目"
        notes = [f"{m.clause} {m.rule}；{when}", *notes]
        names = dict(zip(towns["code"], towns["name"], strict=True))
        return LayerResult(
            key=self.key, title=self.title, unit=self.unit, by_township=by, points=points,
            table=LazyTable(lambda: self.table(st, names), len(st), TABLE_COLUMNS), legend=classes.legend(), notes=notes,
            traces=[mapfig.choropleth_trace(by, classes, self.title),
                    mapfig.point_trace(points, "项目")],
        )

    def table(self, st: pd.DataFrame, names: dict[str, str] | None = None) -> pd.DataFrame:
        """One row per active project: state (达标/缺失/不适用), value, since, evidence (plain text); TABLE_COLUMNS.

        The layer gives it as a LazyTable: evidence for every active project (200,000 at province) is made only
        when the grid or an export reads the table, not for a map view.
        """
        key = self.key
        town = st["township_code"].map(names) if names else st["township_code"]
        state = states(st, key)
        value = st[f"{key}_value"] if f"{key}_value" in st.columns else pd.Series(np.nan, index=st.index)
        return pd.DataFrame({
            "项目编号": st["project_code"], "项目名称": st["name"], "所属乡镇": town.fillna(st["township_code"]),
            "施工总承包单位": st["contractor"], "项目状态": st["status"], "落实情况": state,
            "指标值": _p(value).replace("—", ""), "缺失自": since_text(st, key).replace("—", ""),
            "依据": evidence(st, key), "政策条款": self.mechanism.clause,
        })

    def _points(self, st: pd.DataFrame, located: np.ndarray | None = None) -> tuple[pd.DataFrame, list[str]]:
        """Projects as points: gaps orange, met blue, not applicable grey; at most max_points_per_layer (gaps first).

        `located`: positions of the status rows with coordinates (`located_rows`, shared by the nine layers of a
        window). Labels and evidence are made for the points kept only; the label's head and the link of each
        project are made once per project row for every window (coverage_rules.row_texts).
        """
        key = self.key
        if located is None:
            located = located_rows(st)
        limit = get_settings().max_points_per_layer
        notes = []
        rows = located
        if len(rows) > limit:
            gap_all = gaps(st, key).to_numpy()
            order = np.argsort(~gap_all[rows], kind="stable")[:limit]
            rows = rows[np.sort(order)]
            notes.append(f"项目点过多，仅显示{limit}个（缺失项目优先）")
        placed = st.iloc[rows]
        gap = gaps(placed, key)
        met = placed[f"{key}_met"]
        color = np.where(gap, WARNING["orange"], np.where(met, OK, NEUTRAL))
        state = np.where(gap, "缺失", np.where(met, "达标", "不适用"))
        head = pd.Series(label_heads(st, rows), index=placed.index, dtype=object)
        label = (head + self.mechanism.short + "：" + state + "<br>" + evidence(placed, key).map(html.escape))
        pts = pd.DataFrame({
            "id": placed["project_code"], "lon": placed["lon"], "lat": placed["lat"], "label": label, "color": color,
            "size": 8.0, "link": pd.Series(links_at(st, rows), index=placed.index, dtype=object),
            "gap": gap, "category": state, "township_code": placed["township_code"],
        })
        return pts.reset_index(drop=True), notes

    def export_folium(self, result: LayerResult, fmap) -> None:
        from layers.folium_export import add_layer

        add_layer(result, fmap)


def label_heads(st: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """A project point's label up to its mechanism line (name and code, escaped) for the status rows at `rows`:
    the same for every layer and window, made once per project (coverage_rules.row_texts)."""
    return row_texts(st, rows, "coverage.label_head", _label_head)


def _label_head(p: pd.DataFrame) -> np.ndarray:
    return ("<b>" + p["name"].fillna("").map(html.escape) + "</b><br>项目编号："
            + p["project_code"].map(html.escape) + "<br>").to_numpy(dtype=object)


def located_rows(st: pd.DataFrame) -> np.ndarray:
    """Positions of the status rows with coordinates, kept on the window's status frame (its nine layers share them)."""
    return of_frame(st, ("coverage.located",), lambda: np.flatnonzero((st["lon"].notna() & st["lat"].notna()).to_numpy()))


def _towns(data: LayerData, filters: Filters) -> pd.DataFrame:
    t = pd.DataFrame({"code": data.townships["code"].astype(str), "name": data.townships["name"].astype(str)})
    if filters.township:
        t = t[t["code"] == filters.township]
    return t.reset_index(drop=True)


LAYERS = {key: CoverageLayer(key) for key in KEYS}
