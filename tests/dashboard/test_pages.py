"""Dashboard pages and services without a browser: services against hand counts, page layouts and
callbacks through the real Flask/Dash request path (signed in), downloads, errors, scope."""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest

from tests.dashboard.conftest import CH, FACTS, QP, XSS

PASSWORD = "Test-password-123!"


# ---- fixtures --------------------------------------------------------------------------------


def _make_app(store):
    from dashboard.app import create_app
    from dashboard.users import add_user

    add_user(store, "leader1", "leader", None, PASSWORD)
    add_user(store, "qp1", "township", QP, PASSWORD)
    app = create_app(store=store)
    app.server.test_client().get("/_dash-dependencies")  # Dash takes its page callbacks on the first request
    return app


@pytest.fixture(scope="module")
def ro_app(tmp_path_factory):
    """An app on the small store that no test changes (module-wide: building one takes seconds)."""
    from geodata.store import open_store
    from tests.dashboard.conftest import fill

    s = open_store(str(tmp_path_factory.mktemp("ro") / "ro.gpkg"))
    fill(s)
    return _make_app(s)


@pytest.fixture(scope="module")
def ro_client(ro_app):
    return _login(ro_app)


@pytest.fixture
def app(small_store):
    """An app of its own, for tests that change the store."""
    return _make_app(small_store)


def _login(app, name: str = "leader1"):
    c = app.server.test_client()
    page = c.get("/login").get_data(as_text=True)
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = c.post("/login", data={"csrf_token": tok, "username": name, "password": PASSWORD, "next": "/"})
    assert r.status_code == 302, r.get_data(as_text=True)
    return c


@pytest.fixture
def client(app):
    return _login(app)


def _callback_key(app, *outputs: str) -> str:
    """The app's callback-map key whose outputs include all of `outputs` ('id.prop')."""
    app.server.test_client().get("/_dash-dependencies")  # makes Dash set up its callbacks
    for key in app.callback_map:
        if all(o in key for o in outputs):
            return key
    raise KeyError(outputs)


def _outputs(key: str) -> list[dict]:
    parts = key.strip(".").split("...") if key.startswith("..") else [key]
    out = []
    for p in parts:
        cid, prop = p.rsplit(".", 1)
        out.append({"id": cid, "property": prop.split("@")[0]})
    return out


def call(app, client, outputs: tuple[str, ...], inputs: list[tuple[str, str, object]], state=()):
    """POST /_dash-update-component like the browser does; returns (status, json or text)."""
    key = _callback_key(app, *outputs)
    outs = _outputs(key)
    body = {
        "output": key, "outputs": outs if key.startswith("..") else outs[0],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
    }
    r = client.post("/_dash-update-component", json=body)
    try:
        return r.status_code, r.get_json()
    except Exception:  # noqa: BLE001
        return r.status_code, r.get_data(as_text=True)


def render(app, client, path: str, search: str = "") -> tuple[int, str]:
    """The page router's answer for a URL: the layout JSON as text."""
    status, body = call(app, client, ("_pages_content.children",),
                        [("_pages_location", "pathname", path), ("_pages_location", "search", search)])
    return status, json.dumps(body, ensure_ascii=False)


# ---- services against hand counts --------------------------------------------------------------


def test_services_overview_matches_hand_count(ro_app):
    from dashboard import services

    with ro_app.server.app_context():
        frm, to = services.month_window(None, None, None)
        assert (frm, to) == ("2023-06", "2024-05")  # 12 months up to the latest month with data
        view = services.overview(None, "arrears", frm, to)
        by = {b["code"]: b["value"] for b in view["bars"]}
        assert by[CH] == pytest.approx(36.5)  # C-1 open, C-3 closed
        assert by[QP] == pytest.approx(8.0)
        kpis = {k["key"]: k["value"] for k in view["kpis"]}
        assert kpis["arrears_cases"] == "2件"
        assert kpis["projects_with_gap"] == "2个"
        assert "geojson" not in view["choropleth"]  # geometry travels once, separately
        assert set(view["points"]) == {"projects", "cases", "incidents"}
        assert view["points"]["cases"]["customdata"][0].startswith("/project/")


def test_services_worklist_is_the_projects_lacking_a_mechanism(ro_app):
    from dashboard import services

    with ro_app.server.app_context():
        frm, to = services.month_window(None, None, None)
        view = services.township_view(None, CH, frm, to)
        assert {r["project_code"] for r in view["worklist"]} == FACTS["gaps_ch"]
        row = next(r for r in view["worklist"] if r["project_code"] == "P-CH-2")
        assert set(row["missing_zh"].split("、")) == {"工资专户", "工资保证金", "银行代发", "维权公示牌"}
        assert row["contact_phone"] == "138****1234"  # masked by default
        assert [c["案件编号"] for c in view["cases"]] == ["C-1"]


