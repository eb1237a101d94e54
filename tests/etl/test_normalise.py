"""Normalising cells: full-width, blanks, dates, months, 万元/元, counts, booleans, township codes."""

import numpy as np
import pandas as pd

from etl import normalise as nz
from etl.kinds import resolve


def S(*values):
    return nz.clean_text(pd.Series(list(values), dtype=object))


def test_clean_text_full_width_spaces_and_placeholders():
    out = S("　１２３ＡＢ　", " 甲  公司 ", "-", "/", "", None, "——", "（有限）", "无")
    assert out.iloc[0] == "123AB"
    assert out.iloc[1] == "甲 公司"
    assert out.iloc[2:7].isna().all()
    assert out.iloc[7] == "(有限)"
    assert out.iloc[8] == "无"  # 无 means False for flags, it is not a blank


def test_dates_in_every_office_format():
    values, bad = nz.parse_date(
        S(
            "2024-03-01",
            "2024/3/1",
            "2024年3月1日",
            "２０２４－０３－０１",
            "20240301",
            "45352",
            "3/1/2024",
            "2024.3.1",
            "2024-03-01 00:00:00",
            "2024年3月1号",
        )
    )
    assert (values == pd.Timestamp("2024-03-01")).all() and not bad.any()


def test_bad_and_blank_dates():
    values, bad = nz.parse_date(S("2024-02-30", "明天", None, "12", "45352.75"))
    assert bad.tolist() == [True, True, False, True, False]
    assert values.iloc[4] == pd.Timestamp("2024-03-01")  # the time of a serial is dropped for a date


def test_datetimes_keep_the_time():
    values, bad = nz.parse_datetime(S("2024-03-01 14:30", "2024年3月1日 14时30分", "45352.5", "2024/3/1 25:00"))
    assert values.iloc[0] == values.iloc[1] == pd.Timestamp("2024-03-01 14:30")
    assert values.iloc[2] == pd.Timestamp("2024-03-01 12:00")
    assert bad.tolist() == [False, False, False, True]


def test_months():
    values, bad = nz.parse_month(S("2024-03", "2024/3", "2024年3月", "202403", "2024-03-15", "45352", "2024-13", None))
    assert values.iloc[:6].tolist() == ["2024-03"] * 6
    assert bad.tolist() == [False] * 6 + [True, False]


def test_money_in_wan_yuan_or_yuan():
    # header says 元: bare numbers are 元; a unit in the cell wins
    values, bad = nz.parse_money(S("12,500,000", "12.5万元", "12.5万", "1.2亿元", "３０００", "¥ 5000元", "很多"), "元")
    assert np.allclose(values.iloc[:6], [1250.0, 12.5, 12.5, 12000.0, 0.3, 0.5])
    assert bad.tolist() == [False] * 6 + [True]
    # no unit in the header: the schema's 万元
    values, _ = nz.parse_money(S("12.5", "125000元"), None)
    assert np.allclose(values, [12.5, 12.5])


def test_counts_and_years():
    values, bad = nz.parse_int(S("12", "１２人", "12.0", "12.5", "2024年", "很多", None))
    assert values.tolist()[:3] == [12, 12, 12] and values.iloc[4] == 2024
    assert bad.tolist() == [False, False, False, True, False, True, False]
    assert str(values.dtype) == "Int64"


def test_booleans():
    values, bad = nz.parse_bool(S("是", "否", "有", "无", "√", "×", "Y", "n", "1", "0", "已开设", "未设置", "TRUE", "也许"))
    assert values.tolist()[:13] == [True, False, True, False, True, False, True, False, True, False, True, False, True]
    assert bad.tolist() == [False] * 13 + [True]


