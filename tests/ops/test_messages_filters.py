"""The filters of ``messages`` and ``replay`` (times: ISO 8601 or a span back from now),
and what the commands say when there is nothing to show (no broker)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import typer

from adapter.ops.messages import Direction, message_query, parse_time
from adapter.settings import Settings
from adapter.store import SqlStore
from tests.ops.test_messages import cli

NOW = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW - timedelta(minutes=30)),
        ("1h", NOW - timedelta(hours=1)),
        ("1h30m", NOW - timedelta(hours=1, minutes=30)),
        ("90s", NOW - timedelta(seconds=90)),
        ("2d", NOW - timedelta(days=2)),
        ("1w", NOW - timedelta(weeks=1)),
        ("0.5h", NOW - timedelta(minutes=30)),
        ("2026-11-21T18:00:00Z", datetime(2026, 11, 21, 18, tzinfo=UTC)),
        ("2026-11-21T13:00:00-05:00",
         datetime(2026, 11, 21, 13, tzinfo=timezone(timedelta(hours=-5)))),
        ("2026-11-21 18:00", datetime(2026, 11, 21, 18, tzinfo=UTC)),  # no offset: UTC
        ("2026-11-21", datetime(2026, 11, 21, tzinfo=UTC)),
    ],
)
def test_times_are_iso_8601_or_a_span_back_from_now(text: str, expected: datetime) -> None:
    assert parse_time(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "1y", "h", "", "12:00 tomorrow"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="neither an ISO 8601 time nor a span"):
        parse_time(text, now=NOW)


def test_the_command_line_filters_make_the_store_query() -> None:
    query = message_query(table="T1", message_type="X", direction=Direction.OUT,
                          since="2026-11-21T18:00:00Z", until=None, limit=5,
                          message_ids=["a", "b"])

    assert query.pos_table_id == "T1"
    assert query.message_type == "X"
    assert query.direction == "out"
    assert query.since == datetime(2026, 11, 21, 18, tzinfo=UTC)
    assert query.until is None
    assert query.limit == 5
    assert query.message_ids == ("a", "b")


def test_a_bad_time_is_a_usage_error_naming_the_option() -> None:
    with pytest.raises(typer.BadParameter) as raised:
        message_query(table=None, message_type=None, direction=None, since=None,
                      until="soon", limit=None)

    assert raised.value.param_hint == "--until"


async def test_an_unknown_message_or_store_is_said_in_one_line(tmp_path: Path) -> None:
    settings = Settings(store_url=f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    store = SqlStore(settings.store_url)
    await store.start()
    await store.close()
    elsewhere = settings.model_copy(
        update={"store_url": f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}"}
    )

    (unknown, _, unknown_err), (missing, _, missing_err), (empty, out, _) = await asyncio.gather(
        cli(settings, "messages", "show", "nope"),
        cli(elsewhere, "messages", "list"),
        cli(settings, "streams", "list"),
    )

    assert (unknown, missing, empty) == (1, 2, 0)
    assert "no message 'nope'" in unknown_err
    assert "no store at" in missing_err
    assert out.strip() == "No streams."
    assert not (tmp_path / "missing.db").exists()
