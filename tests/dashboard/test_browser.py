"""End-to-end in headless Chromium against the real app (gunicorn, dashboard.wsgi) on demo data.

The map draws (pixels in a township differ from the background), the layer switcher changes the
choropleth, a township click drills to its worklist (exactly the projects the store says lack a
mechanism there), a point click opens a project page, back walks up, a copied URL reproduces
the view, and a project named like an HTML tag shows as text. Screenshots go to tests/artifacts/.
Fails (not skips) under CI=true when Chromium is missing (tests/conftest.py: chromium_path).
"""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from tests.dashboard.conftest import load_small_demo, signed_in_context

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
USER, PASSWORD = "leader1", "Browser-test-123!"
XSS = "<img src=x onerror=alert(1)>"
XSS_CODE = "XM-XSS-1"
TOWN = "410183104000"  # 超化镇: the township the drill-down tests click


# ---- the app on demo data ------------------------------------------------------------------


def _build_store(db: Path) -> None:
    """Small demo scenario through the real ETL, one project with an HTML-like name, one leader account."""
    from dashboard.users import add_user
    from geodata.store import open_store

    store = open_store(str(db))
    load_small_demo(store, db.parent / "demo")
    t = store.townships().set_index("code")
    with store.begin() as conn:
        bid = store.new_batch(conn, "projects", "xss.xlsx", "test")
        store.upsert(conn, "projects", pd.DataFrame([dict(
            project_code=XSS_CODE, name=XSS, address=XSS, contractor=XSS, township_code=TOWN, status="在建",
            start_date="2024-01-01", lon=float(t.loc[TOWN, "lon"]) + 0.01, lat=float(t.loc[TOWN, "lat"]) - 0.01,
            geocode_method="coord", geocode_confidence=1.0, source_row=2)]), bid)
        store.finish_batch(conn, bid, 1, 1, 0)
    add_user(store, USER, "leader", None, PASSWORD)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("browser") / "demo.gpkg"
    _build_store(path)
    return path


@pytest.fixture(scope="module")
def session(browser, app_url):
    """A signed-in browser context (cookies shared by the tests' pages)."""
    ctx = signed_in_context(browser, app_url, USER, PASSWORD)
    yield ctx
    ctx.close()


@pytest.fixture
def page(session):
    p = session.new_page()
    p.dialogs = []
    p.errors = []
    p.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))
    p.on("pageerror", lambda e: p.errors.append(str(e)))
    yield p
    p.close()


# ---- helpers ------------------------------------------------------------------------------


def shot(page, name: str, full: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    return path


GD = "document.querySelector('#{id} .js-plotly-plot')"


def wait_map(page, graph_id: str) -> None:
    """Until the MapLibre map of a plotly graph has loaded and painted (not just until a canvas exists)."""
    page.wait_for_selector(f"#{graph_id} canvas", state="attached", timeout=30000)
    page.wait_for_function(
        f"""() => {{ const gd = {GD.format(id=graph_id)};
            const m = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot
                      && gd._fullLayout.map._subplot.map;
            const fitted = !!(gd.layout.meta && gd.layout.meta.px);  // app.js fitFigure: drawn fitted, once
            return !!(m && fitted && m.loaded() && m.isStyleLoaded() && !m.isMoving()); }}""", timeout=30000)
    page.wait_for_timeout(300)  # the repaint


def to_pixel(page, graph_id: str, lon: float, lat: float) -> tuple[float, float]:
    """Page coordinates of a lon/lat on a plotly map (through MapLibre's own projection)."""
    xy = page.evaluate(
        f"""([lon, lat]) => {{ const gd = {GD.format(id=graph_id)};
            const m = gd._fullLayout.map._subplot.map; const p = m.project([lon, lat]);
            const r = m.getCanvas().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }}""", [lon, lat])
    return xy[0], xy[1]


def pixels(page, png: bytes, points: list[tuple[float, float]], scale: float = 1.0) -> list[list[int]]:
    """RGBA of `points` (page coordinates) in a PNG, decoded by the browser in a blank page."""
    blank = page.context.new_page()
    try:
        return blank.evaluate(
            """async ([b64, pts]) => { const img = new Image(); img.src = "data:image/png;base64," + b64;
                await img.decode(); const c = document.createElement("canvas"); c.width = img.width;
                c.height = img.height; const g = c.getContext("2d"); g.drawImage(img, 0, 0);
                return pts.map(([x, y]) => Array.from(g.getImageData(Math.round(x), Math.round(y), 1, 1).data)); }""",
            [base64.b64encode(png).decode(), [[x * scale, y * scale] for x, y in points]])
    finally:
        blank.close()


def non_background_share(page, png: bytes) -> float:
    """Share of pixels of a PNG that are not the plain white background (#fff; light fills count)."""
    blank = page.context.new_page()
    try:
        return blank.evaluate(
            """async (b64) => { const img = new Image(); img.src = "data:image/png;base64," + b64; await img.decode();
                const c = document.createElement("canvas"); c.width = img.width; c.height = img.height;
                const g = c.getContext("2d"); g.drawImage(img, 0, 0); const d = g.getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 0; i < d.length; i += 4) { if (d[i] < 253 || d[i + 1] < 253 || d[i + 2] < 253) n++; }
                return n / (d.length / 4); }""", base64.b64encode(png).decode())
    finally:
        blank.close()


def too_wide(page) -> list[str]:
    """Elements sticking out of a phone's viewport (wide tables and grids scroll inside their own box)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-scroll')
                     && !e.closest('.ag-root-wrapper') && !e.closest('.modebar'))
        .slice(0, 5).map(e => e.tagName + '.' + e.className)""")