def test_services_scope_hides_other_townships(ro_app):
    from dashboard import services

    with ro_app.server.app_context():
        frm, to = services.month_window([QP], None, None)
        assert services.township_view([QP], CH, frm, to) is None
        assert services.project_view([QP], "P-CH-2") is None
        assert services.project_view([QP], "P-QP-1") is not None
        view = services.overview([QP], "arrears", frm, to)
        assert {b["code"] for b in view["bars"]} == {QP}


def test_services_cache_follows_the_data_version(app, small_store):
    from dashboard import services

    with app.server.app_context():
        frm, to = services.month_window(None, None, None)
        before = services.overview(None, "arrears_cases", frm, to)
        assert services.overview(None, "arrears_cases", frm, to) is before  # cached
        with small_store.begin() as conn:
            bid = small_store.new_batch(conn, "cases", "more.xlsx", "test")
            small_store.upsert(conn, "cases", pd.DataFrame([dict(
                case_no="C-4", received_date="2024-05-20", township_code=QP, workers=2, amount=1.0, status="受理",
                lon=113.38, lat=34.54, source_row=2)]), bid)
            small_store.finish_batch(conn, bid, 1, 1, 0)
    with app.server.test_request_context("/"):
        after = services.overview(None, "arrears_cases", frm, to)
        assert {b["code"]: b["value"] for b in after["bars"]}[QP] == 2


def test_project_checklist_has_evidence_and_provenance(ro_app):
    from dashboard import services

    with ro_app.server.app_context():
        view = services.project_view(None, "P-CH-3", "2024-05")
        items = {c["key"]: c for c in view["checklist"]}
        assert items["filing"]["state"] == "缺失"  # filed 2024-05-01, start 2024-01-01
        assert "备案2024年5月1日" in items["filing"]["evidence"]
        assert items["deposit"]["state"] == "缺失" and items["deposit"]["source"] == "无保证金记录"
        assert items["real_name"]["state"] == "达标"
        assert "compliance.xlsx" in items["real_name"]["source"] and "批次" in items["real_name"]["source"]
        assert "projects.xlsx 第4行" in view["provenance"]


def test_views_on_both_backends(store):
    """The same hand counts on PostGIS and GeoPackage, through a signed-in page render."""
    from tests.dashboard.conftest import fill

    fill(store)
    app = _make_app(store)
    from dashboard import services

    with app.server.app_context():
        view = services.overview(None, "arrears", "2023-06", "2024-05")
        assert {b["code"]: b["value"] for b in view["bars"]}[CH] == pytest.approx(36.5)
        assert {r["project_code"] for r in services.township_view(None, CH, "2023-06", "2024-05")["worklist"]} \
            == FACTS["gaps_ch"]
    client = _login(app)
    status, text = render(app, client, f"/township/{CH}", "?from=2023-06&to=2024-05")
    assert status == 200 and "P-CH-3" in text and "页面出错了" not in text
    qp = _login(app, "qp1")
    assert "未找到乡镇" in render(app, qp, f"/township/{CH}")[1]


# ---- pages through the router ---------------------------------------------------------------------


@pytest.mark.parametrize("path,search,expect", [
    ("/", "?ind=real_name", ["实名制登记率", "示意边界", "关键指标", "各乡镇排名"]),
    (f"/township/{CH}", "", ["超化镇", "机制缺失工作清单", "P-CH-2", "P-CH-3", "在办欠薪案件"]),
    ("/project/P-CH-2", "", ["长效机制检查清单", "工资专户", "projects.xlsx", "定位方式"]),
    ("/enterprise/91410183MA0000001X", "", ["河南甲建设有限公司", "承建项目", "P-CH-3"]),
    ("/ledgers", "?name=欠薪举报投诉台账", ["欠薪举报投诉台账", "C-1", "136****1111"]),
    ("/data", "", ["载入记录", "被拒绝的行", "受理日期 无法识别"]),
])
def test_pages_render(ro_app, ro_client, path, search, expect):
    status, text = render(ro_app, ro_client, path, search)
    assert status == 200
    for e in expect:
        assert e in text, e
    assert "页面出错了" not in text and "Traceback" not in text


