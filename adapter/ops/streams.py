"""``pos-adapter streams``: the tables' change streams, read from the adapter's store.

A stream is what a snapshot request opened for a table: its id, status (ACTIVE, CLOSED
after ORDER_CLOSED, EXPIRED after ``POS_ADAPTER_STREAM_MAX_AGE``), the last sequence
pushed, the sessions it served and its baseline, the snapshot the next change is
computed against (what OpenApp should be showing). Ended streams are kept for
``POS_ADAPTER_RETENTION``. Read-only, like ``pos-adapter messages``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from adapter.commandline import LocationOption, settings_or_exit
from adapter.ops.messages import JsonOption, console, iso, print_json, read_store, when
from adapter.store import StoreReader
from handlers import StreamRecord, StreamStatus
from schemas import Snapshot

app = typer.Typer(help="The tables' change streams.", no_args_is_help=True)

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND",
     "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def stream_document(stream: StreamRecord, *, baseline: bool = False) -> dict[str, Any]:
    """A stream as JSON; with its full baseline snapshot when asked."""
    document: dict[str, Any] = {
        "streamId": stream.stream_id,
        "locationId": stream.location_id,
        "posTableId": stream.pos_table_id,
        "status": stream.status.value,
        "lastSequence": stream.last_sequence,
        "tableSessionId": stream.table_session_id,
        "sessionIds": list(stream.session_ids),
        "openingMessageId": stream.opening_message_id,
        "openedAt": iso(stream.opened_at),
        "updatedAt": iso(stream.updated_at),
        "closedAt": iso(stream.closed_at),
    }
    if baseline:
        document["baseline"] = stream.baseline.model_dump(mode="json")
    return document


@app.command("list")
def list_streams(
    status: Annotated[
        StreamStatus | None, typer.Option("--status", help="Only streams in this status.")
    ] = None,
    json_output: JsonOption = False,
    location: LocationOption = None,
) -> None:
    """List the streams, oldest first."""
    settings = settings_or_exit(location)
    wanted = status.value if status is not None else None
    found = read_store(settings.store_url, lambda reader: reader.streams(wanted, location))
    if json_output:
        print_json([stream_document(stream) for stream in found])
        return
    if not found:
        console.print("No streams.")
        return
    console.print(_streams_table(found))


def _streams_table(found: list[StreamRecord], *, title: str | None = None) -> Table:
    table = Table(title=title)
    table.add_column("table")
    table.add_column("streamId", overflow="fold")
    table.add_column("status")
    table.add_column("seq", justify="right")
    table.add_column("opened (UTC)", no_wrap=True)
    table.add_column("last change (UTC)", no_wrap=True)
    table.add_column("sessions", justify="right")
    table.add_column("location")
    for stream in found:
        table.add_row(
            stream.pos_table_id, stream.stream_id, stream.status.value,
            str(stream.last_sequence), when(stream.opened_at, short=True),
            when(stream.updated_at, short=True),
            str(len(stream.session_ids)), stream.location_id,
        )
    return table


@app.command("show")
def show_stream(
    pos_table_id: Annotated[str, typer.Argument(help="The posTableId.")],
    json_output: JsonOption = False,
    location: LocationOption = None,
) -> None:
    """Show a table's stream with its baseline snapshot.

    The active stream, else the latest; then the table's earlier streams.
    """
    settings = settings_or_exit(location)

    async def job(reader: StoreReader) -> list[StreamRecord]:
        return await reader.table_streams(pos_table_id, location)

    found = read_store(settings.store_url, job)
    if not found:
        typer.echo(f"pos-adapter: no stream for table {pos_table_id!r} in the store", err=True)
        raise typer.Exit(1)
    current = next((s for s in found if s.status is StreamStatus.ACTIVE), found[0])
    earlier = [s for s in found if s is not current]
    if json_output:
        print_json({
            "stream": stream_document(current, baseline=True),
            "history": [stream_document(s) for s in earlier],
        })
        return
    _print_stream(current)
    if earlier:
        console.print(_streams_table(earlier, title="Earlier streams of the table"))


def _print_stream(stream: StreamRecord) -> None:
    console.rule(f"Stream {stream.stream_id} ({stream.status.value})")
    grid = Table.grid(padding=(0, 2))
    sessions = ", ".join(stream.session_ids) or "-"
    for key, value in (
        ("table", f"{stream.pos_table_id} (location {stream.location_id})"),
        ("sequence", str(stream.last_sequence)),
        ("opened", f"{when(stream.opened_at)} UTC by {stream.opening_message_id}"),
        ("last change", f"{when(stream.updated_at)} UTC"),
        ("closed", f"{when(stream.closed_at)} UTC" if stream.closed_at else "-"),
        ("session", stream.table_session_id or "-"),
        ("all sessions", sessions),
    ):
        grid.add_row(key, value)
    console.print(grid)
    _print_snapshot(stream.baseline)


def _print_snapshot(snapshot: Snapshot) -> None:
    currency = snapshot.currency
    console.print(
        f"Baseline: version {snapshot.version}, captured {when(snapshot.captured_at)} UTC; "
        f"{snapshot.table_name or snapshot.pos_table_id}, check "
        f"{snapshot.pos_order_id or '-'} ({snapshot.order_status.value})"
    )
    lines = Table(title="Lines")
    for column in ("posLineId", "product", "name", "qty", "unit", "total", "status",
                   "origin", "notes"):
        lines.add_column(column, justify="right" if column in ("qty", "unit", "total") else
                         "left", overflow="fold")
    for line in snapshot.lines:
        lines.add_row(
            line.pos_line_id, line.product_id, line.name, str(line.quantity),
            money(line.unit_price, currency), money(line.total_price, currency),
            line.status.value, line.origin.value, line.notes or "",
        )
    console.print(lines)
    if snapshot.discounts:
        discounts = Table(title="Discounts")
        for column in ("posDiscountId", "name", "amount", "line"):
            discounts.add_column(column)
        for discount in snapshot.discounts:
            discounts.add_row(discount.pos_discount_id, discount.name,
                              money(discount.amount, currency), discount.pos_line_id or "check")
        console.print(discounts)
    totals = snapshot.totals
    console.print(
        f"subtotal {money(totals.subtotal, currency)}  "
        f"discounts {money(totals.discount_total, currency)}  "
        f"tax {money(totals.tax_total, currency)}  "
        f"total {money(totals.total, currency)} {currency}"
    )


def money(minor: int, currency: str) -> str:
    """Minor units as an amount: 1250 PEN is 12.50."""
    digits = 0 if currency in ZERO_DECIMAL_CURRENCIES else (
        3 if currency in THREE_DECIMAL_CURRENCIES else 2
    )
    if digits == 0:
        return f"{minor:,}"
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(minor), 10**digits)
    return f"{sign}{whole:,}.{part:0{digits}d}"
