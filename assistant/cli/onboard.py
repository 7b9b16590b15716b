"""``teamclaw onboard``: the setup wizard. Finds local model servers, checks chat credentials live, writes the config.

Interactive by default (prompts in the terminal); ``--non-interactive`` takes everything from flags. The checks
talk to the configured platform URLs, which flags can point elsewhere (a proxy, Lark instead of Feishu).
Secrets are written into the 0600 config file, or only the name of the environment variable that holds them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import tomli_w
import typer
from rich.console import Console

from assistant.config import Config, TelegramConfig, config_path
from assistant.errors import ChannelError, ConfigError

__all__ = ["BotCheck", "LocalServer", "check_feishu", "check_telegram", "detect_local", "register", "write_config"]

DEFAULT_OLLAMA = "http://127.0.0.1:11434"
DEFAULT_LMSTUDIO = "http://127.0.0.1:1234"
DEFAULT_FEISHU = "https://open.feishu.cn"
DEFAULT_CLOUD_URL = "https://api.openai.com/v1"
PROBE_TIMEOUT_S = 1.5  # a local server answers at once or is not there
CHECK_TIMEOUT_S = 10.0
FEISHU_PERMISSIONS = (
    ("im:message", "read and send messages"),
    ("im:message.group_msg", "receive every group message, not only those that @mention the bot"),
    ("im:message:send_as_bot", "send messages as the bot"),
    ("contact:user.base:readonly", "read members' names"),
    ("im:message.reactions", "show a 'working' reaction while it thinks (optional)"),
)
FEISHU_HELP = (
    "In the Feishu/Lark developer console for this app:\n"
    "  - Features: enable Bot.\n"
    "  - Permissions & Scopes: " + "; ".join(f"{p} ({why})" for p, why in FEISHU_PERMISSIONS) + ".\n"
    "  - Events & Callbacks: choose 'Receive events through persistent connection' (long connection, no public "
    "URL needed) and add the event im.message.receive_v1.\n"
    "  - Publish a version of the app so the permissions take effect, then add the bot to your group."
)
TELEGRAM_PRIVACY_HELP = (
    "Telegram privacy mode is ON for this bot: in groups it only sees commands, replies to it and @mentions. "
    "To let it follow the whole conversation, open @BotFather, send /setprivacy, choose the bot, pick "
    "'Disable', then remove the bot from the group and add it again (the change applies on re-adding). "
    "Making the bot a group admin also works."
)


@dataclass(frozen=True, slots=True)
class LocalServer:
    name: str  # "ollama" | "lmstudio": also the model's name in [models]
    base_url: str  # its OpenAI-compatible root
    models: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BotCheck:
    ok: bool
    name: str = ""
    detail: str = ""  # the bot's username / open_id, or what went wrong
    reads_all_group_messages: bool | None = None


def _get_json(client: httpx.Client, method: str, url: str, **kwargs: Any) -> Any:
    response = client.request(method, url, **kwargs)
    try:
        return response.json()
    except ValueError:
        return {"description": f"HTTP {response.status_code} from {url}: not JSON"}


def detect_local(ollama_url: str = DEFAULT_OLLAMA, lmstudio_url: str = DEFAULT_LMSTUDIO) -> list[LocalServer]:
    """Local model servers answering at their usual ports, with the models they have."""
    found: list[LocalServer] = []
    with httpx.Client(timeout=PROBE_TIMEOUT_S) as client:
        try:
            tags = _get_json(client, "GET", f"{ollama_url.rstrip('/')}/api/tags")
            names = tuple(m["name"] for m in tags.get("models", []) if isinstance(m, dict) and m.get("name"))
            found.append(LocalServer("ollama", f"{ollama_url.rstrip('/')}/v1", names))
        except (httpx.HTTPError, AttributeError):
            pass  # no Ollama here: nothing to offer
        try:
            listing = _get_json(client, "GET", f"{lmstudio_url.rstrip('/')}/v1/models")
            ids = tuple(m["id"] for m in listing.get("data", []) if isinstance(m, dict) and m.get("id"))
            found.append(LocalServer("lmstudio", f"{lmstudio_url.rstrip('/')}/v1", ids))
        except (httpx.HTTPError, AttributeError):
            pass
    return found


def check_telegram(token: str, base_url: str = TelegramConfig().base_url) -> BotCheck:
    """getMe with this token: is it a bot, and does privacy mode hide group messages from it?"""
    try:
        with httpx.Client(timeout=CHECK_TIMEOUT_S) as client:
            answer = _get_json(client, "GET", f"{base_url}{token}/getMe")
    except httpx.HTTPError as exc:
        return BotCheck(False, detail=f"cannot reach {base_url.split('/bot')[0]}: {type(exc).__name__}")
    if not answer.get("ok"):
        return BotCheck(False, detail=f"Telegram refused the token: {answer.get('description', 'no reason given')}"
                        " (copy it again from @BotFather)")
    bot = answer["result"]
    return BotCheck(True, name=bot.get("first_name", ""), detail=f"@{bot.get('username', '?')}",
                    reads_all_group_messages=bool(bot.get("can_read_all_group_messages")))


def check_feishu(app_id: str, app_secret: str, domain: str = DEFAULT_FEISHU) -> BotCheck:
    """A tenant token for the app, then the bot's own info: proves the credentials and that Bot is enabled."""
    root = domain.rstrip("/")
    try:
        with httpx.Client(timeout=CHECK_TIMEOUT_S) as client:
            token = _get_json(client, "POST", f"{root}/open-apis/auth/v3/tenant_access_token/internal",
                              json={"app_id": app_id, "app_secret": app_secret})
            if token.get("code") != 0:
                return BotCheck(False, detail=f"Feishu refused app id/secret: {token.get('msg')} "
                                f"(code {token.get('code')}); copy both from the app's Credentials page")
            info = _get_json(client, "GET", f"{root}/open-apis/bot/v3/info",
                             headers={"Authorization": f"Bearer {token['tenant_access_token']}"})
    except httpx.HTTPError as exc:
        return BotCheck(False, detail=f"cannot reach {root}: {type(exc).__name__}")
    if info.get("code") != 0:
        return BotCheck(False, detail=f"the app has no bot: {info.get('msg')} (enable Features > Bot)")
    bot = info.get("bot", {})
    return BotCheck(True, name=bot.get("app_name", ""), detail=bot.get("open_id", ""))


