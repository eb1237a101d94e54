"""Reading office files (xlsx/csv/tsv, encodings, title rows, merged headers) and mapping their headers to kinds."""

from datetime import datetime

import pytest
from openpyxl import Workbook

from etl import kinds
from etl.errors import BadOption, MissingColumns, UnknownKind, UnreadableFile
from etl.read import decode, read_file


def user_error(exc, fn, *args):
    """Call fn and return the Chinese user message of the `exc` it raises."""
    with pytest.raises(exc) as e:
        fn(*args)
    return e.value.user_msg


def _csv(path, text, encoding):
    path.write_bytes(text.encode(encoding))
    return path


PROJECT_CSV = (
    "新密市在建工程项目台账\n\n项目编号,项目名称,所属乡镇,合同价款(元)\n"
    "XM-1,一号楼工程,超化镇,12500000\nXM-2,二号路工程,尖山风景区管委,300000\n"
)


@pytest.mark.parametrize("encoding,label", [("gbk", "GBK"), ("utf-8-sig", "UTF-8-BOM"), ("utf-8", "UTF-8")])
def test_csv_encodings_and_title_rows(tmp_path, encoding, label):
    (sheet,) = read_file(_csv(tmp_path / "p.csv", PROJECT_CSV, encoding))
    assert sheet.encoding == label
    assert sheet.header_row == 3
    assert sheet.headers == ["项目编号", "项目名称", "所属乡镇", "合同价款(元)"]
    assert list(sheet.data.index) == [4, 5]  # the clerk's row numbers
    assert sheet.data.loc[5, "所属乡镇"] == "尖山风景区管委"


def _both_readers(path, monkeypatch):
    """The file read as usual (pyarrow where it applies) and with the pandas C parser only."""
    from etl import read

    used = []
    arrow = read._read_text_arrow
    monkeypatch.setattr(read, "_read_text_arrow", lambda *a, **k: used.append(arrow(*a, **k)) or used[-1])
    fast = read_file(path)
    monkeypatch.setattr(read, "_read_text_arrow", lambda *a, **k: None)
    slow = read_file(path)
    return fast[0], slow[0], used[0] is not None


@pytest.mark.parametrize(
    "text",
    [  # quotes, a comma and a line break in cells; CRLF; short and shifted rows and a blank line
        "标题行\n\n项目编号,项目名称,备注\nXM-1,\"一号,楼\",\"说\"\"明\"\"\"\nXM-2,\"两\n行\",\nXM-3,,-\n",
        "项目编号,项目名称\r\nXM-1,甲\r\nXM-2,乙\r\n",
        "项目编号,项目名称,所属乡镇\nXM-1,甲\nXM-2,乙,超化镇,多余\n\n",
    ],
)
def test_utf8_csv_reads_the_same_with_pyarrow_and_pandas(tmp_path, monkeypatch, text):
    p = _csv(tmp_path / "p.csv", text, "utf-8-sig")
    fast, slow, arrow = _both_readers(p, monkeypatch)
    assert arrow == ("多余" not in text)  # ragged files are left to pandas
    assert fast.headers == slow.headers and fast.header_row == slow.header_row and fast.encoding == slow.encoding
    assert fast.data.equals(slow.data) and list(fast.data.dtypes) == list(slow.data.dtypes)
    assert fast.extra.equals(slow.extra)


def test_utf8_start_and_gbk_further_on_is_read_as_gbk(tmp_path):
    p = tmp_path / "p.csv"  # the header scan sees ASCII only
    p.write_bytes(b"XMCODE,NAME\n" + b"".join(f"XM-{i},G{i}\n".encode() for i in range(60_000)) + "XM-x,乙工程\n".encode("gbk"))
    (sheet,) = read_file(p)
    assert sheet.encoding == "GBK"
    assert sheet.data.iloc[-1, 1] == "乙工程" and len(sheet.data) == 60_001


