"""The whole ETL run on both backends: formats, CRS, unusable input, reload, related townships, a killed load, the demo."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from etl.coords import from_wgs84, haversine_m
from etl.errors import MissingColumns, UnknownKind, UnusableInput
from etl.pipeline import load_files
from etl.validate import make_credit_code

ROOT = Path(__file__).resolve().parents[2]
CHAOHUA = "410183104000"
C1, C2, C3 = (make_credit_code(f"91410183MA4{i}XXXX0") for i in (1, 2, 3))


def counts(store):
    return {k: store.count(k) for k in ("enterprises", "projects", "compliance", "cases", "load_batches", "rejected_rows")}


def enterprises_gbk(path, rows=None):
    """用人单位 as a township office sends them: GBK, a title row, full-width digits, stray spaces, old names."""
    rows = (
        rows
        or [
            [C1, " 示例建筑有限公司甲 ", "建筑", "新密市超化镇", "超化", "１２", "113.40", "34.43"],
            [C2, "示例加工厂乙", "加工制造", "新密市尖山风景区", "尖山风景区管委", "8", "34.60", "113.28"],  # swapped
            [C3[:-1] + ("0" if C3[-1] != "0" else "1"), "示例餐饮丙", "餐饮服务", "", "超化镇", "3", "", ""],  # check digit
            [C1, "示例建筑有限公司甲（重复）", "建筑", "", "超化镇", "12", "", ""],  # duplicate key
        ]
    )
    header = ["统一社会信用代码", "单位名称", "行业", "单位地址", "所属乡镇", "职工人数", "经度", "纬度"]
    lines = ["新密市用人单位名录（示例）", ",".join(header)] + [",".join(r) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    return path


def projects_xlsx(path):
    """工程项目 as 住建 sends them: a title row, a two-row merged header, Excel serial and date cells, money in 元."""
    wb = Workbook()
    ws = wb.active
    ws.append(["新密市在建工程项目台账"])
    ws.merge_cells("A1:H1")
    ws.append(["项目编号", "项目名称", "所属乡镇", "合同价款（元）", "开工日期", "农民工工资专户", None, "维权公示牌"])
    ws.append([None, None, None, None, None, "是否开设", "开户日期", None])
    for rng in ("A2:A3", "B2:B3", "C2:C3", "D2:D3", "E2:E3", "F2:G2", "H2:H3"):
        ws.merge_cells(rng)
    ws.append(["XM-001", "示例安置房一期", "超化镇", 12_500_000, 45352, "是", datetime(2024, 2, 20), "√"])
    ws.append(["XM-002", "示例道路工程", "刘寨镇", "3000000", "2024年4月1日", "否", None, "×"])
    ws.append(["XM-003", "示例厂房", "超化镇", -5, "2024/5/1", "是", None, "有"])
    wb.save(path)
    return path


def test_gbk_csv_and_xlsx_with_title_rows_and_merged_header(store, tmp_path):
    rep = load_files(store, [enterprises_gbk(tmp_path / "e.csv"), projects_xlsx(tmp_path / "p.xlsx")], progress=False)
    by_kind = {f["kind"]: f for f in rep["files"]}
    e = by_kind["enterprises"]
    assert (e["rows_read"], e["rows_loaded"], e["rows_rejected"]) == (4, 2, 2)
    assert e["rejected_by_reason"] == {"bad_credit_code": 1, "duplicate_key": 1}
    assert e["geocoded_by_method"] == {"coord": 1, "coord_swapped": 1}
    assert e["encoding"] == "GBK" and e["header_row"] == 2
    ent = store.read("enterprises").set_index("credit_code")
    assert ent.loc[C1, "name"] == "示例建筑有限公司甲" and ent.loc[C1, "employees"] == 12
    assert (ent.loc[C2, "lon"], ent.loc[C2, "lat"]) == (113.28, 34.60) and ent.loc[C2, "geocode_method"] == "coord_swapped"
    assert ent.loc[C2, "declared_township"] == "410183401000"
    p = by_kind["projects"]
    assert (p["rows_read"], p["rows_loaded"], p["rows_rejected"]) == (3, 2, 1) and p["rejected_by_reason"] == {
        "negative_value": 1
    }
    prj = store.read("projects").set_index("project_code")
    assert prj.loc["XM-001", "contract_value"] == 1250.0 and prj.loc["XM-002", "contract_value"] == 300.0  # 元 -> 万元
    assert str(prj.loc["XM-001", "start_date"]) == "2024-03-01"  # Excel serial 45352
    assert str(prj.loc["XM-001", "special_account_opened"]) == "2024-02-20"
    assert bool(prj.loc["XM-001", "special_account"]) and not bool(prj.loc["XM-002", "notice_board"])
    assert prj.loc["XM-001", "geocode_method"] == "township" and prj.loc["XM-001", "township_code"] == CHAOHUA
    rej = store.read("rejected_rows").set_index("source_row")
    assert set(rej["reason_code"]) == {"bad_credit_code", "duplicate_key", "negative_value"}
    row = json.loads(rej[rej["kind"] == "projects"].iloc[0]["row_json"])
    assert row["项目编号"] == "XM-003" and row["合同价款（元）"] == "-5"
    assert rej[rej["kind"] == "enterprises"].index.tolist() == [5, 6]  # Excel/csv row numbers


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_gcj02_and_bd09_files(store, tmp_path, crs):
    truth = np.array([[113.40, 34.43], [113.52, 34.60]])
    x, y = from_wgs84(truth[:, 0], truth[:, 1], crs)
    df = pd.DataFrame(
        {
            "案件编号": ["A1", "A2"],
            "受理日期": ["2024-03-01", "2024-03-02"],
            "被投诉单位": ["甲", "乙"],
            "经度": x.round(7),
            "纬度": y.round(7),
        }
    )
    df.to_csv(tmp_path / "cases.csv", index=False, encoding="utf-8-sig")
    rep = load_files(store, [tmp_path / "cases.csv"], crs=crs, progress=False)
    assert rep["files"][0]["crs"] == crs and rep["files"][0]["geocoded_by_method"] == {"coord": 2}
    got = store.read("cases").sort_values("case_no")
    assert haversine_m(got["lon"], got["lat"], truth[:, 0], truth[:, 1]).max() < 0.5


def test_unknown_header_writes_nothing_then_loads_with_map(store, tmp_path):
    df = pd.DataFrame({"工程代号": ["XM-1", "XM-2"], "项目名称": ["一号楼", "二号楼"], "所属乡镇": ["超化镇", "超化镇"]})
    df.to_csv(tmp_path / "p.csv", index=False)
    good = enterprises_gbk(tmp_path / "e.csv")
    before = counts(store)
    with pytest.raises(MissingColumns) as e:
        load_files(store, [good, tmp_path / "p.csv"], kind=None, progress=False)
    assert counts(store) == before  # the good file was not written either
    msg = e.value.user_msg
    assert "p.csv" in msg and '"工程代号"' in msg and "--map 工程代号=project_code" in msg and e.value.exit_code == 2
    rep = load_files(store, [tmp_path / "p.csv"], mapping=["工程代号=project_code"], progress=False)
    assert rep["files"][0]["rows_loaded"] == 2 and store.count("projects") == 2


def test_unknown_kind_and_unreadable_file_are_unusable(store, tmp_path):
    (tmp_path / "x.csv").write_text("甲,乙\n1,2\n", encoding="utf-8")
    with pytest.raises(UnknownKind):
        load_files(store, [tmp_path / "x.csv"], progress=False)
    with pytest.raises(UnusableInput):
        load_files(store, [tmp_path / "nope.csv"], progress=False)
    assert counts(store)["load_batches"] == 0


def test_reload_of_the_same_file_changes_nothing(store, tmp_path):
    files = [enterprises_gbk(tmp_path / "e.csv"), projects_xlsx(tmp_path / "p.xlsx")]
    load_files(store, files, progress=False)
    before = {k: store.read(k).drop(columns="geometry", errors="ignore") for k in ("enterprises", "projects")}
    rejected = store.read("rejected_rows")[["kind", "source_file", "source_row", "reason_code", "row_json"]]
    rep = load_files(store, files, progress=False)
    again = store.read("rejected_rows")[["kind", "source_file", "source_row", "reason_code", "row_json"]]
    pd.testing.assert_frame_equal(again.reset_index(drop=True), rejected.reset_index(drop=True))  # replaced, not doubled
    for f in rep["files"]:
        assert (f["inserted"], f["updated"], f["unchanged"]) == (0, 0, f["rows_loaded"])
    for k, df in before.items():
        pd.testing.assert_frame_equal(store.read(k).drop(columns="geometry", errors="ignore"), df)


def test_a_changed_row_is_updated_and_stamped_with_the_new_batch(store, tmp_path):
    p = enterprises_gbk(tmp_path / "e.csv")
    first = load_files(store, [p], progress=False)["files"][0]["batch_id"]
    enterprises_gbk(
        p,
        [
            [C1, "示例建筑有限公司甲", "建筑", "", "超化镇", "13", "113.40", "34.43"],
            [C2, "示例加工厂乙", "加工制造", "新密市尖山风景区", "尖山风景区管委", "8", "34.60", "113.28"],
        ],
    )
    rep = load_files(store, [p], progress=False)["files"][0]
    assert (rep["inserted"], rep["updated"], rep["unchanged"]) == (0, 1, 1)
    ent = store.read("enterprises").set_index("credit_code")
    assert ent.loc[C1, "employees"] == 13 and ent.loc[C1, "batch_id"] == rep["batch_id"] and ent.loc[C2, "batch_id"] == first


def test_kinds_without_points_take_the_township_of_their_project(store, tmp_path):
    pd.DataFrame(
        {"项目编号": ["XM-001", "XM-404"], "月份": ["2024年3月", "2024-03"], "在场人数": ["30", "5"], "实名登记人数": ["29", "5"]}
    ).to_csv(tmp_path / "c.csv", index=False, encoding="utf-8")
    rep = load_files(store, [tmp_path / "c.csv", projects_xlsx(tmp_path / "p.xlsx")], progress=False)  # projects load first
    comp = next(f for f in rep["files"] if f["kind"] == "compliance")
    assert comp["township_by_source"] == {"project": 1, "none": 1}
    got = store.read("compliance").set_index("project_code")
    assert got.loc["XM-001", "township_code"] == CHAOHUA and pd.isna(got.loc["XM-404", "township_code"])
    assert got.loc["XM-001", "month"] == "2024-03"
    # a later run finds the project in the store
    pd.DataFrame({"项目编号": ["XM-002"], "月份": ["2024-04"], "在场人数": ["3"]}).to_csv(tmp_path / "c2.csv", index=False)
    load_files(store, [tmp_path / "c2.csv"], progress=False)
    assert store.read("compliance", where={"project_code": "XM-002"})["township_code"].tolist() == ["410183107000"]


def test_funds_keep_city_level_rows(store, tmp_path):
    pd.DataFrame({"单位": ["新密市", "超化镇"], "年度": ["2024", "2024年"], "预算安排(万元)": ["200", "50"]}).to_csv(
        tmp_path / "f.csv", index=False
    )
    rep = load_files(store, [tmp_path / "f.csv"], progress=False)
    assert rep["files"][0]["township_by_source"] == {"unit_code": 2}
    assert sorted(store.read("funds")["township_code"]) == ["410183000000", CHAOHUA]


def test_report_json_and_summary(store, tmp_path, capsys):
    out = tmp_path / "report.json"
    rep = load_files(store, [enterprises_gbk(tmp_path / "e.csv")], report_path=out, progress=True)
    saved = json.loads(out.read_text(encoding="utf-8"))
    f = saved["files"][0]
    assert f["rows_read"] == f["rows_loaded"] + f["rows_rejected"] == 4
    assert set(f) >= {"rows_read", "rows_loaded", "rows_rejected", "rejected_by_reason", "geocoded_by_method"}
    assert saved["totals"] == rep["totals"]
    err = capsys.readouterr().err
    assert "导入结果" in err and "e.csv" in err
    batch = store.read("load_batches").iloc[0]
    assert (batch["rows_read"], batch["rows_loaded"], batch["rows_rejected"]) == (4, 2, 2)


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from geodata.store import open_store
    from etl.pipeline import load_files

    url, path, marker = sys.argv[1:4]
    store = open_store(url)
    real = store.upsert

    def upsert_then_hang(conn, kind, df, batch):
        out = real(conn, kind, df, batch)
        Path(marker).write_text("in the transaction")
        time.sleep(120)
        return out

    store.upsert = upsert_then_hang
    load_files(store, [path], progress=False)
    """
)


