"""Accounts, password hashing, lockout, demo accounts, the CLI, scope and masking helpers (issue 6)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from dashboard import access, users
from geodata import schema

CH = "410183104000"
QP = "410183001000"
PW = "correct horse battery"


def _audit(store) -> pd.DataFrame:
    return store.read("audit_log")


def _hashes(store) -> list[str]:
    with store.begin() as conn:
        return [r[0] for r in conn.execute(sa.select(schema.users.c.password_hash))]


# ---- accounts -------------------------------------------------------------------------------


def test_password_is_stored_as_argon2_hash(store):
    users.add_user(store, "zhang", "township", "超化镇", PW)
    (h,) = _hashes(store)
    assert h.startswith("$argon2id$")
    assert PW not in h
    acct = users.get_account(store, "zhang")
    assert acct.role == "township" and acct.township_code == CH and acct.townships == (CH,)
    # nothing in the audit log carries the password
    assert not _audit(store).astype(str).apply(lambda c: c.str.contains(PW, regex=False)).any().any()


@pytest.mark.parametrize("name,role,township,password,fragment", [
    ("a", "leader", None, PW, "用户名"),
    ("x y", "leader", None, PW, "用户名"),
    ("li", "boss", None, PW, "角色"),
    ("li", "township", None, PW, "--township"),
    ("li", "township", "不存在镇", PW, "--township"),
    ("li", "leader", CH, PW, "全市"),
    ("li", "leader", None, "short", "至少"),
])
def test_bad_accounts_are_refused_with_a_chinese_message(gpkg_store, name, role, township, password, fragment):
    with pytest.raises(users.UserError) as e:
        users.add_user(gpkg_store, name, role, township, password)
    assert fragment in e.value.user_msg
    assert users.list_accounts(gpkg_store) == []


def test_duplicate_name_refused(gpkg_store):
    users.add_user(gpkg_store, "wang", "leader", None, PW)
    with pytest.raises(users.UserError, match="exists"):
        users.add_user(gpkg_store, "wang", "admin", None, PW)


# ---- login and lockout ----------------------------------------------------------------------


def test_login_ok_and_wrong_password(store):
    users.add_user(store, "zhang", "township", CH, PW)
    ok = users.authenticate(store, "zhang", PW)
    assert ok.ok and ok.account.name == "zhang"
    bad = users.authenticate(store, "zhang", "wrong password")
    assert not bad.ok and bad.reason == "bad_password"
    assert users.get_account(store, "zhang").failed_logins == 1
    unknown = users.authenticate(store, "nobody", PW)
    assert not unknown.ok and unknown.reason == "unknown"
    log = _audit(store)
    assert list(log.loc[log["action"].isin(["login", "login_failed"]), "action"]) == ["login", "login_failed", "login_failed"]
    assert set(log.loc[log["action"] == "login_failed", "detail"]) == {"bad_password", "unknown"}


def test_lockout_after_n_failures_for_m_minutes(store):
    users.add_user(store, "zhang", "leader", None, PW)
    n, minutes = users.lockout_policy()
    t0 = datetime(2024, 5, 1, 9, 0)
    for i in range(n - 1):
        assert users.authenticate(store, "zhang", f"bad{i}xxxx", now=t0).reason == "bad_password"
    assert users.authenticate(store, "zhang", "bad-last", now=t0).reason == "just_locked"
    # the right password is refused while locked
    assert users.authenticate(store, "zhang", PW, now=t0 + timedelta(minutes=minutes - 1)).reason == "locked"
    # and accepted after the lockout
    assert users.authenticate(store, "zhang", PW, now=t0 + timedelta(minutes=minutes, seconds=1)).ok
    assert users.get_account(store, "zhang").failed_logins == 0


def test_disable_and_reset(store):
    users.add_user(store, "zhang", "emergency", None, PW)
    before = users.get_account(store, "zhang").fingerprint
    users.disable_user(store, "zhang")
    assert users.authenticate(store, "zhang", PW).reason == "disabled"
    users.reset_password(store, "zhang", "another long password")
    acct = users.get_account(store, "zhang")
    assert not acct.disabled and acct.fingerprint != before  # open sessions end
    assert not users.authenticate(store, "zhang", PW).ok
    assert users.authenticate(store, "zhang", "another long password").ok
    with pytest.raises(users.UserError):
        users.disable_user(store, "nobody")
    actions = list(_audit(store)["action"])
    assert {"user_add", "user_disable", "user_reset"} <= set(actions)


def test_demo_accounts_one_per_role(store):
    created = users.create_demo_accounts(store)
    assert sorted(r for _, r, _ in created) == sorted(users.ROLES)
    accts = {a.name: a for a in users.list_accounts(store)}
    assert all(a.is_demo for a in accts.values())
    (tw,) = [a for a in accts.values() if a.role == "township"]
    assert tw.township_code == CH
    for name, _, pw in created:
        assert users.authenticate(store, name, pw).ok
    again = users.create_demo_accounts(store)  # new passwords, the old ones stop working
    assert len(users.list_accounts(store)) == len(users.ROLES)
    name, _, old = created[0]
    assert not users.authenticate(store, name, old).ok
    assert users.authenticate(store, name, again[0][2]).ok


def test_read_password_from_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\nignored\n"))
    assert users.read_password() == "a-long-password"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    with pytest.raises(users.UserError):
        users.read_password()


def test_cli_users_add_disable_reset(tmp_path):
    from typer.testing import CliRunner

    from dashboard.cli import app
    from geodata.store import open_store

    db = str(tmp_path / "cli.gpkg")
    r = CliRunner()
    res = r.invoke(app, ["users", "add", "li", "--role", "township", "--township", CH, "--db", db], input=PW + "\n")
    assert res.exit_code == 0, res.output
    assert PW not in res.output
    store = open_store(db)
    assert users.authenticate(store, "li", PW).ok
    assert r.invoke(app, ["users", "disable", "li", "--db", db]).exit_code == 0
    assert users.authenticate(store, "li", PW).reason == "disabled"
    res = r.invoke(app, ["users", "reset", "li", "--db", db], input="new password 123\n")
    assert res.exit_code == 0, res.output
    assert users.authenticate(store, "li", "new password 123").ok
    res = r.invoke(app, ["users", "disable", "ghost", "--db", db])
    assert res.exit_code == 2


# ---- scope, roles and masking helpers --------------------------------------------------------


def test_scope_of_each_role():
    assert access._scope_for(access.User("a", "township", (CH,))) == [CH]
    assert access._scope_for(access.User("a", "township", ())) == []
    assert access._scope_for(access.User("a", "township", ("*",))) == []  # never a wildcard
    for role in ("leader", "emergency", "assessor", "admin"):
        assert access._scope_for(access.User("a", role)) is None
    assert access._scope_for(access.NOBODY) == []


def test_narrow_keeps_only_codes_inside_the_ceiling():
    assert access.narrow(None, None) is None
    assert access.narrow(None, [CH]) == [CH]
    assert access.narrow([CH, QP], [CH]) == [CH]
    assert access.narrow([QP], [CH]) == []
    assert access.narrow(["*"], None) == []  # the RLS wildcard cannot be smuggled in a scope
    assert access.narrow([f"{CH},{QP}"], None) == []


def test_page_matrix_fails_closed():
    assert access.page_roles("dashboard.pages.admin") == {"admin"}
    assert access.page_roles("pages.some_new_page") == {"leader"}
    assert "township" not in access.page_roles("pages.assessment")
    assert access.route_roles("/download/assessment.xlsx") == {"leader", "assessor"}
    assert access.route_roles("/somewhere/else") == {"leader"}


def test_require_outside_and_inside_requests():
    from flask import Flask

    @access.require("admin")
    def admin_only():
        return "ok"

    assert admin_only.required_roles == {"admin"}
    with Flask(__name__).test_request_context("/"):
        with pytest.raises(access.AccessDenied):  # no login manager: nobody
            admin_only()
    with pytest.raises(ValueError):
        access.require("boss")


def test_scrub_masks_id_and_phone_in_free_text():
    s = access.scrub("投诉人 410183199001011234 电话13600001111 单位 91410183MA0000001X 金额 12345")
    assert "410183199001011234" not in s and "13600001111" not in s
    assert "410183********1234" in s and "136****1111" in s
    assert "91410183MA0000001X" in s and "12345" in s


def test_mask_frame_by_role():
    df = pd.DataFrame({"complainant_id": ["410183199001011234"], "complainant_phone": ["13600001111"], "name": ["x"]})
    masked = access.mask_frame(df, "cases", user=access.User("a", "leader"))
    assert "410183199001011234" not in masked.to_string() and "13600001111" not in masked.to_string()
    assert masked.loc[0, "name"] == "x"
    shown = access.mask_frame(df, "cases", user=access.User("a", "emergency"))
    assert shown.loc[0, "complainant_phone"] == "13600001111"


def test_log_records_are_scrubbed():
    import logging

    from dashboard.security import scrub_logs

    scrub_logs()
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    log = logging.getLogger("wagemap.test.scrub")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("GET /download?q=%s&id=%s", "13600001111", "410183199001011234")
        try:
            raise ValueError("bad phone 13712345678")
        except ValueError:
            log.exception("failed for %s", "13800001234")
    finally:
        log.removeHandler(handler)
    text = buf.getvalue()
    for full in ("13600001111", "410183199001011234", "13712345678", "13800001234"):
        assert full not in text
    assert "136****1111" in text and "410183********1234" in text and "ValueError" in text
