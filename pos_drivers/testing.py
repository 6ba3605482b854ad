"""The driver conformance kit: what every POS driver owes the adapter's handlers, as a
pytest suite a driver's author runs against their own driver and POS.

The handlers rely on a small contract (``_base.PosDriver``): a check's shape, the error
each failure maps to, and the capabilities a driver declares. Subclass
:class:`DriverConformance`, define its two fixtures, and pytest collects every check:

.. code-block:: python

    import pytest
    from pos_drivers import DriverConfig
    from pos_drivers.testing import DriverConformance, PosActor

    class TestMyPos(DriverConformance):
        @pytest.fixture
        async def pos(self):                      # a fresh POS per test
            async with MyPosSandbox() as sandbox:
                yield MyPosActor(sandbox)         # implements PosActor

        @pytest.fixture
        async def driver(self, pos):
            async with MyPosDriver(DriverConfig(pos_url=pos.url)) as driver:
                yield driver

Checks follow the driver's ``capabilities``: one that does not apply is skipped, and so
is one that needs an optional :class:`PosActor` method the actor does not implement.
The kit needs pytest and pytest-asyncio (``asyncio_mode = "auto"``, or
``pytest_asyncio.fixture`` for the two fixtures).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from typing import Any, ClassVar, NoReturn, Protocol, TypeVar

import pytest

from pos_drivers._base import PosDriver
from pos_drivers._errors import (
    CursorExpired,
    NotSupported,
    OrderClosed,
    PosUnavailable,
    TableNotFound,
)
from pos_drivers._models import Capability, LineStatus, NewLine, PosCheck, PushEvent

__all__ = ["IMPOSSIBLE_TABLE_IDS", "DriverConformance", "PosActor", "assert_well_formed"]

T = TypeVar("T")

IMPOSSIBLE_TABLE_IDS: Mapping[str, str] = {
    "traversal": "../_control/reset",
    "dot-dot": "..",
    "dot": ".",
    "escaped-slash": "%2F",
    "slash": "a/b",
    "query": "?page=1",
    "fragment": "#top",
    "unicode": "ünï cødé 🍽",
    "space": " ",
    "128-chars": "x" * 128,
}
"""posTableIds (by label) that cannot name a table of any POS: each must be
TableNotFound, without reaching another endpoint and without a PosUnavailable."""


class PosActor(Protocol):
    """Acts on the POS behind the driver, as the restaurant would.

    Each action is done when it returns: the driver's next read sees it. Tables are
    named as the driver's ``posTableId``. The last two methods are optional: leave them
    raising NotImplementedError and the checks that need them are skipped.
    """

    def free_tables(self) -> Sequence[str]:
        """At least three tables with no check when the test starts."""
        ...

    def unknown_table(self) -> str:
        """A plausible posTableId the POS does not have (``"99"``, ``"T99"``)."""
        ...

    async def open_check_with_line(self, table: str) -> None:
        """A waiter opens a check on the free ``table`` with one line."""

    async def add_waiter_line(self, table: str) -> None:
        """A waiter adds one line to the table's open check."""

    async def cancel_line(self, table: str, line_id: str) -> None:
        """The kitchen cancels the line: it then reads CANCELLED, or is gone."""

    async def close_check(self, table: str) -> None:
        """The check is paid and closed; the table is free."""

    async def set_down(self, down: bool) -> None:
        """Make every POS request fail (5xx, refused connection), or work again."""
        raise NotImplementedError

    async def orderable_line(self) -> NewLine:
        """A line the POS accepts from ``add_lines`` (product and current price)."""
        raise NotImplementedError


async def _optional(action: Awaitable[T], what: str) -> T:
    try:
        return await action
    except NotImplementedError:
        pytest.skip(f"the POS actor cannot {what}")


def _requires(driver: PosDriver, capability: Capability) -> None:
    if not driver.supports(capability):
        pytest.skip(f"{driver.name} does not declare {capability.name}")


def _lacks(driver: PosDriver, capability: Capability) -> None:
    if driver.supports(capability):
        pytest.skip(f"{driver.name} declares {capability.name}")