def test_a_load_killed_in_the_middle_leaves_the_store_unchanged(store, tmp_path):
    p = enterprises_gbk(tmp_path / "e.csv")
    load_files(store, [p], progress=False)
    before = counts(store)
    ent_before = store.read("enterprises").drop(columns="geometry")
    version = store.data_version()
    rows = [
        [make_credit_code(f"91410183MA5{i:04d}X0"), f"示例单位{i}", "建筑", "", "超化镇", str(i), "", ""] for i in range(3000)
    ]
    enterprises_gbk(p, rows + [[C1, "改了名字", "建筑", "", "超化镇", "99", "113.40", "34.43"]])
    marker = tmp_path / "marker"
    url = str(store.path) if store.kind == "gpkg" else store.url
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, str(script), url, str(p), str(marker)], cwd=ROOT, env=env)
    try:
        deadline = time.time() + 120
        while not marker.exists():
            assert child.poll() is None, "the loading process ended before it was killed"
            assert time.time() < deadline, "the loading process never reached its transaction"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    assert counts(store) == before
    assert store.data_version() == version
    pd.testing.assert_frame_equal(store.read("enterprises").drop(columns="geometry"), ent_before)


def test_the_demo_scenario_loads_as_its_manifest_says(store, tmp_path):
    """Every file of `wagemap demo` (small scale): rows accounted for, rejections and geocoding as planted."""
    from etl.demo import write_demo

    manifest = write_demo(tmp_path / "demo", scale="small", seed=7)
    for f in manifest["files"]:
        rep = load_files(store, [tmp_path / "demo" / f["file"]], crs=f["crs"], progress=False)
        (got,) = rep["files"]
        assert got["kind"] == f["kind"], f["file"]
        assert got["rows_read"] == f["rows"] == got["rows_loaded"] + got["rows_rejected"], f["file"]
        assert got["rows_loaded"] == f["rows_expected_loaded"], f["file"]
        assert got["rejected_by_reason"] == f["rejected"], f["file"]
        assert got["geocoded_by_method"] == {k: v for k, v in f["geocode"].items() if v}, f["file"]
        assert got.get("township_mismatch", 0) == f.get("township_mismatch", 0), f["file"]
        rej = store.read("rejected_rows", where={"batch_id": got["batch_id"]})
        assert sorted(zip(rej["source_row"], rej["reason_code"], strict=False)) == sorted(tuple(r) for r in f["rejected_rows"]), (
            f["file"]
        )


