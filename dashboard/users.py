"""Dashboard accounts: argon2-hashed passwords, roles, lockout, demo accounts (issue 6).

    add_user(store, "zhang", "township", "410183104000", password)
    disable_user(store, "zhang"); reset_password(store, "zhang", new_password)
    outcome = authenticate(store, "zhang", password)   # counts failures, locks after N
    create_demo_accounts(store) -> [(name, role, password), ...]   # `wagemap demo --load` only

Passwords are never logged or audited; only argon2id hashes reach the store. The functions
take the store, so the CLI, the login page and tests share one implementation.
"""

from __future__ import annotations

import getpass
import hashlib
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from geodata import schema
from geodata.settings import get_settings
from geodata.townships import BY_CODE, to_code

ROLES = ("leader", "township", "emergency", "assessor", "admin")
ROLE_ZH = {"leader": "领导小组", "township": "乡镇（街道）", "emergency": "应急处置", "assessor": "考核", "admin": "数据管理"}
DEMO_TOWNSHIP = "410183104000"  # 超化镇: the township of the demo township account
MIN_PASSWORD = 8
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,32}$")

_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)
# verified against when the user does not exist, so a wrong name costs as long as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class UserError(Exception):
    """A bad account operation; `user_msg` is the Chinese line shown to the operator."""

    def __init__(self, msg: str, user_msg: str | None = None):
        super().__init__(msg)
        self.user_msg = user_msg or msg


@dataclass(frozen=True)
class Account:
    """A users row without the hash (what the session and the admin page need)."""

    id: int
    name: str
    role: str
    township_code: str | None
    disabled: bool
    is_demo: bool
    failed_logins: int
    locked_until: datetime | None
    fingerprint: str  # changes when the password changes: a reset ends every open session

    @property
    def townships(self) -> tuple[str, ...]:
        return (self.township_code,) if self.township_code else ()


@dataclass(frozen=True)
class LoginOutcome:
    """Result of `authenticate`: ok with the account, or a reason (never shown verbatim to the user)."""

    ok: bool
    account: Account | None = None
    reason: str = ""  # "" | unknown | bad_password | locked | disabled | just_locked


# ---- policy ---------------------------------------------------------------------------------


def lockout_policy() -> tuple[int, int]:
    """(failures before lockout, lockout minutes) from settings, defaults 5 and 15."""
    s = get_settings()
    return int(getattr(s, "login_max_failures", 5)), int(getattr(s, "login_lockout_minutes", 15))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not _NAME_RE.match(name):
        raise UserError(f"bad user name {name!r}", f"用户名 {name!r} 无效：须为 2-32 个字母、数字、汉字或 _ . -")
    return name


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise UserError("password too short", f"密码至少 {MIN_PASSWORD} 个字符")
    if len(password) > 256:
        raise UserError("password too long", "密码不能超过 256 个字符")


def _check_role(role: str, township: str | None) -> str | None:
    if role not in ROLES:
        raise UserError(f"bad role {role!r}", f"角色 {role!r} 无效；可用：{'|'.join(ROLES)}")
    if role != "township":
        if township:
            raise UserError("township given for a citywide role", f"角色 {role} 为全市范围，不能指定 --township")
        return None
    code = to_code(township) if township else None
    if code is None or code not in BY_CODE:
        raise UserError(f"bad township {township!r}",
                        f"township 角色须用 --township 指定乡镇（12位代码或名称），收到 {township!r}")
    return code


# ---- reads ----------------------------------------------------------------------------------


def _account(row: sa.Row) -> Account:
    m = row._mapping
    return Account(id=int(m["id"]), name=m["name"], role=m["role"], township_code=m["township_code"],
                   disabled=bool(m["disabled"]), is_demo=bool(m["is_demo"]), failed_logins=int(m["failed_logins"] or 0),
                   locked_until=m["locked_until"], fingerprint=_fingerprint(m["password_hash"]))


def get_account(store, name: str | None = None, user_id: int | None = None) -> Account | None:
    """One account by name or id (None when absent)."""
    u = schema.users
    q = sa.select(u)
    q = q.where(u.c.id == int(user_id)) if user_id is not None else q.where(u.c.name == (name or ""))
    with store.begin() as conn:
        row = conn.execute(q).first()
    return _account(row) if row is not None else None


def list_accounts(store) -> list[Account]:
    with store.begin() as conn:
        rows = conn.execute(sa.select(schema.users).order_by(schema.users.c.name)).all()
    return [_account(r) for r in rows]


# ---- changes --------------------------------------------------------------------------------


def add_user(store, name: str, role: str, township: str | None, password: str, *, is_demo: bool = False,
             actor: str = "cli") -> Account:
    """Create an account; raises UserError (Chinese user_msg) on a bad name/role/township/password or a duplicate."""
    name = _check_name(name)
    code = _check_role(role, township)
    _check_password(password)
    u = schema.users
    with store.begin() as conn:
        if conn.execute(sa.select(u.c.id).where(u.c.name == name)).first() is not None:
            raise UserError(f"user {name} exists", f"用户 {name} 已存在；改密码用 wagemap users reset {name}")
        conn.execute(u.insert().values(name=name, role=role, township_code=code, password_hash=hash_password(password),
                                       disabled=False, failed_logins=0, locked_until=None, is_demo=is_demo,
                                       created_at=datetime.now()))
        store.audit(actor, "user_add", name, f"role={role} township={code or ''}", conn=conn)
    return get_account(store, name)  # type: ignore[return-value]


