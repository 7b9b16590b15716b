"""``teamclaw doctor``: checks the config, storage, each model endpoint and each channel credential, and says
what to fix for every problem it finds."""

from __future__ import annotations

import httpx
from rich.console import Console
from rich.markup import escape

from assistant.config import Config, load_config
from assistant.errors import ConfigError, TeamclawError
from assistant.storage.db import Database

__all__ = ["run_doctor"]

CHECK_TIMEOUT_S = 8.0


class _Report:
    def __init__(self, out: Console) -> None:
        self.out = out
        self.problems = 0

    def ok(self, what: str) -> None:
        self.out.print(f"[green]ok[/green]   {escape(what)}", highlight=False, soft_wrap=True)

    def warn(self, what: str, fix: str) -> None:
        self.out.print(f"[yellow]WARN[/yellow] {escape(what)}\n     fix: {escape(fix)}", highlight=False,
                       soft_wrap=True)

    def bad(self, what: str, fix: str) -> None:
        self.problems += 1
        self.out.print(f"[red]FAIL[/red] {escape(what)}\n     fix: {escape(fix)}", highlight=False, soft_wrap=True)


async def run_doctor(config_file: str | None, out: Console) -> bool:
    report = _Report(out)
    try:
        cfg = load_config(config_file)
    except ConfigError as exc:
        report.bad("configuration", str(exc))
        return False
    report.ok("configuration")
    await _storage(cfg, report)
    await _models(cfg, report)
    _media(cfg, report)
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_S) as client:
        await _telegram(cfg, client, report)
        await _feishu(cfg, client, report)
    out.print("all good" if not report.problems else f"{report.problems} problem(s) found")
    return report.problems == 0


def _media(cfg: Config, report: _Report) -> None:
    """What members' files will become here: a missing part is a warning (the file is still stored and named)."""
    if not cfg.media.enabled:
        return
    from assistant.media.ocr import ocr_available
    from assistant.media.video import FFMPEG_HINT, ffmpeg_available

    if ffmpeg_available():
        report.ok("media: ffmpeg (videos become frames and a transcript)")
    else:
        report.warn("media: ffmpeg not found, videos are stored but not looked at", FFMPEG_HINT)
    if not cfg.media.transcribe_url:
        report.warn("media: no speech-to-text endpoint, voice notes are stored but not transcribed",
                    "set media.transcribe_url to an OpenAI-compatible API root with /audio/transcriptions "
                    "(a local whisper server)")
    if cfg.media.ocr and not ocr_available():
        report.warn("media: no OCR, the text in pictures is not read",
                    "pip install 'teamclaw[ocr]' (or set media.ocr = false)")


async def _storage(cfg: Config, report: _Report) -> None:
    db = Database(cfg.database_url)
    try:
        await db.migrate()
        if await db.integrity_ok():
            report.ok(f"database {db.engine.url.render_as_string(hide_password=True)}")
        else:
            report.bad("database integrity check", "restore the latest backup: teamclaw restore FILE")
    except TeamclawError as exc:
        report.bad("database", f"{exc}; check storage.url and that the folder is writable")
    finally:
        await db.aclose()


async def _models(cfg: Config, report: _Report) -> None:
    from assistant.router import Router

    db = Database("sqlite+aiosqlite:///:memory:")
    router = Router(cfg, db)
    try:
        health = await router.health()
    finally:
        await router.aclose()
        await db.aclose()
    for name, info in health.items():
        if info.get("reachable"):
            report.ok(f"model {name} ({info.get('latency_ms', '?')} ms)")
        else:
            report.bad(f"model {name}: {info.get('error', 'unreachable')}",
                       f"check [models.{name}] base_url, model and api key; is the server running?")
    if not any(info.get("reachable") and info.get("location") == "local" for info in health.values()):
        # Privacy routing keeps sensitive messages on local models: with none reachable, such messages are
        # refused (the member is told why) and never answered.
        report.warn("privacy routing has no reachable local model: messages with personal data will not be "
                    "answered", "add a local model (`teamclaw onboard` finds Ollama and LM Studio) or turn on "
                    "redaction (routing.redaction, routing.redaction_members, routing.redaction_chats)")


async def _telegram(cfg: Config, client: httpx.AsyncClient, report: _Report) -> None:
    tg = cfg.channels.telegram
    if not tg.enabled:
        return
    token = tg.bot_token()
    if not token:
        report.bad("telegram token", f"set channels.telegram.token or the environment variable {tg.token_env}")
        return
    try:
        resp = await client.get(f"{tg.base_url}{token}/getMe")
        data = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        report.bad(f"telegram: cannot reach {tg.base_url} ({type(exc).__name__})",
                   "check channels.telegram.base_url and the network")
        return
    if data.get("ok"):
        report.ok(f"telegram bot @{data['result'].get('username')}")
    else:
        report.bad(f"telegram token rejected: {data.get('description')}",
                   "create a new token with @BotFather and update the config")


async def _feishu(cfg: Config, client: httpx.AsyncClient, report: _Report) -> None:
    fs = cfg.channels.feishu
    if not fs.enabled:
        return
    secret = fs.secret()
    if not fs.app_id or not secret:
        report.bad("feishu credentials", "set channels.feishu.app_id and app_secret (or app_secret_env)")
        return
    try:
        resp = await client.post(f"{fs.domain}/open-apis/auth/v3/tenant_access_token/internal",
                                 json={"app_id": fs.app_id, "app_secret": secret})
        data = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        report.bad(f"feishu: cannot reach {fs.domain} ({type(exc).__name__})", "check channels.feishu.domain")
        return
    if data.get("code") == 0:
        report.ok(f"feishu app {fs.app_id}")
    else:
        report.bad(f"feishu app credentials rejected: {data.get('msg')} (code {data.get('code')})",
                   "copy App ID and App Secret again from the Feishu developer console")
