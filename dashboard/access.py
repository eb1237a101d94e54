"""Who is asking and what they may see: roles, the page/route matrix, scope, masking, audit.

Every page layout, callback and download gets its scope from `current_scope()` and passes it to
`dashboard.services`; nothing is filtered in the browser. The matrices below are the one place
that says which role reaches which page and which download; dashboard/auth.py enforces them on
every request (pages, `/_dash-update-component`, downloads), so a page that forgets to check is
still covered. On PostGIS the database scope is set separately from the logged-in user
(`bind_store`): even a query built with the wrong app-level scope returns no foreign rows (RLS).

    from dashboard import access
    scope = access.current_scope()          # None = citywide, else [township codes]
    @access.require("leader", "assessor")   # on a callback, layout or Flask view
    access.audit("export", "/download/x.xlsx", "rows=12")
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import Forbidden

log = logging.getLogger(__name__)

ROLES = ("leader", "township", "emergency", "assessor", "admin")
CITYWIDE_ROLES = frozenset({"leader", "emergency", "assessor", "admin"})  # township sees its own territory (三十二)
ALL = frozenset(ROLES)

# ---- the page / role matrix (page module name -> roles) -------------------------------------
# A page module not listed here is open to the leader only (fail closed): add new pages here.
PAGE_ROLES: dict[str, frozenset[str]] = {
    "overview": frozenset({"leader", "township", "emergency", "assessor", "admin"}),  # /, scoped
    "township": frozenset({"leader", "township", "emergency", "assessor"}),
    "project": frozenset({"leader", "township", "emergency", "assessor"}),
    "enterprise": frozenset({"leader", "township", "emergency", "assessor"}),
    "case": frozenset({"leader", "township", "emergency", "assessor"}),
    "ledgers": frozenset({"leader", "township", "assessor"}),
    "risk": frozenset({"leader", "township", "assessor"}),
    "warnings": frozenset({"leader", "township", "emergency", "assessor"}),  # (八) early warnings, scoped
    "emergency": frozenset({"leader", "township", "emergency"}),  # (二十三)(二十四); township: own territory
    "assessment": frozenset({"leader", "assessor"}),  # (三十二)(三十三) compares townships: not for one township
    "credit": frozenset({"leader", "assessor", "admin"}),  # (十三)(十四) grades, blacklist, quarterly publication
    "data": frozenset({"leader", "admin"}),  # load history, rejected rows (raw rows of every township)
    "admin": frozenset({"admin"}),  # users and the audit log
    "not_found_404": ALL,
}
LEADER_ONLY = frozenset({"leader"})

# ---- Flask routes outside Dash (downloads, exports): URL prefix -> roles ----------------------
# Longest matching prefix wins; a route not listed is leader-only (fail closed).
ROUTE_ROLES: dict[str, frozenset[str]] = {
    "/download/assessment": frozenset({"leader", "assessor"}),
    "/download/credit": frozenset({"leader", "assessor", "admin"}),  # (十四) quarterly publication list
    "/download/data": frozenset({"leader", "admin"}),
    "/download/rejected": frozenset({"leader", "admin"}),
    "/download/incidents": frozenset({"leader", "township", "emergency"}),
    "/download/emergency": frozenset({"leader", "township", "emergency"}),
    "/download": frozenset({"leader", "township", "assessor"}),
    "/export": frozenset({"leader", "township", "assessor"}),
}
# Routes every signed-in user needs (the Dash shell and its static files); /login is public.
SHELL_PREFIXES = ("/_dash-", "/_reload-hash", "/_favicon.ico", "/assets/", "/logout", "/_alive_")
PUBLIC_PATHS = ("/login",)
# Pages whose view is audited (case or person data): page module -> audit action
AUDITED_PAGES = {"case": "view_case", "project": "view_project", "enterprise": "view_person"}

_CODE_RE = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class User:
    """The signed-in user as the pages need it (name shown in the header, role, territory)."""

    name: str = "访客"
    role: str = "none"  # leader | township | emergency | assessor | admin | none (not signed in)
    townships: tuple[str, ...] = field(default_factory=tuple)
    id: int | None = None

    @property
    def authenticated(self) -> bool:
        return self.role in ROLES


NOBODY = User()  # inside a request without a login: sees nothing
SYSTEM = User(name="system", role="leader")  # outside any web request (CLI, batch jobs, unit tests)


class AccessDenied(Forbidden):
    """The user's role may not use this page, callback or download (403; Chinese user_msg)."""

    user_msg = "无权访问：您的角色不能使用此功能。"


# ---- who ------------------------------------------------------------------------------------


def current_user() -> User:
    """The user of the current request; NOBODY when not signed in, SYSTEM outside a request."""
    from flask import has_request_context

    if not has_request_context():
        return SYSTEM
    from flask import current_app

    if not hasattr(current_app, "login_manager"):
        return NOBODY  # auth not installed on this server: fail closed
    from flask_login import current_user as cu

    u = cu._get_current_object()
    if not getattr(u, "is_authenticated", False):
        return NOBODY
    return u.as_access_user()


def _scope_for(user: User) -> list[str] | None:
    """The app-level scope of a user (tests replace this to prove RLS alone holds)."""
    if user.role in CITYWIDE_ROLES:
        return None
    return [c for c in user.townships if _CODE_RE.match(c)]