def township_point(db: Path, code: str = TOWN) -> tuple[float, float]:
    from geodata.store import open_store

    t = open_store(str(db)).townships().set_index("code")
    return float(t.loc[code, "lon"]), float(t.loc[code, "lat"])


def store_gaps(db: Path, code: str, month_to: str) -> set[str]:
    """What the store says, computed without the dashboard: active projects there lacking a mechanism."""
    from geodata.store import open_store
    from layers.base import Filters, LayerData
    from layers.coverage_rules import KEYS, gaps, project_status

    s = open_store(str(db))
    data = LayerData(townships=s.townships(), **{k: s.read(k, scope=[code]) for k in
                                                  ("projects", "compliance", "deposits", "cases")})
    st = project_status(data, Filters(month_to=month_to, township=code))
    lacking = gaps(st, KEYS[0])
    for k in KEYS[1:]:
        lacking |= gaps(st, k)
    return set(st.loc[lacking, "project_code"])


def grid_values(page, grid_id: str, field: str) -> list:
    page.wait_for_function(f"() => window.dash_ag_grid && window.dash_ag_grid.getApi('{grid_id}')", timeout=20000)
    return page.evaluate(f"""() => {{ const out = [];
        window.dash_ag_grid.getApi('{grid_id}').forEachNode(n => out.push(n.data['{field}'])); return out; }}""")


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# ---- the tests ------------------------------------------------------------------------------------


def test_overview_map_draws(page, app_url, db):
    page.goto(app_url + "/", wait_until="networkidle")
    wait_map(page, "ov-map")
    png = page.locator("#ov-map").screenshot()
    assert non_background_share(page, png) > 0.2, "the map is (nearly) blank"
    x, y = to_pixel(page, "ov-map", *township_point(db))
    full = page.screenshot()
    (r, g, b, a), = pixels(page, full, [(x + 3, y + 12)])  # just below the label, inside the township
    assert a == 255 and (r, g, b) != (255, 255, 255), (r, g, b)
    assert "示意边界" in page.inner_text("#ov-map") or "示意边界" in page.inner_text(".map-head")
    shot(page, "overview_1920x1080")
    assert not page.errors, page.errors


def test_pages_use_the_partial_plotly_bundle(page, app_url):
    """assets/vendor/plotly: dcc.Graph takes window.Plotly from plotly-wagemap.min.js (the trace types the pages
    draw); the full plotly.min.js is never fetched, and the map and the bar chart are drawn with it."""
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(app_url + "/?ind=arrears&pts=projects,cases,incidents", wait_until="networkidle")
    wait_map(page, "ov-map")
    assert any("/assets/vendor/plotly/plotly-wagemap.min.js?v=" in u for u in urls), urls
    assert not any("plotly.min.js" in u for u in urls), [u for u in urls if "plotly" in u]
    types = page.evaluate("Object.keys(Plotly.PlotSchema.get().traces).sort()")
    assert types == ["bar", "choroplethmap", "scatter", "scattermap"], types
    assert page.evaluate("document.querySelectorAll('#ov-bars .bars .point').length") > 0
    assert non_background_share(page, page.locator("#ov-map").screenshot()) > 0.2, "the map is (nearly) blank"
    assert not page.errors, page.errors


