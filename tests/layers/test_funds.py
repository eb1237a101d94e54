"""应急周转金 (十): every unit against its floor per year, used and replenished, missing units reported."""

from __future__ import annotations

import pandas as pd
import pytest

from geodata.townships import CITY_CODE
from layers.base import Filters, LayerData
from layers.funds import LAYER, fund_table, unit_code
from tests.layers.test_rules import T1, T2, townships


def data(rows) -> LayerData:
    return LayerData(townships=townships(), funds=pd.DataFrame(rows))


ROWS = [
    dict(unit_code=CITY_CODE, year=2024, budgeted=200.0, balance=200.0, used=0.0, replenished=0.0),  # city at its floor exactly
    dict(unit_code=T1, year=2024, budgeted=50.0, balance=49.99, used=10.0, replenished=9.99),  # used, not fully replenished
    dict(unit_code="新华路街道", year=2023, budgeted=40.0, balance=40.0, used=0.0, replenished=0.0),  # name, budget below floor
]


def test_floors_status_and_missing_units():
    t = fund_table(data(ROWS)).set_index(["unit_code", "year"])
    city = t.loc[(CITY_CODE, 2024)]
    assert (city["floor"], city["at_floor"], city["status"]) == (200.0, True, "达标")
    t1 = t.loc[(T1, 2024)]
    assert (t1["floor"], bool(t1["at_floor"]), t1["status"]) == (50.0, False, "动用后未补足")
    assert t1["to_replenish"] == pytest.approx(0.01)
    assert t.loc[(T2, 2023), "status"] == "余额低于下限"
    assert t.loc[(T2, 2024), "status"] == "未报送" and not t.loc[(T2, 2024), "at_floor"]
    assert t.loc[(CITY_CODE, 2023), "status"] == "未报送"
    assert len(t) == 6  # 3 units × 2 years


def test_budget_below_floor_with_balance_at_floor():
    t = fund_table(data([dict(unit_code=T1, year=2024, budgeted=45.0, balance=50.0, used=0.0, replenished=0.0)]), [2024])
    assert t.set_index("unit_code").loc[T1, "status"] == "预算低于下限"


def test_unit_code_aliases():
    s = unit_code(pd.Series(["410183", "市本级", "410183001", "青屏街办事处", "不存在"]))
    assert list(s[:4]) == [CITY_CODE, CITY_CODE, T1, T1] and pd.isna(s[4])


def test_layer_year_and_city_note():
    res = LAYER.build(data(ROWS), Filters(month_to="2024-12"))
    by = res.by_township.set_index("code")
    assert by.loc[T1, "value"] == pytest.approx(99.98) and by.loc[T2, "label"] == "未报送"  # % of the 50 万元 floor
    assert res.traces[0]["z"] == [1, 0]  # class + 1: below floor; no data
    assert any("市级周转金：达标" in n for n in res.notes)
    assert set(res.table["年度"]) == {2024} and "待补足(万元)" in res.table.columns