def _db_scope_for(user: User) -> list[str] | None:
    """The database (RLS) scope of a user; kept separate from `_scope_for` on purpose."""
    if user.role in CITYWIDE_ROLES:
        return None
    return [c for c in user.townships if _CODE_RE.match(c)]


def current_scope() -> list[str] | None:
    """Township codes the current user may see; None means every township, [] nothing."""
    return _scope_for(current_user())


def db_scope() -> list[str] | None:
    """The ceiling the store applies to every transaction of this request (RLS on PostGIS)."""
    return _db_scope_for(current_user())


def in_scope(township_code: str | None, scope: Sequence[str] | None = None) -> bool:
    """Whether a row of `township_code` is visible to the current user (or to `scope`)."""
    scope = current_scope() if scope is None and _has_request() else scope
    return scope is None or (township_code is not None and township_code in scope)


def _has_request() -> bool:
    from flask import has_request_context

    return has_request_context()


# ---- roles ----------------------------------------------------------------------------------


def allowed(roles: Iterable[str], user: User | None = None) -> bool:
    user = user or current_user()
    return user.authenticated and user.role in set(roles)


def page_roles(module: str) -> frozenset[str]:
    """Roles allowed on a page, by its module name (dashboard.pages.township -> 'township')."""
    return PAGE_ROLES.get(module.rsplit(".", 1)[-1], LEADER_ONLY)


def route_roles(path: str) -> frozenset[str]:
    """Roles allowed on a non-Dash Flask route (downloads/exports): longest prefix match."""
    best = ""
    for prefix in ROUTE_ROLES:
        if path.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return ROUTE_ROLES[best] if best else LEADER_ONLY


def can_use_page(module: str, user: User | None = None) -> bool:
    return allowed(page_roles(module), user)


def require(*roles: str) -> Callable:
    """Decorator for callbacks, layouts and Flask views: raise AccessDenied (403) unless the role fits."""
    wanted = frozenset(roles)
    unknown = wanted - ALL
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not allowed(wanted):
                denied(getattr(fn, "__qualname__", "?"))
            return fn(*args, **kwargs)

        wrapper.required_roles = wanted  # type: ignore[attr-defined]
        return wrapper

    return deco


def denied(target: str) -> None:
    """Audit and raise AccessDenied."""
    audit("denied", target)
    raise AccessDenied()


# ---- personal data --------------------------------------------------------------------------


def can_see_personal_data(user: User | None = None) -> bool:
    """Whether ID numbers and phone numbers are shown unmasked: emergency teams need contacts."""
    return (user or current_user()).role == "emergency"


def mask_frame(df, kind: str | None = None, user: User | None = None):
    """`df` with ID/phone/name columns masked (layers.exports.mask_frame) unless the user may see them."""
    if df is None or can_see_personal_data(user):
        return df
    from layers.exports import mask_frame as _mask

    return _mask(df, kind)


_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
_PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def scrub(text: Any) -> str:
    """Free text with any 18-digit ID number or mobile number masked (for logs and the audit log)."""
    s = "" if text is None else str(text)
    s = _ID_RE.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), s)
    return _PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), s)


# ---- audit ----------------------------------------------------------------------------------

_STORE: dict[str, Any] = {}


def bind_store(store) -> None:
    """Remember the app's store for `audit`, and make every transaction of a web request run with
    the signed-in user's database scope as a ceiling (RLS on PostGIS), whatever scope the caller
    passed. Idempotent."""
    _STORE["store"] = store
    if getattr(store, "_access_ceiling", False):
        return
    original = store._set_scope

    def _set_scope(conn, scope):
        original(conn, narrow(scope, _request_ceiling() if _has_request() else None))

    store._set_scope = _set_scope
    store._access_ceiling = True


def bound_store():
    """The store `bind_store` was given (the app's), else the settings' default store."""
    if "store" in _STORE:
        return _STORE["store"]
    from geodata.store import open_store

    return open_store()


def _request_ceiling() -> list[str] | None:
    """The signed-in user's database scope; [] while the user is not known yet (the users
    table itself is not township-scoped, so loading the user still works)."""
    from flask import g

    u = g.get("_login_user")
    if u is None or not getattr(u, "is_authenticated", False):
        return []
    return _db_scope_for(u.as_access_user())


def narrow(scope: Sequence[str] | None, ceiling: Sequence[str] | None) -> list[str] | None:
    """The intersection of two scopes (None = everything); only 12-digit codes survive."""
    def clean(s: Sequence[str]) -> list[str]:
        return [c for c in s if isinstance(c, str) and _CODE_RE.match(c)]

    if ceiling is None:
        return None if scope is None else clean(scope)
    if scope is None:
        return clean(ceiling)
    allowed_codes = set(clean(ceiling))
    return [c for c in clean(scope) if c in allowed_codes]


def audit(action: str, target: Any = "", detail: Any = "", user: str | None = None, store=None) -> None:
    """Write one audit row for the current user; ID/phone numbers in target/detail are masked."""
    store = store or _STORE.get("store")
    name = user or current_user().name
    if store is None:
        log.warning("audit without a store: %s %s", action, scrub(target))
        return
    try:
        store.audit(scrub(name)[:64], action, scrub(target)[:500], scrub(detail)[:2000])
    except Exception:  # noqa: BLE001 - an audit failure is logged, never shown to the user
        log.exception("audit write failed: %s", action)


def audit_view(page: str, key: Any) -> None:
    """Audit a view of a case or a person's record (pages call this for detail panels)."""
    audit(AUDITED_PAGES.get(page, f"view_{page}"), key)
