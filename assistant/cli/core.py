"""Core commands: init, run, chat, status, doctor."""

from __future__ import annotations

import asyncio
import gc
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assistant import __version__
from assistant.config import Config, config_path, load_config
from assistant.messages import Reply

if TYPE_CHECKING:
    from rich.console import Console  # imported by the commands that print with it: not by `run`

__all__ = ["register"]

ConfigOption = Annotated[str | None, typer.Option("--config", "-c", help="Path to teamclaw.toml.",
                                                  envvar="TEAMCLAW_CONFIG")]
_TEMPLATE = Path(__file__).with_name("config_template.toml")


def _workspace_defaults(config: Config) -> None:
    from assistant import context

    config.workspace_dir.mkdir(parents=True, exist_ok=True)
    defaults = {"SOUL.md": context.DEFAULT_PERSONA, "AGENTS.md": context.DEFAULT_INSTRUCTIONS,
                "HEARTBEAT.md": "# Things to check on heartbeat, one per line: - [ ] item\n"}
    for name, text in defaults.items():
        path = config.workspace_dir / name
        if not path.exists():
            path.write_text(text + "\n", encoding="utf-8")


def init(config: ConfigOption = None,
         force: Annotated[bool, typer.Option(help="Overwrite an existing config file.")] = False,
         discover: Annotated[bool, typer.Option(help="Look for a local model server (Ollama, LM Studio, llama.cpp "
                                                     "server, MLX, vLLM) on its usual port and use it.")] = True,
         ) -> None:
    """Write a commented config file and create the data folder."""
    path = config_path(config)
    if path.exists() and not force:
        typer.echo(f"{path} exists already; keep it, or pass --force to overwrite it.")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = _TEMPLATE.read_text(encoding="utf-8")
        if discover:
            text += _found_model_text()
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
        typer.echo(f"wrote {path}")
    cfg = load_config(path)
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    _workspace_defaults(cfg)
    typer.echo(f"data folder: {cfg.data_dir}")
    typer.echo("next: `teamclaw chat` to talk to it here, or enable a channel and `teamclaw run`.")


def _found_model_text() -> str:
    """The ``[models.*]`` table of the best local model server answering here, as TOML to append ("" if none)."""
    import tomli_w

    from assistant.providers.discovery import discover, model_table

    found = asyncio.run(discover())
    if not found:
        typer.echo("no local model server answers here (Ollama, LM Studio, llama.cpp server, MLX, vLLM): the "
                   "bundled small model answers; `teamclaw onboard` adds a real one")
        return ""
    server = found[0]
    typer.echo(f"found {server.name} at {server.base_url}: using its model {server.best} (marked local)")
    return ("\n# Found on this machine by `teamclaw init`: a local model server, so private requests may use it.\n"
            + tomli_w.dumps({"models": {server.name: model_table(server)}}))


def run(config: ConfigOption = None) -> None:
    """Run the daemon in the foreground (SIGINT/SIGTERM stop it cleanly)."""
    from assistant.daemon import App
    from assistant.logs import setup_logging

    cfg = load_config(config)
    setup_logging(cfg.logging, cfg.data_dir, secrets=_secrets(cfg))
    if not (cfg.channels.telegram.enabled or cfg.channels.feishu.enabled):
        typer.echo("no chat channel is enabled: enable [channels.telegram] or [channels.feishu], or use "
                   "`teamclaw chat` for the console. Running scheduler and dashboard only.", err=True)

    async def main() -> None:
        async with App(cfg, before_channels=_settle_garbage_collector) as app:
            typer.echo(f"teamclaw {__version__} running (channels: {', '.join(app.channels) or 'none'}); "
                       "Ctrl-C stops it.", err=True)
            await app.run_until_signalled()

    asyncio.run(main())


def _settle_garbage_collector() -> None:
    """Once started, the daemon's modules, tables and config live as long as it does: move them out of the cyclic
    collector's sight (``gc.freeze``), so that the full collections a busy daemon triggers now and then scan only
    what its messages allocate (a full pass over everything loaded at start would pause every turn in flight).
    It runs before the channels start: the collection before the freeze takes 50-70 ms, which the first message
    after a restart used to wait for. Then the C heap's free pages go back to the system: start-up (the backlog of
    vectors embedded, the collection just run) freed them, and glibc would keep them resident."""
    from assistant.heap import release_free_heap

    gc.collect()
    gc.freeze()
    release_free_heap()


def _keyword_memory(cfg: Config) -> Config:
    """The config of a one-shot: memory recalls by keyword (with the profile, journal and facts as always) and
    leaves vectors alone. Loading the embedding model and chromadb would cost a one-shot more than everything else
    it does; what it writes stays "pending" and is embedded by the next start of the daemon or an interactive chat."""
    if not cfg.memory.enabled or cfg.memory.embedder == "none":
        return cfg
    return cfg.model_copy(update={"memory": cfg.memory.model_copy(update={"embedder": "none"})})


def _secrets(cfg: Config) -> list[str]:
    values = [m.key() for m in cfg.models.values()]
    values += [cfg.channels.telegram.bot_token(), cfg.channels.feishu.secret(), cfg.dashboard.access_token()]
    for secret in (cfg.channels.telegram.webhook_secret, cfg.channels.feishu.encrypt_key,
                   cfg.channels.feishu.verification_token):
        values.append(secret.get_secret_value() if secret else None)
    return [v for v in values if v]


