"""Data agents: load a table from a file, filter, select and aggregate rows.

Rows are lists of flat JSON objects. Loading is confined to the workspace like the file agents;
filtering uses the small expression language in `_where` (parsed, never evaluated as Python).
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any, Literal

from anyio import to_thread
from pydantic import BaseModel, ConfigDict, Field

from baton.agents.builtin import _where
from baton.agents.builtin._workspace import confine, read_bytes, relative_name
from baton.agents.builtin.resources import AgentResources
from baton.agents.decorator import agent
from baton.agents.parsing.text import (
    find_paths,
    find_quoted,
    refers_to_previous,
    split_list,
)
from baton.agents.protocol import Agent, Extraction, ExtractionContext, Risk
from baton.errors import AgentInputError

Row = dict[str, Any]
_TAGS = ("builtin", "data")
_INT = re.compile(r"^[+-]?(?:0|[1-9]\d*)$")  # "007" and zip codes stay text
_FLOAT = re.compile(r"^[+-]?(?:\d+\.\d*|\.\d+|\d+(?=[eE]))(?:[eE][+-]?\d+)?$")
_METRIC_OPS = ("sum", "avg", "min", "max", "count")


class LoadInput(BaseModel):
    """Inputs of ``data.load``."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="CSV, JSON or JSON-lines file, relative to the workspace.")
    format: Literal["auto", "json", "csv", "jsonl"] = Field(
        default="auto", description="File format; 'auto' decides from the name and content."
    )


class TableOutput(BaseModel):
    """Rows with their columns (output of ``data.load`` and ``data.select``)."""

    rows: list[Row] = Field(description="The rows, one object per row.")
    columns: list[str] = Field(description="Column names, in order.")
    count: int = Field(description="Number of rows.")


class FilterInput(BaseModel):
    """Inputs of ``data.filter``."""

    model_config = ConfigDict(extra="forbid")
    rows: list[Row] = Field(description="Rows to filter.")
    where: str = Field(
        description='Condition, e.g. amount > 100 and status == "paid" (also !=, <=, contains, '
        "not, or, parentheses)."
    )


class RowsOutput(BaseModel):
    """Output of ``data.filter``."""

    rows: list[Row] = Field(description="The rows that matched.")
    count: int = Field(description="Number of rows.")


class SelectInput(BaseModel):
    """Inputs of ``data.select``."""

    model_config = ConfigDict(extra="forbid")
    rows: list[Row] = Field(description="Rows to take columns from.")
    columns: list[str] = Field(min_length=1, description="Columns to keep, in this order.")


class AggregateInput(BaseModel):
    """Inputs of ``data.aggregate``."""

    model_config = ConfigDict(extra="forbid")
    rows: list[Row] = Field(description="Rows to aggregate.")
    group_by: list[str] = Field(default_factory=list, description="Columns to group by.")
    metrics: dict[str, str] = Field(
        default_factory=lambda: {"count": "count"},
        description="Output column -> 'sum:col', 'avg:col', 'min:col', 'max:col' or 'count'.",
    )


# --- load ----------------------------------------------------------------------------------


def typed(value: str) -> Any:
    """A CSV cell as int, float, None (empty) or the text itself."""
    text = value.strip()
    if not text:
        return None
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return value


def parse_csv(text: str) -> tuple[list[Row], list[str]]:
    """Rows and columns of CSV text (delimiter sniffed among , ; tab |), values typed."""
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    records = list(csv.reader(io.StringIO(text), dialect))
    records = [r for r in records if any(cell.strip() for cell in r)]
    if not records:
        return [], []
    header = [h.strip() or f"column_{i + 1}" for i, h in enumerate(records[0])]
    rows = [
        {col: typed(cell) for col, cell in zip(header, record + [""] * len(header), strict=False)}
        for record in records[1:]
    ]
    return rows, header


