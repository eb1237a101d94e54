"""Match the features of a boundary file to the current units: --map, code, name, alias, fuzzy name.

Order, first that succeeds wins (per feature):
1. `--map NAME_OR_CODE=CODE`: any attribute value of the feature equal to NAME_OR_CODE.
2. code: the file's code column (any column whose values are all 9- or 12-digit codes) holds a
   current unit's code. An obsolete code (`OBSOLETE_CODES`) or a code that is not a current
   unit of 新密市 falls through to the names, with a warning.
3. name: the name column equals a current name ("新密市"/"郑州市"/"河南省" prefixes and a
   "人民政府" suffix are ignored).
4. alias: an old name, "…办事处" form, 乡/镇 variant, 尖山风景区管委 … (`aliases_for`).
5. fuzzy: rapidfuzz `fuzz.ratio` against every name and alias; accepted when the best unit
   scores >= FUZZY_MIN (70) and beats the next unit by >= FUZZY_MARGIN (10). With 3-character
   names one wrong character scores 67 against the full name but 80 against the short name
   ("超化真" -> "超化" 80), so a single typo passes while two different towns do not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from geodata.importer_report import Match, unit_label
from geodata.townships import BY_CODE, OBSOLETE_CODES, TOWNSHIPS, aliases_for, to_code

FUZZY_MIN = 70.0
FUZZY_MARGIN = 10.0
_CODE_RE = re.compile(r"^(\d{9}|\d{12})$")
_PREFIXES = ("河南省", "郑州市", "新密市")
_SUFFIXES = ("人民政府",)
_NAME_HINT = re.compile(r"name|mc|名称|乡镇|街道|单位|xzq", re.IGNORECASE)


class Unmatched(NamedTuple):
    """A feature that matched no unit."""

    feature: int
    label: str  # its name and code values, for messages
    guesses: list[tuple[str, float]]  # (code, fuzzy score), best first
    key: str  # what to put left of "=" in a --map for it


@dataclass
class MatchResult:
    """Matches, features that matched nothing (with their best guesses), warnings, columns used."""

    matches: list[Match] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    code_column: str | None = None
    name_column: str | None = None


def normalise_name(value: object) -> str:
    """Strip blanks, the city/province prefixes and a '人民政府' suffix."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    s = re.sub(r"[\s\u3000]+", "", str(value))
    changed = True
    while changed:
        changed = False
        for p in _PREFIXES:
            if s.startswith(p) and len(s) > len(p):
                s, changed = s[len(p):], True
        for x in _SUFFIXES:
            if s.endswith(x) and len(s) > len(x):
                s, changed = s[: -len(x)], True
    return s


