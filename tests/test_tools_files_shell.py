"""Files stay inside the member's workspace (``..``, absolute paths and symlinks refused); the shell runs only
allowlisted programs and asks for approval (once / session / always, persisted) for anything else."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.builtin_tools import member_workspace
from assistant.commands import CommandRegistry
from assistant.config import Config
from tests.standins.tool_world import ALICE, BOB, member, open_world


def cmds() -> CommandRegistry:
    from assistant import builtin_tools, skillbook

    registry = CommandRegistry()
    skillbook.register_commands(registry)
    builtin_tools.register_commands(registry)
    return registry


async def test_files_round_trip_inside_the_workspace(make_config: Callable[..., Config]) -> None:
    config = make_config()
    alice = member(ALICE)
    async with open_world(config) as world:
        wrote = await world.call(alice, "file_write", json.dumps({"path": "notes/todo.md", "content": "buy milk"}))
        assert not wrote.error and "8 bytes" in wrote.content
        assert (await world.call(alice, "file_read", '{"path": "notes/todo.md"}')).content == "buy milk"
        listing = await world.call(alice, "file_list", '{"path": "notes"}')
        assert "notes/todo.md (8 bytes)" in listing.content
    assert (config.workspace_dir / "members" / str(ALICE) / "notes" / "todo.md").read_text() == "buy milk"


@pytest.mark.parametrize("path", ["../2/secret.txt", "../../teamclaw.toml", "notes/../../x", "/etc/passwd",
                                  "~/secret", "C:\\Windows\\win.ini"])
async def test_escapes_are_refused(path: str, make_config: Callable[..., Config]) -> None:
    config = make_config()
    async with open_world(config) as world:
        bob_ws = member_workspace(config, member(BOB, name="bob"))
        (bob_ws / "secret.txt").write_text("bob's secret")
        read = await world.call(member(ALICE), "file_read", json.dumps({"path": path}))
        write = await world.call(member(ALICE), "file_write", json.dumps({"path": path, "content": "x"}))
    assert read.error and write.error
    assert "bob's secret" not in read.content
    assert (bob_ws / "secret.txt").read_text() == "bob's secret"


async def test_symlinks_out_of_the_workspace_are_refused(make_config: Callable[..., Config],
                                                         tmp_path: Path) -> None:
    config = make_config()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.txt").write_text("outside data")
    async with open_world(config) as world:
        ws = member_workspace(config, member(ALICE))
        (ws / "link.txt").symlink_to(outside / "data.txt")
        (ws / "linkdir").symlink_to(outside)
        for args in ({"path": "link.txt"}, {"path": "linkdir/data.txt"}):
            result = await world.call(member(ALICE), "file_read", json.dumps(args))
            assert result.error and "outside your workspace" in result.content
        result = await world.call(member(ALICE), "file_write", json.dumps({"path": "linkdir/new.txt", "content": "x"}))
        assert result.error
        assert (await world.call(member(ALICE), "file_list", '{"path": "linkdir"}')).error
    assert not (outside / "new.txt").exists()
    assert (outside / "data.txt").read_text() == "outside data"


async def test_file_size_limit(make_config: Callable[..., Config]) -> None:
    async with open_world(make_config(tools={"file_max_bytes": 100})) as world:
        result = await world.call(member(), "file_write", json.dumps({"path": "a.txt", "content": "x" * 101}))
    assert result.error and "limit is 100" in result.content


SHELL = {"shell_enabled": True, "shell_members": ["member:1"], "shell_allowlist": ["ls", "cat", "echo"],
         "shell_timeout_s": 5}


async def test_shell_is_off_by_default_and_only_for_listed_members(make_config: Callable[..., Config]) -> None:
    async with open_world(make_config()) as world:
        assert "shell" not in world.registry.names()
    async with open_world(make_config(tools=SHELL)) as world:
        assert "shell" in world.ctx(member(ALICE)).allowed_tools
        assert "shell" not in world.ctx(member(BOB, name="bob", admin=True)).allowed_tools
        refused = await world.call(member(BOB, name="bob"), "shell", '{"command": "ls"}')
        assert refused.error and "not permitted" in refused.content
        by_identity = world.ctx(member(BOB, name="bob"), identities=("telegram:42",))
        assert "shell" not in by_identity.allowed_tools
    async with open_world(make_config(tools={**SHELL, "shell_members": ["telegram:42"]})) as world:
        assert "shell" in world.ctx(member(BOB, name="bob"), identities=("telegram:42",)).allowed_tools


async def test_allowlisted_command_runs_in_the_workspace(make_config: Callable[..., Config]) -> None:
    config = make_config(tools=SHELL)
    async with open_world(config) as world:
        await world.call(member(), "file_write", json.dumps({"path": "hello.txt", "content": "hi there"}))
        result = await world.call(member(), "shell", '{"command": "cat hello.txt"}')
        assert not result.error and "exit status 0" in result.content and "hi there" in result.content
        outside = await world.call(member(), "shell", '{"command": "cat /etc/hostname"}')
        assert outside.content.startswith("needs approval") and "outside the workspace" in outside.content
        env = await world.call(member(), "shell", '{"command": "echo $HOME"}')
        assert "$HOME" in env.content  # no shell: nothing is expanded


async def test_approval_once_session_always(make_config: Callable[..., Config]) -> None:
    config = make_config(tools=SHELL)
    alice = member(ALICE)
    ws = member_workspace(config, alice)
    async with open_world(config) as world:
        first = await world.call(alice, "shell", '{"command": "touch a.txt"}')
        assert first.content.startswith("needs approval") and "/approve 1 once|session|always" in first.content
        assert not (ws / "a.txt").exists()
        assert "#1: touch a.txt" in await cmds().run("approve", "", world.command_ctx(alice))
        assert "Not allowed" in await cmds().run(
            "approve", "1 once", world.command_ctx(member(BOB, name="bob")))  # not Bob's to approve
        approved = await cmds().run("approve", "1 once", world.command_ctx(alice))
        assert "Approved this once" in approved and "exit status 0" in approved
        assert (ws / "a.txt").exists()
        again = await world.call(alice, "shell", '{"command": "touch b.txt"}')
        assert "/approve 2" in again.content and not (ws / "b.txt").exists()  # "once" was spent

        assert "for this conversation" in await cmds().run("approve", "2 session", world.command_ctx(alice))
        assert "exit status 0" in (await world.call(alice, "shell", '{"command": "touch c.txt"}')).content
        other_chat = member(ALICE, chat_id="chat-2")
        assert "/approve 3" in (await world.call(other_chat, "shell", '{"command": "touch d.txt"}')).content
        assert "Denied #3" in await cmds().run("approve", "3 deny", world.command_ctx(other_chat))
        assert not (ws / "d.txt").exists()

        assert "/approve 4" in (await world.call(alice, "shell", '{"command": "mkdir x"}')).content
        assert "from now on" in await cmds().run("approve", "4 always", world.command_ctx(alice))
        assert (ws / "x").is_dir()
    async with open_world(config) as world:  # a restart: the "always" grant was persisted
        result = await world.call(member(ALICE, chat_id="chat-9"), "shell", '{"command": "mkdir y"}')
        assert "exit status 0" in result.content and (ws / "y").is_dir()


async def test_shell_time_and_output_limits(make_config: Callable[..., Config]) -> None:
    config = make_config(tools={**SHELL, "shell_allowlist": ["cat", "sleep"], "shell_timeout_s": 0.5,
                                "shell_max_output": 1000})
    async with open_world(config) as world:
        (member_workspace(config, member()) / "big.txt").write_text("y" * 50_000)
        big = await world.call(member(), "shell", '{"command": "cat big.txt"}')
        assert "49000 more bytes of output cut" in big.content
        slow = await world.call(member(), "shell", '{"command": "sleep 30"}')
        assert "killed after" in slow.content


async def test_shell_environment_carries_no_secrets(make_config: Callable[..., Config],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    async with open_world(make_config(tools={**SHELL, "shell_allowlist": ["env"]})) as world:
        result = await world.call(member(), "shell", '{"command": "env"}')
    assert "exit status 0" in result.content and "PATH=" in result.content
    assert "sk-secret-value" not in result.content and "OPENAI_API_KEY" not in result.content
