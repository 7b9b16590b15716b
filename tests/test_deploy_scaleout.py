"""The scale-out compose file: several teamclaw processes beside PostgreSQL and a Chroma server, no secret in it."""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_compose_runs_several_processes_on_postgres_and_a_chroma_server() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.scaleout.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"postgres", "chroma", "teamclaw"} <= set(services)
    app = services["teamclaw"]
    assert app["deploy"]["replicas"] >= 2
    assert app["build"]["args"]["EXTRAS"] == "[postgres]"  # asyncpg in the image
    assert (DEPLOY / app["build"]["context"] / app["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    env = app["environment"]
    assert env["TEAMCLAW__STORAGE__URL"].startswith("postgresql+asyncpg://")
    assert env["TEAMCLAW__STORAGE__CHROMA_URL"] == "http://chroma:8000"
    assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
    # Secrets come from the environment of `docker compose`: every value that carries one is a reference.
    for service in services.values():
        for name, value in (service.get("environment") or {}).items():
            if any(word in name for word in ("PASSWORD", "TOKEN", "SECRET", "KEY")):
                assert str(value).startswith("${"), name
    assert "${POSTGRES_PASSWORD}" in env["TEAMCLAW__STORAGE__URL"]
    assert not any("ports" in service for name, service in services.items() if name != "teamclaw")


def test_the_image_takes_extras_as_a_build_argument() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert 'ARG EXTRAS=""' in dockerfile and 'pip install ".${EXTRAS}"' in dockerfile
