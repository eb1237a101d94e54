"""Browser tests of 考核 /assessment and 预警 /warnings in headless Chromium against the real app on demo data.

考核: the score map draws (its canvas is not blank) and clicking a township shows its breakdown,
the same indicators and points as layers.assessment computes from the store. 预警: choosing a
township, a rule and the severities changes the list, and the rows are exactly
layers.rules.filter_warnings of the layer's own warnings; the filters are in the URL.
Screenshots go to tests/artifacts/. Fails (not skips) under CI=true without Chromium
(tests/conftest.py: chromium_path).
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.dashboard.conftest import load_small_demo, signed_in_context

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
USER, PASSWORD = "leader_as", "Assess-browser-123!"
GD = "document.querySelector('#{id} .js-plotly-plot')"


# ---- the app on demo data ------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """The small demo through the real ETL, and one leader account."""
    from dashboard.users import add_user
    from geodata.store import open_store

    path = tmp_path_factory.mktemp("assess") / "demo.gpkg"
    store = open_store(str(path))
    load_small_demo(store, path.parent / "demo")
    add_user(store, USER, "leader", None, PASSWORD)
    return path


@pytest.fixture(scope="module")
def session(browser, app_url):
    """A browser context signed in through the real /login form."""
    ctx = signed_in_context(browser, app_url, USER, PASSWORD)
    yield ctx
    ctx.close()


@pytest.fixture
def page(session):
    p = session.new_page()
    p.errors = []
    p.on("pageerror", lambda e: p.errors.append(str(e)))
    yield p
    p.close()


@pytest.fixture(scope="module")
def data(db):
    """What the store holds, read the way the dashboard's services read it (all townships)."""
    from dashboard.services import DATA_KINDS
    from geodata.store import open_store
    from layers.base import LayerData

    s = open_store(str(db))
    return LayerData(townships=s.townships(), **{k: s.read(k) for k in DATA_KINDS})


# ---- helpers ------------------------------------------------------------------------------


