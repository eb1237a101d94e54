"""Fixtures for the dashboard tests: a small hand-made store (a few projects, cases, an incident), and the
real app with a headless Chromium for the browser tests.

`small_store` is filled through the store interface (new_batch/upsert/add_rejected) so the pages
see exactly what an ETL load would give them. Hand-counted facts the tests assert are in FACTS.
`app_url` serves the store of the test module's own `db` fixture; `browser` is Chromium for that module.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

QP = "410183001000"  # 青屏街街道
CH = "410183104000"  # 超化镇
XSS = "<img src=x onerror=alert(1)>"

# What the tests may rely on (hand count of the rows below).
FACTS = {
    "townships_with_projects": {QP, CH},
    # projects in 超化镇 that lack at least one mechanism (P-CH-2 lacks 专户/代发/公示牌; P-CH-3 备案 late)
    "gaps_ch": {"P-CH-2", "P-CH-3"},
    "complete_ch": {"P-CH-1"},
    "open_cases": 2,
}


def _projects() -> pd.DataFrame:
    base = dict(category="房屋建筑", funding="社会投资", builder="新密市某建设单位", contract_value=5000.0,
                status="在建", notice_board=True, special_account=True, special_account_bank="中国银行新密支行",
                bank_payroll=True, payment_guarantee=True, labour_officer="王五", labour_officer_phone="13800001234")
    rows = [
        dict(project_code="P-CH-1", name="超化镇安置房一期", township_code=CH, lon=113.405, lat=34.431,
             start_date=date(2024, 1, 10), filed_date=date(2024, 1, 20), special_account_opened=date(2024, 1, 2),
             special_account_filed=date(2024, 1, 5), contractor="河南甲建设有限公司",
             contractor_credit_code="91410183MA0000001X", contractor_phone="13912345678"),
        dict(project_code="P-CH-2", name=XSS, township_code=CH, lon=113.41, lat=34.425,
             start_date=date(2024, 2, 1), filed_date=date(2024, 2, 10), special_account=False, bank_payroll=False,
             notice_board=False, contractor="河南乙建设有限公司", contractor_credit_code="91410183MA0000002X",
             contractor_phone="13712345678"),
        dict(project_code="P-CH-3", name="超化镇道路改造", township_code=CH, lon=113.40, lat=34.435,
             start_date=date(2024, 1, 1), filed_date=date(2024, 5, 1), special_account_opened=date(2023, 12, 20),
             special_account_filed=date(2023, 12, 25), contractor="河南甲建设有限公司",
             contractor_credit_code="91410183MA0000001X", contractor_phone="13912345678"),
        dict(project_code="P-QP-1", name="青屏街学校", township_code=QP, lon=113.378, lat=34.5405,
             start_date=date(2024, 3, 1), filed_date=date(2024, 3, 5), special_account_opened=date(2024, 2, 20),
             special_account_filed=date(2024, 2, 25), contractor="河南甲建设有限公司",
             contractor_credit_code="91410183MA0000001X", contractor_phone="13912345678"),
    ]
    df = pd.DataFrame([{**base, **r} for r in rows])
    df["address"] = df["name"]
    df["geocode_method"] = "coord"
    df["geocode_confidence"] = 1.0
    df["declared_township"] = df["township_code"]
    df["source_row"] = range(2, 2 + len(df))
    return df


def _compliance() -> pd.DataFrame:
    rows = []
    for code, tw in (("P-CH-1", CH), ("P-CH-2", CH), ("P-CH-3", CH), ("P-QP-1", QP)):
        for m in ("2024-03", "2024-04", "2024-05"):
            rows.append(dict(project_code=code, township_code=tw, month=m, workers_onsite=100, workers_registered=100,
                             cards_issued=100, wages_due=50.0, wages_paid_bank=50.0, account_funded=50.0,
                             paid_through_month=m))
    df = pd.DataFrame(rows)
    df["source_row"] = range(2, 2 + len(df))
    return df


def _enterprises() -> pd.DataFrame:
    df = pd.DataFrame([
        dict(credit_code="91410183MA0000001X", name="河南甲建设有限公司", industry="建筑", township_code=CH,
             address="超化镇政府旁", lon=113.404, lat=34.430, legal_rep="张三", phone="13912345678", employees=300),
        dict(credit_code="91410183MA0000002X", name="河南乙建设有限公司", industry="建筑", township_code=CH,
             address="超化镇", lon=113.406, lat=34.429, legal_rep="李四", phone="13712345678", employees=80),
    ])
    df["geocode_method"] = "coord"
    df["geocode_confidence"] = 1.0
    df["source_row"] = range(2, 2 + len(df))
    return df


def _cases() -> pd.DataFrame:
    df = pd.DataFrame([
        dict(case_no="C-1", received_date=date(2024, 4, 2), source="12345", project_code="P-CH-2",
             credit_code="91410183MA0000002X", employer_name="河南乙建设有限公司", township_code=CH, lon=113.41,
             lat=34.425, workers=12, amount=36.5, status="核查", description=XSS, complainant="赵六",
             complainant_id="410183199001011234", complainant_phone="13600001111"),
        dict(case_no="C-2", received_date=date(2024, 5, 8), source="举报投诉", project_code="P-QP-1",
             credit_code="91410183MA0000001X", employer_name="河南甲建设有限公司", township_code=QP, lon=113.378,
             lat=34.5405, workers=5, amount=8.0, status="受理"),
        dict(case_no="C-3", received_date=date(2024, 3, 1), source="巡查", project_code="P-CH-1",
             credit_code="91410183MA0000001X", employer_name="河南甲建设有限公司", township_code=CH, lon=113.405,
             lat=34.431, workers=3, amount=2.0, status="结案", closed_date=date(2024, 3, 20), recovered=2.0),
    ])
    df["geocode_method"] = "coord"
    df["geocode_confidence"] = 1.0
    df["source_row"] = range(2, 2 + len(df))
    return df


def _incidents() -> pd.DataFrame:
    df = pd.DataFrame([dict(incident_no="E-1", occurred_at=datetime(2024, 5, 10, 9, 30), address="超化镇道路改造工地",
                            township_code=CH, lon=113.401, lat=34.434, headcount=20, grade="一般",
                            project_code="P-CH-3", status="处置中")])
    df["geocode_method"] = "coord"
    df["geocode_confidence"] = 1.0
    df["source_row"] = [2]
    return df


def _deposits() -> pd.DataFrame:
    df = pd.DataFrame([
        dict(deposit_key="P-CH-1|2024-01-05", project_code="P-CH-1", township_code=CH, paid_date=date(2024, 1, 5),
             amount=100.0, rate=0.02, form="现金", status="缴存"),
        dict(deposit_key="P-QP-1|2024-03-01", project_code="P-QP-1", township_code=QP, paid_date=date(2024, 3, 1),
             amount=100.0, rate=0.02, form="保函", status="缴存"),
    ])
    df["source_row"] = range(2, 2 + len(df))
    return df


def fill(store) -> None:
    """Load the hand-made rows (one batch per kind) plus one rejected row."""
    frames = {"enterprises": _enterprises(), "projects": _projects(), "compliance": _compliance(),
              "deposits": _deposits(), "cases": _cases(), "incidents": _incidents()}
    with store.begin() as conn:
        for kind, df in frames.items():
            src = f"{kind}.xlsx"
            bid = store.new_batch(conn, kind, src, user="test")
            store.upsert(conn, kind, df.assign(source_file=src), bid)
            rejected = pd.DataFrame()
            if kind == "cases":
                rejected = pd.DataFrame([{"source_row": 9, "reason": "受理日期 无法识别：“2024-13-45”", "reason_code": "bad_date",
                                          "row_json": json.dumps({"案件编号": "C-9", "受理日期": "2024-13-45", "备注": "=1+2"},
                                                                 ensure_ascii=False)}])
                store.add_rejected(conn, bid, kind, src, rejected)
            store.finish_batch(conn, bid, rows_read=len(df) + len(rejected), rows_loaded=len(df),
                               rows_rejected=len(rejected), report={})


@pytest.fixture
def small_store(tmp_path):
    from geodata.store import open_store

    s = open_store(str(tmp_path / "small.gpkg"))
    fill(s)
    return s


# ---- the real app in headless Chromium (the browser tests) ----------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--enable-unsafe-swiftshader"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(db, chromium_path):
    """The app (gunicorn, dashboard.wsgi, offline basemap) on the test module's `db` fixture (a store path)."""
    port = _free_port()
    env = {**os.environ, "WAGEMAP_DB": str(db), "WAGEMAP_BASEMAP": "none"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "dashboard.wsgi:server", "-b", f"127.0.0.1:{port}",
                             "-w", "1", "--threads", "4", "--timeout", "120"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 90
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail("app did not start:\n" + proc.stdout.read().decode(errors="replace")[-3000:])
            time.sleep(0.3)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Headless Chromium (software WebGL), one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def load_small_demo(store, out: Path) -> dict:
    """The small demo scenario written to `out` and loaded into `store` through the real ETL; returns the manifest."""
    from etl.demo import write_demo
    from etl.pipeline import load_files

    manifest = write_demo(out, scale="small", seed=2018)
    load_files(store, [out / f["file"] for f in manifest["files"]], progress=False)
    return manifest


def signed_in_context(browser, app_url: str, user: str, password: str):
    """A 1920x1080 zh-CN browser context signed in through the real /login form (cookies shared by its pages)."""
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = ctx.new_page()
    page.goto(app_url + "/login")
    page.fill("#u", user)
    page.fill("#p", password)
    page.click("button[type=submit]")
    page.wait_for_url(app_url + "/")
    page.close()
    return ctx
