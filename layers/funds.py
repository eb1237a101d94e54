"""欠薪应急周转金 (十): each township's and the city's fund against its floor per year, used and replenished.

(十) 市财政每年不少于200万元，各乡镇政府、街道办事处、尖山风景区管委不少于50万元 … 动用后要及时补足，
确保足额储备. Per unit and year: budget ≥ floor (预算达标), balance ≥ floor (余额达标), and what was
used but not yet replenished (待补足 = max(used − replenished, 0)). A unit without a row for the
year is 未报送 and counts as not at floor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from geodata.settings import Rules
from geodata.townships import BY_CODE, CITY_CODE, CITY_NAME, TOWNSHIPS, to_code
from layers import mapfig
from layers.base import Filters, LayerData, LayerResult
from layers.credit import as_num, as_text, col, rules_of
from layers.palettes import OK, WARNING, Classes

CITY_ALIASES = {CITY_CODE, CITY_CODE[:6], CITY_CODE[:9], CITY_NAME, "市本级", "市级", "新密", "市财政"}
COLUMNS = ["unit_code", "unit_name", "level", "year", "floor", "budgeted", "balance", "used", "replenished",
           "to_replenish", "budget_ok", "at_floor", "status"]


def unit_code(s: pd.Series) -> pd.Series:
    """Normalise unit codes/names: the city -> CITY_CODE, a township name/alias/9- or 12-digit code -> its code."""
    txt = as_text(s)
    city = txt.isin(CITY_ALIASES).fillna(False)
    town = txt.map(lambda v: to_code(v) if isinstance(v, str) else None)
    return pd.Series(np.where(city, CITY_CODE, town), index=s.index, dtype=object)


def fund_table(data: LayerData, years: list[int] | None = None, rules: Rules | None = None,
               units: list[str] | None = None) -> pd.DataFrame:
    """One row per unit (city + townships) and year: COLUMNS. Default years: every year in the data."""
    r = rules_of(rules)
    f = data.funds if data.funds is not None else pd.DataFrame()
    rows = pd.DataFrame({
        "unit_code": unit_code(col(f, "unit_code", None)), "year": as_num(col(f, "year")),
        "budgeted": as_num(col(f, "budgeted")), "balance": as_num(col(f, "balance")),
        "used": as_num(col(f, "used")), "replenished": as_num(col(f, "replenished")),
    }).dropna(subset=["unit_code", "year"])
    rows["year"] = rows["year"].astype(int)
    rows = rows.groupby(["unit_code", "year"], as_index=False).last()
    if years is None:
        years = sorted(rows["year"].unique().tolist())
    if units is None:
        has_towns = data.townships is not None and not data.townships.empty
        tw = data.townships["code"].tolist() if has_towns else [t.code for t in TOWNSHIPS]
        units = [CITY_CODE, *tw]
    grid = pd.MultiIndex.from_product([units, years], names=["unit_code", "year"]).to_frame(index=False)
    out = grid.merge(rows, on=["unit_code", "year"], how="left")
    is_city = out["unit_code"] == CITY_CODE
    out["unit_name"] = np.where(is_city, CITY_NAME + "（市级）",
                                out["unit_code"].map(lambda c: BY_CODE[c].name if c in BY_CODE else c))
    out["level"] = np.where(is_city, "市级", "乡镇")
    out["floor"] = np.where(is_city, r.fund_floor_city, r.fund_floor_township)  # (十) 200万 / 50万
    reported = out["balance"].notna() | out["budgeted"].notna()
    out["to_replenish"] = (out["used"].fillna(0) - out["replenished"].fillna(0)).clip(lower=0)
    out["budget_ok"] = out["budgeted"] >= out["floor"] - 1e-9
    out["at_floor"] = out["balance"] >= out["floor"] - 1e-9
    out["status"] = np.select(
        [~reported, ~out["at_floor"] & (out["to_replenish"] > 0), ~out["at_floor"], ~out["budget_ok"]],
        ["未报送", "动用后未补足", "余额低于下限", "预算低于下限"], default="达标")
    return out[COLUMNS].sort_values(["year", "level", "unit_code"], ascending=[True, False, True]).reset_index(drop=True)


def fund_table_zh(t: pd.DataFrame) -> pd.DataFrame:
    """The fund table with Chinese headers (万元)."""
    return pd.DataFrame({
        "年度": t["year"], "单位": t["unit_name"], "层级": t["level"], "下限(万元)": t["floor"], "预算安排(万元)": t["budgeted"],
        "余额(万元)": t["balance"], "动用(万元)": t["used"], "补足(万元)": t["replenished"], "待补足(万元)": t["to_replenish"],
        "状态": t["status"],
    })


def filter_year(filters: Filters | None, data: LayerData) -> int:
    """The year shown: of month_to, else of as_of, else the latest year in the funds table, else this year."""
    f = filters or Filters()
    if f.month_to:
        return int(f.month_to[:4])
    if f.as_of:
        return int(str(f.as_of)[:4])
    ys = as_num(col(data.funds, "year")) if data.funds is not None and not data.funds.empty else pd.Series(dtype=float)
    return int(ys.max()) if ys.notna().any() else pd.Timestamp.today().year


class FundLayer:
    """应急周转金余额占下限的百分比 per township for one year (十); the city's fund is in the table and notes."""

    key = "funds"
    title = "欠薪应急周转金"
    kind = "coverage"
    higher_is_better = True

    def build(self, data: LayerData, filters: Filters) -> LayerResult:
        year = filter_year(filters, data)
        t = fund_table(data, [year])
        if filters.township:
            t = t[(t["unit_code"] == filters.township) | (t["level"] == "市级")]
        towns = t[t["level"] == "乡镇"]
        share = (towns["balance"] / towns["floor"] * 100).to_numpy()
        by = pd.DataFrame({"code": towns["unit_code"].to_numpy(), "value": share})
        floor = towns["floor"].round(0).astype(int).astype(str)
        text = "余额" + towns["balance"].round(1).astype("string") + "万元（下限" + floor + "万元），" + towns["status"]
        by["label"] = np.where(towns["balance"].notna(), text.to_numpy(), "未报送")
        by["status"] = towns["status"].to_numpy()
        idx = np.where(np.isnan(share), -1, np.where(towns["at_floor"].to_numpy(dtype=bool), 1, 0))
        classes = Classes(index=idx, colors=[WARNING["orange"], OK], labels=["余额低于下限", "余额达到下限"])
        city = t[t["level"] == "市级"].iloc[0] if (t["level"] == "市级").any() else None
        r = rules_of(None)
        notes = [f"{year}年度；(十) 市级不少于{r.fund_floor_city:g}万元，乡镇不少于{r.fund_floor_township:g}万元"]
        if city is not None:
            bal = "—" if pd.isna(city["balance"]) else f"{city['balance']:g}万元"
            notes.append(f"市级周转金：{city['status']}，余额{bal}")
        lacking = int((towns["status"] != "达标").sum())
        notes.append(f"未达标乡镇{lacking}个")
        return LayerResult(key=self.key, title=self.title, unit="%", by_township=by, table=fund_table_zh(t),
                           legend=classes.legend(), notes=notes, traces=[mapfig.choropleth_trace(by, classes, self.title)])

    def export_folium(self, result: LayerResult, fmap: Any) -> None:
        from layers.folium_export import add_layer

        add_layer(result, fmap)


LAYER = FundLayer()