def test_overview_detail_table_mounts_when_opened(page, app_url):
    """The detail grid is not in the first view (no AG Grid bundle loaded); opening the section brings it with rows."""
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(app_url + "/?ind=arrears", wait_until="networkidle")
    wait_map(page, "ov-map")
    assert page.locator("#ov-table").count() == 0
    assert not any("async-community" in u for u in urls), [u for u in urls if "async" in u]
    page.click("#ov-details summary")
    page.wait_for_selector("#ov-table .ag-row", timeout=30000)
    assert page.locator("#ov-table .ag-row").count() > 0
    assert page.locator("#ov-table .ag-cell a").count() > 0  # names link to their pages
    page.click("#ov-details summary")  # closed again: the grid goes
    page.wait_for_selector("#ov-table", state="detached", timeout=30000)
    assert not page.evaluate("document.getElementById('ov-details').open")
    assert not page.errors, page.errors


# Records every Plotly.react of a map graph: (graph id, map zoom, box width, box height) in window.__reacts.
COUNT_REACTS = """(() => { window.__reacts = []; let P;
  Object.defineProperty(window, "Plotly", { configurable: true, get() { return P; }, set(v) {
    P = v; const react = v.react;
    v.react = function (gd, fig, ...rest) {
      const l = fig && fig.layout;
      if (l && l.map) { const r = gd.getBoundingClientRect();
        window.__reacts.push([gd.parentElement && gd.parentElement.id, l.map.zoom, Math.round(r.width), Math.round(r.height)]); }
      return react.call(this, gd, fig, ...rest); }; } }); })();"""


def test_map_drawn_once_at_its_final_size_and_zoom(page, app_url):
    page.add_init_script(COUNT_REACTS)
    page.goto(app_url + "/?ind=arrears&pts=projects,cases,incidents", wait_until="networkidle")
    wait_map(page, "ov-map")
    gd = GD.format(id="ov-map")
    reacts = [r for r in page.evaluate("window.__reacts") if r[0] == "ov-map"]
    box = page.evaluate("(() => { const r = document.querySelector('.map-graph').getBoundingClientRect(); "
                        "return [Math.round(r.width), Math.round(r.height)]; })()")
    assert len(reacts) == 1, reacts  # the map is drawn once ...
    assert reacts[0][2:] == box and page.evaluate(f"{gd}.layout.meta.px") == box  # ... at its final size ...
    assert reacts[0][1] == page.evaluate(f"{gd}._fullLayout.map._subplot.map.getZoom()")  # ... and fitted zoom
    assert page.evaluate(f"{gd}.data[4].lon.length") > 0
    assert not page.errors, page.errors


def test_switcher_changes_the_choropleth(page, app_url, db):
    page.goto(app_url + "/?ind=arrears&pts=none", wait_until="networkidle")
    wait_map(page, "ov-map")
    gd = GD.format(id="ov-map")
    before = page.evaluate(f"() => {{ const d = {gd}.data[0]; return [d.name, d.z, d.colorscale]; }}")
    x, y = to_pixel(page, "ov-map", *township_point(db))
    px_before = pixels(page, page.screenshot(), [(x + 3, y + 12)])[0]
    fitted = page.evaluate(f"() => {gd}._fullLayout.map._subplot.map.getZoom()")
    page.mouse.move(x, y)
    page.mouse.wheel(0, -240)  # the user zooms in on the township
    page.wait_for_timeout(1200)
    zoom = page.evaluate(f"() => {gd}._fullLayout.map._subplot.map.getZoom()")
    assert zoom > fitted + 0.2
    x, y = to_pixel(page, "ov-map", *township_point(db))
    px_before = pixels(page, page.screenshot(), [(x + 3, y + 12)])[0]
    page.locator("#ov-ind label", has_text="实名制登记率").click()
    page.wait_for_function(f"() => {gd}.data[0].name === '实名制登记率'", timeout=20000)
    page.wait_for_timeout(1000)
    assert page.evaluate(f"() => {gd}._fullLayout.map._subplot.map.getZoom()") == pytest.approx(zoom, abs=0.01)  # uirevision
    after = page.evaluate(f"() => {{ const d = {gd}.data[0]; return [d.name, d.z, d.colorscale]; }}")
    assert before[0] == "欠薪金额" and after[0] == "实名制登记率"
    assert (before[1], before[2]) != (after[1], after[2])
    px_after = pixels(page, page.screenshot(), [(x + 3, y + 12)])[0]
    assert px_after != px_before, "the township kept its colour"
    assert query(page.url)["ind"] == "real_name"
    assert page.inner_text("#ov-title") == "实名制登记率"
    shot(page, "overview_switched_real_name")