def _is_money(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def assert_well_formed(check: PosCheck) -> None:
    """The shape ``handlers._snapshots`` turns into a contract snapshot."""
    assert isinstance(check, PosCheck)
    assert isinstance(check.table_id, str)
    assert check.table_id
    assert isinstance(check.table_name, str)
    assert isinstance(check.currency, str)
    assert len(check.currency) == 3
    assert check.currency.isalpha()
    assert check.currency.isupper(), f"currency {check.currency!r} is not ISO 4217"
    if check.order_id is None:
        assert check.lines == (), "no check, no lines"
        assert check.discounts == (), "no check, no discounts"
    else:
        assert isinstance(check.order_id, str)
        assert 1 <= len(check.order_id) <= 128
    line_ids = [line.line_id for line in check.lines]
    assert len(set(line_ids)) == len(line_ids), "line ids are unique on a check"
    for line in check.lines:
        assert isinstance(line.line_id, str)
        assert 1 <= len(line.line_id) <= 128
        assert isinstance(line.product_id, str)
        assert 1 <= len(line.product_id) <= 128
        assert isinstance(line.name, str)
        assert isinstance(line.quantity, int)
        assert line.quantity >= 1
        assert _is_money(line.unit_price), f"unit_price {line.unit_price!r} is not minor units"
        assert isinstance(line.status, LineStatus)
        assert all(_is_money(m.unit_price) and isinstance(m.quantity, int)
                   for m in line.modifiers)
    for discount in check.discounts:
        assert _is_money(discount.amount)
        assert discount.amount > 0
    if check.totals is not None:
        totals = dataclasses.astuple(check.totals)
        assert all(_is_money(value) for value in totals), f"totals {totals} are not minor units"


async def _first_push_event(events: AsyncIterator[PushEvent], timeout: float) -> PushEvent:
    async with asyncio.timeout(timeout):
        return await anext(events)


class DriverConformance:
    """The checks. Subclass it as ``Test...`` and define two fixtures:

    - ``pos``: a :class:`PosActor` on a POS in a known state (a fresh one per test);
    - ``driver``: an opened driver on that POS (closed after the test).

    ``push_timeout``: how long a push channel may take to (re)connect or announce.
    """

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.asyncio]
    push_timeout: ClassVar[float] = 10.0
    expected_failures: ClassVar[Mapping[str, str]] = {}
    """Checks the driver is known to fail, by test name (with its parameter id, as in
    ``"test_ids_that_cannot_be_tables_are_not_found[dot]"``) -> why. Each is marked
    ``xfail(strict=True)``: once the driver is fixed, the suite says so."""

    @pytest.fixture(autouse=True)
    def _expected_failure(self, request: pytest.FixtureRequest) -> None:
        reason = self.expected_failures.get(request.node.name)
        if reason is not None:
            request.node.add_marker(pytest.mark.xfail(strict=True, reason=reason))

    # -- the shape of a check ----------------------------------------------------------

    async def test_a_free_table_has_no_check(self, driver: PosDriver, pos: PosActor) -> None:
        table = pos.free_tables()[0]
        check = await driver.read_check(table)
        assert_well_formed(check)
        assert check.order_id is None

    async def test_an_open_check_has_its_lines(self, driver: PosDriver, pos: PosActor) -> None:
        table = pos.free_tables()[0]
        await pos.open_check_with_line(table)
        await pos.add_waiter_line(table)

        check = await driver.read_check(table)

        assert_well_formed(check)
        assert check.order_id is not None
        assert len(check.lines) >= 2, "every line on the check, the waiter's included"

    async def test_reading_twice_gives_the_same_check(
        self, driver: PosDriver, pos: PosActor
    ) -> None:
        table = pos.free_tables()[0]
        await pos.open_check_with_line(table)
        first = await driver.read_check(table)
        second = await driver.read_check(table)
        # The diff engine would announce any difference as a change.
        assert second == first

    async def test_a_waiter_line_appears_and_the_others_keep_their_ids(
        self, driver: PosDriver, pos: PosActor
    ) -> None:
        table = pos.free_tables()[0]
        await pos.open_check_with_line(table)
        before = await driver.read_check(table)
        await pos.add_waiter_line(table)

        after = await driver.read_check(table)

        assert_well_formed(after)
        assert after.order_id == before.order_id
        assert {line.line_id for line in before.lines} < {line.line_id for line in after.lines}

    async def test_a_cancelled_line_is_cancelled_or_gone(
        self, driver: PosDriver, pos: PosActor
    ) -> None:
        table = pos.free_tables()[0]
        await pos.open_check_with_line(table)
        await pos.add_waiter_line(table)
        line = (await driver.read_check(table)).lines[0]
        await pos.cancel_line(table, line.line_id)

        after = await driver.read_check(table)

        assert_well_formed(after)
        still = [x for x in after.lines if x.line_id == line.line_id]
        assert all(x.status is LineStatus.CANCELLED for x in still)

    async def test_a_closed_check_is_no_longer_the_tables(
        self, driver: PosDriver, pos: PosActor
    ) -> None:
        table = pos.free_tables()[0]
        await pos.open_check_with_line(table)
        opened = await driver.read_check(table)
        await pos.close_check(table)

        after = await driver.read_check(table)

        assert_well_formed(after)
        assert after.order_id != opened.order_id

    # -- errors --------------------------------------------------------------------------

    async def test_an_unknown_table_is_not_found(self, driver: PosDriver, pos: PosActor) -> None:
        with pytest.raises(TableNotFound):
            await driver.read_check(pos.unknown_table())

    @pytest.mark.parametrize(
        "table", list(IMPOSSIBLE_TABLE_IDS.values()), ids=list(IMPOSSIBLE_TABLE_IDS)
    )
    async def test_ids_that_cannot_be_tables_are_not_found(
        self, driver: PosDriver, pos: PosActor, table: str
    ) -> None:
        witness = pos.free_tables()[1]
        await pos.open_check_with_line(witness)
        before = await driver.read_check(witness)

        with pytest.raises(TableNotFound):
            await driver.read_check(table)

        assert await driver.read_check(witness) == before, "the POS was left untouched"

    async def test_a_pos_that_is_down_is_unavailable(
        self, driver: PosDriver, pos: PosActor
    ) -> None:
        table = pos.free_tables()[0]
        await driver.read_check(table)
        await _optional(pos.set_down(True), "take the POS down")
        try:
            with pytest.raises(PosUnavailable):
                await driver.read_check(table)
            if driver.supports(Capability.BATCH_CHANGES):
                with pytest.raises(PosUnavailable):
                    await driver.changes_since(None)
            if driver.supports(Capability.ADD_LINES):
                with pytest.raises(PosUnavailable):
                    await driver.list_products()
        finally:
            await pos.set_down(False)
        assert_well_formed(await driver.read_check(table))

    async def test_ping_says_whether_the_pos_answers(
        self, driver: PosDriver, pos: PosActor
    ) -> None:
        assert await driver.ping() is True
        await _optional(pos.set_down(True), "take the POS down")
        try:
            assert await driver.ping() is False
        finally:
            await pos.set_down(False)

    # -- capabilities --------------------------------------------------------------------

    async def test_without_add_lines_nothing_can_be_added(
        self, driver: PosDriver, pos: PosActor
    ) -> None:
        _lacks(driver, Capability.ADD_LINES)
        table = pos.free_tables()[0]
        line = NewLine("any-product", 1, 100, external_ref=f"{uuid.uuid4()}:1")
        with pytest.raises(NotSupported):
            await driver.add_lines(table, None, [line])
        assert (await driver.read_check(table)).order_id is None

    async def test_add_lines_opens_a_check_with_the_lines(
        self, driver: PosDriver, pos: PosActor
    ) -> None:
        _requires(driver, Capability.ADD_LINES)
        table = pos.free_tables()[0]
        line = await _optional(pos.orderable_line(), "name an orderable line")

        added = await driver.add_lines(table, None, [line])

        check = await driver.read_check(table)
        assert_well_formed(check)
        assert added.order_id == check.order_id
        assert len(added.lines) == 1
        assert {x.line_id for x in added.lines} <= {x.line_id for x in check.lines}

    async def test_add_lines_to_the_open_check_keeps_it(
        self, driver: PosDriver, pos: PosActor
    ) -> None:
        _requires(driver, Capability.ADD_LINES)
        table = pos.free_tables()[0]
        await pos.open_check_with_line(table)
        before = await driver.read_check(table)
        line = await _optional(pos.orderable_line(), "name an orderable line")

        added = await driver.add_lines(table, before.order_id, [line])

        after = await driver.read_check(table)
        assert added.order_id == before.order_id == after.order_id
        assert {x.line_id for x in before.lines} | {added.lines[0].line_id} <= {
            x.line_id for x in after.lines}

    async def test_add_lines_to_a_check_that_is_not_open_is_order_closed(
        self, driver: PosDriver, pos: PosActor
    ) -> None:
        _requires(driver, Capability.ADD_LINES)
        table = pos.free_tables()[0]
        await pos.open_check_with_line(table)
        line = await _optional(pos.orderable_line(), "name an orderable line")
        with pytest.raises(OrderClosed):
            await driver.add_lines(table, "conformance-not-the-open-check", [line])

    async def test_find_lines_finds_added_lines_by_reference_prefix(
        self, driver: PosDriver, pos: PosActor
    ) -> None:
        _requires(driver, Capability.EXTERNAL_REFS)
        _requires(driver, Capability.ADD_LINES)
        table = pos.free_tables()[0]
        submission = f"conformance-{uuid.uuid4().hex[:12]}"
        line = await _optional(pos.orderable_line(), "name an orderable line")
        line = dataclasses.replace(line, external_ref=f"{submission}:oa-1")
        added = await driver.add_lines(table, None, [line])

        found = await driver.find_lines(table, f"{submission}:")

        assert [x.external_ref for x in found] == [f"{submission}:oa-1"]
        assert [x.line_id for x in found] == [added.lines[0].line_id]
        check = await driver.read_check(table)
        assert f"{submission}:oa-1" in {x.external_ref for x in check.lines}
        assert await driver.find_lines(table, f"{submission}-other:") == ()

    async def test_changes_since_reports_a_changed_table(
        self, driver: PosDriver, pos: PosActor
    ) -> None:
        _requires(driver, Capability.BATCH_CHANGES)
        table = pos.free_tables()[0]
        await driver.read_check(table)  # the adapter reads a table before it watches it
        start = await driver.changes_since(None)

        await pos.open_check_with_line(table)
        opened = await driver.changes_since(start.cursor)
        await pos.close_check(table)
        closed = await driver.changes_since(opened.cursor)

        assert table in opened.table_ids
        assert table in closed.table_ids

    async def test_changes_since_none_reports_every_open_check(
        self, driver: PosDriver, pos: PosActor
    ) -> None:
        _requires(driver, Capability.BATCH_CHANGES)
        table = pos.free_tables()[0]
        await pos.open_check_with_line(table)
        await driver.read_check(table)

        assert table in (await driver.changes_since(None)).table_ids

    async def test_an_unknown_cursor_has_expired(self, driver: PosDriver) -> None:
        _requires(driver, Capability.BATCH_CHANGES)
        with pytest.raises(CursorExpired):
            await driver.changes_since(f"conformance-{uuid.uuid4().hex}")

    async def test_push_events_start_with_none_then_name_the_table(
        self, driver: PosDriver, pos: PosActor
    ) -> None:
        _requires(driver, Capability.PUSH_CHANGES)
        table = pos.free_tables()[0]
        await driver.read_check(table)
        events = driver.push_events()
        try:
            first = await _first_push_event(events, self.push_timeout)
            assert first == PushEvent(None), "a (re)connection is announced first"
            await pos.open_check_with_line(table)
            async with asyncio.timeout(self.push_timeout):
                async for event in events:
                    if event.table_id == table:
                        break
        finally:
            await _close(events)

    async def test_capabilities_not_declared_are_not_supported(
        self, driver: PosDriver
    ) -> None:
        if driver.supports(Capability.BATCH_CHANGES) and driver.supports(
            Capability.PUSH_CHANGES
        ):
            pytest.skip(f"{driver.name} declares both change capabilities")
        if not driver.supports(Capability.BATCH_CHANGES):
            with pytest.raises(NotSupported):
                await driver.changes_since(None)
        if not driver.supports(Capability.PUSH_CHANGES):
            with pytest.raises(NotSupported):
                await _first_of(driver)


async def _close(events: AsyncIterator[Any]) -> None:
    close = getattr(events, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


async def _first_of(driver: PosDriver) -> NoReturn:
    """Start ``push_events`` (which may raise at once or at the first event)."""
    events = driver.push_events()
    try:
        await anext(events)
    finally:
        await _close(events)
    raise AssertionError("push_events yielded an event without PUSH_CHANGES")
