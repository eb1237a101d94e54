"""Warning rules (六)(八): each fires where it must, not where it must not, at its threshold's boundary."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geodata.settings import Rules
from layers.base import Filters, LayerData
from layers.rules import COLUMNS, LAYER, RULES, indicator_trends, warnings

T1, T2 = "410183001000", "410183002000"
A = "914101830000000001"  # contractor 甲
B = "914101830000000002"  # builder 乙
JUNE = Filters(month_to="2024-06")  # as_of = 2024-06-30


def townships() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": [T1, T2], "name": ["青屏街街道", "新华路街道"]},
                            geometry=[shapely.box(113.3, 34.5, 113.4, 34.6), shapely.box(113.4, 34.5, 113.5, 34.6)], crs=4326)


def project(code: str, **kw) -> dict:
    """An active project that meets every rule in 2024-06 unless overridden (required deposit 2 万元)."""
    row = dict(project_code=code, name=f"项目{code}", township_code=T1, contractor_credit_code=A, contractor="甲建设公司",
               builder="乙置业公司", contract_value=100.0, start_date="2024-01-01", status="在建", filed_date="2024-01-15",
               payment_guarantee=True, special_account=True, bank_payroll=True, notice_board=True, lon=113.35, lat=34.55)
    row.update(kw)
    return row


def report(code: str, month: str = "2024-06", **kw) -> dict:
    row = dict(project_code=code, month=month, workers_onsite=100, workers_registered=100, cards_issued=100, wages_due=30.0,
               wages_paid_bank=30.0, account_funded=30.0, paid_through_month="2024-05")
    row.update(kw)
    return row


def deposit(code: str, amount: float = 2.0, **kw) -> dict:
    row = dict(project_code=code, paid_date="2023-12-20", amount=amount, rate=0.02, status="缴存", no_arrears_cert=False)
    row.update(kw)
    return row


def make(projects=(), reports=None, deposits=None, cases=(), credit=(), indicators=(), enterprises=None) -> LayerData:
    projects = list(projects)
    reports = [report(p["project_code"]) for p in projects] if reports is None else list(reports)
    deposits = [deposit(p["project_code"]) for p in projects] if deposits is None else list(deposits)
    ent = enterprises if enterprises is not None else [
        dict(credit_code=A, name="甲建设公司", township_code=T1, lon=113.36, lat=34.56),
        dict(credit_code=B, name="乙置业公司", township_code=T2, lon=113.46, lat=34.56)]
    return LayerData(townships=townships(), projects=pd.DataFrame(projects), compliance=pd.DataFrame(reports),
                     deposits=pd.DataFrame(deposits), cases=pd.DataFrame(list(cases)), credit=pd.DataFrame(list(credit)),
                     indicators=pd.DataFrame(list(indicators)), enterprises=pd.DataFrame(ent))


def fired(data: LayerData, rule: str, filters: Filters = JUNE) -> dict[str, str]:
    """entity_id -> severity for one rule."""
    w = warnings(data, filters)
    w = w[w["rule"] == rule]
    return dict(zip(w["entity_id"], w["severity"], strict=False))


def test_compliant_project_has_no_warning_and_columns_are_tidy():
    w = warnings(make([project("P0")]), JUNE)
    assert list(w.columns) == COLUMNS
    assert w.empty


def test_account_unfunded_boundaries():
    d = make([project(c) for c in "ABCD"], reports=[
        report("A", account_funded=30.0),  # = wages_due: compliant
        report("B", account_funded=29.99),  # just below: orange
        report("C", account_funded=15.0),  # = 50 % of due: still orange
        report("D", account_funded=14.99),  # below half: red
    ])
    assert fired(d, "account_unfunded") == {"B": "orange", "C": "orange", "D": "red"}


def test_wages_unpaid_months_behind():
    d = make([project(c) for c in "ABCDE"], reports=[
        report("A", paid_through_month="2024-05"), report("B", paid_through_month="2024-04"),
        report("C", paid_through_month="2024-03"), report("D", paid_through_month="2024-02"),
        report("E", paid_through_month="2024-06"),
    ])
    got = fired(d, "wages_unpaid")
    assert got == {"B": "yellow", "C": "orange", "D": "red"}
    w = warnings(d, JUNE)
    assert "拖后3个月" in w.loc[w["entity_id"] == "D", "evidence"].iloc[0]


@pytest.mark.parametrize("field,rule", [("workers_registered", "real_name_low"), ("cards_issued", "cards_low")])
def test_coverage_boundaries(field, rule):
    counts = {"A": 95, "B": 94, "C": 80, "D": 79, "E": 50, "F": 49}
    d = make([project(c) for c in counts], reports=[report(c, **{field: n}) for c, n in counts.items()])
    # 0.95 is compliant; <0.95 yellow; <0.80 orange; <0.50 red
    assert fired(d, rule) == {"B": "yellow", "C": "yellow", "D": "orange", "E": "orange", "F": "red"}


def test_coverage_nobody_on_site_does_not_fire():
    d = make([project("A")], reports=[report("A", workers_onsite=0, workers_registered=0, cards_issued=0, wages_paid_bank=None)])
    assert fired(d, "real_name_low") == {} and fired(d, "cards_low") == {} and fired(d, "payroll_below_min") == {}


def test_deposit_short_with_tolerance():
    # required = 100 万元 × 2 % = 2.0; tolerance 1 % -> 1.98 is accepted
    d = make([project(c) for c in "ABCD"], deposits=[deposit("A", 2.0), deposit("B", 1.98), deposit("C", 1.97)])
    assert fired(d, "deposit_short") == {"C": "orange", "D": "red"}


def test_deposit_used_counts_as_paid_but_not_held():
    d = make([project("A")], deposits=[deposit("A", 2.0, status="动用")])
    assert fired(d, "deposit_short") == {"A": "red"}


def test_deposit_short_without_contract_value():
    """No contract value: the amount cannot be set; nothing held fires (red), any deposit held does not."""
    d = make([project("A", contract_value=None), project("B", contract_value=None)], deposits=[deposit("B", 0.5)])
    assert fired(d, "deposit_short") == {"A": "red"}
    w = warnings(d, JUNE)
    assert "合同价款未报" in w.loc[w["rule"] == "deposit_short", "evidence"].iloc[0]


def test_filing_late_boundaries():
    d = make([
        project("A", filed_date="2024-02-01"),  # 31 days after start: in time
        project("B", filed_date="2024-02-02"),  # 32 days: late -> yellow
        project("C", filed_date=None),  # not filed, 181 days -> orange
        project("D", filed_date=None, start_date="2024-06-01"),  # not filed, 29 days: not due yet
        project("E", filed_date="2024-07-20"),  # filed after as_of: not filed as of June
    ])
    assert fired(d, "filing_late") == {"B": "yellow", "C": "orange", "E": "orange"}


def test_stopped_with_workers():
    d = make([project("A", status="停工"), project("B", status="停工"), project("C")],
             reports=[report("A", workers_onsite=1, workers_registered=1, cards_issued=1, wages_paid_bank=0.19),
                      report("B", workers_onsite=0), report("C")])
    assert fired(d, "stopped_with_workers") == {"A": "red"}


def test_payroll_below_min_wage_boundaries():
    # 100 workers, min wage 1900 元: 19.0 万元 = 1900 元 each (compliant); red below 950 元
    paid = {"A": 19.0, "B": 18.99, "C": 9.5, "D": 9.49, "E": None}
    d = make([project(c) for c in paid], reports=[report(c, wages_paid_bank=v) for c, v in paid.items()])
    assert fired(d, "payroll_below_min") == {"B": "orange", "C": "orange", "D": "red"}


def test_completed_project_is_not_warned():
    d = make([project("A", status="竣工")], reports=[report("A", account_funded=0.0)])
    assert warnings(d, JUNE).empty


def test_guarantee_missing_by_grade_and_blacklist():
    credit = [dict(credit_code=A, year=2024, grade="C", blacklisted=False)]  # in force from 2024-06-01
    d = make([project("A", payment_guarantee=False), project("B", payment_guarantee=True)], credit=credit)
    assert fired(d, "guarantee_missing") == {"A": "orange"}
    assert fired(d, "guarantee_missing", Filters(month_to="2024-05")) == {}  # grade not yet in force in May
    ok = make([project("A", payment_guarantee=False)], credit=[dict(credit_code=A, year=2024, grade="B", blacklisted=False)])
    assert fired(ok, "guarantee_missing") == {}


def test_guarantee_missing_blacklisted_builder_by_name():
    credit = [dict(credit_code=B, year=2023, grade="D", blacklisted=True, listed_date="2024-03-01", delisted_date=None)]
    d = make([project("A", payment_guarantee=False)], credit=credit)
    assert fired(d, "guarantee_missing") == {"A": "red"}
    assert "建设单位乙置业公司" in warnings(d, JUNE).query("rule == 'guarantee_missing'")["evidence"].iloc[0]
    later = [dict(c, delisted_date="2024-07-01") for c in credit]  # delisted after as_of: still on the list
    assert fired(make([project("A", payment_guarantee=False)], credit=later), "guarantee_missing") == {"A": "red"}
    gone = [dict(c, delisted_date="2024-06-30") for c in credit]  # delisted on as_of: off the list, grade D remains
    assert fired(make([project("A", payment_guarantee=False)], credit=gone), "guarantee_missing") == {"A": "orange"}


def test_past_arrears_employer_and_project():
    cases = [
        dict(case_no="C1", received_date="2023-03-01", credit_code=A, status="结案", closed_date="2023-04-01", township_code=T1,
             amount=5.0),
        dict(case_no="C2", received_date="2024-06-30", project_code="P", credit_code=None, status="受理", township_code=T1,
             amount=3.0),
        dict(case_no="C3", received_date="2024-07-01", credit_code=B, status="受理", township_code=T2, amount=1.0),  # after as_of
    ]
    d = make([project("P"), project("Q", contractor_credit_code=B, contractor="乙置业公司")], cases=cases)
    got = fired(d, "past_arrears")
    # A: closed C1 + open C2 via its project P -> orange; P: open C2 -> orange; B: C3 is in the future -> nothing
    assert got == {A: "orange", "P": "orange"}
    only_closed = make([project("Q")], cases=cases[:1])
    assert fired(only_closed, "past_arrears") == {A: "yellow"}


def _series(code: str, values: dict[str, float | None], field: str = "electricity_kwh") -> list[dict]:
    return [dict(credit_code=code, month=m, **{field: v}) for m, v in values.items()]


HIST = {f"2024-0{m}": 100.0 for m in range(1, 6)}  # Jan-May baseline 100


@pytest.mark.parametrize("current,severity", [(70.01, None), (70.0, "yellow"), (50.01, "yellow"), (50.0, "orange"),
                                              (20.0, "red"), (130.0, None)])
def test_indicator_drop_boundaries(current, severity):
    d = make([], indicators=_series(A, {**HIST, "2024-06": current}))
    got = fired(d, "drop_electricity_kwh")
    assert got == ({A: severity} if severity else {})


def test_indicator_drop_needs_history_and_each_field_is_its_own_rule():
    short = {"2024-04": 100.0, "2024-05": 100.0, "2024-06": 10.0}  # 2 months of history < 3
    assert fired(make([], indicators=_series(A, short)), "drop_electricity_kwh") == {}
    rows = [dict(credit_code=A, month=m, tax_paid=10.0, social_insurance_headcount=50, bank_inflow=100.0) for m in HIST]
    rows.append(dict(credit_code=A, month="2024-06", tax_paid=10.0, social_insurance_headcount=30, bank_inflow=40.0))
    w = warnings(make([], indicators=rows), JUNE)
    assert set(w["rule"]) == {"drop_social_insurance_headcount", "drop_bank_inflow"}
    assert set(w["rule_zh"]) == {RULES["drop_social_insurance_headcount"][0], RULES["drop_bank_inflow"][0]}


def test_indicator_trends_baseline_window():
    vals = {"2023-11": 1000.0, **HIST, "2024-06": 60.0}  # 2023-11 is 7 months back: outside the 6-month window
    tr = indicator_trends(make([], indicators=_series(A, vals)), "2024-06")
    row = tr[tr["field"] == "electricity_kwh"].iloc[0]
    assert row["baseline"] == pytest.approx(100.0) and row["n_hist"] == 5 and row["drop"] == pytest.approx(0.4)


def test_settings_move_the_thresholds():
    d = make([project("A")], reports=[report("A", workers_registered=90)])
    assert fired(d, "real_name_low") == {"A": "yellow"}
    assert warnings(d, JUNE, Rules(real_name_min=0.9)).query("rule == 'real_name_low'").empty


def test_township_filter_and_layer():
    d = make([project("A", account_funded=0), project("B", township_code=T2)],
             reports=[report("A", account_funded=0.0), report("B", account_funded=0.0)])
    w = warnings(d, Filters(month_to="2024-06", township=T2))
    assert set(w["township_code"]) == {T2}
    res = LAYER.build(d, JUNE)
    assert res.by_township.set_index("code").loc[T1, "value"] == 1
    assert set(res.points["link"]) == {"/project/A", "/project/B"}
    assert (res.table["等级"] == "红色").all()


def test_default_month_is_latest_with_data():
    d = make([project("A")], reports=[report("A", month="2024-05", paid_through_month="2024-01"), report("A", month="2024-06")])
    w = warnings(d)
    assert w.empty  # 2024-06 is evaluated, where A is paid through May


@pytest.mark.parametrize("key", ["warnings", "risk_heat", "risk_density", "credit", "deposits", "funds", "assessment"])
def test_issue5_layers_build_on_empty_data(key):
    from layers import registry

    res = registry.get(key).build(LayerData(townships=townships()), Filters())
    assert list(res.by_township["code"]) == [T1, T2]


def test_filter_warnings_for_the_list_page():
    from layers.rules import filter_warnings

    d = make([project("A"), project("B", township_code=T2)],
             reports=[report("A", account_funded=0.0, cards_issued=90), report("B", account_funded=20.0)])
    w = warnings(d, JUNE)
    assert len(filter_warnings(w)) == len(w) == 3
    assert set(filter_warnings(w, township=T2)["entity_id"]) == {"B"}
    assert list(filter_warnings(w, severities=["yellow"])["rule"]) == ["cards_low"]
    assert set(filter_warnings(w, rules=["account_unfunded"], severities=["red"])["entity_id"]) == {"A"}
    assert filter_warnings(w, entity_type="employer").empty



def test_the_warnings_layer_table_is_lazy_and_its_shape_is_that_of_the_table():
    """The layer promises the table's rows and columns (all a map view needs); the table made later matches."""
    from layers.rules import TABLE_COLUMNS

    d = make([project("A", account_funded=0), project("B", township_code=T2)],
             reports=[report("A", account_funded=0.0), report("B", account_funded=0.0)])
    res = LAYER.build(d, JUNE)
    rows, cols = res.table_shape()
    assert cols == TABLE_COLUMNS and rows == len(warnings(d, JUNE)) == 2
    assert len(res.table) == rows and list(res.table.columns) == TABLE_COLUMNS
