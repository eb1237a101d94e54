"""Exports: formula neutralisation in xlsx/csv, personal-data masking, the four ledgers."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd

from layers.exports import (
    _width,
    csv_bytes,
    mask_frame,
    mask_id,
    mask_name,
    mask_phone,
    neutralise,
    pii_columns,
    sheet_name,
    write_xlsx,
    xlsx_bytes,
)
from layers.ledgers import NAMES, case_ledger, complaint_ledger, ledgers, project_ledger, screening_ledger
from tests.layers.builders import MARCH, XSS, case, data, deposit, project, report

DANGEROUS = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")']


def test_masking_helpers():
    assert mask_id(pd.Series(["410183199001011234"])).tolist() == ["410183********1234"]
    assert mask_phone(pd.Series(["13812345678"])).tolist() == ["138****5678"]
    assert mask_name(pd.Series(["张三", "张三明", "欧阳小明"])).tolist() == ["张*", "张*明", "欧**明"]
    s = mask_phone(pd.Series(["123", None, ""]))
    assert s.iloc[0] == "***" and pd.isna(s.iloc[1]) and s.iloc[2] == ""


def test_mask_frame_uses_schema_flags_by_field_and_header():
    flags = pii_columns("cases")
    assert flags["complainant_id"] == "id" and flags["投诉人电话"] == "phone" and flags["投诉人"] == "name"
    df = pd.DataFrame({"投诉人身份证号": ["410183199001011234"], "complainant_phone": ["13812345678"],
                       "案件编号": ["13812345678"]})
    out = mask_frame(df)
    assert out.iloc[0].tolist() == ["410183********1234", "138****5678", "13812345678"]
    assert df.iloc[0, 0] == "410183199001011234"  # a copy; the input is untouched


def test_neutralise_prefixes_text_only():
    df = pd.DataFrame({"t": DANGEROUS + ["ok", None], "n": list(range(-4, 5))})
    out = neutralise(df)
    assert out["t"].iloc[:7].str.startswith("'").all()
    assert out["t"].iloc[7] == "ok" and pd.isna(out["t"].iloc[8])
    assert out["n"].tolist() == list(range(-4, 5))  # negative numbers stay numbers


def test_xlsx_cells_are_strings_not_formulas():
    df = pd.DataFrame({"名称": DANGEROUS, "金额": [1.5] * 7, "日期": pd.to_datetime(["2024-03-05"] * 7)})
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_bytes({"台账": df})))
    ws = wb["台账"]
    values = [ws.cell(row=i, column=1) for i in range(2, 9)]
    assert all(c.data_type == "s" and c.value.startswith("'") for c in values)
    assert ws.cell(row=2, column=2).value == 1.5
    assert ws.cell(row=2, column=3).is_date
    assert ws.freeze_panes == "A2"


def test_xlsx_with_missing_values_of_every_kind():
    """pd.NA (object, string, Int64), None, NaN and NaT cells: written as blanks, widths from the rest."""
    df = pd.DataFrame({
        "单位名称": pd.Series([pd.NA, "河南甲建设有限公司", None], dtype=object),
        "等级": pd.array(["A", pd.NA, "C"], dtype="string"),
        "人数": pd.array([3, None, 5], dtype="Int64"),
        "金额": [1.5, float("nan"), 2.0],
        "日期": pd.to_datetime(["2024-03-05", None, "2024-04-01"]),
    })
    assert _width(df["单位名称"], "单位名称") == len("河南甲建设有限公司") * 2 + 2
    assert _width(pd.Series([pd.NA, None], dtype=object), "编号") == 6  # header only, at the minimum width
    ws = openpyxl.load_workbook(io.BytesIO(xlsx_bytes({"名单": df})))["名单"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert rows[0][:4] == (None, "A", 3, 1.5) and rows[1][:4] == ("河南甲建设有限公司", None, None, None)
    assert rows[1][4] is None and rows[2][:3] == (None, "C", 5)
    assert ws.column_dimensions["A"].width >= len("河南甲建设有限公司") * 2


def test_xlsx_to_path_and_sheet_names(tmp_path):
    p = tmp_path / "out.xlsx"
    write_xlsx({"a/b:c?[d]*e" * 5: pd.DataFrame({"x": [1]}), "a/b:c?[d]*e" * 5 + "2": pd.DataFrame({"x": [2]})}, p)
    names = openpyxl.load_workbook(p).sheetnames
    assert len(names) == 2 and all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)
    assert sheet_name("台账", {"台账"}) == "台账(2)"


def test_csv_neutralised_with_bom():
    raw = csv_bytes(pd.DataFrame({"名称": ["=1+1", "正常"]}))
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig").splitlines() == ["名称", "'=1+1", "正常"]


# ---- ledgers -------------------------------------------------------------------------------


def ledger_data():
    return data(
        [project("P1", name=XSS), project("P2", "410183002000", notice_board=False), project("P3", status="竣工")],
        [report("P1")], [deposit("P1")],
        [case("C1", project_code="P1", description="=HYPERLINK(\"http://x\")"),
         case("C2", "410183002000", "结案", closed_date="2024-03-10", source="巡查"),
         case("C3", received_date="2023-06-01", source="12345"),  # before the range but still open
         case("C4", received_date="2024-05-01")],  # after the reference date
    )


def test_four_ledgers_with_chinese_headers():
    out = ledgers(ledger_data(), MARCH)
    assert list(out) == list(NAMES)
    for df in out.values():
        assert df.columns[0] == "序号" and df["序号"].tolist() == list(range(1, len(df) + 1))
    assert len(out["建设工程项目台账"]) == 3  # every project, any status
    assert len(out["欠薪问题排查台账"]) == 2  # active projects
    assert out["欠薪举报投诉台账"]["案件编号"].tolist() == ["C1"]  # complaints received in the range
    assert out["欠薪案件办理台账"]["案件编号"].tolist() == ["C1", "C2", "C3"]


def test_project_ledger_fields():
    p = project_ledger(ledger_data(), MARCH).set_index("项目编号")
    assert p.loc["P1", "项目名称"] == XSS  # plain text for grids; exports neutralise, HTML escapes
    assert p.loc["P1", "已缴保证金(万元)"] == 20.0 and p.loc["P1", "最近月报"] == "2024年3月"
    assert p.loc["P2", "维权公示牌"] == "否" and p.loc["P1", "开工日期"] == "2024年1月10日"
    assert p.loc["P1", "劳资专管员"] == "张*" and p.loc["P1", "劳资专管员电话"] == "139****5678"
    assert project_ledger(ledger_data(), MARCH, mask_pii=False).set_index("项目编号").loc["P1", "劳资专管员"] == "张三"


def test_screening_ledger_problems():
    s = screening_ledger(ledger_data(), MARCH).set_index("项目编号")
    assert s.loc["P1", "存在问题"] == "在办欠薪案件1件" and s.loc["P1", "在办欠薪案件(件)"] == 1
    assert s.loc["P2", "存在问题"].startswith("缺实名制") and s.loc["P2", "处理意见"] == "限期整改"
    assert s.loc["P1", "排查日期"] == "2024年3月31日"


def test_case_ledgers_mask_and_days():
    c = complaint_ledger(ledger_data(), MARCH).iloc[0]
    assert c["投诉人"] == "李*" and c["投诉人身份证号"] == "410183********1234" and c["投诉人电话"] == "138****1111"
    h = case_ledger(ledger_data(), MARCH).set_index("案件编号")
    assert h.loc["C2", "办理天数"] == 9 and h.loc["C1", "办理天数"] == 30  # open: days to the reference date
    assert h.loc["C2", "结案日期"] == "2024年3月10日"


def test_ledger_xlsx_neutralises_user_text():
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(ledgers(ledger_data(), MARCH))))
    ws = wb["欠薪举报投诉台账"]
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=header.index("案情简介") + 1)
    assert cell.data_type == "s" and cell.value == "'=HYPERLINK(\"http://x\")"
