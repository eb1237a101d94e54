"""The standalone folium map: offline (no CDN), escaped popups, 示意边界, and a store round trip."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from layers.base import Filters
from layers.folium_export import ExportError, export_map, export_township, leaflet_css
from tests.layers.builders import MARCH, XSS, A, B, case, data, deposit, project, report

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--enable-unsafe-swiftshader"]
REMOTE_TAG = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I)


def xss_data(is_demo: bool = True):
    return data(
        [project("P1", name=XSS, contractor=XSS), project("P2", B, notice_board=False)],
        [report("P1")], [deposit("P1")],
        [case("C1", project_code="P1", employer_name=XSS), case("C2", B, amount=40.0)], is_demo=is_demo,
    )


def test_no_cdn_links_and_leaflet_inlined(tmp_path):
    html = export_map(xss_data(), MARCH, tmp_path / "m.html")
    assert (tmp_path / "m.html").read_text(encoding="utf-8") == html
    assert not REMOTE_TAG.search(html), REMOTE_TAG.search(html)
    assert "cdn.jsdelivr" not in html and "code.jquery.com" not in html and "bootstrapcdn" not in html
    assert "L.version" in html or "Leaflet" in html  # the library itself is in the page
    assert "url(images/" not in leaflet_css() and "data:image/png;base64," in leaflet_css()


def test_user_text_escaped_everywhere():
    html = export_map(xss_data(), MARCH)
    assert XSS not in html
    # html.escape'd, then JSON-encoded by folium (< > & as \u003c \u003e \u0026)
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in html
    assert "<img" not in html.lower()


def test_demo_label_only_with_demo_boundaries():
    assert "示意边界" in export_map(xss_data(), MARCH)
    assert "示意边界" not in export_map(xss_data(is_demo=False), MARCH)


def test_layers_legends_and_title():
    html = export_map(xss_data(), Filters(month_to="2024-03", as_of="2024-12-31", township=A),
                      layer_keys=["arrears", "real_name"])
    assert "新密市 · 青屏街街道 根治欠薪一张图（截至2024年3月）" in html
    assert "data-title='欠薪金额'" in html and "data-title='实名制登记率'" in html
    assert html.count("querySelectorAll('.wm-legend')") == 1  # one legend switch


def test_export_township_through_the_store(gpkg_store, tmp_path):
    from geodata.boundaries import demo_boundaries

    code = demo_boundaries()["code"].iloc[4]  # 米村镇
    with gpkg_store.begin() as conn:
        batch = gpkg_store.new_batch(conn, "projects", "t.xlsx")
        gpkg_store.upsert(conn, "projects", pd.DataFrame([project("P1", code, name=XSS, lon=113.27, lat=34.56)]), batch)
        batch = gpkg_store.new_batch(conn, "cases", "c.xlsx")
        gpkg_store.upsert(conn, "cases", pd.DataFrame([case("C1", code, project_code="P1", lon=113.27, lat=34.56)]
                                                      ).drop(columns=["complainant_id"]), batch)
    out = export_township(gpkg_store, "米村镇", tmp_path / "t.html", Filters(month_to="2024-03", as_of="2024-12-31"))
    html = out.read_text(encoding="utf-8")
    assert "米村镇" in html and "\\u0026lt;img" in html and XSS not in html
    assert json.dumps("在办1件，欠薪10.0万元，涉及5人")[1:-1] in html  # the case read back through the store
    with pytest.raises(ExportError) as e:
        export_township(gpkg_store, "不存在镇", tmp_path / "x.html")
    assert "无法识别" in e.value.user_msg


def _popup_of(page, marker) -> str:
    """Click a circle marker and return its popup's text. Popups left open are closed first and the map is let to
    finish the pan a popup may start (autoPan): otherwise the click can land on the township polygon that moved
    under the pointer, and two popups are open at once (seen once in CI)."""
    page.evaluate("document.querySelectorAll('.leaflet-popup-close-button').forEach(b => b.click())")
    page.wait_for_selector(".leaflet-popup-content", state="detached")
    page.wait_for_timeout(300)  # Leaflet's pan animation is 250 ms
    box = marker.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector(".leaflet-popup-content")
    return page.locator(".leaflet-popup-content").last.inner_text()


def test_opens_offline_in_chromium_shows_townships_and_text_popups(tmp_path, chromium_path):
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "map.html"
    export_map(xss_data(), MARCH, page_file, layer_keys=["arrears", "arrears_cases", "real_name", "notice_board"])
    remote, dialogs = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1280, "height": 800}, offline=True)
        ctx.route(re.compile(r"^(?!file:|data:|about:).*"), lambda route: (remote.append(route.request.url), route.abort()))
        page = ctx.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(page_file.as_uri())
        page.wait_for_selector("path.leaflet-interactive")
        # two township outlines + two choropleth polygons + case points
        assert page.locator("path.leaflet-interactive").count() >= 4
        assert page.locator(".wm-demo").inner_text().startswith("示意边界")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "folium_export_offline.png"))
        # the case with the hostile employer name: circle markers are SVG arcs ("a" in the path)
        circles = page.locator("path.leaflet-interactive[d*='a']")
        assert circles.count() == 2
        popup_text = ""
        for i in range(circles.count()):
            popup_text = _popup_of(page, circles.nth(i))
            if "案件 C1" in popup_text:
                break
        assert XSS in popup_text  # shown as text
        assert page.locator(".leaflet-popup-content img").count() == 0
        # switching the layer swaps the legend
        page.locator(".leaflet-control-layers label", has_text="实名制登记率").click(timeout=5000)
        assert page.locator(".wm-legend[data-title='实名制登记率']").is_visible()
        assert not page.locator(".wm-legend[data-title='欠薪金额']").is_visible()
        # the project named like an XSS probe, in the 实名制 layer's points
        project_text = ""
        circles = page.locator("path.leaflet-interactive[d*='a']")
        for i in range(circles.count()):
            project_text = _popup_of(page, circles.nth(i))
            if "项目编号：P1" in project_text:
                break
        assert project_text.startswith(XSS) and page.locator(".leaflet-popup-content img").count() == 0
        browser.close()
    assert remote == [] and dialogs == []