def test_township_click_opens_its_worklist(page, app_url, db):
    page.goto(app_url + "/?ind=arrears&pts=none", wait_until="networkidle")
    wait_map(page, "ov-map")
    to = query(page.url)["to"]
    x, y = to_pixel(page, "ov-map", *township_point(db))
    page.mouse.click(x + 3, y + 14)
    page.wait_for_url(f"**/township/{TOWN}**", timeout=20000)
    page.wait_for_selector("#tw-worklist .ag-row", timeout=30000)
    listed = set(grid_values(page, "tw-worklist", "项目编号"))
    assert listed == store_gaps(db, TOWN, to)
    assert XSS_CODE in listed
    wait_map(page, "tw-map")
    shot(page, "township_worklist")
    page.go_back()
    page.wait_for_url(lambda u: urlsplit(u).path == "/", timeout=20000)
    wait_map(page, "ov-map")
    assert page.evaluate(f"() => {GD.format(id='ov-map')}.data[0].name") == "欠薪金额"


def test_bar_click_drills_like_the_map(page, app_url):
    page.goto(app_url + "/?ind=arrears", wait_until="networkidle")
    page.locator("#ov-bars .point path").last.wait_for()  # the top bar (the worst township); zero bars are invisible
    top = page.evaluate(f"() => {{ const d = {GD.format(id='ov-bars')}.data[0]; return d.customdata[d.customdata.length - 1]; }}")
    bar = page.locator("#ov-bars .point path").last
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)  # plotly's drag layer takes clicks
    page.wait_for_url(f"**/township/{top}**", timeout=20000)
    page.wait_for_selector("#tw-worklist")
    assert query(page.url)["ind"] == "arrears"
    wait_map(page, "tw-map")  # plotly's toolbar speaks Chinese
    assert page.locator("#tw-map .modebar-btn[data-title='重置视图']").count() == 1


def test_point_click_opens_the_project_and_back_returns(page, app_url):
    page.goto(app_url + "/?ind=real_name&pts=projects", wait_until="networkidle")
    wait_map(page, "ov-map")
    gd = GD.format(id="ov-map")
    # a project point far from its neighbours, so the click cannot land on another one
    lon, lat, link = page.evaluate(f"""() => {{ const t = {gd}.data[3]; let best = 0, bd = -1;
        for (let i = 0; i < t.lon.length; i++) {{ let d = 1e9;
            for (let j = 0; j < t.lon.length; j++) {{
                if (i !== j) d = Math.min(d, Math.hypot(t.lon[i] - t.lon[j], t.lat[i] - t.lat[j])); }}
            if (d > bd) {{ bd = d; best = i; }} }}
        return [t.lon[best], t.lat[best], t.customdata[best]]; }}""")
    x, y = to_pixel(page, "ov-map", lon, lat)
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    page.mouse.click(x, y)
    page.wait_for_url(f"**{link}", timeout=20000)
    page.wait_for_selector("table.checklist")
    assert "长效机制检查清单" in page.inner_text(".pane.main")
    shot(page, "project_page")
    page.go_back()
    page.wait_for_url(lambda u: urlsplit(u).path == "/", timeout=20000)
    wait_map(page, "ov-map")
    assert query(page.url)["ind"] == "real_name"
    assert page.locator("#ov-ind input[value=real_name]").is_checked()


def test_drill_down_and_back_walk_up(page, app_url):
    page.goto(app_url + f"/township/{TOWN}?ind=arrears", wait_until="networkidle")
    page.wait_for_selector("#tw-worklist .ag-row")
    wait_map(page, "tw-map")  # the page has settled (grid columns sized, map fitted)
    page.locator("#tw-worklist a", has_text=XSS).first.click()  # the grid's link cell (text, not HTML)
    page.wait_for_url(f"**/project/{XSS_CODE}", timeout=20000)
    crumbs = page.inner_text(".breadcrumbs")
    assert "全市总览" in crumbs and "超化镇" in crumbs
    page.locator(".breadcrumbs a", has_text="超化镇").click()
    page.wait_for_url(f"**/township/{TOWN}**", timeout=20000)
    page.go_back()
    page.wait_for_url(f"**/project/{XSS_CODE}", timeout=20000)
    page.go_back()
    page.wait_for_url(f"**/township/{TOWN}**", timeout=20000)
    page.wait_for_selector("#tw-worklist .ag-row")


