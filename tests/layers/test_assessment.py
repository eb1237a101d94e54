"""Assessment (三十二)(三十三): a hand-built two-township year scored by hand; the evidence workbook."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest

from geodata.settings import Assessment
from layers.assessment import INDICATORS, LAYER, assess, assessment_workbook, export_assessment_xlsx, township_breakdown
from layers.base import Filters, LayerData
from tests.layers.test_rules import T1, T2, A, deposit, project, townships


def monthly(code: str, registered: int = 100) -> list[dict]:
    return [dict(project_code=code, month=f"2024-{m:02d}", workers_onsite=100, workers_registered=registered) for m in (6, 12)]


def year_2024() -> LayerData:
    sa = dict(special_account_opened="2023-12-20", special_account_filed="2023-12-25")
    projects = [
        project("P1", **sa),  # T1: meets everything
        project("P2", name="=1+1", special_account_opened="2024-02-01", special_account_filed="2024-02-02", bank_payroll=False),
        project("P3", status="竣工"),  # completed, no report in 2024: not counted
        project("P4", start_date="2025-02-01"),  # starts next year: not counted
        project("Q1", township_code=T2, notice_board=False, **sa),  # T2: no 维权公示牌
    ]
    compliance = monthly("P1") + monthly("P2", registered=90) + monthly("Q1")
    deposits = [deposit("P1"), deposit("P2", 1.0), deposit("Q1")]
    cases = [
        dict(case_no="K1", received_date="2024-03-01", closed_date="2024-03-21", status="结案", township_code=T1, amount=10.0,
             workers=5,
             credit_code="914101830000000009"),
        dict(case_no="K2", received_date="2024-11-01", status="立案", township_code=T1, amount=60.0, workers=8,
             credit_code="914101830000000009"),  # major (≥ 50 万元), open at year end: 60 days
        dict(case_no="K0", received_date="2023-12-30", status="结案", closed_date="2024-01-05", township_code=T2, amount=99.0,
             workers=1),
    ]
    incidents = [
        dict(incident_no="I1", occurred_at="2024-05-01 10:00", township_code=T1, status="已处置", grade="一般", headcount=20),
        dict(incident_no="I0", occurred_at="2023-05-01 10:00", township_code=T2, status="处置中", grade="一般", headcount=9),
    ]
    funds = [dict(unit_code=T1, year=2024, budgeted=60.0, balance=60.0, used=0.0, replenished=0.0)]
    ent = [dict(credit_code=A, name="甲建设公司", township_code=T1)]
    return LayerData(townships=townships(), projects=pd.DataFrame(projects), compliance=pd.DataFrame(compliance),
                     deposits=pd.DataFrame(deposits), cases=pd.DataFrame(cases), incidents=pd.DataFrame(incidents),
                     funds=pd.DataFrame(funds), enterprises=pd.DataFrame(ent))


def test_two_townships_scored_by_hand():
    res = assess(year_2024(), 2024, weights=Assessment())
    s = res.scores.set_index("code")
    t1, t2 = s.loc[T1], s.loc[T2]
    # T1: coverage 1/2 on 实名制, 专户 (P2 opened after start), 保证金 (P2 short), 银行代发; 公示牌 2/2; fund 60 ≥ 50
    for k, v in {"real_name": 0.5, "special_account": 0.5, "deposit": 0.5, "bank_payroll": 0.5, "notice_board": 1.0,
                 "fund_at_floor": 1.0, "case_closure": 0.5, "incidents_handled": 0.5}.items():
        assert t1[f"{k}_value"] == pytest.approx(v), k
    assert t1["days_to_close_value"] == pytest.approx(40.0)  # (20 + 60) / 2
    assert t1["days_to_close_score"] == pytest.approx((90 - 40) / 60)
    assert t1["arrears_per_project_value"] == pytest.approx(35.0) and t1["arrears_per_project_score"] == 0
    # weights sum to 100: 15 实名 + 15 专户 + 15 保证金 + 10 代发 + 5 公示牌 + 10 周转金 + 15 结案 + 5 天数 + 5 处置 + 5 欠薪
    by_hand_t1 = 15 * .5 + 15 * .5 + 15 * .5 + 10 * .5 + 5 * 1 + 10 * 1 + 15 * .5 + 5 * (50 / 60) + 5 * .5 + 5 * 0
    assert t1["total"] == pytest.approx(by_hand_t1)  # 56.67
    # T2: no case and no incident in 2024 -> those three are left out; weights renormalised over 75
    assert pd.isna(t2["case_closure_score"]) and pd.isna(t2["days_to_close_score"]) and pd.isna(t2["incidents_handled_score"])
    assert t2["fund_at_floor_value"] == 0  # 未报送
    assert t2["total"] == pytest.approx(100 * (15 + 15 + 15 + 10 + 0 + 0 + 5) / 75)  # 80.0
    assert list(res.scores["code"]) == [T2, T1] and list(res.scores["rank"]) == [1, 2]


def test_evidence_rows_name_projects_and_cases():
    ev = assess(year_2024(), 2024).evidence
    rn = ev["real_name"].set_index("item_id")
    assert set(rn.index) == {"P1", "P2", "Q1"}  # P3 (竣工) and P4 (2025) are not counted
    assert rn.loc["P2", "passed"] == "否" and "实名登记90人" in rn.loc["P2", "note"]
    assert ev["special_account"].set_index("item_id").loc["P2", "note"] == "开工后才开户"
    assert set(ev["case_closure"]["item_id"]) == {"K1", "K2"}
    inc = ev["incidents_handled"].set_index("item_id")
    assert set(inc.index) == {"K2", "I1"} and inc.loc["K2", "item_type"] == "重大案件"
    assert ev["fund_at_floor"].set_index("item_id").loc[T2, "note"].startswith("未报送")


def test_weights_change_the_total():
    only_bank = Assessment(**{k: (1.0 if k == "bank_payroll" else 0.0) for k in INDICATORS})
    s = assess(year_2024(), 2024, weights=only_bank).scores.set_index("code")
    assert s.loc[T1, "total"] == pytest.approx(50.0) and s.loc[T2, "total"] == pytest.approx(100.0)


def test_workbook_sheets_hold_the_evidence(tmp_path):
    path = assessment_workbook(year_2024(), 2024, tmp_path / "a.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "2024年度得分" and set(INDICATORS.values()) <= set(wb.sheetnames)
    scores = list(wb["2024年度得分"].iter_rows(values_only=True))
    assert scores[0][:4] == ("排名", "乡镇代码", "乡镇", "总分")
    assert scores[1][2] == "新华路街道" and scores[1][3] == pytest.approx(80.0)
    rows = list(wb["实名制覆盖率"].iter_rows(values_only=True))
    assert rows[0] == ("乡镇代码", "乡镇", "类型", "编号", "名称", "数值", "是否达标", "说明")
    p2 = next(r for r in rows if r[3] == "P2")
    assert p2[4] == "'=1+1" and p2[6] == "否"  # formula neutralised
    assert all(c.data_type != "f" for row in wb["实名制覆盖率"].iter_rows() for c in row)
    cases = [r[3] for r in wb["案件结案率"].iter_rows(min_row=2, values_only=True)]
    assert cases == ["K1", "K2"]


def test_layer_by_township_and_year():
    res = LAYER.build(year_2024(), Filters(month_to="2024-12"))
    by = res.by_township.set_index("code")
    assert by.loc[T2, "value"] == pytest.approx(80.0) and by.loc[T2, "label"] == "80.0分（第1名）"
    assert res.title == "年度考核得分" and res.notes[0].startswith("2024年度")


def test_breakdown_points_add_up_to_the_total():
    res = assess(year_2024(), 2024)
    for code in (T1, T2):
        b = township_breakdown(res, code).set_index("key")
        assert b["计入总分"].sum() == pytest.approx(res.scores.set_index("code").loc[code, "total"], abs=0.05)
    b2 = township_breakdown(res, T2).set_index("key")
    assert b2.loc["case_closure", "数值"] == "无数据（不计分）" and b2.loc["fund_at_floor", "数值"] == "否"
    assert b2.loc["real_name", "数值"] == "100.0%" and b2.loc["real_name", "计入总分"] == pytest.approx(20.0)  # 100·15/75


def test_cli_export_reads_the_store(tmp_path):
    d = year_2024()

    class FakeStore:  # the two calls the export makes (geodata.store interface)
        def townships(self):
            return d.townships

        def read(self, kind):
            return getattr(d, kind)

    path = export_assessment_xlsx(FakeStore(), 2024, tmp_path / "out.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb["2024年度得分"].max_row == 3 and wb["案件结案率"].max_row == 3