def parse_json(text: str, *, lines: bool = False) -> tuple[list[Row], list[str]]:
    """Rows of a JSON array of objects, an object holding one such array, or JSON lines."""
    try:
        data: Any = (
            [json.loads(ln) for ln in text.splitlines() if ln.strip()]
            if lines
            else (json.loads(text))
        )
    except json.JSONDecodeError as exc:
        raise AgentInputError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if isinstance(data, dict):
        # {"items": [...]} is the common API shape; any other object is one row.
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else [data]
    if not isinstance(data, list):
        raise AgentInputError("the JSON holds a single value, not rows")
    rows: list[Row] = [item if isinstance(item, dict) else {"value": item} for item in data]
    return rows, column_names(rows)


def column_names(rows: Iterable[Row]) -> list[str]:
    """Every key of `rows`, in first-seen order."""
    return list(dict.fromkeys(key for row in rows for key in row))


def _load(root: Path, inputs: LoadInput) -> TableOutput:
    target = confine(root, inputs.path)
    data = read_bytes(root, target)
    try:
        text = data.decode("utf-8-sig")  # spreadsheets like to prefix a byte-order mark
    except UnicodeDecodeError:
        raise AgentInputError(f"{relative_name(root, target)!r} is not UTF-8 text") from None
    fmt = inputs.format
    if fmt == "auto":
        suffix = target.suffix.lower()
        if suffix in (".jsonl", ".ndjson"):
            fmt = "jsonl"
        elif suffix == ".json" or (suffix != ".csv" and text.lstrip()[:1] in ("[", "{")):
            fmt = "json"
        else:
            fmt = "csv"
    rows, columns = parse_csv(text) if fmt == "csv" else parse_json(text, lines=fmt == "jsonl")
    return TableOutput(rows=rows, columns=columns, count=len(rows))


# --- filter, select, aggregate -------------------------------------------------------------


def check_columns(wanted: Iterable[str], rows: list[Row], what: str) -> None:
    """Refuse column names no row has, suggesting the closest ones.

    Raises:
        AgentInputError: naming the unknown column and the closest known names.
    """
    if not rows:
        return
    known = column_names(rows)
    for name in wanted:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = ("did you mean " + " or ".join(map(repr, close)) + "?") if close else None
            raise AgentInputError(
                f"{what}: no column {name!r}; the columns are {', '.join(known)}", hint=hint
            )


def filter_rows(rows: list[Row], where: str) -> list[Row]:
    """Rows matching the `where` expression."""
    expr = _where.parse(where)
    check_columns(_where.columns(expr), rows, f"filter {where!r}")
    return [row for row in rows if _where.matches(expr, row)]


def _metric(name: str, spec: str) -> tuple[str, str | None]:
    op, _, column = spec.partition(":")
    op, column = op.strip().lower(), column.strip()
    if op not in _METRIC_OPS or (op != "count" and not column):
        raise AgentInputError(
            f"metric {name!r}: {spec!r} is not one of sum:col, avg:col, min:col, max:col, count"
        )
    return op, column or None


def _numbers(values: list[Any], label: str) -> list[float | int]:
    out: list[float | int] = []
    for v in values:
        if isinstance(v, int | float) and not isinstance(v, bool):
            out.append(v)
            continue
        try:
            out.append(float(str(v).replace(",", "")))
        except ValueError:
            raise AgentInputError(f"{label}: {v!r} is not a number") from None
    return out


