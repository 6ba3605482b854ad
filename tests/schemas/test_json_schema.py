"""JSON Schema export: one file per message type, wire names, messageType fixed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapter.commands import app
from schemas import MessageType, message_json_schema


def test_schema_command_writes_one_loadable_file_per_message_type(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    result = CliRunner().invoke(app, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = [Path(line) for line in result.output.splitlines()]
    assert sorted(p.name for p in written) == sorted(f"{t.value}.json" for t in MessageType)
    assert sorted(out.iterdir()) == sorted(written)
    for path in written:
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["title"] == path.stem
        assert schema["properties"]["messageType"]["const"] == path.stem
        assert schema["$schema"].endswith("2020-12/schema")


def _property_names(schema: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(schema, dict):
        names.update(schema.get("properties", {}))
        for value in schema.values():
            names |= _property_names(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= _property_names(value)
    return names


@pytest.mark.parametrize("message_type", list(MessageType))
def test_schemas_use_wire_names_only(message_type: MessageType) -> None:
    names = _property_names(message_json_schema(message_type))
    assert {"messageId", "schemaVersion", "payload"} <= names
    assert not [name for name in names if "_" in name]


def test_submission_schema_carries_the_submission_rules() -> None:
    schema = message_json_schema(MessageType.ORDER_SUBMISSION_REQUESTED)
    payload_ref = schema["properties"]["payload"]["$ref"].rsplit("/", 1)[-1]
    items = schema["$defs"][payload_ref]["properties"]["items"]
    assert (items["minItems"], items["maxItems"]) == (1, 100)
    item = schema["$defs"]["SubmissionItem"]["properties"]
    assert (item["quantity"]["minimum"], item["quantity"]["maximum"]) == (1, 99)
    assert item["lineId"]["maxLength"] == 128


def test_events_list_every_field_they_always_write_as_required() -> None:
    schema = message_json_schema(MessageType.TABLE_ORDER_SNAPSHOT_CHANGED)
    assert "correlationId" in schema["required"]
    assert "openAppLineId" in schema["$defs"]["Line"]["required"]
    command = message_json_schema(MessageType.TABLE_ORDER_SNAPSHOT_REQUESTED)
    assert "correlationId" not in command["required"]


def test_schema_command_refuses_a_file_for_out(tmp_path: Path) -> None:
    a_file = tmp_path / "taken"
    a_file.write_text("")
    result = CliRunner().invoke(app, ["schema", "--out", str(a_file)], env={"COLUMNS": "500"})
    assert result.exit_code == 2
    assert "is a file" in result.output


@pytest.mark.parametrize("message_type", list(MessageType))
def test_schemas_define_only_what_they_use(message_type: MessageType) -> None:
    schema = message_json_schema(message_type)
    text = json.dumps(schema)
    assert [name for name in schema["$defs"] if f'"#/$defs/{name}"' not in text] == []
