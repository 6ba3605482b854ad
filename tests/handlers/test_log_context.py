"""The lines logged while a command is handled name it: its location, messageId, type
and table (``handlers.command_context``, merged by ``merge_command_context``)."""

from __future__ import annotations

import structlog

from handlers import command_context, merge_command_context
from tests.handlers.conftest import LOCATION, Harness


async def test_lines_logged_while_a_command_is_handled_name_the_command(
    harness: Harness,
) -> None:
    with structlog.testing.capture_logs(processors=[merge_command_context]) as lines:
        _, message_id = await harness.send(
            "TableOrderSnapshotRequested", {"posTableId": "T3", "tableSessionId": "s-1"})
        structlog.get_logger("after").info("after the command")

    [opened] = [line for line in lines if line["event"] == "stream opened"]
    assert opened["messageId"] == message_id
    assert opened["locationId"] == LOCATION
    assert opened["messageType"] == "TableOrderSnapshotRequested"
    assert opened["posTableId"] == "T3"
    [after] = [line for line in lines if line["event"] == "after the command"]
    assert "messageId" not in after


def test_a_field_the_line_sets_itself_is_kept() -> None:
    with structlog.testing.capture_logs(processors=[merge_command_context]) as lines, \
            command_context(posTableId="T1", messageId="m-1"):
        structlog.get_logger("here").info("moved", posTableId="T2")

    assert lines[0]["posTableId"] == "T2"
    assert lines[0]["messageId"] == "m-1"
