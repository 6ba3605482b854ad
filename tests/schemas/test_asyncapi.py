"""The AsyncAPI document: valid AsyncAPI 3.0.0, examples valid against their own schemas,
in step with the topology and the relay, and committed as docs/asyncapi.yaml."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from typer.testing import CliRunner

from adapter.amqp import command_queue_arguments, message_properties
from adapter.commands import app
from adapter.metrics import software_version
from adapter.settings import Settings
from adapter.store import OutboxRow
from handlers import OutgoingMessage
from schemas import (
    COMMAND_TYPES,
    ERROR_HEADER,
    MessageType,
    PoisonMessage,
    asyncapi_document,
    parse_command,
)

SPEC = Path(__file__).parent / "asyncapi" / "3.0.0-without-id.json"
COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
DOCUMENT_URI = "urn:pos-adapter:asyncapi"
LOCATION = "downtown-lima"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document(software_version())


@pytest.fixture(scope="module")
def spec_validator() -> Draft7Validator:
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(spec)
    return Draft7Validator(spec)


def _errors(validator: Draft7Validator, instance: Any) -> list[str]:
    return [f"{error.json_path}: {error.message[:300]}"
            for error in validator.iter_errors(instance)]


def test_the_document_is_valid_asyncapi_3(
    document: dict[str, Any], spec_validator: Draft7Validator
) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert _errors(spec_validator, document) == []


def test_the_specification_schema_catches_a_broken_document(
    document: dict[str, Any], spec_validator: Draft7Validator
) -> None:
    broken = copy.deepcopy(document)
    broken["operations"]["sendPosHealthReported"]["action"] = "publish"
    broken["components"]["schemas"]["Line"]["type"] = 5
    broken["channels"]["commandQueue"]["bindings"]["amqp"]["is"] = "exchange"
    assert len(_errors(spec_validator, broken)) == 3


def _schema_validator(document: dict[str, Any], pointer: str) -> Draft7Validator:
    """A validator of the schema at ``pointer``, its references resolved in ``document``."""
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT7)
    )
    return Draft7Validator({"$ref": f"{DOCUMENT_URI}#{pointer}"}, registry=registry,
                           format_checker=Draft7Validator.FORMAT_CHECKER)


MESSAGE_NAMES = [t.value for t in MessageType] + ["DeadLetter"]


@pytest.mark.parametrize("name", MESSAGE_NAMES)
def test_every_example_is_valid_against_its_own_message(
    document: dict[str, Any], name: str
) -> None:
    message = document["components"]["messages"][name]
    examples = message["examples"]
    assert examples
    payload = _schema_validator(document, f"/components/messages/{name}/payload")
    headers = _schema_validator(document, f"/components/messages/{name}/headers")
    for example in examples:
        assert _errors(payload, example["payload"]) == [], example["name"]
        assert _errors(headers, example["headers"]) == [], example["name"]


def test_a_payload_schema_rejects_what_the_models_reject(document: dict[str, Any]) -> None:
    name = MessageType.ORDER_SUBMISSION_REQUESTED.value
    example = copy.deepcopy(document["components"]["messages"][name]["examples"][0]["payload"])
    example["payload"]["items"][0]["quantity"] = 100
    example["messageType"] = MessageType.ORDER_SUBMISSION_RESULT.value
    del example["messageId"]
    errors = _errors(_schema_validator(document, f"/components/messages/{name}/payload"),
                     example)
    assert len(errors) == 3, errors


@pytest.mark.parametrize("message_type", sorted(COMMAND_TYPES))
def test_command_examples_are_answered_not_rejected(
    document: dict[str, Any], message_type: MessageType
) -> None:
    for example in document["components"]["messages"][message_type.value]["examples"]:
        parsed = parse_command(json.dumps(example["payload"]).encode())
        assert parsed.error is None


def test_the_dead_letter_example_is_dead_lettered_for_the_reason_it_shows(
    document: dict[str, Any],
) -> None:
    [example] = document["components"]["messages"]["DeadLetter"]["examples"]
    reason = example["headers"][ERROR_HEADER]
    with pytest.raises(PoisonMessage, match="schemaVersion") as poison:
        parse_command(json.dumps(example["payload"]).encode())
    assert str(poison.value) == reason


def test_channels_declare_the_adapters_default_topology(document: dict[str, Any]) -> None:
    settings = Settings.model_construct(location_id="{locationId}")
    amqp = {name: channel["bindings"]["amqp"]
            for name, channel in document["channels"].items()}
    exchanges = {name: (binding["exchange"]["name"], binding["exchange"]["type"])
                 for name, binding in amqp.items() if binding["is"] == "routingKey"}
    assert exchanges == {
        "commands": (settings.commands_exchange, "topic"),
        "events": (settings.events_exchange, "topic"),
        "deadLetter": (settings.dead_letter_exchange, "direct"),
    }
    queues = {name: (binding["queue"]["name"], binding["x-arguments"], binding["x-bound-to"])
              for name, binding in amqp.items() if binding["is"] == "queue"}
    assert queues == {
        "commandQueue": (
            settings.command_queue, command_queue_arguments(settings),
            {"exchange": settings.commands_exchange, "routingKey": "{locationId}.#"},
        ),
        "openappInbox": (
            settings.openapp_inbox_queue, {"x-message-ttl": int(settings.inbox_ttl * 1000)},
            {"exchange": settings.events_exchange, "routingKey": "{locationId}.#"},
        ),
        "deadLetterQueue": (
            settings.dead_letter_queue, {"x-queue-type": settings.dead_letter_queue_type.value},
            {"exchange": settings.dead_letter_exchange, "routingKey": "{locationId}"},
        ),
    }


@pytest.mark.parametrize("message_type", [t for t in MessageType if t not in COMMAND_TYPES])
def test_events_are_described_as_the_relay_publishes_them(
    document: dict[str, Any], message_type: MessageType
) -> None:
    message = document["components"]["messages"][message_type.value]
    channel = document["channels"]["events"]
    [operation] = [op for op in document["operations"].values()
                   if op["action"] == "send" and op["messages"] == [
                       {"$ref": f"#/channels/events/messages/{message_type.value}"}]]
    for example in message["examples"]:
        body = json.dumps(example["payload"]).encode()
        outgoing = OutgoingMessage.from_body(body, location_id=LOCATION)
        properties = message_properties(OutboxRow(1, outgoing))
        assert properties.content_type == message["contentType"]
        assert properties.content_encoding == message["bindings"]["amqp"]["contentEncoding"]
        assert properties.message_type == message["bindings"]["amqp"]["messageType"]
        assert properties.headers == example["headers"]
        assert properties.delivery_mode == operation["bindings"]["amqp"]["deliveryMode"]
        address = channel["address"].format(locationId=LOCATION, eventType=message_type.value)
        assert outgoing.routing_key == address


def test_operations_reference_messages_of_their_channel(document: dict[str, Any]) -> None:
    """A reference the validator cannot check: a dangling one would still be valid."""
    for name, operation in document["operations"].items():
        channel = operation["channel"]["$ref"].removeprefix("#/channels/")
        for ref in operation["messages"]:
            assert ref["$ref"].startswith(f"#/channels/{channel}/messages/"), name
            message = ref["$ref"].rsplit("/", 1)[1]
            assert message in document["channels"][channel]["messages"], name


def test_the_committed_document_is_the_models(document: dict[str, Any]) -> None:
    committed = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    assert committed == document, (
        "docs/asyncapi.yaml drifted from the models: run "
        "`pos-adapter schema --asyncapi docs/asyncapi.yaml` and commit the result"
    )


def test_schema_command_writes_the_asyncapi_document(
    tmp_path: Path, document: dict[str, Any]
) -> None:
    path = tmp_path / "contract" / "asyncapi.yaml"
    result = CliRunner().invoke(app, ["schema", "--asyncapi", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [str(path)]
    text = path.read_text(encoding="utf-8")
    assert yaml.safe_load(text) == document
    assert "&id0" not in text, "anchors make the file hard to read"


def test_schema_command_writes_both_at_once(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["schema", "--out", str(tmp_path / "json"), "--asyncapi", str(tmp_path / "a.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "json").iterdir())) == len(MessageType)
    assert (tmp_path / "a.yaml").is_file()


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ([], "schema needs --out DIR, --asyncapi FILE or both"),
        (["--asyncapi", "{tmp}"], "is a directory; it must be a file"),
        (["--asyncapi", "{tmp}/taken/asyncapi.yaml"], "cannot write"),
    ],
)
def test_schema_command_mistakes_exit_2_with_one_line(
    tmp_path: Path, arguments: list[str], says: str
) -> None:
    (tmp_path / "taken").write_text("")
    argv = ["schema", *(argument.format(tmp=tmp_path) for argument in arguments)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1
    assert says in result.output