def test_township_names_old_and_new_to_codes():
    codes, bad = nz.township_codes(
        S("超化镇", "超化", "新密市超化镇", "尖山风景区管委", "青屏街办事处", "曲梁乡", "410183104", "410183104000", "火星乡")
    )
    assert codes.tolist()[:8] == [
        "410183104000",
        "410183104000",
        "410183104000",
        "410183401000",
        "410183001000",
        "410183113000",
        "410183104000",
        "410183104000",
    ]
    assert bad.tolist() == [False] * 8 + [True]


def test_fund_units_include_the_city():
    codes, bad = nz.unit_codes(S("新密市", "市本级", "410183", "410183000000", "超化镇", "某某局"))
    assert codes.tolist()[:5] == ["410183000000"] * 4 + ["410183104000"]
    assert bad.tolist() == [False] * 5 + [True]


def test_rates_and_coordinates():
    values, _ = nz.parse_rate(S("2%", "0.02", "2", "3‰"))
    assert np.allclose(values, [0.02, 0.02, 0.02, 0.003])
    values, bad = nz.parse_coord(S("113.4", "113°22′33.5″E", "１１３．４", "东边"))
    assert np.allclose(values.iloc[:3], [113.4, 113 + 22 / 60 + 33.5 / 3600, 113.4])
    assert bad.tolist() == [False, False, False, True]


def test_normalise_a_file_typed_columns_and_bad_cells():
    raw = pd.DataFrame(
        {
            "项目编号": [" XM-1 ", "ＸＭ-2", "XM-3"],
            "项目名称": ["一号楼", "二号楼", "三号楼"],
            "合同价款(元)": ["12500000", "300万元", "很多"],
            "开工日期": ["45352", "2024年3月1日", "2024-02-30"],
            "维权公示牌": ["√", "无", "是"],
            "所属乡镇": ["超化", "尖山风景区", "火星"],
            "施工单位信用代码": ["91410183ma44xxxx0r", None, None],
        },
        index=[4, 5, 6],
    )
    hm = resolve(list(raw.columns), file="p.csv")
    n = nz.normalise(nz.select_fields(raw, hm), hm.kind, hm.units)
    d = n.data
    assert d["project_code"].tolist() == ["XM-1", "XM-2", "XM-3"]
    assert np.allclose(d["contract_value"].iloc[:2], [1250.0, 300.0])
    assert d["start_date"].iloc[0] == d["start_date"].iloc[1] == pd.Timestamp("2024-03-01")
    assert d["notice_board"].tolist() == [True, False, True]
    assert d["declared_township"].iloc[:2].tolist() == ["410183104000", "410183401000"]
    assert d["contractor_credit_code"].iloc[0] == "91410183MA44XXXX0R"
    assert d["source_row"].tolist() == [4, 5, 6]
    assert n.bad["contract_value"].tolist() == [False, False, True] and n.bad_code["contract_value"] == "bad_number"
    assert n.bad["start_date"].tolist() == [False, False, True] and n.bad_code["start_date"] == "bad_date"
    assert n.bad["township_name"].tolist() == [False, False, True] and n.bad_code["township_name"] == "bad_township"
    assert n.raw["contract_value"].iloc[2] == "很多"


def test_grades():
    raw = pd.DataFrame({"统一社会信用代码": ["X"] * 3, "年度": ["2024"] * 3, "诚信等级": ["A级", "c", "E"]})
    hm = resolve(list(raw.columns), file="c.csv")
    n = nz.normalise(nz.select_fields(raw, hm), hm.kind, hm.units)
    assert n.data["grade"].iloc[:2].tolist() == ["A", "C"] and n.bad["grade"].tolist() == [False, False, True]
    raw = pd.DataFrame({"事件编号": ["E1", "E2"], "发生时间": ["2024-03-01 09:00"] * 2, "事件等级": ["Ⅳ级", "较大"]})
    hm = resolve(list(raw.columns), file="i.csv")
    n = nz.normalise(nz.select_fields(raw, hm), hm.kind, hm.units)
    assert n.data["grade"].tolist() == ["一般", "较大"]