def test_user_text_is_never_html(ro_app, ro_client):
    status, text = render(ro_app, ro_client, "/project/P-CH-2")
    assert XSS in text  # present as a plain string (React renders it as text)
    assert "dangerously" not in text.lower()
    status, text = render(ro_app, ro_client, f"/township/{CH}")
    assert XSS in text and "dangerously" not in text.lower()


def test_overview_map_geometry_once_then_values_only(ro_app, ro_client):
    status, first = render(ro_app, ro_client, "/", "?ind=arrears")
    assert '"geojson"' in first
    status, body = call(ro_app, ro_client, ("ov-map.figure", "ov-kpis.children"),
                        [("ov-ind", "value", "real_name"), ("ov-from", "value", "2023-06"), ("ov-to", "value", "2024-05"),
                         ("ov-pts", "value", ["projects", "cases"])], state=[("ov-map-drawn", "data", None)])
    assert status == 200
    text = json.dumps(body, ensure_ascii=False)
    assert "geojson" not in text  # a Patch of values, never the geometry again
    fig = body["response"]["ov-map"]["figure"]
    assert fig["__dash_patch_update"] == "__dash_patch_update"
    ops = {tuple(o["location"]): o["params"]["value"] for o in fig["operations"]}
    assert ops[("data", 0, "name")] == "实名制登记率"
    assert ops[("data", 5)]["visible"] is False  # incidents switched off
    assert ops[("data", 1)]["uid"] == "extra"  # coverage has no extra trace: the empty placeholder
    assert "实名制登记率" in json.dumps(body["response"]["ov-title"], ensure_ascii=False)
    drawn = body["response"]["ov-map-drawn"]["data"]
    # the next switch, to another coverage layer: the cases and incidents the browser has are not sent again
    status, body = call(ro_app, ro_client, ("ov-map.figure", "ov-kpis.children"),
                        [("ov-ind", "value", "card"), ("ov-from", "value", "2023-06"), ("ov-to", "value", "2024-05"),
                         ("ov-pts", "value", ["projects", "cases"])], state=[("ov-map-drawn", "data", drawn)])
    ops = {tuple(o["location"]): o["params"]["value"] for o in body["response"]["ov-map"]["figure"]["operations"]}
    assert ("data", 4) not in ops and ops[("data", 4, "visible")] is True  # cases: only their visibility
    assert ("data", 5) not in ops and ops[("data", 5, "visible")] is False
    assert ("data", 3) in ops and ops[("data", 0, "name")] != "实名制登记率"  # project points and values: the new layer's
    assert "一卡通" in json.dumps(body["response"]["ov-title"], ensure_ascii=False)


def test_overview_table_is_sent_only_when_opened(ro_app, ro_client):
    status, first = render(ro_app, ro_client, "/", "?ind=arrears")
    assert '"ov-table-box"' in first and '"ov-table"' not in first and '"rowData"' not in first  # no grid, no rows
    args = [("ov-ind", "value", "arrears"), ("ov-from", "value", "2023-06"), ("ov-to", "value", "2024-05")]
    status, body = call(ro_app, ro_client, ("ov-table-box.children",), [("ov-details", "open", True), *args])
    grid = body["response"]["ov-table-box"]["children"]
    assert grid["type"] == "AgGrid" and grid["props"]["id"] == "ov-table"
    rows = grid["props"]["rowData"]
    assert {r["案件编号"] for r in rows} == {"C-1", "C-2", "C-3"} and rows[0]["link"].startswith("/project/")
    assert len([d for d in grid["props"]["columnDefs"] if d.get("cellRenderer") == "WagemapLink"]) == 1  # the link column
    status, body = call(ro_app, ro_client, ("ov-table-box.children",), [("ov-details", "open", False), *args])
    assert body["response"]["ov-table-box"]["children"] == []


@pytest.mark.parametrize("key", ["warnings", "risk_heat", "incidents", "assessment", "funds", "credit"])
def test_every_registry_layer_renders(ro_app, ro_client, key):
    from layers import registry

    assert key in registry.LAYERS
    status, text = render(ro_app, ro_client, "/", f"?ind={key}")
    assert status == 200 and "页面出错了" not in text and registry.LAYERS[key].title in text
    status, text = render(ro_app, ro_client, f"/township/{CH}", f"?ind={key}")
    assert status == 200 and "页面出错了" not in text


def test_unknown_township_and_project_say_not_found(ro_app, ro_client):
    assert "未找到乡镇" in render(ro_app, ro_client, "/township/999999999999")[1]
    assert "未找到项目" in render(ro_app, ro_client, "/project/NOPE")[1]


