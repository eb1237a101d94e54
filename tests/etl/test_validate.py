"""Validation: each bad row rejected once with a Chinese reason and a reason code; the rest go on."""

import json

import pandas as pd

from etl.kinds import resolve
from etl.normalise import normalise, select_fields
from etl.validate import REASONS, credit_code_expected, make_credit_code, row_json, validate

GOOD = make_credit_code("91410183MA44XXXX0")
WRONG = GOOD[:-1] + ("0" if GOOD[-1] != "0" else "1")


def check(columns: dict, rows: list[int] | None = None, kind: str | None = None):
    raw = pd.DataFrame(columns)
    raw.index = rows or list(range(2, 2 + len(raw)))
    hm = resolve(list(raw.columns), kind, file="t.csv")
    return validate(normalise(select_fields(raw, hm), hm.kind, hm.units), hm.kind)


def test_gb32100_check_digit():
    assert make_credit_code("91350100M000100Y4") == "91350100M000100Y43"  # the standard's example
    well, expected = credit_code_expected(
        pd.Series(["91350100M000100Y43", "91350100M000100Y40", "12345", "91350100M000100I43", None])
    )
    assert well.tolist() == [True, True, False, False, False]
    assert expected.iloc[0] == expected.iloc[1] == "3"


def test_wrong_check_digit_is_rejected_with_the_expected_character():
    c = check({"统一社会信用代码": [GOOD, WRONG, "ABC"], "单位名称": ["甲", "乙", "丙"]})
    assert c.good["credit_code"].tolist() == [GOOD]
    rej = c.rejected.set_index("source_row")
    assert rej.loc[3, "reason_code"] == "bad_credit_code"
    assert f"应为 {GOOD[-1]}" in rej.loc[3, "reason"] and WRONG in rej.loc[3, "reason"]
    assert "18 位" in rej.loc[4, "reason"]


def test_required_fields_types_and_ranges():
    c = check(
        {
            "项目编号": ["XM-1", None, "XM-3", "XM-4", "XM-5"],
            "项目名称": ["一", "二", "三", "四", "五"],
            "合同价款(万元)": ["10", "10", "-5", "abc", "10"],
            "开工日期": ["2024-03-01", "2024-03-01", "2024-03-01", "2024-03-01", "1899-01-01"],
        }
    )
    assert c.good["project_code"].tolist() == ["XM-1"]
    rej = c.rejected.set_index("source_row")
    assert rej.loc[3, "reason_code"] == "missing_required" and "项目编号" in rej.loc[3, "reason"]
    assert rej.loc[4, "reason_code"] == "negative_value" and "合同价款" in rej.loc[4, "reason"]
    assert rej.loc[5, "reason_code"] == "bad_number" and "“abc”" in rej.loc[5, "reason"]
    assert rej.loc[6, "reason_code"] in ("bad_date", "out_of_range")


def test_dates_in_order():
    c = check(
        {
            "案件编号": ["A1", "A2"],
            "受理日期": ["2024-03-10", "2024-03-10"],
            "结案日期": ["2024-03-20", "2024-03-01"],
            "被投诉单位": ["甲", "乙"],
        }
    )
    assert c.good["case_no"].tolist() == ["A1"]
    (reason,) = c.rejected["reason"]
    assert c.rejected["reason_code"].tolist() == ["date_order"] and "结案日期早于受理日期" in reason


def test_one_of_the_employer_fields_is_required_for_cases():
    c = check({"案件编号": ["A1", "A2"], "受理日期": ["2024-03-10"] * 2, "被投诉单位": [None, "乙"], "项目编号": [None, None]})
    assert c.rejected["reason_code"].tolist() == ["missing_required"] and "至少填写一项" in c.rejected["reason"].iloc[0]


def test_duplicate_key_keeps_the_first_valid_row():
    c = check(
        {
            "项目编号": ["XM-1", "XM-1", "XM-2", "XM-2", "XM-1"],
            "月份": ["2024-03", "2024-03", "2024-03", "2024年3月", "2024-04"],
            "在场人数": ["-1", "10", "5", "6", "7"],
        }
    )
    # row 2 is invalid (negative), so row 3 is the first valid XM-1/2024-03; row 5 repeats XM-2/2024-03
    assert c.good["source_row"].tolist() == [3, 4, 6]
    rej = c.rejected.set_index("source_row")
    assert rej.loc[2, "reason_code"] == "negative_value"
    assert rej.loc[5, "reason_code"] == "duplicate_key" and "与第 4 行重复" in rej.loc[5, "reason"]


def test_deposit_key_is_derived():
    c = check(
        {
            "项目编号": ["XM-1", "XM-1", None, None],
            "统一社会信用代码": [None, None, GOOD, None],
            "缴存日期": ["2024-03-01", "2024/3/1", "2024-03-02", "2024-03-03"],
            "缴存金额(万元)": ["10", "10", "5", "5"],
        }
    )
    assert c.good["deposit_key"].tolist() == ["XM-1||2024-03-01", f"|{GOOD}|2024-03-02"]
    assert sorted(c.rejected["reason_code"]) == ["duplicate_key", "missing_required"]


def test_a_row_with_several_problems_is_rejected_once_under_the_first_reason():
    c = check({"统一社会信用代码": [WRONG], "单位名称": ["甲"], "职工人数": ["-3"], "所属乡镇": ["火星"]})
    assert len(c.rejected) == 1 and c.good.empty
    r = c.rejected.iloc[0]
    assert r["reason_code"] == "bad_credit_code"
    assert "火星" in r["reason"] and "不能为负数" in r["reason"] and "校验位" in r["reason"]
    assert set(c.rejected["reason_code"]) <= set(REASONS)


def test_row_json_keeps_the_row_whole():
    raw = pd.DataFrame({"项目编号": ["XM/1", "XM-2"], "项目名称": ["一号楼", None]}, index=[7, 8])
    out = row_json(raw, pd.Index([8]))
    assert json.loads(out.loc[8]) == {"项目编号": "XM-2", "项目名称": None}
    assert json.loads(row_json(raw, pd.Index([7])).loc[7])["项目编号"] == "XM/1"