def test_gb18030_only_characters(tmp_path):
    text = "单位名称,统一社会信用代码\n示例𫖯公司,91410183MA44XXXX0R\n"  # 𫖯 is not in GBK
    (sheet,) = read_file(_csv(tmp_path / "e.csv", text, "gb18030"))
    assert sheet.encoding == "GB18030"
    assert sheet.data.iloc[0, 0] == "示例𫖯公司"


def test_decode_prefers_utf8():
    assert decode("项目".encode("utf-8")) == ("项目", "UTF-8")
    assert decode("项目".encode("gbk")) == ("项目", "GBK")


def test_tsv_and_rows_wider_than_the_header(tmp_path):
    p = _csv(tmp_path / "c.tsv", "项目编号\t月份\t在场人数\nXM-1\t2024-03\t12\nXM-2\t2024-03\t9\textra\n\n", "utf-8")
    (sheet,) = read_file(p)
    assert sheet.headers == ["项目编号", "月份", "在场人数"]
    assert list(sheet.data.index) == [2, 3]  # the blank line is not a row
    assert sheet.extra.tolist() == [False, True]


def test_csv_row_with_an_unquoted_comma_is_flagged(tmp_path):
    p = _csv(tmp_path / "e.csv", "单位名称,单位地址,职工人数\n甲公司,新密市,超化镇,3\n乙公司,新密市超化镇,4\n", "utf-8")
    (sheet,) = read_file(p)
    assert sheet.extra.tolist() == [True, False]


def _title_merged_workbook(path):
    wb = Workbook()
    ws = wb.active
    ws.title = "在建项目"
    ws.append(["新密市在建工程项目台账（2024年）"])
    ws.merge_cells("A1:G1")
    ws.append(["项目编号", "项目名称", "农民工工资专户", None, "合同价款（元）", "开工日期", "所属乡镇"])
    ws.append([None, None, "是否开设", "开户银行", None, None, None])
    for rng in ("A2:A3", "B2:B3", "C2:D2", "E2:E3", "F2:F3", "G2:G3"):
        ws.merge_cells(rng)
    ws.append(["XM-001", "甲工程", "是", "中国银行", 12500000, datetime(2024, 3, 1), "超化镇"])
    ws.append(["XM-002", "乙工程", "否", None, 3000000.0, 45352, None])
    ws.merge_cells("G4:G5")  # the township cell merged over two data rows
    ws.append([])
    notes = wb.create_sheet("填表说明")
    notes.append(["本表由住建局每月填报"])
    more = wb.create_sheet("续表")
    more.append(["项目编号", "项目名称", "合同价款（万元）"])
    more.append(["XM-003", "丙工程", 88])
    wb.save(path)
    return path


def test_xlsx_title_row_merged_header_and_merged_data_cells(tmp_path):
    sheets = read_file(_title_merged_workbook(tmp_path / "p.xlsx"))
    assert [s.sheet for s in sheets] == ["在建项目", "续表"]  # the notes sheet has no header row
    s = sheets[0]
    assert s.header_row == 2
    assert s.headers == ["项目编号", "项目名称", "农民工工资专户", "开户银行", "合同价款（元）", "开工日期", "所属乡镇"]
    assert list(s.data.index) == [4, 5]
    row = s.data.loc[4]
    assert row["合同价款（元）"] == "12500000" and row["开工日期"] == "2024-03-01" and row["农民工工资专户"] == "是"
    assert s.data.loc[5, "开工日期"] == "45352"  # an Excel serial stays a number for normalise
    assert s.data.loc[5, "合同价款（元）"] == "3000000"  # no '.0'
    assert s.data.loc[5, "所属乡镇"] == "超化镇"  # merged over both rows
    assert sheets[1].data.loc[2, "合同价款（万元）"] == "88"