def code_text(value: object) -> str:
    """An attribute value as code text: integers and integral floats without '.0'."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return ""
        return str(int(value)) if value == int(value) else str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value).strip()


def resolve_target(target: str) -> str | None:
    """A `--map` target (12- or 9-digit code, or a name/alias) -> 12-digit code of a current unit."""
    return to_code(target)


def match_features(attrs: pd.DataFrame, mapping: dict[str, str] | None = None) -> MatchResult:
    """Match every row of `attrs` (the file's attribute table, 0..n-1) to a current unit."""
    res = MatchResult()
    n = len(attrs)
    texts = attrs.apply(lambda col: col.map(code_text)) if len(attrs.columns) else pd.DataFrame(index=attrs.index)
    res.code_column = _code_column(texts)
    res.name_column = _name_column(attrs, exclude=res.code_column)
    codes = texts[res.code_column].tolist() if res.code_column else [""] * n
    names = [normalise_name(v) for v in attrs[res.name_column]] if res.name_column else [""] * n
    done: dict[int, Match] = {}

    # 1. --map: any attribute value (normalised) equal to the key
    if mapping:
        values = [set(texts.iloc[i].tolist()) | {normalise_name(v) for v in texts.iloc[i].tolist()} for i in range(n)]
        used: set[str] = set()
        for key, target in mapping.items():
            code = resolve_target(target)
            for i in range(n):
                if i not in done and (key in values[i] or normalise_name(key) in values[i]):
                    done[i] = Match(i, code, "map", 100.0, f"--map {key}={target}")
                    used.add(key)
        unused = [k for k in mapping if k not in used]
        if unused:
            res.warnings.append("以下 --map 的左边在文件中没有对应的要素（已忽略）：" + "、".join(unused))

    # 2. code column
    for i, c in enumerate(codes):
        if i in done or not c or not _CODE_RE.match(c):
            continue
        code12 = c if len(c) == 12 else c + "000"
        if code12 in BY_CODE:
            done[i] = Match(i, code12, "code", 100.0, f"{res.code_column}={c}")
        elif c[:9] in OBSOLETE_CODES and (len(c) == 9 or c.endswith("000")):
            res.warnings.append(f"要素 {i} 的代码 {c} 已撤销（{OBSOLETE_CODES[c[:9]]}），改按名称匹配")
        else:
            res.warnings.append(f"要素 {i} 的代码 {c} 不是新密市现行乡级单位代码，改按名称匹配")

    # 3./4. exact name, alias
    current = {t.name: t.code for t in TOWNSHIPS}
    alias = {a: t.code for t in TOWNSHIPS for a in aliases_for(t)}
    for i, nm in enumerate(names):
        if i in done or not nm:
            continue
        if nm in current:
            done[i] = Match(i, current[nm], "name", 100.0, f"{res.name_column}={nm}")
        elif nm in alias:
            done[i] = Match(i, alias[nm], "alias", 100.0, f"{res.name_column}={nm}")

    # 5. fuzzy names
    todo = [i for i in range(n) if i not in done and names[i]]
    if todo:
        best, second, guesses = _fuzzy([names[i] for i in todo])
        for k, i in enumerate(todo):
            (code, score), (_, score2) = best[k], second[k]
            if score >= FUZZY_MIN and score - score2 >= FUZZY_MARGIN:
                done[i] = Match(i, code, "fuzzy", round(float(score), 1), f"{res.name_column}={names[i]}")
            else:
                res.unmatched.append(Unmatched(i, _label(attrs, i, res), guesses[k], names[i]))
    for i in range(n):
        if i not in done and not names[i]:
            key = codes[i] or (code_text(attrs.iloc[i].iloc[0]) if len(attrs.columns) else "") or "名称或代码"
            res.unmatched.append(Unmatched(i, _label(attrs, i, res), [], key))
    res.unmatched.sort()
    res.matches = [done[i] for i in sorted(done)]
    _check_code_name_agreement(res, names)
    return res


def _code_column(texts: pd.DataFrame) -> str | None:
    """The column whose non-empty values are all 9/12-digit codes, preferring the one naming most units."""
    best, best_hits = None, -1
    for col in texts.columns:
        vals = [v for v in texts[col] if v and v.lower() not in ("nan", "none")]
        if not vals or not all(_CODE_RE.match(v) for v in vals):
            continue
        hits = sum((v if len(v) == 12 else v + "000") in BY_CODE for v in vals)
        if hits > best_hits:
            best, best_hits = col, hits
    return best


def _name_column(attrs: pd.DataFrame, exclude: str | None) -> str | None:
    """The text column with the most exact name/alias hits; a name-like header breaks ties."""
    scored = []
    for pos, col in enumerate(attrs.columns):
        if col == exclude:
            continue
        vals = [v for v in attrs[col] if isinstance(v, str) and v.strip()]
        if not vals:
            continue
        hits = sum(to_code(normalise_name(v)) is not None for v in vals)
        cjk = sum(bool(re.search(r"[\u4e00-\u9fff]", v)) for v in vals)
        scored.append((hits, bool(_NAME_HINT.search(str(col))), cjk, -pos, col))
    if not scored:
        return None
    return max(scored)[-1]


def _fuzzy(queries: list[str]) -> tuple[list[tuple[str, float]], list[tuple[str, float]], list[list[tuple[str, float]]]]:
    """Best and second-best unit (code, score) per query, and the top three guesses for messages."""
    choices = [(a, t.code) for t in TOWNSHIPS for a in sorted(aliases_for(t))]
    unit_codes = [t.code for t in TOWNSHIPS]
    owner = np.array([unit_codes.index(c) for _, c in choices])
    scores = process.cdist(queries, [a for a, _ in choices], scorer=fuzz.ratio)  # (queries, choices)
    per_unit = np.full((len(queries), len(unit_codes)), -1.0)
    for u in range(len(unit_codes)):
        per_unit[:, u] = scores[:, owner == u].max(axis=1)
    order = np.argsort(-per_unit, axis=1, kind="stable")
    best, second, guesses = [], [], []
    for q in range(len(queries)):
        ranked = [(unit_codes[u], float(per_unit[q, u])) for u in order[q, :3]]
        best.append(ranked[0])
        second.append(ranked[1])
        guesses.append(ranked)
    return best, second, guesses


def _label(attrs: pd.DataFrame, i: int, res: MatchResult) -> str:
    """How to name feature i in a message: its name and code values."""
    parts = []
    if res.name_column:
        parts.append(f"{res.name_column}=“{code_text(attrs[res.name_column].iloc[i])}”")
    if res.code_column:
        c = code_text(attrs[res.code_column].iloc[i]) or "空"
        tag = f"（已撤销：{OBSOLETE_CODES[c[:9]]}）" if c and c[:9] in OBSOLETE_CODES else ""
        parts.append(f"{res.code_column}={c}{tag}")
    if not parts:
        row = {k: code_text(v) for k, v in attrs.iloc[i].items()}
        parts.append(str(row) if row else "无属性")
    return "，".join(parts)


def _check_code_name_agreement(res: MatchResult, names: list[str]) -> None:
    """A code match whose name column names another unit is kept (codes win) but warned about."""
    for m in res.matches:
        if m.method != "code" or not names[m.feature]:
            continue
        by_name = to_code(names[m.feature])
        if by_name is not None and by_name != m.code:
            res.warnings.append(
                f"要素 {m.feature} 的代码指向 {unit_label(m.code)}，名称“{names[m.feature]}”却是 {unit_label(by_name)}；"
                "已按代码匹配，如不对请用 --map 指定"
            )