def write_config(path: Path, data: dict[str, Any], *, force: bool = False) -> None:
    """Validate ``data`` as a config and write it as TOML, readable by its owner only."""
    if path.exists() and not force:
        raise ConfigError(f"{path} exists: pass --force to replace it (or edit it by hand)")
    Config.model_validate({**data, "home": str(path.parent)})  # raises on anything the daemon would refuse
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        tomli_w.dump(data, fh)
    path.chmod(0o600)


class _Wizard:
    """Collects the answers: from prompts when interactive, else from the flags (a missing one takes its default)."""

    def __init__(self, interactive: bool, secrets_in: str | None, out: Console) -> None:
        self.interactive = interactive
        self.secrets_in = secrets_in
        self.out = out
        self.env_names: list[str] = []

    def ask(self, text: str, value: str | None, default: str, check: Callable[[str], str | None] = lambda _: None,
            hide: bool = False) -> str:
        while True:
            if value is None and self.interactive:
                value = typer.prompt(text, default=default or None, hide_input=hide, show_default=not hide)
            answer = default if value is None else value.strip()
            problem = check(answer)
            if problem is None:
                return answer
            if not self.interactive:
                raise ConfigError(problem)
            self.out.print(f"[red]{problem}[/red]")
            value = None

    def yes(self, text: str, flag: bool | None, default: bool) -> bool:
        if flag is not None or not self.interactive:
            return default if flag is None else flag
        return bool(typer.confirm(text, default=default))

    def secret(self, table: dict[str, Any], key: str, value: str, env_default: str, env_flag: str | None) -> None:
        """Store a secret as the user chooses: in the file, or as the name of an environment variable."""
        if env_flag:  # the value came from this variable: keep reading it from there
            table[f"{key}_env"] = env_flag
            return
        where = self.secrets_in
        if where is None:
            where = "env" if not self.interactive else self.ask(
                f"Keep the {key.replace('_', ' ')} in an environment variable (env) or in the config file (file)?",
                None, "env", lambda a: None if a in ("env", "file") else "answer env or file")
        if where == "file":
            table[key] = value
            table[f"{key}_env"] = ""
            return
        name = self.ask("Environment variable name", None, env_default,
                        lambda a: None if a.isidentifier() else "use letters, digits and _ only")
        table[f"{key}_env"] = name
        if os.environ.get(name) != value:
            self.env_names.append(name)


def _zone_problem(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}: use an IANA name such as Asia/Shanghai or Europe/Berlin"
    return None


def _owner_problem(value: str) -> str | None:
    channel, _, user = value.partition(":")
    if channel not in ("telegram", "feishu", "console") or not user:
        return "write the owner as channel:id, e.g. telegram:12345678, feishu:ou_abc123 or console:you"
    return None