def shot(page, name: str, full: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    return path


def wait_map(page, graph_id: str) -> None:
    """Until the MapLibre map of a plotly graph has loaded its style and painted."""
    page.wait_for_selector(f"#{graph_id} canvas", state="attached", timeout=30000)
    page.wait_for_function(
        f"""() => {{ const gd = {GD.format(id=graph_id)};
            const m = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot
                      && gd._fullLayout.map._subplot.map;
            return !!(m && m.loaded() && m.isStyleLoaded()); }}""", timeout=30000)
    page.wait_for_timeout(1000)


def to_pixel(page, graph_id: str, lon: float, lat: float) -> tuple[float, float]:
    """Page coordinates of a lon/lat on a plotly map (MapLibre's own projection)."""
    return tuple(page.evaluate(
        f"""([lon, lat]) => {{ const gd = {GD.format(id=graph_id)};
            const m = gd._fullLayout.map._subplot.map; const p = m.project([lon, lat]);
            const r = m.getCanvas().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }}""", [lon, lat]))


def _decode(page, png: bytes, script: str, arg=None):
    """Run `script(imageData, arg)` on a PNG decoded by the browser in a blank page."""
    blank = page.context.new_page()
    try:
        return blank.evaluate(
            f"""async ([b64, arg]) => {{ const img = new Image(); img.src = "data:image/png;base64," + b64;
                await img.decode(); const c = document.createElement("canvas"); c.width = img.width;
                c.height = img.height; const g = c.getContext("2d"); g.drawImage(img, 0, 0);
                const d = g.getImageData(0, 0, c.width, c.height); return ({script})(d, arg); }}""",
            [base64.b64encode(png).decode(), arg])
    finally:
        blank.close()


def non_background_share(page, png: bytes) -> float:
    """Share of pixels that are not the white background."""
    return _decode(page, png, """(d) => { let n = 0; const a = d.data;
        for (let i = 0; i < a.length; i += 4) { if (a[i] < 250 || a[i + 1] < 250 || a[i + 2] < 250) n++; }
        return n / (a.length / 4); }""")


def pixel(page, png: bytes, x: float, y: float) -> list[int]:
    return _decode(page, png, """(d, [x, y]) => { const i = (Math.round(y) * d.width + Math.round(x)) * 4;
        return Array.from(d.data.slice(i, i + 4)); }""", [x, y])


def grid_rows(page, grid_id: str, fields: list[str]) -> list[tuple]:
    """Every row of an AG Grid (all pages), as tuples of `fields`."""
    page.wait_for_function(f"() => window.dash_ag_grid && window.dash_ag_grid.getApi('{grid_id}')", timeout=20000)
    return [tuple(r) for r in page.evaluate(
        f"""(fields) => {{ const out = [];
            window.dash_ag_grid.getApi('{grid_id}').forEachNode(n => out.push(fields.map(f => n.data[f])));
            return out; }}""", fields)]


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def pick(page, dropdown_id: str, value: str) -> None:
    """Choose an option of a dcc.Dropdown (Dash 4: a popover list of labelled inputs)."""
    page.click(f"#{dropdown_id}")
    page.locator(f'.dash-dropdown-options label:has(input[value="{value}"])').click()
    page.keyboard.press("Escape")


# ---- 考核 ------------------------------------------------------------------------------------------


def test_assessment_map_draws_and_a_click_shows_the_breakdown(page, app_url, data):
    from layers.assessment import assess, township_breakdown

    page.goto(app_url + "/assessment", wait_until="networkidle")
    wait_map(page, "as-map")
    year = int(re.match(r"(\d{4})年度", page.inner_text("#as-map-title, .map-title")).group(1))
    assert non_background_share(page, page.locator("#as-map").screenshot()) > 0.15, "the score map is (nearly) blank"
    assert "点击地图或排名中的乡镇" in page.inner_text("#as-breakdown")

    # the largest township, clicked well inside its boundary
    t = data.townships.to_crs(4547)
    big = t.loc[t.geometry.area.idxmax()]
    inside = data.townships.loc[big.name].geometry.representative_point()
    x, y = to_pixel(page, "as-map", inside.x, inside.y)
    r, g, b, a = pixel(page, page.screenshot(), x, y)
    assert a == 255 and (r, g, b) != (255, 255, 255), "no colour where the township is"
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    page.mouse.click(x, y)
    page.wait_for_selector("#as-breakdown-grid .ag-row", timeout=30000)
    page.wait_for_function(f"() => location.search.includes('t={big['code']}')", timeout=10000)

    res = assess(data, year)
    want = township_breakdown(res, big["code"])
    shown = grid_rows(page, "as-breakdown-grid", ["指标", "得分", "计入总分"])
    assert [s[0] for s in shown] == list(want["指标"])
    assert [s[2] for s in shown] == pytest.approx([None if v != v else v for v in want["计入总分"]], abs=0.01)
    head = page.inner_text("#as-breakdown .kpis")
    total = res.scores.set_index("code").loc[big["code"], "total"]
    assert big["name"] in head and f"{total:.1f}分" in head
    assert query(page.url)["t"] == big["code"]
    assert f"{year}年度 · 实名制覆盖率 · {big['name']}" in page.inner_text("#as-evidence-title")
    page.locator("#as-breakdown").scroll_into_view_if_needed()
    shot(page, "assessment_breakdown")
    assert not page.errors, page.errors


# ---- 预警 ------------------------------------------------------------------------------------------


def _month(page) -> str:
    y, m = re.search(r"(\d{4})年(\d{1,2})月", page.inner_text("#wn-month")).groups()
    return f"{int(y):04d}-{int(m):02d}"


def _expected(w, town=None, rules=None, sevs=None) -> Counter:
    from layers.rules import SEVERITY_ZH, filter_warnings

    f = filter_warnings(w, town, rules, sevs)
    return Counter(zip(f["entity_id"], f["rule_zh"], f["severity"].map(SEVERITY_ZH), strict=True))


def _shown(page, n_before: int | None = None) -> Counter:
    """The list's rows once the count has settled (after a filter changed it)."""
    if n_before is not None:
        page.wait_for_function(f"() => !document.querySelector('#wn-count').innerText.includes('（{n_before}条）')",
                               timeout=30000)
    page.wait_for_timeout(500)
    return Counter(grid_rows(page, "wn-grid", ["编号", "规则", "等级"]))


def test_warnings_filters_match_the_layer(page, app_url, data):
    from layers.base import Filters
    from layers.rules import warnings

    page.goto(app_url + "/warnings", wait_until="networkidle")
    page.wait_for_selector("#wn-grid .ag-row", timeout=30000)
    w = warnings(data, Filters(month_to=_month(page)))
    assert _shown(page) == _expected(w) and f"（{len(w)}条）" in page.inner_text("#wn-count")

    # the township with most warnings; there, the rule with most severities (then most rows)
    town = w["township_code"].value_counts().idxmax()
    there = w[w["township_code"] == town]
    per_rule = there.groupby("rule")["severity"].agg(["nunique", "size"]).sort_values(["nunique", "size"])
    rule = per_rule.index[-1]
    sevs = there.loc[there["rule"] == rule, "severity"].value_counts()
    assert len(there) < len(w) and sevs.sum() < len(there) and len(sevs) >= 2, "demo data too thin for this test"

    pick(page, "wn-town", town)
    by_town = _shown(page, len(w))
    assert by_town == _expected(w, town) and sum(by_town.values()) == len(there)
    names = {data.townships.set_index("code").loc[town, "name"]}
    assert set(grid_rows(page, "wn-grid", ["乡镇"])) == {(n,) for n in names}

    pick(page, "wn-rule", rule)
    by_rule = _shown(page, len(there))
    assert by_rule == _expected(w, town, [rule]) and sum(by_rule.values()) == sevs.sum()

    drop = sevs.index[-1]  # the severity with fewest rows of that rule there
    page.locator("#wn-sev label", has=page.locator(f'input[value="{drop}"]')).click()
    keep = [s for s in ("red", "orange", "yellow") if s != drop]
    by_sev = _shown(page, int(sevs.sum()))
    assert by_sev == _expected(w, town, [rule], keep) and sum(by_sev.values()) == sevs.sum() - sevs[drop] > 0

    q = query(page.url)
    assert (q["t"], q["rule"], set(q["sev"].split(","))) == (town, rule, set(keep))
    shot(page, "warnings_filtered")
    page.reload(wait_until="networkidle")  # the URL alone reproduces the filtered list
    page.wait_for_selector("#wn-grid .ag-row", timeout=30000)
    assert _shown(page) == by_sev
    assert not page.errors, page.errors
