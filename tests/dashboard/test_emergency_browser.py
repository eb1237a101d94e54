"""Browser test of /emergency at 390x844: search an address fragment, pick it, see the site, nearby list, nav link."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
SITE = (113.4050, 34.4310)  # 超化镇


def build_store(path: Path):
    """A GeoPackage store with a village, a project at it, an employer, cases, an incident and the fund."""
    from geodata import schema
    from geodata.store import open_store

    store = open_store(str(path))
    d = 0.004  # ~ 400 m
    frames = {
        "projects": pd.DataFrame({
            "project_code": ["XM-0042", "XM-0043", "XM-0099"], "name": ["金水湾安置房一期", "黄固寺小学教学楼", "远处的项目"],
            "address": ["超化镇黄固寺村北", "超化镇黄固寺村", "超化镇"], "contractor": ["示例建工集团", "另一建设公司", "某公司"],
            "contractor_phone": ["13800001111", "13900002222", None], "labour_officer": ["李专管", "王专管", None],
            "labour_officer_phone": ["13700003333", None, None], "township_code": "410183104000",
            "lon": [SITE[0] + d, SITE[0] - d, SITE[0] + 0.05], "lat": [SITE[1], SITE[1], SITE[1]], "status": "在建",
        }),
        "enterprises": pd.DataFrame({"credit_code": ["91410183MA47XYZ12Q"], "name": ["示例劳务有限公司"],
                                     "address": ["超化镇"], "township_code": "410183104000", "lon": [SITE[0]],
                                     "lat": [SITE[1] + d]}),
        "cases": pd.DataFrame({"case_no": ["AJ-1", "AJ-2"], "received_date": ["2024-04-01", "2024-04-02"],
                               "project_code": ["XM-0042", "XM-0042"], "status": ["核查", "结案"],
                               "closed_date": [None, "2024-05-01"],
                               "workers": [23, 4], "amount": [48.5, 3.0], "township_code": "410183104000",
                               "lon": [SITE[0] + d] * 2, "lat": [SITE[1]] * 2}),
        "incidents": pd.DataFrame({"incident_no": ["SJ-2024-007"], "occurred_at": ["2024-05-06 09:30"],
                                   "address": ["金水湾安置房一期工地门口"], "grade": ["较大"], "status": ["处置中"],
                                   "headcount": [35],
                                   "project_code": ["XM-0042"], "township_code": "410183104000",
                                   "lon": [SITE[0] + d], "lat": [SITE[1] + 0.0005]}),
        "funds": pd.DataFrame({"unit_code": ["410183104000"], "year": [2024], "budgeted": [50.0], "balance": [42.0],
                               "used": [8.0], "township_code": "410183104000"}),
    }
    with store.begin() as conn:
        for kind, df in frames.items():
            batch = store.new_batch(conn, kind, "browser-test.xlsx", "test")
            store.upsert(conn, kind, df, batch)
        conn.execute(sa.delete(schema.gazetteer))
        conn.execute(sa.insert(schema.gazetteer), [
            {"name": "黄固寺村", "township_code": "410183104000", "kind": "村", "aliases": "", "lon": SITE[0], "lat": SITE[1],
             "source": "test"},
            {"name": "朝阳沟村", "township_code": "410183101000", "kind": "村", "aliases": "", "lon": 113.2716, "lat": 34.5589,
             "source": "test"},
        ])
        store._bump_version(conn)
    from dashboard.users import add_user

    add_user(store, USER, "emergency", None, PASSWORD)
    return store


USER, PASSWORD = "test_emergency", "em-test-password-2024"


def login(page, url: str) -> None:
    """Sign in as the emergency test user through the real /login form."""
    page.goto(url + "/login", wait_until="domcontentloaded")
    page.fill("#u", USER)
    page.fill("#p", PASSWORD)
    page.locator("form button, form input[type=submit]").first.click()
    page.wait_for_load_state("networkidle")


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("em") / "em.gpkg"
    build_store(path)
    return path


def test_phone_search_pick_site_nearby_and_navigation(app_url, browser):
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True, has_touch=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, app_url)
    page.goto(app_url + "/emergency", wait_until="networkidle")
    page.fill("#em-q", "黄固寺")
    page.click("#em-go")
    page.wait_for_selector(".em-pick")
    village = page.locator(".em-pick").filter(has_text="地名").filter(has_text="黄固寺村")
    assert village.count() == 1
    village.first.click()
    page.wait_for_selector("#em-site-info")
    info = page.inner_text("#em-site-info")
    assert "黄固寺村" in info and "超化镇" in info
    assert f"{SITE[0]:.6f},{SITE[1]:.6f}" in info  # WGS-84
    nav = page.get_attribute("#em-nav", "href")
    assert nav.startswith("https://uri.amap.com/marker?position=") and "coordinate=gaode" in nav
    gcj = page.inner_text("#em-copy-gcj-text")
    assert gcj in nav  # the link carries the GCJ-02 coordinates shown
    page.wait_for_selector("#em-nearby-list")
    near = page.inner_text("#em-nearby-list")
    assert "金水湾安置房一期" in near and "黄固寺小学教学楼" in near and "示例劳务有限公司" in near
    assert "远处的项目" not in near
    assert "在办案件 1 件 · 23 人" in near  # AJ-2 is closed
    summary = page.inner_text("#em-nearby-summary")
    assert "项目 2 个" in summary and "单位 1 家" in summary
    page.wait_for_selector("#em-map canvas", state="attached", timeout=20000)
    page.wait_for_timeout(1500)
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "emergency_390x844.png"), full_page=True)
    page.locator("#em-site-info").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "emergency_390x844_site.png"))
    assert fits, "the page scrolls sideways at 390 px"
    assert not errors, errors
    page.close()


def test_incident_list_and_response_checklist(app_url, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, app_url)
    page.goto(app_url + "/emergency", wait_until="networkidle")
    page.wait_for_selector("#em-incidents button")
    assert "SJ-2024-007" in page.inner_text("#em-incidents")
    page.click("#em-incidents button")
    page.wait_for_selector("#em-response li")
    text = page.inner_text("#em-response")
    assert "公安机关" in text and "较大事件" in text  # 较大 adds police, petition, authority
    assert "第一时间赶到现场" not in text  # that is the 重大 step
    from playwright.sync_api import expect

    expect(page.locator("#em-fund")).to_contain_text("42.0万元")  # 2024 balance of 超化镇
    expect(page.locator("#em-contacts")).to_contain_text("李专管")  # the incident's project's 劳资专管员
    page.locator("#em-response button").first.click()  # mark the first step done
    expect(page.locator("#em-response")).to_contain_text("完成于")
    page.screenshot(path=str(ARTIFACTS / "emergency_desktop.png"), full_page=True)
    page.close()


def test_deep_links_open_the_site(app_url, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 390, "height": 844})
    login(page, app_url)
    page.goto(app_url + "/emergency?incident=SJ-2024-007&r=0.5", wait_until="networkidle")
    expect(page.locator("#em-site-info")).to_contain_text("SJ-2024-007")
    expect(page.locator("#em-nearby-summary")).to_contain_text("0.5 公里内")
    page.goto(app_url + "/emergency?q=" + "gcj02:113.4115,34.4299", wait_until="networkidle")
    expect(page.locator("#em-site-info")).to_contain_text("超化镇")  # one clear answer is chosen at once
    expect(page.locator("#em-msg")).to_contain_text("GCJ-02")
    page.goto(app_url + "/emergency?q=" + "火星基地", wait_until="networkidle")
    expect(page.locator("#em-msg")).to_contain_text("未找到")
    page.close()


def _wait_for(page, fn: str, want, seconds: float = 10.0):
    """Poll a page function (wait_for_function evaluates a string, which the app's CSP forbids)."""
    import time

    deadline = time.monotonic() + seconds
    while (got := page.evaluate(fn)) != want and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert got == want


def test_saved_incident_appears_on_the_map_without_reload(app_url, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, app_url)
    page.goto(app_url + "/emergency", wait_until="networkidle")
    page.wait_for_selector("#em-map .js-plotly-plot")
    incidents = "() => { const gd = document.querySelector('#em-map .js-plotly-plot');" \
                " return gd && gd.data && gd.data[2] ? gd.data[2].lon.length : -1; }"
    _wait_for(page, incidents, 1)
    page.fill("#em-q", "黄固寺")
    page.click("#em-go")
    page.locator(".em-pick").filter(has_text="黄固寺村").first.click()
    page.wait_for_selector("#em-site-info")
    page.locator("summary").filter(has_text="新建 / 更新突发事件").click()
    page.fill("#em-f-incident_no", "SJ-2023-100")  # older than SJ-2024-007: the list's first entry stays that one
    page.fill("#em-f-occurred_at", "2023-12-01 08:30")
    page.fill("#em-f-address", "黄固寺村东<b>工地</b>")
    page.click("#em-f-save")
    from playwright.sync_api import expect

    expect(page.locator("#em-f-msg")).to_contain_text("已新建事件 SJ-2023-100")
    _wait_for(page, incidents, 2)  # no reload
    texts = page.evaluate("() => document.querySelector('#em-map .js-plotly-plot').data[2].text")
    assert any("SJ-2023-100" in t for t in texts) and not any("<b>" in t for t in texts)  # escaped in the hover
    assert page.evaluate("() => document.querySelector('#em-map .js-plotly-plot').data.length") >= 6  # site traces kept
    assert not errors, errors
    page.close()