def test_unreadable_files(tmp_path):
    assert "不存在" in user_error(UnreadableFile, read_file, tmp_path / "missing.csv")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    assert "另存为 .xlsx" in user_error(UnreadableFile, read_file, tmp_path / "old.xls")
    (tmp_path / "bad.xlsx").write_bytes(b"not a zip")
    assert "bad.xlsx" in user_error(UnreadableFile, read_file, tmp_path / "bad.xlsx")
    (tmp_path / "empty.csv").write_bytes(b"")
    assert "空文件" in user_error(UnreadableFile, read_file, tmp_path / "empty.csv")
    (tmp_path / "x.pdf").write_bytes(b"%PDF")
    assert "不支持" in user_error(UnreadableFile, read_file, tmp_path / "x.pdf")


# ---- kinds: aliases, detection, --map -----------------------------------------------------------


def test_alias_tables_are_unambiguous_and_built_from_the_schema():
    from geodata import schema

    for kind in kinds.KINDS:
        table = kinds.alias_table(kind)
        for c in schema.data_columns(kind):
            assert table[kinds.header_key(c.info["zh"])] == c.name
            for a in c.info["aliases"]:
                assert kinds.lookup(kind, a) == c.name, (kind, a)
    assert kinds.lookup("projects", " 合同价款（元） ") == "contract_value"
    assert kinds.lookup("projects", "*项目名称") == "name"
    assert kinds.lookup("enterprises", "经度") == "lon"


@pytest.mark.parametrize("kind", kinds.KINDS)
def test_every_kind_is_detected_from_its_canonical_headers(kind):
    headers = [names[0] for names in kinds.fields(kind).values()]
    assert kinds.resolve(["序号", *headers], file="x.csv").kind == kind


def test_header_units():
    assert kinds.header_unit("合同价款(元)") == "元"
    assert kinds.header_unit("合同价款（万元）") == "万元"
    assert kinds.header_unit("合同价款") is None
    assert kinds.header_unit("用电量(万千瓦时)") == "万"
    hm = kinds.resolve(["项目编号", "项目名称", "合同价款(元)"], file="p.csv")
    assert hm.units == {"contract_value": "元"}


def test_unknown_header_names_it_and_the_map_to_use():
    headers = ["工程代号", "项目名称", "所属乡镇"]
    with pytest.raises(MissingColumns) as e:
        kinds.resolve(headers, "projects", file="p.csv")
    msg = e.value.user_msg
    assert "p.csv" in msg and '"工程代号"' in msg and "项目编号" in msg and "--map 工程代号=project_code" in msg
    assert "\n" not in msg
    assert e.value.missing == ["project_code"] and e.value.unknown == ["工程代号"]
    hm = kinds.resolve(headers, "projects", kinds.parse_mapping(["工程代号=project_code"]), file="p.csv")
    assert hm.columns["工程代号"] == "project_code"
    # a mapping target may also be a Chinese header
    assert kinds.resolve(headers, None, kinds.parse_mapping({"工程代号": "项目编号"})).kind == "projects"


def test_unknown_kind_and_bad_options():
    msg = user_error(UnknownKind, kinds.resolve, ["甲", "乙", "丙"], None, None, "x.csv")
    assert "无法识别数据类型" in msg and '"甲"' in msg and "--kind" in msg
    assert "--kind" in user_error(UnknownKind, kinds.resolve, ["项目编号"], "things")
    assert "源列=字段" in user_error(BadOption, kinds.parse_mapping, ["工程名称"])
    assert "不是工程项目的字段" in user_error(
        BadOption, kinds.resolve, ["工程名称"], "projects", kinds.parse_mapping(["工程名称=nonsense"])
    )


def test_first_header_wins_and_noise_is_ignored():
    hm = kinds.resolve(["序号", "项目编号", "项目名称", "工程名称", "备注", "负责人"], file="p.csv")
    assert hm.columns == {"项目编号": "project_code", "项目名称": "name"}
    assert hm.ignored == ["工程名称", "负责人"]
