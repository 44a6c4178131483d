"""data.load / data.filter / data.select / data.aggregate, and the `where` language."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from baton.agents.builtin import _where, data
from baton.agents.builtin.resources import AgentResources
from baton.agents.protocol import Agent, AgentContext, ExtractionContext
from baton.errors import AgentInputError

pytestmark = pytest.mark.anyio

SALES = "id,region,amount,zip,status\n1,EU,120,01234,paid\n2,US,80.5,90210,open\n3,EU,,02110,paid\n"
ROWS: list[dict[str, Any]] = [
    {"id": 1, "region": "EU", "amount": 120, "status": "paid", "note": "Rush order"},
    {"id": 2, "region": "US", "amount": 80.5, "status": "open", "note": None},
    {"id": 3, "region": "EU", "amount": None, "status": "paid", "note": "gift"},
    {"id": 4, "region": "US", "amount": "300", "status": "paid", "note": "rush"},
]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def by_name(ws: Path) -> dict[str, Agent]:
    resources = AgentResources(workspace=ws, calendar=cast("Any", object()))
    return {a.spec.name: a for a in data.agents(resources)}


async def call(agent: Agent, **inputs: Any) -> dict[str, Any]:
    model = agent.spec.input_model.model_validate(inputs)
    return (await agent.run(model, AgentContext(execution_id="e", step_id="s"))).model_dump()


async def test_load_csv_types_values(by_name: dict[str, Agent], ws: Path) -> None:
    (ws / "sales.csv").write_text(SALES)
    out = await call(by_name["data.load"], path="sales.csv")
    assert out["columns"] == ["id", "region", "amount", "zip", "status"]
    assert out["count"] == 3
    assert out["rows"][0] == {
        "id": 1,
        "region": "EU",
        "amount": 120,
        "zip": "01234",
        "status": "paid",
    }
    assert out["rows"][1]["amount"] == 80.5
    assert out["rows"][2]["amount"] is None


async def test_load_csv_sniffs_semicolons_and_bom(by_name: dict[str, Agent], ws: Path) -> None:
    (ws / "eu.csv").write_bytes("\ufeffname;price\nTea;2.5\nCake;4\n".encode())
    out = await call(by_name["data.load"], path="eu.csv")
    assert out["rows"] == [{"name": "Tea", "price": 2.5}, {"name": "Cake", "price": 4}]


@pytest.mark.parametrize(
    ("name", "content", "fmt"),
    [
        ("items.json", json.dumps([{"a": 1}, {"a": 2, "b": "x"}]), "auto"),
        ("api.json", json.dumps({"total": 2, "items": [{"a": 1}, {"a": 2, "b": "x"}]}), "auto"),
        ("items.jsonl", '{"a": 1}\n\n{"a": 2, "b": "x"}\n', "auto"),
        ("export.txt", json.dumps([{"a": 1}, {"a": 2, "b": "x"}]), "json"),
    ],
)
async def test_load_json_shapes(
    by_name: dict[str, Agent], ws: Path, name: str, content: str, fmt: str
) -> None:
    (ws / name).write_text(content)
    out = await call(by_name["data.load"], path=name, format=fmt)
    assert out["rows"] == [{"a": 1}, {"a": 2, "b": "x"}]
    assert out["columns"] == ["a", "b"]


async def test_load_refusals(by_name: dict[str, Agent], ws: Path) -> None:
    (ws.parent / "secret.csv").write_text("a\n1\n")
    (ws / "bad.json").write_text("{oops")
    with pytest.raises(AgentInputError, match=r"'\.\.' climbs out"):
        await call(by_name["data.load"], path="../secret.csv")
    with pytest.raises(AgentInputError, match="not valid JSON"):
        await call(by_name["data.load"], path="bad.json")


@pytest.mark.parametrize(
    ("where", "ids"),
    [
        ("amount > 100", [1, 4]),  # "300" compares as a number; None never matches
        ('amount > 100 and status == "paid"', [1, 4]),
        ("status = 'open' or region == \"EU\"", [1, 2, 3]),
        ('not (region == "EU")', [2, 4]),
        ('note contains "RUSH"', [1, 4]),
        ("amount == null", [3]),
        ("amount <= 80.5", [2]),
        ("note", [1, 3, 4]),
        ("`region` != 'US' and not amount", [3]),
    ],
)
async def test_filter(by_name: dict[str, Agent], where: str, ids: list[int]) -> None:
    out = await call(by_name["data.filter"], rows=ROWS, where=where)
    assert [r["id"] for r in out["rows"]] == ids
    assert out["count"] == len(ids)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("amount >", "position 8 expected a value"),
        ("(amount > 1", "position 11 expected ')'"),
        ("amount > 1 status", "position 11 expected 'and', 'or'"),
        ("amount $ 3", "position 7 expected a value, a column"),
        ("__import__('os').system('x')", "position 16"),
        ("", "expected an expression"),
    ],
)
async def test_filter_bad_expressions(by_name: dict[str, Agent], where: str, message: str) -> None:
    with pytest.raises(AgentInputError, match="bad filter") as err:
        await call(by_name["data.filter"], rows=ROWS, where=where)
    assert message in str(err.value)


async def test_filter_unknown_column_suggests(by_name: dict[str, Agent]) -> None:
    with pytest.raises(AgentInputError, match="no column 'ammount'") as err:
        await call(by_name["data.filter"], rows=ROWS, where="ammount > 1")
    assert err.value.hint == "did you mean 'amount'?"
    with pytest.raises(AgentInputError, match="no column 'paid'"):  # an unquoted text value
        await call(by_name["data.filter"], rows=ROWS, where="status == paid")


async def test_select(by_name: dict[str, Agent]) -> None:
    out = await call(by_name["data.select"], rows=ROWS[:2], columns=["status", "id"])
    assert out == {
        "rows": [{"status": "paid", "id": 1}, {"status": "open", "id": 2}],
        "columns": ["status", "id"],
        "count": 2,
    }
    with pytest.raises(AgentInputError, match="no column 'regoin'") as err:
        await call(by_name["data.select"], rows=ROWS, columns=["id", "regoin"])
    assert err.value.hint == "did you mean 'region'?"


async def test_aggregate_by_group(by_name: dict[str, Agent]) -> None:
    metrics = {
        "total": "sum:amount",
        "mean": "avg:amount",
        "low": "min:amount",
        "n": "count",
        "with_amount": "count:amount",
    }
    rows = [r for r in ROWS if r["id"] != 4]
    out = await call(by_name["data.aggregate"], rows=rows, group_by=["region"], metrics=metrics)
    assert out["rows"] == [
        {"region": "EU", "total": 120, "mean": 120.0, "low": 120, "n": 2, "with_amount": 1},
        {"region": "US", "total": 80.5, "mean": 80.5, "low": 80.5, "n": 1, "with_amount": 1},
    ]


async def test_aggregate_without_groups(by_name: dict[str, Agent]) -> None:
    out = await call(by_name["data.aggregate"], rows=ROWS, metrics={"top": "max:amount"})
    assert out["rows"] == [{"top": 300.0}]  # "300" counts as a number among numbers
    empty = await call(by_name["data.aggregate"], rows=[])
    assert empty["rows"] == [{"count": 0}]


async def test_aggregate_refusals(by_name: dict[str, Agent]) -> None:
    with pytest.raises(AgentInputError, match="'median:amount' is not one of"):
        await call(by_name["data.aggregate"], rows=ROWS, metrics={"m": "median:amount"})
    with pytest.raises(AgentInputError, match="'Rush order' is not a number"):
        await call(by_name["data.aggregate"], rows=ROWS, metrics={"s": "sum:note"})
    with pytest.raises(AgentInputError, match="no column 'regio'"):
        await call(by_name["data.aggregate"], rows=ROWS, group_by=["regio"])
    with pytest.raises(AgentInputError, match="'gift' is not a number"):
        await call(
            by_name["data.aggregate"], rows=[{"x": 1}, {"x": "gift"}], metrics={"m": "max:x"}
        )
    only_text = await call(by_name["data.aggregate"], rows=ROWS, metrics={"m": "max:status"})
    assert only_text["rows"] == [{"m": "paid"}]


def test_where_ast() -> None:
    node = _where.parse('a > 1 and (b == "x" or not c)')
    assert node == _where.BoolOp(
        "and",
        (
            _where.Compare(">", _where.Column("a"), _where.Value(1)),
            _where.BoolOp(
                "or",
                (
                    _where.Compare("==", _where.Column("b"), _where.Value("x")),
                    _where.Not(_where.Column("c")),
                ),
            ),
        ),
    )
    assert _where.columns(node) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("words", "expr"),
    [
        ("amount > 100", "amount > 100"),
        ("status is paid and amount is over 50", 'status == "paid" and amount > 50'),
        ("region is not EU", 'region != "EU"'),
        ("score is at least 3", "score >= 3"),
        ("price is less than 10 or name is 'is over'", "price < 10 or name == 'is over'"),
        ("email is null", "email == null"),
    ],
)
def test_from_words(words: str, expr: str) -> None:
    assert _where.from_words(words) == expr
    _where.parse(expr)


NOW = ExtractionContext(now=datetime(2026, 1, 5, tzinfo=UTC))
AFTER = ExtractionContext(now=datetime(2026, 1, 5, tzinfo=UTC), previous_agents=("data.load",))


def test_extract_load() -> None:
    assert data.extract_load("load sales.csv", NOW).inputs == {"path": "sales.csv"}
    e = data.extract_load("load the data from export.txt as json", NOW)
    assert e.inputs == {"path": "export.txt", "format": "json"}


@pytest.mark.parametrize(
    ("clause", "where"),
    [
        ("keep the rows where amount > 100", "amount > 100"),
        ("filter the rows where status is paid", 'status == "paid"'),
        ("only the orders with total over 50", "total > 50"),
        ("remove rows where email is null", "not (email == null)"),
    ],
)
def test_extract_filter(clause: str, where: str) -> None:
    e = data.extract_filter(clause, AFTER)
    assert e.inputs == {"where": where}
    assert e.from_previous == ("rows",)


def test_extract_filter_reports_what_it_cannot_parse() -> None:
    e = data.extract_filter("keep the rows where amount >> 3", AFTER)
    assert e.inputs == {}
    assert e.unparsed == ("amount >> 3",)


@pytest.mark.parametrize(
    ("clause", "columns"),
    [
        ("select the name and email columns", ["name", "email"]),
        ("keep only the id, date and amount fields", ["id", "date", "amount"]),
        ("select columns 'first name' and 'email'", ["first name", "email"]),
    ],
)
def test_extract_select(clause: str, columns: list[str]) -> None:
    e = data.extract_select(clause, AFTER)
    assert e.inputs == {"columns": columns}
    assert e.from_previous == ("rows",)


@pytest.mark.parametrize(
    ("clause", "inputs"),
    [
        (
            "total amount by region",
            {"metrics": {"sum_amount": "sum:amount"}, "group_by": ["region"]},
        ),
        (
            "average price per category",
            {"metrics": {"avg_price": "avg:price"}, "group_by": ["category"]},
        ),
        ("count the orders by status", {"metrics": {"count": "count"}, "group_by": ["status"]}),
        (
            "sum of sales for each month and region",
            {"metrics": {"sum_sales": "sum:sales"}, "group_by": ["month", "region"]},
        ),
    ],
)
def test_extract_aggregate(clause: str, inputs: dict[str, Any]) -> None:
    e = data.extract_aggregate(clause, AFTER)
    assert e.inputs == inputs
    assert e.from_previous == ("rows",)