def test_every_sheet_of_a_workbook_and_a_broken_sheet(store, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "一季度"
    ws.append(["项目编号", "月份", "在场人数"])
    ws.append(["XM-1", "2024-01", 10])
    ws2 = wb.create_sheet("二季度")
    ws2.append(["项目编号", "月份", "在场人数"])
    ws2.append(["XM-1", "2024-04", 12])
    ws2.append(["XM-1", "2024-01", 11])  # repeats a key of the first sheet
    wb.create_sheet("说明").append(["本表每季度报送一次"])
    wb.save(tmp_path / "c.xlsx")
    (f,) = load_files(store, [tmp_path / "c.xlsx"], progress=False)["files"]
    assert f["sheets"] == ["一季度", "二季度"] and (f["rows_read"], f["rows_loaded"]) == (3, 2)
    assert f["rejected_by_reason"] == {"duplicate_key": 1}
    row = json.loads(store.read("rejected_rows")["row_json"].iloc[0])
    assert row["工作表"] == "二季度" and row["月份"] == "2024-01"
    ws3 = wb.create_sheet("三季度")
    ws3.append(["项目代号", "月份", "在场人数"])  # the same table with a header the ETL does not know
    ws3.append(["XM-1", "2024-07", 9])
    wb.save(tmp_path / "c.xlsx")
    with pytest.raises(MissingColumns) as e:
        load_files(store, [tmp_path / "c.xlsx"], progress=False)
    assert "三季度" in e.value.user_msg and '"项目代号"' in e.value.user_msg


def test_a_file_with_headers_only(store, tmp_path):
    (tmp_path / "p.csv").write_text("项目编号,项目名称,经度,纬度\n", encoding="utf-8")
    (f,) = load_files(store, [tmp_path / "p.csv"], progress=False)["files"]
    assert (f["kind"], f["rows_read"], f["rows_loaded"], f["rows_rejected"]) == ("projects", 0, 0, 0)


def test_postgis_load_analyzes_the_tables_it_wrote_and_merges_gin_pending_lists(pg_store, tmp_path):
    """Planner statistics are fresh right after a load (autovacuum may lag or be off), for exactly the tables written."""
    import sqlalchemy as sa

    def analyzed() -> dict[str, int]:
        with pg_store.engine.connect() as c:
            rows = c.execute(sa.text("SELECT relname, analyze_count FROM pg_stat_user_tables "
                                     "WHERE relname IN ('enterprises', 'projects', 'cases')")).all()
        return dict(rows)

    before = analyzed()
    load_files(pg_store, [enterprises_gbk(tmp_path / "e.csv"), projects_xlsx(tmp_path / "p.xlsx")], progress=False)
    deadline = time.monotonic() + 5  # the statistics collector reports asynchronously
    while analyzed()["projects"] == before["projects"] and time.monotonic() < deadline:
        time.sleep(0.1)
    after = analyzed()
    assert after["enterprises"] > before["enterprises"] and after["projects"] > before["projects"]
    assert after["cases"] == before["cases"]
    with pg_store.engine.begin() as c:  # the search's trigram index: nothing left pending (merging again merges 0 pages)
        assert c.execute(sa.text("SELECT gin_clean_pending_list('ix_projects_trgm'::regclass)")).scalar() == 0
