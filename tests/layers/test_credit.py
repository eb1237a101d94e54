"""Credit grades (十三), the blacklist and its quarterly publication list (十四), joint punishment (十七)."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd

from layers.base import Filters
from layers.credit import (
    LAYER,
    arrears_record,
    blacklist_as_of,
    blacklist_table,
    case_links,
    event_quarters,
    grade_distribution,
    grades_as_of,
    grades_by_year,
    is_quarter,
    publication_list,
    publication_xlsx,
    quarter_zh,
    restricted_as_of,
)
from tests.layers.test_rules import T1, A, B, make, project

C = "914101830000000003"
CREDIT = [
    dict(credit_code=A, year=2023, grade="A", blacklisted=False),
    dict(credit_code=A, year=2024, grade="C", blacklisted=False),
    dict(credit_code=B, year=2024, grade="D", blacklisted=True, listed_date="2024-04-10", delisted_date=None,
         reason="=HYPERLINK(1)"),
    dict(credit_code=C, year=2023, grade="D", blacklisted=True, listed_date="2023-10-10", delisted_date="2024-05-20",
         reason="拒不改正"),
]


def data():
    ent = [dict(credit_code=A, name="甲建设公司", township_code=T1),
           dict(credit_code=B, name="乙置业公司", township_code=T1, lon=113.3, lat=34.5),
           dict(credit_code=C, name="丙劳务公司", township_code=T1, lon=113.31, lat=34.5)]
    return make([project("P")], credit=CREDIT, enterprises=ent)


def test_grade_in_force_from_june_of_its_year():
    g = grades_as_of(data(), pd.Timestamp("2024-05-31")).set_index("credit_code")
    assert g.loc[A, "grade"] == "A"  # 2024 grade not in force before June
    g = grades_as_of(data(), pd.Timestamp("2024-06-01")).set_index("credit_code")
    assert g.loc[A, "grade"] == "C" and g.loc[A, "grade_year"] == 2024


def test_blacklist_on_a_date():
    assert list(blacklist_as_of(data(), pd.Timestamp("2024-04-09"))["credit_code"]) == [C]
    assert list(blacklist_as_of(data(), pd.Timestamp("2024-04-10"))["credit_code"]) == [B, C]
    assert list(blacklist_as_of(data(), pd.Timestamp("2024-05-20"))["credit_code"]) == [B]  # delisted that day


def test_restricted_joint_punishment():
    r = restricted_as_of(data(), pd.Timestamp("2024-06-30")).set_index("credit_code")
    assert set(r.index) == {A, B, C}  # A: C grade; B: blacklisted + D; C: D grade (2023) still in force
    assert bool(r.loc[B, "blacklisted"]) and "列入黑名单" in r.loc[B, "why"] and not r.loc[A, "blacklisted"]


def test_quarterly_publication_list():
    q2 = publication_list(data(), "2024Q2")
    assert list(zip(q2["类别"], q2["统一社会信用代码"], strict=False)) == [("新列入", B), ("移出", C)]
    assert q2.loc[0, "单位名称"] == "乙置业公司" and q2.loc[0, "列入日期"] == "2024-04-10"
    q3 = publication_list(data(), "2024Q3")
    assert list(zip(q3["类别"], q3["统一社会信用代码"], strict=False)) == [("继续公示", B)]
    q4_2023 = publication_list(data(), "2023Q4")
    assert list(q4_2023["类别"]) == ["新列入"]
    assert pd.isna(q4_2023.loc[0, "移出日期"]) and q2.loc[1, "移出日期"] == "2024-05-20"  # removal not known yet in 2023Q4


def test_publication_xlsx_neutralises_formulas(tmp_path):
    path = publication_xlsx(publication_list(data(), "2024Q2"), tmp_path / "q.xlsx")
    ws = openpyxl.load_workbook(path)["黑名单公示"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("季度", "类别", "统一社会信用代码")
    assert rows[1][8] == "'=HYPERLINK(1)" and ws.cell(row=2, column=9).data_type == "s"


def test_grades_by_year_wide():
    g = grades_by_year(data()).set_index("统一社会信用代码")
    assert g.loc[A, "2023年度"] == "A" and g.loc[A, "2024年度"] == "C" and g.loc[A, "单位名称"] == "甲建设公司"


def test_case_links_and_record():
    d = make([project("P")], cases=[
        dict(case_no="K1", received_date="2024-01-05", project_code="P", credit_code=None, status="结案",
             closed_date="2024-02-01"),
        dict(case_no="K2", received_date="2024-03-05", employer_name="乙置业公司", status="立案"),
    ])
    links = case_links(d)
    assert set(map(tuple, links[["case_no", "entity_type", "entity_id"]].to_numpy())) == {
        ("K1", "project", "P"), ("K1", "employer", A), ("K2", "employer", B)}
    rec = arrears_record(d, pd.Timestamp("2024-06-30")).set_index("entity_id")
    assert rec.loc[A, "n_open"] == 0 and rec.loc[B, "n_open"] == 1 and rec.loc["P", "n_cases"] == 1


def test_layer_counts_by_township():
    res = LAYER.build(data(), Filters(as_of="2024-06-30"))
    assert res.by_township.set_index("code").loc[T1, "value"] == 3
    assert set(res.points["credit_code"]) == {B, C}  # A has no coordinates


def test_publication_xlsx_to_a_binary_file():
    buf = io.BytesIO()
    publication_xlsx(publication_list(data(), "2024Q2"), buf)
    rows = list(openpyxl.load_workbook(io.BytesIO(buf.getvalue()))["黑名单公示"].iter_rows(values_only=True))
    assert [r[1] for r in rows[1:]] == ["新列入", "移出"]


def test_quarters():
    assert event_quarters(data()) == ["2023Q4", "2024Q2"]  # C listed 2023-10, B listed 2024-04, C delisted 2024-05
    assert quarter_zh("2024Q2") == "2024年第2季度"
    assert is_quarter("2024Q4") and not is_quarter("2024Q5") and not is_quarter("2024q1") and not is_quarter(None)


def test_blacklist_table_now():
    t = blacklist_table(data(), pd.Timestamp("2024-04-30"))
    assert list(t["统一社会信用代码"]) == [B, C]  # newest listing first
    assert t.loc[0, "单位名称"] == "乙置业公司" and pd.isna(t.loc[0, "诚信等级"])  # its 2024 grade D is in force from June
    assert (t.loc[1, "单位名称"], t.loc[1, "诚信等级"], t.loc[1, "列入日期"]) == ("丙劳务公司", "D", "2023-10-10")
    assert list(blacklist_table(data(), pd.Timestamp("2024-06-30"))["统一社会信用代码"]) == [B]


def test_grade_distribution_per_year():
    g = grade_distribution(data()).set_index("年度")
    assert g.loc["2024年度", ["A", "B", "C", "D", "合计"]].tolist() == [0, 0, 1, 1, 2]
    assert g.loc["2023年度", ["A", "D", "合计"]].tolist() == [1, 1, 2]
    assert list(g.index) == ["2024年度", "2023年度"]