def _local_model(w: _Wizard, servers: list[LocalServer], choice: str | None) -> dict[str, Any] | None:
    options = [(s, m) for s in servers for m in s.models]
    for server in servers:
        w.out.print(f"found {server.name} at {server.base_url} with {len(server.models)} model(s)")
    if not options or choice == "none":
        if not servers:
            w.out.print("no local model server found (Ollama, LM Studio): private requests use the small "
                        "bundled model; see docs/operations.md for choosing a local model by memory size")
        return None
    picked: tuple[LocalServer, str] | None = None
    if choice:
        picked = next(((s, m) for s, m in options if choice in (m, f"{s.name}:{m}")), None)
        if picked is None:
            raise ConfigError(f"--local-model {choice}: not among {', '.join(m for _, m in options)}")
    elif w.interactive:
        for i, (s, m) in enumerate(options, 1):
            w.out.print(f"  {i}. {s.name}: {m}")
        number = w.ask("Local model for private requests (0 = none)", None, "1",
                       lambda a: None if a.isdigit() and int(a) <= len(options) else "pick a number from the list")
        picked = options[int(number) - 1] if int(number) else None
    else:
        from assistant.providers.discovery import best_model

        best = best_model(tuple(m for _, m in options))  # an instruct model a small machine runs, not an embedder
        picked = next(((s, m) for s, m in options if m == best), options[0])
    if picked is None:
        return None
    server, model = picked
    return {"name": server.name, "table": {"provider": "openai", "base_url": server.base_url, "model": model,
                                           "location": "local", "tier": 1}}


def _telegram(w: _Wizard, token: str | None, token_env: str | None, base_url: str,
              skip_checks: bool) -> dict[str, Any]:
    token = w.ask("Telegram bot token (from @BotFather)", token, "", hide=True,
                  check=lambda a: None if ":" in a else "a bot token looks like 123456789:AA...; ask @BotFather")
    table: dict[str, Any] = {"enabled": True}
    if base_url != TelegramConfig().base_url:
        table["base_url"] = base_url
    if not skip_checks:
        result = check_telegram(token, base_url)
        if not result.ok:
            raise ChannelError(f"Telegram check failed: {result.detail}")
        w.out.print(f"[green]Telegram bot {result.detail} ({result.name}) answers.[/green]")
        if not result.reads_all_group_messages:
            w.out.print(TELEGRAM_PRIVACY_HELP)
    w.secret(table, "token", token, "TELEGRAM_BOT_TOKEN", token_env)
    return table


def _feishu(w: _Wizard, app_id: str | None, secret: str | None, secret_env: str | None, domain: str,
            skip_checks: bool) -> dict[str, Any]:
    app_id = w.ask("Feishu app id (cli_...)", app_id, "", check=lambda a: None if a else "the app id is required")
    secret = w.ask("Feishu app secret", secret, "", hide=True, check=lambda a: None if a else "required")
    table: dict[str, Any] = {"enabled": True, "app_id": app_id, "domain": domain, "mode": "ws"}
    if not skip_checks:
        result = check_feishu(app_id, secret, domain)
        if not result.ok:
            raise ChannelError(f"Feishu check failed: {result.detail}")
        w.out.print(f"[green]Feishu bot {result.name!r} ({result.detail}) answers.[/green]")
    w.out.print(FEISHU_HELP)
    w.secret(table, "app_secret", secret, "FEISHU_APP_SECRET", secret_env)
    return table


Opt = typer.Option


