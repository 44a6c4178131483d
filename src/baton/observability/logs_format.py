"""Log records as JSON and CSV, and the ``--since`` / ``since=`` time syntax.

One shape everywhere a record leaves the process: the JSON formatter's lines, ``baton logs
... --json``, the API, and both export formats (CSV flattens ``extra`` to a JSON string).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from baton.errors import UsageError
from baton.store.logs import LogRecord

__all__ = [
    "CSV_COLUMNS",
    "ExportFormat",
    "csv_lines",
    "export_lines",
    "jsonl_lines",
    "parse_since",
    "record_json",
]

ExportFormat = Literal["jsonl", "csv"]
"""How `export_lines` writes records."""

CSV_COLUMNS = (
    "id",
    "at",
    "level",
    "logger",
    "message",
    "workspace_id",
    "execution_id",
    "step_id",
    "trace_id",
    "span_id",
    "extra",
)
"""The header of a CSV export."""

_AGO = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def record_json(record: LogRecord) -> dict[str, Any]:
    """The record as JSON data (level by name, time in ISO 8601 UTC)."""
    return {
        "id": record.id,
        "at": record.at.astimezone(UTC).isoformat(),
        "level": record.level_name,
        "logger": record.logger,
        "message": record.message,
        "workspace_id": record.workspace_id,
        "execution_id": record.execution_id,
        "step_id": record.step_id,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "extra": record.extra,
    }


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """A point in time from ``15m``, ``2h``, ``3d``, ``1w``, ``30s`` (ago) or ISO 8601.

    A date or time without a zone is taken as UTC.

    Raises:
        UsageError: neither form.
    """
    value = text.strip()
    now = now or datetime.now(UTC)
    if (match := _AGO.fullmatch(value)) is not None:
        seconds = float(match[1]) * _UNITS[match[2].lower()]
        try:
            return now - timedelta(seconds=seconds)
        except OverflowError:
            raise UsageError(f"--since {text!r} is too far back") from None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"cannot read the time {text!r}",
            hint="give a duration ago (30s, 15m, 2h, 3d, 1w) or an ISO 8601 time "
            "(2026-03-09 or 2026-03-09T09:00:00+01:00)",
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def jsonl_lines(record: LogRecord) -> str:
    """One JSON line (with its newline)."""
    return json.dumps(record_json(record), ensure_ascii=False, default=str) + "\n"


def csv_lines(record: LogRecord | None) -> str:
    """One CSV row (with its line end); None: the header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if record is None:
        writer.writerow(CSV_COLUMNS)
    else:
        data = record_json(record)
        data["extra"] = json.dumps(data["extra"], ensure_ascii=False, default=str)
        writer.writerow(["" if data[c] is None else data[c] for c in CSV_COLUMNS])
    return buffer.getvalue()


async def export_lines(
    records: AsyncIterable[LogRecord], fmt: ExportFormat, *, chunk_records: int = 500
) -> AsyncIterator[str]:
    """The export file as text chunks of up to `chunk_records` records each."""
    if fmt == "csv":
        yield csv_lines(None)
    chunk: list[str] = []
    async for record in records:
        chunk.append(jsonl_lines(record) if fmt == "jsonl" else csv_lines(record))
        if len(chunk) >= chunk_records:
            yield "".join(chunk)
            chunk.clear()
    if chunk:
        yield "".join(chunk)
