"""The container files: the image runs the daemon as a user on /data; compose runs it beside Ollama."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", text)
    return [tuple(line.split(maxsplit=1)) for line in joined.splitlines()  # type: ignore[misc]
            if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_runs_the_daemon_as_a_user_on_the_data_volume() -> None:
    steps = _instructions((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    kinds = [k for k, _ in steps]
    assert kinds[0] == "FROM" and kinds[-1] == "CMD"
    assert steps[-1][1] == '["teamclaw", "run"]'
    assert ("USER", "teamclaw") in steps and kinds.index("USER") > kinds.index("RUN")
    assert any(k == "ENV" and "TEAMCLAW_HOME=/data" in v for k, v in steps)
    assert ("VOLUME", '["/data"]') in steps
    for kind, value in steps:
        if kind == "COPY":
            for source in value.split()[:-1]:
                assert source.endswith("*") or (REPO / source).exists(), source  # README.md* may be absent


def test_compose_runs_teamclaw_beside_ollama_without_secrets_in_the_file() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"teamclaw", "ollama"}
    app = services["teamclaw"]
    assert app["depends_on"] == ["ollama"]
    assert (DEPLOY / app["build"]["context"] / app["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert app["restart"] == "unless-stopped" and services["ollama"]["restart"] == "unless-stopped"
    assert "teamclaw-data:/data" in app["volumes"]
    assert all(port.startswith("127.0.0.1:") for port in app["ports"])  # the dashboard stays on this host
    assert "ports" not in services["ollama"]
    for name, value in app["environment"].items():
        assert name == "TEAMCLAW_HOME" or str(value).startswith("${"), name  # secrets come from outside
    assert ":?" in app["environment"]["TEAMCLAW_DASHBOARD_TOKEN"]  # compose refuses to start without it


def test_dockerignore_keeps_the_build_context_small() -> None:
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", "tests"} <= set(ignored)