def onboard(
    non_interactive: Annotated[bool, Opt("--non-interactive", help="Take every answer from flags.")] = False,
    force: Annotated[bool, Opt("--force", help="Replace an existing config file.")] = False,
    skip_checks: Annotated[bool, Opt("--skip-checks", help="Do not contact Telegram / Feishu.")] = False,
    secrets_in: Annotated[str | None, Opt("--secrets", help="Where secrets go: env (names only) or file.")] = None,
    team_name: Annotated[str | None, Opt(help="The team's name.")] = None,
    timezone: Annotated[str | None, Opt(help="IANA time zone, e.g. Asia/Shanghai.")] = None,
    owner: Annotated[str | None, Opt(help="The owner as channel:id, e.g. telegram:12345678.")] = None,
    local_model: Annotated[str | None, Opt(help="Detected local model to use, or 'none'.")] = None,
    cloud_model: Annotated[str | None, Opt(help="Cloud model name, e.g. gpt-4o-mini; 'none' for none.")] = None,
    cloud_base_url: Annotated[str, Opt(help="OpenAI-compatible API root of the cloud model.")] = DEFAULT_CLOUD_URL,
    cloud_api_key_env: Annotated[str, Opt(help="Environment variable with the cloud API key.")] = "OPENAI_API_KEY",
    telegram: Annotated[bool | None, Opt("--telegram/--no-telegram", help="Connect a Telegram bot.")] = None,
    telegram_token: Annotated[str | None, Opt(help="Bot token (prefer --telegram-token-env).")] = None,
    telegram_token_env: Annotated[str | None, Opt(help="Read the bot token from this variable (and keep it "
                                                  "there: the config names the variable).")] = None,
    telegram_base_url: Annotated[str, Opt(help="Bot API root.")] = TelegramConfig().base_url,
    feishu: Annotated[bool | None, Opt("--feishu/--no-feishu", help="Connect a Feishu / Lark app.")] = None,
    feishu_app_id: Annotated[str | None, Opt(help="Feishu app id.")] = None,
    feishu_app_secret: Annotated[str | None, Opt(help="App secret (prefer --feishu-app-secret-env).")] = None,
    feishu_app_secret_env: Annotated[str | None, Opt(help="Read the app secret from this variable (and keep "
                                                     "it there).")] = None,
    feishu_domain: Annotated[str, Opt(help="https://open.feishu.cn, or https://open.larksuite.com for Lark.")
                             ] = DEFAULT_FEISHU,
    ollama_url: Annotated[str, Opt(help="Where to look for Ollama.")] = DEFAULT_OLLAMA,
    lmstudio_url: Annotated[str, Opt(help="Where to look for LM Studio.")] = DEFAULT_LMSTUDIO,
) -> None:
    """Set up teamclaw: models, Feishu and/or Telegram, owner and time zone; writes teamclaw.toml."""
    out = Console(highlight=False, soft_wrap=True)  # commands it prints stay on one line, copyable
    if secrets_in not in (None, "env", "file"):
        raise ConfigError("--secrets takes env or file")
    w = _Wizard(not non_interactive, secrets_in, out)
    path = config_path(None)
    if path.exists() and not force:
        if not w.yes(f"{path} exists. Replace it?", None, False):
            raise ConfigError(f"{path} exists: pass --force to replace it")
        force = True
    out.print(f"Setting up teamclaw in {path.parent}")
    data: dict[str, Any] = {"team": {
        "name": w.ask("Team name", team_name, "team"),
        "timezone": w.ask("Team time zone", timezone, _local_zone(), _zone_problem),
    }}
    models: dict[str, Any] = {}
    local = _local_model(w, detect_local(ollama_url, lmstudio_url), local_model)
    if local:
        models[local["name"]] = local["table"]
    if cloud_model != "none" and w.yes("Add a cloud model (OpenAI-compatible API)?", True if cloud_model else None,
                                        bool(cloud_model) or not non_interactive):
        base = w.ask("Cloud API root", cloud_base_url if non_interactive else None, cloud_base_url)
        name = w.ask("Cloud model name", cloud_model, "gpt-4o-mini")
        cloud: dict[str, Any] = {"provider": "openai", "base_url": base, "model": name, "location": "cloud",
                                 "tier": 2}
        cloud["api_key_env"] = w.ask("Environment variable holding its API key",
                                     cloud_api_key_env if non_interactive else None, cloud_api_key_env,
                                     lambda a: None if a.isidentifier() else "use letters, digits and _ only")
        models["cloud"] = cloud
    if models:
        data["models"] = models
    channels: dict[str, Any] = {}
    if telegram_token is None and telegram_token_env:
        telegram_token = os.environ.get(telegram_token_env)
    if w.yes("Connect a Telegram bot?", True if telegram_token else telegram, False):
        channels["telegram"] = _telegram(w, telegram_token, telegram_token_env, telegram_base_url, skip_checks)
    feishu_secret = feishu_app_secret
    if feishu_secret is None and feishu_app_secret_env:
        feishu_secret = os.environ.get(feishu_app_secret_env)
    if w.yes("Connect a Feishu / Lark app?", True if feishu_app_id else feishu, False):
        channels["feishu"] = _feishu(w, feishu_app_id, feishu_secret, feishu_app_secret_env, feishu_domain,
                                     skip_checks)
    if channels:
        data["channels"] = channels
    data["team"]["owners"] = [w.ask("Your own account as channel:id (the owner)", owner,
                                    _owner_default(channels), _owner_problem)]
    write_config(path, data, force=force)
    out.print(f"[green]wrote {path}[/green] (readable by you only)")
    names = sorted(set(w.env_names) | ({cloud_api_key_env} if "cloud" in models else set()))
    if names:
        out.print("Set these environment variables for teamclaw (the service gets them with --env NAME): "
                  + ", ".join(names))
    out.print("Next: `teamclaw doctor` checks everything; `teamclaw service install"
              + "".join(f" --env {n}" for n in names) + "` runs it in the background.")


def _local_zone() -> str:
    key = os.environ.get("TZ", "")
    if key and _zone_problem(key) is None:
        return key
    try:
        name = str(Path("/etc/localtime").resolve()).split("zoneinfo/", 1)[1]
    except (IndexError, OSError):
        return "UTC"
    return name if _zone_problem(name) is None else "UTC"


def _owner_default(channels: dict[str, Any]) -> str:
    return "telegram:" if "telegram" in channels else "feishu:ou_" if "feishu" in channels else "console:you"


def register(app: typer.Typer) -> None:
    app.command()(onboard)
