"""The image and compose.yaml, read as Docker would (Docker itself is not needed): the
adapter runs as a user of its own with a health check that is a real command, and every
published port, the metrics included, listens on the host's loopback only."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import typer.main
import yaml

from adapter.commands import app
from adapter.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            instructions.append((keyword.upper(), rest))
            pending = ""
    return instructions


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_the_image_runs_as_the_user_it_creates_who_owns_the_store() -> None:
    steps = dockerfile()
    [user] = [rest for keyword, rest in steps if keyword == "USER"]
    uid, _, gid = user.partition(":")
    run = " ".join(rest for keyword, rest in steps if keyword == "RUN")

    assert uid not in ("0", "root")
    assert f"--uid {uid}" in run
    assert f"--gid {gid}" in run
    assert "chown pos-adapter:pos-adapter /data" in run
    keywords = [keyword for keyword, _ in steps]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")


def test_the_image_health_check_runs_pos_adapter_health() -> None:
    [check] = [rest for keyword, rest in dockerfile() if keyword == "HEALTHCHECK"]
    options, _, command = check.partition(" CMD ")
    argv = yaml.safe_load(command)  # the exec form is a JSON array
    flags = dict(option.removeprefix("--").split("=") for option in shlex.split(options))

    assert argv[:2] == ["pos-adapter", "health"]
    health = typer.main.get_command(app).commands["health"]  # type: ignore[attr-defined]
    health.make_context("health", argv[2:])  # the options exist and parse
    assert set(flags) == {"interval", "timeout", "start-period", "retries"}
    assert int(flags["timeout"].removesuffix("s")) > 2 * float(argv[argv.index("--timeout") + 1])


def test_the_image_serves_its_metrics_beyond_the_container() -> None:
    env = " ".join(rest for keyword, rest in dockerfile() if keyword == "ENV")
    exposed = " ".join(rest for keyword, rest in dockerfile() if keyword == "EXPOSE")

    assert "POS_ADAPTER_METRICS_HOST=0.0.0.0" in env
    assert str(Settings().metrics_port) in exposed.split()
    assert Settings().metrics_host == "127.0.0.1"  # outside a container: the loopback


def test_compose_publishes_every_port_on_the_loopback_only() -> None:
    services = compose()["services"]
    published = [port for service in services.values() for port in service.get("ports", [])]

    assert published
    assert all(str(port).startswith("127.0.0.1:") for port in published), published


def test_compose_publishes_the_adapters_metrics() -> None:
    adapter = compose()["services"]["adapter"]
    port = adapter["environment"]["POS_ADAPTER_METRICS_PORT"]

    assert adapter["environment"]["POS_ADAPTER_METRICS_HOST"] == "0.0.0.0"
    assert f"127.0.0.1:{port}:{port}" in adapter["ports"]


def test_the_mock_pos_container_checks_its_own_health() -> None:
    """It runs the adapter's image, whose health check is the adapter's."""
    services = compose()["services"]
    check = " ".join(services["mock-pos"]["healthcheck"]["test"])

    assert "/health" in check
    assert "pos-adapter" not in check
    assert services["adapter"]["depends_on"]["mock-pos"] == {"condition": "service_healthy"}
