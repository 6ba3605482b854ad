"""The Grafana dashboard and the Prometheus rules under deploy/ load, have the expected
shape, and name only metrics the worker exposes; promtool checks them where installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from adapter.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "pos-adapter.json"
RULES = DEPLOY / "prometheus" / "alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "alerts.test.yml"
METRIC = re.compile(r"\bpos_adapter_[a-z_]+")
DURATION = re.compile(r"^(\d+[smhdwy])+$")
SEVERITIES = {"critical", "warning"}
# Grafana's variables, replaced by what Prometheus could parse (for promtool).
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$location": ".*"}


def exposed_names() -> set[str]:
    """Every sample name the worker's registry exposes, each labelled metric touched once."""
    metrics = Metrics()
    view = metrics.location("L1", "mock")
    view.command_settled("TableOrderSnapshotRequested", "RESOLVED", 0.01)
    view.pos_call("mock", "read_check", 0.02, failed=True)
    view.watch_streams(lambda: 1)
    view.watchdog_checked(True, 1.0)
    view.consumer_restarts.inc()
    view.dead_lettered.inc()
    metrics.messages_out.labels("L1", "TableOrderSnapshotResolutionResult").inc()
    metrics.task_failures.labels("relay").inc()
    metrics.leases_lost.labels("L1").inc()
    metrics.outbox_backlog.set(1)
    silent = [family.name for family in metrics.registry.collect() if not family.samples]
    assert not silent, f"touch these metrics in exposed_names(): {silent}"
    exposition = generate_latest(metrics.registry).decode()
    return {sample.name for family in text_string_to_metric_families(exposition)
            for sample in family.samples}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def rules() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(RULES.read_text())
    return loaded


def panels(container: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    for panel in container.get("panels", []):
        yield panel
        yield from panels(panel)


def dashboard_expressions() -> list[str]:
    model = dashboard()
    expressions = [target["expr"] for panel in panels(model)
                   for target in panel.get("targets", [])]
    for variable in model["templating"]["list"]:
        if variable["type"] == "query":
            expressions.append(variable["query"]["query"])
    return expressions


def rule_expressions() -> list[str]:
    return [str(rule["expr"]) for group in rules()["groups"] for rule in group["rules"]]


def unknown_metrics(expressions: list[str]) -> set[str]:
    exposed = exposed_names()
    return {name for expr in expressions for name in METRIC.findall(expr)} - exposed


def test_the_dashboard_names_only_exposed_metrics() -> None:
    expressions = dashboard_expressions()

    assert len(expressions) > 20
    assert unknown_metrics(expressions) == set()


def test_the_rules_name_only_exposed_metrics() -> None:
    assert unknown_metrics(rule_expressions()) == set()


def test_the_dashboard_charts_every_metric() -> None:
    used = {name for expr in dashboard_expressions() for name in METRIC.findall(expr)}
    families = {family.name for family in Metrics().registry.collect()}

    uncharted = {family for family in families
                 if not any(name == family or name.startswith(f"{family}_") for name in used)}
    assert uncharted == set()


def test_the_dashboard_loads_with_unique_panel_ids_and_its_variables() -> None:
    model = dashboard()
    ids = [panel["id"] for panel in panels(model)]
    variables = {variable["name"]: variable for variable in model["templating"]["list"]}

    assert len(ids) == len(set(ids))
    assert model["schemaVersion"] >= 39
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    location = variables["location"]
    assert location["query"]["query"] == "label_values(pos_adapter_location_info, location)"
    assert location["multi"] is True
    assert location["includeAll"] is True
    for panel in panels(model):
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys(), panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_the_rules_load_with_the_expected_structure() -> None:
    groups = rules()["groups"]
    alerts = [rule for group in groups for rule in group["rules"]]
    names = [rule["alert"] for rule in alerts]

    assert all(group["name"].startswith("pos-adapter.") for group in groups)
    assert len(names) == len(set(names))
    for rule in alerts:
        assert rule.keys() <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"].keys() == {"summary", "description"}, rule["alert"]
        if "for" in rule:
            assert DURATION.match(rule["for"]), rule["alert"]


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not on PATH (optional: the Prometheus package ships it)")
    return path


def run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_checks_the_rules_and_their_unit_tests() -> None:
    tool = promtool()

    run(tool, "check", "rules", str(RULES))
    run(tool, "test", "rules", str(RULE_TESTS))


def test_promtool_parses_the_dashboard_expressions(tmp_path: Path) -> None:
    tool = promtool()
    expressions = [expr for expr in dashboard_expressions() if not expr.startswith("label_values")]
    for variable, stand_in in GRAFANA_VARIABLES.items():
        expressions = [expr.replace(variable, stand_in) for expr in expressions]
    recorded = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard_expression_{n}", "expr": expr}
        for n, expr in enumerate(expressions)]}]}
    rules_file = tmp_path / "dashboard.yml"
    rules_file.write_text(yaml.safe_dump(recorded))

    run(tool, "check", "rules", str(rules_file))