def disable_user(store, name: str, actor: str = "cli") -> None:
    """Disable an account: it can no longer log in and its open sessions end at their next request."""
    _update(store, name, {"disabled": True}, "user_disable", actor)


def enable_user(store, name: str, actor: str = "cli") -> None:
    _update(store, name, {"disabled": False, "failed_logins": 0, "locked_until": None}, "user_enable", actor)


def reset_password(store, name: str, password: str, actor: str = "cli") -> None:
    """Set a new password, clear lockout and re-enable; open sessions of the account end."""
    _check_password(password)
    _update(store, name, {"password_hash": hash_password(password), "failed_logins": 0, "locked_until": None,
                          "disabled": False}, "user_reset", actor)


def _update(store, name: str, values: dict, action: str, actor: str) -> None:
    u = schema.users
    with store.begin() as conn:
        n = conn.execute(u.update().where(u.c.name == name).values(**values)).rowcount
        if not n:
            raise UserError(f"no user {name}", f"用户 {name!r} 不存在")
        store.audit(actor, action, name, "", conn=conn)


# ---- login ----------------------------------------------------------------------------------


def authenticate(store, name: str, password: str, now: datetime | None = None) -> LoginOutcome:
    """Check a login; count failures and lock the account for M minutes after N in a row.

    A locked or disabled account is refused even with the right password. Audits
    `login` / `login_failed` (detail = reason, never the password).
    """
    now = now or datetime.now()
    max_fail, minutes = lockout_policy()
    name = (name or "").strip()[:64]
    u = schema.users
    with store.begin() as conn:
        row = conn.execute(sa.select(u).where(u.c.name == name).with_for_update()).first() if name else None
        if row is None:
            _verify(_DUMMY_HASH, password)
            store.audit(name or "-", "login_failed", name, "unknown", conn=conn)
            return LoginOutcome(False, reason="unknown")
        acct = _account(row)
        if acct.disabled:
            store.audit(name, "login_failed", name, "disabled", conn=conn)
            return LoginOutcome(False, acct, "disabled")
        if acct.locked_until is not None and acct.locked_until > now:
            store.audit(name, "login_failed", name, "locked", conn=conn)
            return LoginOutcome(False, acct, "locked")
        if not _verify(row._mapping["password_hash"], password):
            failures = acct.failed_logins + 1
            values: dict = {"failed_logins": failures}
            reason = "bad_password"
            if failures >= max_fail:
                values = {"failed_logins": 0, "locked_until": now + timedelta(minutes=minutes)}
                reason = "just_locked"
            conn.execute(u.update().where(u.c.id == acct.id).values(**values))
            store.audit(name, "login_failed", name, reason, conn=conn)
            return LoginOutcome(False, acct, reason)
        values = {"failed_logins": 0, "locked_until": None}
        if _hasher.check_needs_rehash(row._mapping["password_hash"]):
            values["password_hash"] = hash_password(password)
        conn.execute(u.update().where(u.c.id == acct.id).values(**values))
        store.audit(name, "login", name, acct.role, conn=conn)
    return LoginOutcome(True, get_account(store, user_id=acct.id))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# ---- CLI and demo ---------------------------------------------------------------------------


def read_password(confirm: bool = True) -> str:
    """The password from a prompt (asked twice) on a terminal, else the first line of stdin.

    Never from the command line, so it does not end up in shell history or `ps`.
    """
    if sys.stdin.isatty():
        pw = getpass.getpass("密码：")
        if confirm and getpass.getpass("再次输入密码：") != pw:
            raise UserError("passwords differ", "两次输入的密码不一致")
    else:
        pw = sys.stdin.readline().rstrip("\r\n")
    _check_password(pw)
    return pw


DEMO_ACCOUNTS = (
    ("demo_leader", "leader", None),
    ("demo_township", "township", DEMO_TOWNSHIP),
    ("demo_emergency", "emergency", None),
    ("demo_assessor", "assessor", None),
    ("demo_admin", "admin", None),
)


def create_demo_accounts(store) -> list[tuple[str, str, str]]:
    """One demo account per role (the township one for 超化镇) with fresh random passwords.

    Only `wagemap demo --load` calls this, so demo accounts exist only in demo stores. Run
    again, it resets the demo passwords (hashes cannot be read back) and returns the new ones.
    """
    out = []
    for name, role, township in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(9)  # 12 chars, ~72 bits
        if get_account(store, name) is None:
            add_user(store, name, role, township, password, is_demo=True, actor="demo")
        else:
            reset_password(store, name, password, actor="demo")
        out.append((name, role, password))
    return out
