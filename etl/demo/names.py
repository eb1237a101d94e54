"""Plainly synthetic names, codes and numbers for the demo: no real company or person.

Credit codes follow GB 32100-2015 (with a GB 11714 organisation code inside), ID numbers
GB 11643-1999, so both pass their check digits; phones are 11-digit mobiles or 0371 landlines.
Everything is drawn from a numpy Generator for whole arrays at once.
"""

from __future__ import annotations

import numpy as np

# ---- GB 32100-2015 统一社会信用代码 ------------------------------------------------------
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters, no I O S V Z
_CREDIT_W = np.array([pow(3, i, 31) for i in range(17)])  # 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
_ORG_W = np.array([3, 7, 9, 10, 5, 8, 4, 2])  # GB 11714 organisation code weights
_CHAR_VALUE = {c: i for i, c in enumerate(CREDIT_CHARS)}


def credit_check_char(body17: str) -> str:
    """The 18th character of a credit code whose first 17 characters are `body17`."""
    s = sum(_CHAR_VALUE[c] * int(w) for c, w in zip(body17, _CREDIT_W, strict=True))
    return CREDIT_CHARS[(31 - s % 31) % 31]


def credit_code_valid(code: str) -> bool:
    """True when `code` is 18 characters of the GB 32100 set with a correct check digit."""
    return len(code) == 18 and all(c in _CHAR_VALUE for c in code) and credit_check_char(code[:17]) == code[17]


def credit_codes(rng: np.random.Generator, n: int, division: str = "410183") -> np.ndarray:
    """`n` distinct valid credit codes: 9 (工商) 1 (企业) + division + organisation code + check."""
    # organisation numbers: distinct 8-digit numbers (GB 11714 body), then its own check char
    body = rng.choice(90_000_000, size=n, replace=False) + 10_000_000
    digits = (body[:, None] // (10 ** np.arange(7, -1, -1))) % 10  # n x 8
    c9 = 11 - (digits @ _ORG_W) % 11  # 1..11: 10 -> X, 11 -> 0
    org_val = np.where(c9 == 10, _CHAR_VALUE["X"], c9 % 11)
    org_check = np.array(list(CREDIT_CHARS))[org_val]
    prefix = np.array([int(ch) for ch in "91" + division])  # 8 leading digits
    vals = np.column_stack([np.broadcast_to(prefix, (n, 8)), digits, org_val])  # n x 17 values
    check = (31 - (vals @ _CREDIT_W) % 31) % 31
    chars = np.array(list(CREDIT_CHARS))
    body_str = np.char.add(np.char.add("91" + division, np.char.zfill(body.astype(str), 8)), org_check)
    return np.char.add(body_str, chars[check]).astype(object)


def break_check_char(rng: np.random.Generator, codes: np.ndarray) -> np.ndarray:
    """The same codes with a wrong (but in-set) 18th character: GB 32100 check fails."""
    shift = rng.integers(1, 31, size=len(codes))
    out = []
    for code, k in zip(codes, shift, strict=True):  # planted rows only: a few dozen
        good = _CHAR_VALUE[code[17]]
        out.append(code[:17] + CREDIT_CHARS[(good + int(k)) % 31])
    return np.array(out, dtype=object)


# ---- GB 11643-1999 居民身份证号码 ---------------------------------------------------------
_ID_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))


