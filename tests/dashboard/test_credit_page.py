"""信用 /credit without a browser: the quarter's publication list, the current blacklist, grades by year,
the xlsx export route, roles (leader/assessor/admin; township refused) and scope."""

from __future__ import annotations

import io
import json
import sys

import openpyxl
import pandas as pd
import pytest

from tests.dashboard.conftest import CH, QP, fill
from tests.dashboard.test_pages import PASSWORD, _login, call, render

JIA, YI, BING = "91410183MA0000001X", "91410183MA0000002X", "91410183MA0000003X"
# hand count: 2023Q4 丙 joins; 2024Q2 乙 joins, 丙 leaves; from 2024Q3 乙 stays on the list
CREDIT = [
    dict(credit_code=JIA, year=2023, grade="A", blacklisted=False, township_code=CH),
    dict(credit_code=JIA, year=2024, grade="B", blacklisted=False, township_code=CH),
    dict(credit_code=YI, year=2024, grade="D", blacklisted=True, listed_date="2024-04-10", reason="拒不改正",
         township_code=CH),
    dict(credit_code=BING, year=2023, grade="D", blacklisted=True, listed_date="2023-10-10", delisted_date="2024-05-20",
         reason="=HYPERLINK(\"http://x\",\"y\")", township_code=QP),
]


def _credit_store(path):
    from dashboard.users import add_user
    from geodata.store import open_store

    s = open_store(str(path))
    fill(s)
    with s.begin() as conn:
        bid = s.new_batch(conn, "enterprises", "bing.xlsx", "test")
        s.upsert(conn, "enterprises", pd.DataFrame([dict(credit_code=BING, name="河南丙劳务有限公司", industry="建筑",
                                                         township_code=QP, address="青屏街", lon=113.379, lat=34.541,
                                                         source_row=2)]), bid)
        s.finish_batch(conn, bid, 1, 1, 0)
        bid = s.new_batch(conn, "credit", "credit.xlsx", "test")
        s.upsert(conn, "credit", pd.DataFrame(CREDIT).assign(source_row=range(2, 2 + len(CREDIT))), bid)
        s.finish_batch(conn, bid, len(CREDIT), len(CREDIT), 0)
    for name, role, town in (("leader1", "leader", None), ("assess1", "assessor", None), ("admin1", "admin", None),
                             ("qp1", "township", QP), ("em1", "emergency", None)):
        add_user(s, name, role, town, PASSWORD)
    return s


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from dashboard.app import create_app

    a = create_app(store=_credit_store(tmp_path_factory.mktemp("credit") / "credit.gpkg"))
    a.server.test_client().get("/_dash-dependencies")
    return a


@pytest.fixture(scope="module")
def leader(app):
    return _login(app, "leader1")


def _grid(body: str, grid_id: str) -> list[dict]:
    """rowData of an AG Grid in a rendered layout (JSON text)."""
    def walk(node):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == grid_id:
                return node["props"]["rowData"]
            for v in node.values():
                found = walk(v)
                if found is not None:
                    return found
        elif isinstance(node, list):
            for v in node:
                found = walk(v)
                if found is not None:
                    return found
        return None

    return walk(json.loads(body))


def test_page_shows_the_publication_blacklist_and_grades(app, leader):
    status, body = render(app, leader, "/credit")
    assert status == 200
    pub = _grid(body, "cr-pub-grid")  # default: the latest quarter with a listing or a removal
    assert [(r["类别"], r["统一社会信用代码"]) for r in pub] == [("新列入", YI), ("移出", BING)]
    assert pub[0]["列入日期"] == "2024年4月10日" and pub[0]["link"] == f"/enterprise/{YI}"
    assert "2024年第2季度黑名单公示名单" in body and "/download/credit/publication.xlsx?q=2024Q2" in body
    black = _grid(body, "cr-black-grid")
    assert [r["统一社会信用代码"] for r in black] == [YI] and black[0]["单位名称"] == "河南乙建设有限公司"
    grades = {r["统一社会信用代码"]: r for r in _grid(body, "cr-grades-grid")}
    assert grades[JIA]["2023年度"] == "A" and grades[JIA]["2024年度"] == "B" and grades[BING]["2023年度"] == "D"


def test_quarter_in_the_url_and_the_chooser(app, leader):
    body = render(app, leader, "/credit", "?q=2024Q3")[1]
    assert [(r["类别"], r["统一社会信用代码"]) for r in _grid(body, "cr-pub-grid")] == [("继续公示", YI)]
    assert _grid(render(app, leader, "/credit", "?q=1999Q9")[1], "cr-pub-grid")[0]["统一社会信用代码"] == YI  # bad -> default
    status, out = call(app, leader, ("cr-pub-grid.rowData", "cr-download.href"), [("cr-q", "value", "2023Q4")])
    assert status == 200
    resp = out["response"]
    assert [r["统一社会信用代码"] for r in resp["cr-pub-grid"]["rowData"]] == [BING]
    assert resp["cr-download"]["href"] == "/download/credit/publication.xlsx?q=2023Q4"


def test_publication_export(app, leader):
    r = leader.get("/download/credit/publication.xlsx?q=2024Q2")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(r.data))["黑名单公示"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("季度", "类别", "统一社会信用代码")
    assert [(x[1], x[2]) for x in rows[1:]] == [("新列入", YI), ("移出", BING)]
    assert rows[2][8].startswith("'=")  # a formula-like reason stays text
    assert leader.get("/download/credit/publication.xlsx?q=2024Q5").status_code == 404
    assert leader.get("/download/credit/publication.xlsx").status_code == 404


@pytest.mark.parametrize("user", ["assess1", "admin1"])
def test_assessor_and_admin_may_use_it(app, user):
    c = _login(app, user)
    assert _grid(render(app, c, "/credit", "?q=2024Q2")[1], "cr-pub-grid")
    assert c.get("/download/credit/publication.xlsx?q=2024Q2").status_code == 200


@pytest.mark.parametrize("user", ["qp1", "em1"])
def test_other_roles_are_refused(app, user):
    c = _login(app, user)
    body = render(app, c, "/credit")[1]
    assert "无权访问" in body and _grid(body, "cr-pub-grid") is None
    assert c.get("/download/credit/publication.xlsx?q=2024Q2").status_code == 403
    status, _ = call(app, c, ("cr-pub-grid.rowData", "cr-download.href"), [("cr-q", "value", "2024Q2")])
    assert status == 403


def test_a_township_scope_sees_only_its_employers(app):
    """The page's data follow the scope (were the township role let in, it would see its own employers only)."""
    credit = sys.modules["pages.credit"]  # as Dash loaded it (importing dashboard.pages.credit would register it twice)
    with app.server.app_context():
        assert list(credit.publication([QP], "2024Q2")["统一社会信用代码"]) == [BING]
        assert list(credit.publication([CH], "2024Q2")["统一社会信用代码"]) == [YI]
        assert set(credit.tables([QP])["grades"]["统一社会信用代码"]) == {BING}