def test_empty_store_shows_how_to_load(tmp_path):
    from dashboard.app import create_app
    from dashboard.users import add_user
    from geodata.store import open_store

    s = open_store(str(tmp_path / "empty.gpkg"))
    add_user(s, "leader1", "leader", None, PASSWORD)
    app = create_app(store=s)
    app.server.test_client().get("/_dash-dependencies")
    text = render(app, _login(app), "/")[1]
    assert "还没有数据" in text and "wagemap demo" in text and "wagemap etl load" in text


def test_callback_error_is_one_chinese_message(ro_app, ro_client, monkeypatch):
    from dashboard import services

    def boom(*a, **k):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(services, "overview_head", boom)  # what the indicator switch reads
    status, body = call(ro_app, ro_client, ("ov-map.figure", "ov-kpis.children"),
                        [("ov-ind", "value", "arrears"), ("ov-from", "value", "2023-06"), ("ov-to", "value", "2024-05"),
                         ("ov-pts", "value", [])], state=[("ov-map-drawn", "data", None)])
    assert status == 200
    text = json.dumps(body, ensure_ascii=False)
    assert "数据暂时无法显示" in text and "错误编号" in text
    assert "secret internal detail" not in text and "Traceback" not in text
    assert body["sideUpdate"]["global-error"]["hidden"] is False


def test_layout_error_renders_a_notice(ro_app, ro_client, monkeypatch):
    from dashboard import services

    monkeypatch.setattr(services, "township_view", lambda *a, **k: 1 / 0)
    text = render(ro_app, ro_client, f"/township/{CH}")[1]
    assert "页面出错了" in text and "ZeroDivision" not in text


# ---- downloads -------------------------------------------------------------------------------------


def _xlsx(resp) -> dict[str, pd.DataFrame]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return pd.read_excel(io.BytesIO(resp.data), sheet_name=None, dtype=str)


def test_worklist_export_lists_the_gaps(ro_client):
    sheets = _xlsx(ro_client.get(f"/download/worklist/{CH}.xlsx?from=2023-06&to=2024-05"))
    df = next(iter(sheets.values()))
    assert set(df["项目编号"]) == FACTS["gaps_ch"]
    assert XSS in set(df["项目名称"])  # kept as text in the cell
    assert all("****" in p for p in df["联系电话"].dropna())


def test_ledger_export_masks_and_neutralises(app, client, small_store):
    with small_store.begin() as conn:
        bid = small_store.new_batch(conn, "cases", "formula.xlsx", "test")
        small_store.upsert(conn, "cases", pd.DataFrame([dict(
            case_no="C-5", received_date="2024-05-21", source="12345", township_code=QP, workers=1, amount=1.0,
            status="受理", description='=HYPERLINK("http://evil","x")', complainant_phone="13600002222", source_row=2)]), bid)
        small_store.finish_batch(conn, bid, 1, 1, 0)
    sheets = _xlsx(client.get("/download/ledgers.xlsx?name=欠薪举报投诉台账&from=2023-06&to=2024-05"))
    df = sheets["欠薪举报投诉台账"]
    row = df[df["案件编号"] == "C-5"].iloc[0]
    assert row["案情简介"].startswith("'=")
    assert row["投诉人电话"] == "136****2222"
    all_four = _xlsx(client.get("/download/ledgers.xlsx?from=2023-06&to=2024-05"))
    assert list(all_four) == ["建设工程项目台账", "欠薪问题排查台账", "欠薪举报投诉台账", "欠薪案件办理台账"]


def test_rejected_rows_download(ro_client):
    sheets = _xlsx(ro_client.get("/download/rejected.xlsx?batch=5"))
    df = next(iter(sheets.values()))
    assert list(df["源文件行号"]) == ["9"] and "无法识别" in df["拒绝原因"].iloc[0]
    csv = ro_client.get("/download/rejected.csv")
    assert csv.status_code == 200 and csv.data.startswith("\ufeff".encode())  # BOM: Excel reads the Chinese
    assert "受理日期 无法识别" in csv.data.decode("utf-8-sig")


def test_township_user_sees_only_their_territory(ro_app):
    c = _login(ro_app, "qp1")
    assert "未找到乡镇" in render(ro_app, c, f"/township/{CH}")[1]
    assert c.get(f"/download/worklist/{CH}.xlsx").status_code == 404
    assert c.get(f"/download/worklist/{QP}.xlsx").status_code == 200
    text = render(ro_app, c, "/", "?ind=arrears")[1]
    assert QP in text and CH not in text and "超化" not in text  # neither bars, geometry, labels nor points