def id_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Well-formed synthetic ID numbers (Henan region prefixes, born 1960-2003, valid check)."""
    regions = np.array(["410183", "410185", "410122", "411424", "412726", "410221"])
    region = regions[rng.integers(0, len(regions), n)]
    birth = np.datetime64("1960-01-01") + rng.integers(0, 365 * 43, n).astype("timedelta64[D]")
    birth_s = np.char.replace(np.datetime_as_string(birth, unit="D").astype(str), "-", "")
    seq = np.char.zfill(rng.integers(0, 1000, n).astype(str), 3)
    body = np.char.add(np.char.add(region, birth_s), seq)
    digits = np.array([list(b) for b in body], dtype=int) if n else np.zeros((0, 17), int)
    return np.char.add(body, _ID_CHECK[(digits @ _ID_W) % 11]).astype(object)


def mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """11-digit mobile numbers with common prefixes (random, not anyone's on purpose)."""
    pre = np.array(["138", "139", "135", "137", "150", "151", "158", "186", "187", "155", "176", "199"])
    tail = np.char.zfill(rng.integers(0, 100_000_000, n).astype(str), 8)
    return np.char.add(pre[rng.integers(0, len(pre), n)], tail).astype(object)


def landlines(rng: np.random.Generator, n: int) -> np.ndarray:
    """0371 (郑州) landlines, 8 digits starting 69 (新密's exchange range style)."""
    return np.char.add("0371-69", np.char.zfill(rng.integers(0, 1_000_000, n).astype(str), 6)).astype(object)


# ---- people and organisations ---------------------------------------------------------
SURNAMES = np.array(list("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"))
STEMS = np.array(list("甲乙丙丁戊己庚辛壬癸"))  # the letter after the company name keeps names plainly synthetic


def persons(rng: np.random.Generator, n: int) -> np.ndarray:
    """Masked-style synthetic person names: 张某某 / 李某."""
    sur = SURNAMES[rng.integers(0, len(SURNAMES), n)]
    return np.char.add(sur, np.where(rng.random(n) < 0.7, "某某", "某")).astype(object)


INDUSTRY_NAMES = {
    "建筑": ("建设工程有限公司", "建筑劳务有限公司", "市政工程有限公司", "路桥工程有限公司"),
    "加工制造": ("机械制造有限公司", "服装加工有限公司", "新材料有限公司"),
    "耐火材料": ("耐火材料有限公司", "耐材制品有限公司"),
    "矿山开采": ("矿业有限公司", "石料开采有限公司"),
    "餐饮服务": ("餐饮服务有限公司", "酒店管理有限公司"),
    "批发零售": ("商贸有限公司", "物资有限公司"),
    "交通运输": ("物流运输有限公司",),
    "房地产开发": ("置业有限公司", "房地产开发有限公司"),
    "其他服务": ("物业服务有限公司", "保洁服务有限公司", "人力资源有限公司"),
}


def company_names(rng: np.random.Generator, industry: np.ndarray) -> np.ndarray:
    """'示例建设工程有限公司甲0001' style names, unique by the running number."""
    n = len(industry)
    out = np.empty(n, dtype=object)
    for ind, forms in INDUSTRY_NAMES.items():
        m = industry == ind
        out[m] = np.array(forms, dtype=object)[rng.integers(0, len(forms), int(m.sum()))]
    number = np.char.zfill((np.arange(n) + 1).astype(str), max(4, len(str(n))))
    stem = STEMS[np.arange(n) % len(STEMS)]
    return np.char.add(np.char.add(np.char.add("示例", out.astype(str)), stem), number).astype(object)


BANKS = np.array(
    ["示例商业银行新密支行", "示例农村商业银行青屏支行", "示例城市银行新密分理处", "示例储蓄银行新密支行", "示例合作银行超化支行"]
)

# ---- places ---------------------------------------------------------------------------
ROADS = np.array(
    [
        "示例大道",
        "溱水路",
        "青屏大街",
        "开阳路",
        "长乐路",
        "嵩山大道",
        "金凤路",
        "惠安路",
        "平安路",
        "建设路",
        "文化路",
        "迎宾路",
        "工业路",
        "兴业路",
        "创业路",
        "滨河路",
    ]
)
PROJECT_WORDS = {
    "房屋建筑": ("示例花园", "示例家园", "示例安置区", "示例学校教学楼", "示例医院门诊楼", "示例厂房"),
    "市政": ("示例道路改造工程", "示例管网工程", "示例公园提升工程", "示例排水工程"),
    "交通": ("示例县道改建工程", "示例桥梁工程", "示例乡村公路工程"),
    "水务": ("示例水库除险加固工程", "示例河道治理工程", "示例供水管网工程"),
}
