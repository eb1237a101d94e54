"""One settings object: database, basemap and every rule parameter from the policy.

Precedence: argument > environment (WAGEMAP_*) > file (wagemap.toml / .env) > default.
Rule parameters default to the values of 新密政办文〔2018〕14号; each cites its clause.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


class Rules(BaseModel):
    """Rule parameters; defaults from the 2018 policy."""

    filing_within_days: int = Field(31, ge=0, description="(二) 用工备案: 开工后多少天内备案")
    real_name_min: float = Field(0.95, ge=0, le=1, description="(三) 实名制登记率下限")
    card_min: float = Field(0.95, ge=0, le=1, description="(三) 一卡通发放率下限")
    deposit_rate_normal: float = Field(0.02, ge=0, le=1, description="(九) 工资保证金缴存比例（合同价款）")
    deposit_rate_raised: float = Field(0.03, ge=0, le=1, description="(九) 发生过拖欠且已处理：提高后的比例")
    deposit_rate_full: float = Field(0.05, ge=0, le=1, description="(九) 仍存在拖欠：全额缴存比例")
    deposit_exempt_years: int = Field(2, ge=0, description="(九) 连续多少年无拖欠可减免")
    fund_floor_city: float = Field(200.0, ge=0, description="(十) 市级应急周转金下限（万元）")
    fund_floor_township: float = Field(50.0, ge=0, description="(十) 乡镇/街道/管委会应急周转金下限（万元）")
    min_wage_monthly_yuan: float = Field(1900.0, ge=0, description="月最低工资标准（元），河南一类区参考值")
    indicator_drop: float = Field(0.30, ge=0, le=1, description="(八) 指标较自身历史下降多少视为预警")
    incident_grades: tuple[str, ...] = ("一般", "较大", "重大", "特别重大")
    # ---- warnings (六)(八) and risk: thresholds marked "项目默认" are not in the policy ----
    account_funded_red_share: float = Field(
        0.5, ge=0, le=1, description="(十一) 专户拨付低于当月人工费的此比例为红色（项目默认）")
    unpaid_months_orange: int = Field(2, ge=1, description="(五) 月结月清：工资拖后月数达此值为橙色（项目默认）")
    unpaid_months_red: int = Field(3, ge=1, description="(五) 月结月清：工资拖后月数达此值为红色（项目默认）")
    coverage_orange: float = Field(0.80, ge=0, le=1, description="(三) 实名制/一卡通覆盖率低于此值为橙色（项目默认）")
    coverage_red: float = Field(0.50, ge=0, le=1, description="(三) 实名制/一卡通覆盖率低于此值为红色（项目默认）")
    payroll_red_share: float = Field(0.5, ge=0, le=1, description="(三十一) 人均代发工资低于最低工资此比例为红色（项目默认）")
    indicator_fields: tuple[str, ...] = Field(
        ("tax_paid", "electricity_kwh", "water_m3", "social_insurance_headcount", "bank_inflow"),
        description="(八) 预警指标：税务、供电、供水、社保、银行",
    )
    indicator_baseline_months: int = Field(6, ge=1, description="(八) 与本单位前几个月的均值比较（项目默认）")
    indicator_min_history: int = Field(3, ge=1, description="(八) 至少有几个月历史才比较（项目默认）")
    indicator_drop_orange: float = Field(0.50, ge=0, le=1, description="(八) 指标下降达此比例为橙色（项目默认）")
    indicator_drop_red: float = Field(0.80, ge=0, le=1, description="(八) 指标下降达此比例为红色（项目默认）")
    case_closed_statuses: tuple[str, ...] = Field(("结案", "已结案"), description="(十九) 视为已结案的案件状态")
    stopped_statuses: tuple[str, ...] = Field(("停工",), description="(八) 停工项目状态")
    completed_statuses: tuple[str, ...] = Field(("竣工", "完工", "已竣工"), description="竣工项目状态（不再要求缴存保证金等）")
    guarantee_grades: tuple[str, ...] = Field(("C", "D"), description="(十七)(二十六) 须提供工程款支付担保的诚信等级")
    credit_effective_month: int = Field(
        6, ge=1, le=12, description="(十三) 每年3-5月评定上年度用工情况：Y年度（Y年评定）的等级自Y年此月起生效")
    deposit_held_statuses: tuple[str, ...] = Field(("缴存", "已缴存", "在缴"), description="(九) 计入已缴存的保证金状态")
    deposit_exempt_statuses: tuple[str, ...] = Field(("减免", "免缴"), description="(九) 减免状态")
    deposit_tolerance: float = Field(0.01, ge=0, le=1, description="(九) 实缴与应缴相差不超过应缴的此比例视为一致（项目默认）")
    risk_points_red: float = Field(30.0, ge=0, description="(八) 风险分：红色预警的点数（项目默认）")
    risk_points_orange: float = Field(15.0, ge=0, description="(八) 风险分：橙色预警的点数（项目默认）")
    risk_points_yellow: float = Field(6.0, ge=0, description="(八) 风险分：黄色预警的点数（项目默认）")
    risk_trend_points: float = Field(8.0, ge=0, description="(八) 风险分：单项指标下降100%的趋势点数（项目默认）")
    risk_scale: float = Field(60.0, gt=0, description="(八) 风险分饱和常数K：分数=100·(1-e^(-点数/K))（项目默认）")
    risk_share: float = Field(0.5, ge=0, le=1, description="(一) 总包单位与其项目之间相互传导的风险点数比例（项目默认）")
    risk_hot_score: float = Field(50.0, ge=0, le=100, description="(八) 风险分达此值计为高风险（项目默认）")
    rule_weights: dict[str, float] = Field(default_factory=dict, description="(八) 各预警规则的点数倍率，缺省为1")
    # ---- assessment (三十二)(三十三) scoring parameters (project defaults, not in the policy) ----
    assess_days_full: float = Field(30.0, ge=0, description="(三十三) 平均结案天数不超过此值得满分（项目默认）")
    assess_days_zero: float = Field(90.0, ge=0, description="(三十三) 平均结案天数达到此值得零分（项目默认）")
    assess_arrears_zero: float = Field(10.0, gt=0, description="(三十三) 每个在建项目欠薪金额达此值（万元）得零分（项目默认）")
    major_case_amount: float = Field(50.0, ge=0, description="(二十二)(三十二) 重大欠薪案件：金额下限（万元，项目默认）")
    major_case_workers: int = Field(30, ge=0, description="(二十二)(三十二) 重大欠薪案件：涉及人数下限（项目默认）")
    incident_done_statuses: tuple[str, ...] = Field(
        ("已处置", "处置完毕", "已结案", "结案", "已办结", "办结"), description="(二十三)(三十二) 视为处置完毕的事件状态"
    )


class Assessment(BaseModel):
    """(三十二)(三十三) 年度考核指标权重 (sum need not be 1; scores are normalised)."""

    real_name: float = 15
    special_account: float = 15
    deposit: float = 15
    bank_payroll: float = 10
    notice_board: float = 5
    fund_at_floor: float = 10
    case_closure: float = 15
    days_to_close: float = 5
    incidents_handled: float = 5
    arrears_per_project: float = 5


class Settings(BaseSettings):
    """wagemap settings. Validated at start-up; errors name the setting."""

    model_config = SettingsConfigDict(
        env_prefix="WAGEMAP_", env_nested_delimiter="__", env_file=".env", toml_file="wagemap.toml", extra="ignore"
    )

    db: str = Field("var/wagemap.gpkg", description="数据库：postgresql+psycopg://… 或 *.gpkg 路径")
    basemap: Literal["none", "tianditu", "amap", "osm"] = "none"
    tianditu_key: str = ""
    amap_key: str = ""
    secret_key: str = Field("", description="会话签名密钥；为空时每次启动随机生成")
    geocoder: Literal["offline", "tianditu", "amap"] = "offline"
    # H3 res 7: ~5.2 km² per hexagon, ~200 hexagons over 新密 (~1,000 km²), ~10 per township:
    # fine enough to show hot spots inside a township, coarse enough to aggregate projects.
    h3_resolution: int = Field(7, ge=5, le=10, description="风险热力图H3分辨率（7≈5.2平方公里/格）")
    max_points_per_layer: int = Field(5000, ge=100)
    cache_dir: str = Field("var/cache", description="视图缓存目录（同一主机上的服务进程共享；为空则只用进程内缓存）")
    resident_max_rows: int = Field(2_000_000, ge=0, description="预热后进程内最多保留的原始行数（超过则释放，需要时再读）")
    resident_idle_s: float = Field(300.0, ge=0, description="服务进程未命中读入的原始行空闲多少秒后释放")
    warm_windows: int = Field(12, ge=0, description="预热：默认月份窗口之外，再预热多少个更早的截止月份（全市各图层与各乡镇页）")
    login_max_failures: int = Field(5, ge=1, description="连续登录失败多少次后锁定账户")
    login_lockout_minutes: int = Field(15, ge=1, description="账户锁定分钟数")
    cookie_secure: bool = Field(False, description="会话 Cookie 仅经 HTTPS 发送（以 HTTPS 提供服务时打开）")
    rules: Rules = Rules()
    assessment: Assessment = Assessment()

    @field_validator("db")
    @classmethod
    def _db_kind(cls, v: str) -> str:
        if not (v.startswith("postgresql") or v.endswith(".gpkg")):
            raise ValueError("WAGEMAP_DB 须为 postgresql+psycopg://… 或以 .gpkg 结尾的路径")
        return v

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings, TomlConfigSettingsSource(settings_cls))


class SettingsError(Exception):
    """A setting is invalid; the message names it."""


def load_settings(**overrides) -> Settings:
    """Build and validate the settings, raising SettingsError naming the bad setting."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        lines = [f"设置 {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]
        raise SettingsError("; ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (environment and files read once)."""
    return load_settings()


def var_dir() -> Path:
    p = Path("var")
    p.mkdir(exist_ok=True)
    return p