def chat(
    config: ConfigOption = None,
    user: Annotated[str, typer.Option("--user", "-u", help="Be this member.")] = "you",
    group: Annotated[str | None, typer.Option("--group", "-g", help="Play a group chat of this name; "
                                              "type 'name: text' to speak as another member, @bot to address it.")
                     ] = None,
    message: Annotated[str | None, typer.Option("--message", "-m", help="Send one message, print the reply, exit.")
                       ] = None,
    session: Annotated[str | None, typer.Option("--session", "-s", help="Continue this session id.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a reply.")] = 300.0,
    as_json: Annotated[bool, typer.Option("--json", help="With -m: print the reply as JSON.")] = False,
    vectors: Annotated[bool, typer.Option(
        "--vectors", help="With -m: recall memory by meaning too, as the daemon does (loads the embedding model "
        "and the vector store: about a second and 100 MB more).")] = False,
) -> None:
    """Talk to the assistant in this terminal through the console channel."""
    from assistant.logs import setup_logging

    if message is not None:
        # A one-shot lives about a second and what it builds lives as long: the cyclic collector's passes over the
        # modules it imports cost 60 ms of that and would free next to nothing.
        gc.disable()
    cfg = load_config(config)
    if message is not None and not vectors:
        cfg = _keyword_memory(cfg)
    setup_logging(cfg.logging, cfg.data_dir, secrets=_secrets(cfg), console=False)
    _workspace_defaults(cfg)
    session_id = session or uuid.uuid4().hex[:8]
    out: Console | None = None
    if message is None:  # rich styles the conversation; a one-shot prints plain text (and skips its import)
        from rich.console import Console

        out = Console()
    try:
        asyncio.run(_chat(cfg, user, group, message, session_id, timeout, as_json, out))
    except KeyboardInterrupt:
        # Ctrl-C: the app has closed cleanly by the time this runs
        if out is not None:
            out.print("\nbye", style="dim")
        else:
            typer.echo("bye", err=True)


async def _chat(cfg: Config, user: str, group: str | None, message: str | None, session_id: str, timeout: float,
                as_json: bool, out: Console | None) -> None:
    from assistant.daemon import App
    from channels.console import ConsoleChannel, TerminalLines, is_leave

    notes: list[str] = []  # one-shot: what came besides the answer (the bundled model's note), printed before it

    def show(reply: Reply) -> None:
        if out is not None:  # a conversation (a one-shot has no console of rich's)
            who = f" → {', '.join(reply.mention_names)}" if reply.mention_names else ""
            out.print(f"[bold cyan]assistant{who}:[/bold cyan] {reply.text}", highlight=False, markup=True)
        elif reply.reply_to_message_id is None:
            notes.append(reply.text)

    console = ConsoleChannel(show=show)
    chat_id = f"{group}#{session_id}" if group else f"console:{user}#{session_id}"
    async with App(cfg, channels=[console], scheduler=message is None, dashboard=False, status_file=False) as app:
        if message is not None:
            mid = await console.say(user, message, chat=chat_id, group=group is not None)
            if group is not None and "@bot" not in message and not message.startswith("/"):
                return
            reply = await console.wait_reply(mid, timeout)
            if as_json:
                shown: dict[str, object] = {"session": session_id, "reply": reply.text}
                if notes:
                    shown["notes"] = notes
                typer.echo(json.dumps(shown, ensure_ascii=False))
            else:
                for note in notes:
                    typer.echo(note + "\n")
                typer.echo(reply.text)
                typer.echo(f"(session {session_id})", err=True)
            return
        assert out is not None  # a conversation: chat() made the console
        out.print(f"teamclaw {__version__} — session {session_id}. /quit, /exit, Ctrl-D or Ctrl-C leave; /help lists "
                  "commands.", style="dim")
        speaker = user
        lines = TerminalLines()
        while True:
            typed = await lines.read(f"{speaker}> ")
            if typed is None or is_leave(typed):
                break
            line = typed.strip()
            if not line:
                continue
            if group is not None and ":" in line.split(" ", 1)[0]:
                name, _, rest = line.partition(":")
                speaker, line = name.strip() or speaker, rest.strip()
            mid = await console.say(speaker, line, chat=chat_id, group=group is not None)
            if group is None or "@bot" in line or line.startswith("/"):
                try:
                    await console.wait_reply(mid, timeout)
                except TimeoutError:
                    out.print("(no reply in time; it will show when it comes)", style="yellow")
        del app


def status(config: ConfigOption = None,
           as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show whether the daemon runs, channel health, queue depth and undelivered messages."""
    from assistant.status_report import collect_status

    cfg = load_config(config)
    report = asyncio.run(collect_status(cfg))
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    from rich.console import Console

    from assistant.status_report import print_status

    print_status(report, Console())


def doctor(config: ConfigOption = None) -> None:
    """Check config, storage, every model endpoint and every channel credential; say what to fix."""
    from rich.console import Console

    from assistant.doctor import run_doctor

    ok = asyncio.run(run_doctor(config, Console()))
    if not ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(run)
    app.command()(chat)
    app.command()(status)
    app.command()(doctor)