def _compute(op: str, column: str | None, rows: list[Row], label: str) -> Any:
    if op == "count":
        return len(rows) if column is None else sum(r.get(column) is not None for r in rows)
    values: list[Any] = [r.get(column) for r in rows if column and r.get(column) is not None]
    if op in ("sum", "avg"):
        nums = _numbers(values, label)
        if op == "sum":
            return sum(nums)
        return sum(nums) / len(nums) if nums else None
    if not values:
        return None
    pick = min if op == "min" else max
    # Like the filter: when numbers are involved, numeric text counts as a number ("300").
    if any(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return pick(_numbers(values, label))
    return pick(str(v) for v in values)


def aggregate(rows: list[Row], group_by: list[str], metrics: dict[str, str]) -> list[Row]:
    """One row per group (first-seen order) with the group columns and each metric."""
    parsed = {name: _metric(name, spec) for name, spec in (metrics or {"count": "count"}).items()}
    used = [c for _, c in parsed.values() if c] + group_by
    check_columns(used, rows, "aggregate")
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        key = tuple(_hashable(row.get(c)) for c in group_by)
        groups.setdefault(key, []).append(row)
    if not group_by and not groups:
        groups[()] = []  # totals over no rows are still one row (count 0)
    out: list[Row] = []
    for members in groups.values():
        result: Row = {c: members[0].get(c) for c in group_by}
        for name, (op, column) in parsed.items():
            result[name] = _compute(op, column, members, f"metric {name!r}")
        out.append(result)
    return out


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


# --- extractors (offline planner) ----------------------------------------------------------


_CONDITION = re.compile(
    r"\b(?:where|whose|with|if|when|having|for which|that have|that has)\s+(.+)$", re.I
)


def _rows_source(clause: str, ctx: ExtractionContext) -> tuple[str, ...]:
    return ("rows",) if refers_to_previous(clause) or ctx.previous_agents else ()


def extract_load(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read "load sales.csv", "load the data from orders.json as json"."""
    inputs: dict[str, Any] = {}
    paths = find_paths(clause)
    if paths:
        inputs["path"] = paths[0]
    fmt = re.search(r"\bas (csv|jsonl|json)\b", clause, re.I)
    if fmt:
        inputs["format"] = fmt.group(1).lower()
    return Extraction(inputs=inputs, understood=f"load rows from {inputs.get('path', 'a file')}")


def extract_filter(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read "keep the rows where amount > 100", "remove rows where email is null"."""
    found = _CONDITION.search(clause) or re.search(
        r"([A-Za-z_]\w*\s*(?:==|!=|>=|<=|>|<|=).+)$", clause
    )
    inputs: dict[str, Any] = {}
    unparsed: tuple[str, ...] = ()
    if found:
        expr = _where.from_words(found.group(1).strip().rstrip("."))
        if re.search(r"\b(?:remove|drop|exclude|discard|delete|without)\b", clause, re.I):
            expr = f"not ({expr})"
        try:
            _where.parse(expr)
            inputs["where"] = expr
        except AgentInputError:
            unparsed = (found.group(1),)
    understood = f"keep the rows where {inputs['where']}" if "where" in inputs else "filter rows"
    return Extraction(
        inputs=inputs,
        from_previous=_rows_source(clause, ctx),
        understood=understood,
        unparsed=unparsed,
    )


def extract_select(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read "select the name and email columns", "keep only the id, date and amount fields"."""
    listed = re.search(
        r"\b(?:select|pick|choose|keep|show|take|include|return)\s+(?:only\s+|just\s+)?"
        r"(.+?)\s+(?:columns?|fields?)\b",
        clause,
        re.I,
    ) or re.search(r"\b(?:columns?|fields?)\s+(.+)$", clause, re.I)
    inputs: dict[str, Any] = {}
    names = find_quoted(clause) or (split_list(listed.group(1)) if listed else [])
    names = [n for n in names if re.fullmatch(r"[\w .-]+", n)]
    if names:
        inputs["columns"] = names
    what = ", ".join(names) if names else "some columns"
    return Extraction(
        inputs=inputs, from_previous=_rows_source(clause, ctx), understood=f"select {what}"
    )


_AGG_WORDS: tuple[tuple[str, str], ...] = (
    ("total|sum(?: of)?|add up", "sum"),
    ("average|avg|mean", "avg"),
    ("minimum|min|lowest|smallest", "min"),
    ("maximum|max|highest|largest|biggest", "max"),
)
_GROUP = re.compile(
    r"\b(?:grouped by|group by|for each|for every|by|per)\s+(.+?)(?=$|[,.;]|\s+(?:then|in|with)\b)",
    re.I,
)


def extract_aggregate(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read "total amount by region", "average price per category", "count orders by status"."""
    metrics: dict[str, str] = {}
    for words, op in _AGG_WORDS:
        m = re.search(rf"\b(?:{words})\s+(?:of\s+)?(?:the\s+)?([A-Za-z_]\w*)", clause, re.I)
        if m and m.group(1).lower() not in {"by", "per", "for", "rows", "of"}:
            metrics[f"{op}_{m.group(1)}"] = f"{op}:{m.group(1)}"
    if re.search(r"\b(?:count|number of|how many)\b", clause, re.I):
        metrics["count"] = "count"
    inputs: dict[str, Any] = {}
    if metrics:
        inputs["metrics"] = metrics
    group = _GROUP.search(clause)
    if group:
        inputs["group_by"] = split_list(group.group(1))
    what = ", ".join(metrics.values()) or "aggregate"
    by = f" by {', '.join(inputs['group_by'])}" if "group_by" in inputs else ""
    return Extraction(
        inputs=inputs, from_previous=_rows_source(clause, ctx), understood=f"{what}{by}"
    )


# --- agents --------------------------------------------------------------------------------


def agents(resources: AgentResources) -> list[Agent]:
    """The data agents; ``data.load`` is confined to ``resources.workspace``."""
    root = resources.workspace

    @agent(
        "data.load",
        description="Load rows from a CSV, JSON or JSON-lines file in the workspace.",
        risk=Risk.READ,
        examples=(
            "load sales.csv",
            "load the data from orders.json",
            "read the table in data/customers.csv",
            "open the spreadsheet export.csv",
        ),
        tags=_TAGS,
        extract=extract_load,
    )
    async def load(inputs: LoadInput) -> TableOutput:
        return await to_thread.run_sync(partial(_load, root, inputs))

    @agent(
        "data.filter",
        description="Keep the rows that match a condition such as amount > 100.",
        risk=Risk.READ,
        cacheable=True,
        examples=(
            "keep the rows where amount > 100",
            "filter the rows where status is paid",
            "only the orders with total over 50",
            "remove rows where email is null",
        ),
        tags=_TAGS,
        extract=extract_filter,
    )
    async def filter_(inputs: FilterInput) -> RowsOutput:
        rows = filter_rows(inputs.rows, inputs.where)
        return RowsOutput(rows=rows, count=len(rows))

    @agent(
        "data.select",
        description="Keep only some columns of the rows, in a given order.",
        risk=Risk.READ,
        cacheable=True,
        examples=(
            "select the name and email columns",
            "keep only the id, date and amount fields",
            "show just the name column",
        ),
        tags=_TAGS,
        extract=extract_select,
    )
    async def select(inputs: SelectInput) -> TableOutput:
        check_columns(inputs.columns, inputs.rows, "select")
        rows = [{c: row.get(c) for c in inputs.columns} for row in inputs.rows]
        return TableOutput(rows=rows, columns=list(inputs.columns), count=len(rows))

    @agent(
        "data.aggregate",
        description="Group rows and compute sums, averages, minimums, maximums and counts.",
        risk=Risk.READ,
        cacheable=True,
        examples=(
            "total amount by region",
            "average price per category",
            "count the orders by status",
            "sum of sales for each month",
            "the highest score per team",
        ),
        tags=_TAGS,
        extract=extract_aggregate,
    )
    async def aggregate_(inputs: AggregateInput) -> RowsOutput:
        rows = aggregate(inputs.rows, inputs.group_by, inputs.metrics)
        return RowsOutput(rows=rows, count=len(rows))

    return [load, filter_, select, aggregate_]
