"""The bearer token: from the setting or a file another process rotates; 401 and 403."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from pos_drivers import PosUnavailable, StartRefused
from pos_drivers.tablemgmt import (
    TableMgmtControl,
    TableMgmtDriver,
    mint_token,
)
from pos_drivers.tablemgmt._auth import TokenSource
from tests.tablemgmt.conftest import MakeDriver


def rewrite_keeping_the_stamp(path: Path, token: str) -> None:
    """Replace the file's content with a token of the same length, leaving its size and
    modification time as they were: only a 401 can reveal the change."""
    before = path.stat()
    assert len(token) + 1 == before.st_size
    path.write_text(token + "\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


async def test_a_rotated_token_file_is_read_before_the_next_request(
    driver: TableMgmtDriver, control: TableMgmtControl, token_file: Path
) -> None:
    old = token_file.read_text().strip()
    before = await driver.changes_since(None)
    await control.open_order(await control.table_id("Table 2"), [{"product_id": "es-teh"}])

    token_file.write_text(mint_token("manager", subject="rotated-user") + "\n")
    await control.revoke_token(old)
    after = await driver.changes_since(before.cursor)

    assert "Table 2" in after.table_ids  # nothing lost across the rotation
    assert (await driver.read_check("Table 2")).order_id is not None


async def test_a_401_rereads_the_file_and_sends_the_request_once_more(
    driver: TableMgmtDriver, control: TableMgmtControl, token_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await driver.read_check("Table 1")
    old = token_file.read_text().strip()
    rewrite_keeping_the_stamp(token_file, mint_token("manager"))
    await control.revoke_token(old)
    await control.clear_requests()

    with caplog.at_level(logging.ERROR, logger="pos_drivers.tablemgmt"):
        check = await driver.read_check("Table 1")

    assert check.table_name == "Table 1"
    assert await control.request_count() == 2  # refused, then accepted
    assert caplog.records == []


async def test_a_401_after_a_reread_is_unavailable_with_one_clear_log_line(
    driver: TableMgmtDriver, control: TableMgmtControl, token_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await control.revoke_token(token_file.read_text().strip())

    with caplog.at_level(logging.ERROR, logger="pos_drivers.tablemgmt"):
        for _ in range(3):
            with pytest.raises(PosUnavailable, match="refused the token") as caught:
                await driver.read_check("Table 1")

    assert "POS_ADAPTER_TABLEMGMT_TOKEN_FILE" in caught.value.message
    [record] = caplog.records  # once per token, not at every poll
    assert str(token_file) in record.getMessage()
    assert token_file.read_text().strip() not in record.getMessage()

    token_file.write_text(mint_token("admin") + "\n")
    assert (await driver.read_check("Table 1")).table_name == "Table 1"


async def test_an_expired_fixed_token_is_unavailable_and_start_goes_on(
    make_driver: MakeDriver, caplog: pytest.LogCaptureFixture
) -> None:
    expired = SecretStr(mint_token("manager", expires_in=-60))
    with caplog.at_level(logging.WARNING, logger="pos_drivers.tablemgmt"):
        async with make_driver(token=expired) as driver:  # no crash loop at start
            with pytest.raises(PosUnavailable, match="POS_ADAPTER_TABLEMGMT_TOKEN") as caught:
                await driver.read_check("Table 1")
            assert await driver.ping() is False
    assert "401" in caught.value.message
    assert any("refused the token" in r.getMessage() for r in caplog.records)


async def test_a_waiter_token_stops_the_start_naming_the_role_needed(
    make_driver: MakeDriver, token_file: Path
) -> None:
    token_file.write_text(mint_token("waiter"))
    driver = make_driver()
    try:
        with pytest.raises(StartRefused, match="admin or manager") as caught:
            await driver.open()
    finally:
        await driver.aclose()
    assert caught.value.pos_detail == "Forbidden"


async def test_a_waiter_token_later_is_unavailable_naming_the_role_needed(
    driver: TableMgmtDriver, token_file: Path
) -> None:
    token_file.write_text(mint_token("waiter"))
    with pytest.raises(PosUnavailable, match="admin or manager role"):
        await driver.read_check("Table 1")
    with pytest.raises(PosUnavailable, match="admin or manager role"):
        await driver.changes_since(None)


async def test_a_missing_or_empty_token_file_is_unavailable(
    driver: TableMgmtDriver, token_file: Path
) -> None:
    token_file.write_text("  \n")
    with pytest.raises(PosUnavailable, match="empty"):
        await driver.read_check("Table 1")
    token_file.unlink()
    with pytest.raises(PosUnavailable, match="cannot read the token file"):
        await driver.read_check("Table 1")


def test_a_bearer_prefix_in_the_file_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "jwt"
    path.write_text("Bearer abc.def.ghi\n")
    assert TokenSource(path=path).current() == "abc.def.ghi"
    assert TokenSource(token=" abc.def.ghi ").current() == "abc.def.ghi"
    assert "abc" not in repr(TokenSource(token="abc.def.ghi"))