def test_copied_url_reproduces_the_view(page, session, app_url):
    page.goto(app_url + "/?ind=arrears", wait_until="networkidle")
    wait_map(page, "ov-map")
    page.locator("#ov-ind label", has_text="工资专户开设率").click()
    page.locator("#ov-pts label", has_text="欠薪案件").click()  # arrears shows cases and incidents: cases off
    to = pd.Period(query(page.url)["to"], freq="M")
    start = to - 5
    page.locator("#ov-from").click()
    page.get_by_role("option", name=f"{start.year}年{start.month}月", exact=True).click()
    page.wait_for_function(f"() => new URLSearchParams(location.search).get('from') === '{start}'")
    page.wait_for_function("() => new URLSearchParams(location.search).get('pts') === 'incidents'")
    gd = GD.format(id="ov-map")  # the server's patch for the last change has arrived
    page.wait_for_function(f"() => {gd}.data[0].name === '工资专户开设率' && {gd}.data[4].visible === false")
    page.wait_for_load_state("networkidle")
    copied = page.url
    state = page.evaluate(f"""() => {{ const d = {GD.format(id='ov-map')}.data;
        return [d[0].name, d[0].z, d.map(t => t.visible)]; }}""")
    other = session.new_page()
    try:
        other.goto(copied, wait_until="networkidle")
        wait_map(other, "ov-map")
        again = other.evaluate(f"""() => {{ const d = {GD.format(id='ov-map')}.data;
            return [d[0].name, d[0].z, d.map(t => t.visible)]; }}""")
        assert again == state, copied
        assert other.locator("#ov-ind input[value=special_account]").is_checked()
        q = query(copied)
        assert q["ind"] == "special_account" and q["from"] == str(start) and q["pts"] == "incidents"
        assert other.inner_text("#ov-period").startswith(f"{int(q['from'][:4])}年{int(q['from'][5:])}月")
    finally:
        other.close()


def test_html_in_a_name_is_shown_as_text(page, app_url):
    page.goto(app_url + f"/project/{XSS_CODE}", wait_until="networkidle")
    page.wait_for_selector("table.checklist")
    assert page.inner_text("h1.page-title") == XSS
    assert page.locator(".pane img[src=x]").count() == 0
    page.goto(app_url + f"/township/{TOWN}", wait_until="networkidle")
    page.wait_for_selector("#tw-worklist .ag-row")
    assert XSS in page.inner_text("#tw-worklist")
    page.goto(app_url + "/ledgers", wait_until="networkidle")
    page.wait_for_selector("#lg-grid .ag-row")
    page.wait_for_timeout(1000)
    assert page.locator("img[src=x]").count() == 0
    assert page.dialogs == [], page.dialogs


def test_phone_width_and_other_pages(session, app_url):
    phone = session.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                        storage_state=session.storage_state())
    p = phone.new_page()
    try:
        p.goto(app_url + "/", wait_until="networkidle")
        wait_map(p, "ov-map")
        assert not too_wide(p), too_wide(p)
        assert non_background_share(p, p.locator("#ov-map").screenshot()) > 0.2
        shot(p, "overview_390")
        p.goto(app_url + f"/township/{TOWN}", wait_until="networkidle")
        wait_map(p, "tw-map")
        assert not too_wide(p), too_wide(p)
        shot(p, "township_390")
        p.goto(app_url + f"/project/{XSS_CODE}", wait_until="networkidle")
        p.wait_for_selector("table.checklist")
        assert not too_wide(p), too_wide(p)
        shot(p, "project_390")
    finally:
        phone.close()
    page = session.new_page()
    for path, name, sel in (("/ledgers", "ledgers", "#lg-grid .ag-row"), ("/data", "data", "#dt-history .ag-row"),
                            (f"/project/{XSS_CODE}", "project_xss", "table.checklist")):
        page.goto(app_url + path, wait_until="networkidle")
        page.wait_for_selector(sel, timeout=20000)
        shot(page, name)
    page.close()


def test_header_logout(browser, app_url):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    p = ctx.new_page()
    try:
        p.goto(app_url + "/login")
        p.fill("#u", USER)
        p.fill("#p", PASSWORD)
        p.click("button[type=submit]")
        p.wait_for_selector(".app-header .user-box")
        assert USER in p.inner_text(".app-header")
        p.click(".user-box button[type=submit]")
        p.wait_for_url("**/login**")
        p.goto(app_url + "/ledgers")
        assert "/login" in p.url  # the session is gone
    finally:
        ctx.close()
