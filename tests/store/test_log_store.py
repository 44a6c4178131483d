"""Conformance suite: every LogStore (memory, SQLite, PostgreSQL) must pass all of these."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from baton.errors import UsageError
from baton.store.logs import (
    MAX_MESSAGE_CHARS,
    LogQuery,
    LogRecord,
    LogStore,
    MemoryLogStore,
    level_name,
    parse_level,
    parse_query,
)
from baton.store.sql.database import Database, open_database, sqlite_url
from baton.store.sql.logs import SqlLogStore, fts5_query, tsquery
from baton.store.sql.schema import create_schema
from support.clock import T0

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(store_database: Database | None) -> LogStore:
    return MemoryLogStore() if store_database is None else SqlLogStore(store_database)


def rec(message: str, **changes: Any) -> LogRecord:
    values: dict[str, Any] = {
        "at": T0,
        "level": 20,
        "logger": "baton.run",
        "message": message,
        "workspace_id": "ws_a",
        "execution_id": "ex_1",
    }
    return LogRecord(**(values | changes))


async def messages(store: LogStore, query: str = "", **kw: Any) -> list[str]:
    kw.setdefault("workspace_id", "ws_a")
    return [r.message for r in await store.search(query, **kw)]


async def test_records_round_trip_with_every_field(store: LogStore) -> None:
    original = rec(
        "step a failed: boom ✓",
        level=40,
        logger="baton.agent.http.get",
        step_id="a",
        trace_id="0af7651916cd43dd8448eb211c80319c",
        span_id="b7ad6b7169203331",
        extra={"attempt": 2, "nested": {"ok": True}},
        at=T0 + timedelta(microseconds=123456),
    )
    assert await store.add([original]) == 1

    [got] = await store.search(workspace_id="ws_a")

    assert got.id > 0
    assert (got.at, got.level, got.logger, got.message) == (
        original.at,
        40,
        "baton.agent.http.get",
        "step a failed: boom ✓",
    )
    assert (got.workspace_id, got.execution_id, got.step_id) == ("ws_a", "ex_1", "a")
    assert (got.trace_id, got.span_id) == (original.trace_id, original.span_id)
    assert got.extra == {"attempt": 2, "nested": {"ok": True}}
    assert got.at.tzinfo is not None
    assert got.level_name == "error"


async def test_ids_grow_and_search_is_newest_first_with_paging(store: LogStore) -> None:
    await store.add([rec(f"line {i}") for i in range(5)])
    await store.add([rec(f"line {i}") for i in range(5, 8)])

    first = await store.search(workspace_id="ws_a", limit=3)
    assert [r.message for r in first] == ["line 7", "line 6", "line 5"]
    ids = [r.id for r in first]
    assert ids == sorted(ids, reverse=True)
    second = await store.search(workspace_id="ws_a", limit=3, before_id=first[-1].id)
    assert [r.message for r in second] == ["line 4", "line 3", "line 2"]
    last = await store.search(workspace_id="ws_a", limit=3, before_id=second[-1].id)
    assert [r.message for r in last] == ["line 1", "line 0"]


async def test_words_are_whole_case_insensitive_and_all_must_match(store: LogStore) -> None:
    await store.add(
        [
            rec("Connection refused by db.example.com"),
            rec("connection reset"),
            rec("refused: connection pool exhausted"),
            rec("reconnecting"),
        ]
    )

    assert await messages(store, "connection") == [
        "refused: connection pool exhausted",
        "connection reset",
        "Connection refused by db.example.com",
    ]
    assert await messages(store, "CONNECTION refused") == [
        "refused: connection pool exhausted",
        "Connection refused by db.example.com",
    ]
    assert await messages(store, "connect") == []  # whole words only
    assert await messages(store, "nothing here") == []


async def test_prefix_and_phrase(store: LogStore) -> None:
    await store.add(
        [
            rec("connection refused"),
            rec("refused connection"),
            rec("reconnecting in 5s"),
            rec("called http.get on example.org"),
            rec("http then get"),
        ]
    )

    assert await messages(store, "conn*") == ["refused connection", "connection refused"]
    assert await messages(store, "recon*") == ["reconnecting in 5s"]
    assert await messages(store, '"connection refused"') == ["connection refused"]
    assert await messages(store, '"refused connection"') == ["refused connection"]
    # A word with separators inside is a phrase: http.get, not "http" and "get" anywhere.
    assert await messages(store, "http.get") == ["called http.get on example.org"]
    assert await messages(store, "http get") == ["http then get", "called http.get on example.org"]
    assert await messages(store, '"http.ge"*') == ["called http.get on example.org"]
    assert await messages(store, '"connection ref*"') == ["connection refused"]


async def test_ids_with_separators_are_found(store: LogStore) -> None:
    await store.add([rec("resumed ex_01hxyz42 after crash"), rec("ex_01other done")])

    assert await messages(store, "ex_01hxyz42") == ["resumed ex_01hxyz42 after crash"]
    assert await messages(store, "01hxyz42") == ["resumed ex_01hxyz42 after crash"]


async def test_filters_execution_level_since_and_workspace(store: LogStore) -> None:
    await store.add(
        [
            rec("timeout a", execution_id="ex_1", level=20, at=T0),
            rec("timeout b", execution_id="ex_2", level=30, at=T0 + timedelta(minutes=1)),
            rec("timeout c", execution_id="ex_1", level=40, at=T0 + timedelta(minutes=2)),
            rec("timeout d", execution_id="ex_3", level=50, workspace_id="ws_b"),
            rec("timeout e", execution_id=None, workspace_id=None),
        ]
    )

    assert await messages(store, "timeout") == ["timeout c", "timeout b", "timeout a"]
    assert await messages(store, "timeout", execution_id="ex_1") == ["timeout c", "timeout a"]
    assert await messages(store, "", execution_id="ex_1") == ["timeout c", "timeout a"]
    assert await messages(store, "timeout", execution_id="ex_9") == []
    assert await messages(store, "timeout", min_level=30) == ["timeout c", "timeout b"]
    assert await messages(store, "", min_level=40) == ["timeout c"]
    assert await messages(store, "timeout", since=T0 + timedelta(minutes=1)) == [
        "timeout c",
        "timeout b",
    ]
    # Another workspace's execution id names nothing here.
    assert await messages(store, "timeout", execution_id="ex_3") == []
    assert await messages(store, "timeout", workspace_id="ws_b") == ["timeout d"]
    everything = await messages(store, "timeout", workspace_id=None)
    assert everything == ["timeout e", "timeout d", "timeout c", "timeout b", "timeout a"]


async def test_execution_filter_with_a_query_pages_back(store: LogStore) -> None:
    batch = [rec(f"retry {i}", execution_id="ex_1" if i % 3 == 0 else "ex_2") for i in range(30)]
    await store.add(batch)

    page = await store.search("retry", workspace_id="ws_a", execution_id="ex_1", limit=4)
    assert [r.message for r in page] == ["retry 27", "retry 24", "retry 21", "retry 18"]
    rest = await store.search(
        "retry", workspace_id="ws_a", execution_id="ex_1", limit=100, before_id=page[-1].id
    )
    assert [r.message for r in rest] == [f"retry {i}" for i in (15, 12, 9, 6, 3, 0)]


async def test_tail_follows_after_an_id_oldest_first(store: LogStore) -> None:
    await store.add([rec("one"), rec("two", workspace_id="ws_b"), rec("three", level=40)])
    [newest] = await store.search(workspace_id="ws_a", limit=1)

    all_after = await store.tail(0, workspace_id="ws_a")
    assert [r.message for r in all_after] == ["one", "three"]
    assert await store.tail(newest.id, workspace_id="ws_a") == []
    await store.add([rec("four", execution_id="ex_2"), rec("five")])
    new = await store.tail(newest.id, workspace_id="ws_a")
    assert [r.message for r in new] == ["four", "five"]
    only = await store.tail(0, workspace_id="ws_a", execution_id="ex_2")
    assert [r.message for r in only] == ["four"]
    severe = await store.tail(0, workspace_id="ws_a", min_level=40)
    assert [r.message for r in severe] == ["three"]
    assert [r.message for r in await store.tail(0, workspace_id="ws_a", limit=2)] == [
        "one",
        "three",
    ]


async def test_export_yields_every_match_oldest_first_across_batches(store: LogStore) -> None:
    await store.add([rec(f"export line {i}", at=T0 + timedelta(seconds=i)) for i in range(25)])
    await store.add([rec("export elsewhere", workspace_id="ws_b")])

    got = [r.message async for r in store.export(workspace_id="ws_a", batch_size=7)]
    assert got == [f"export line {i}" for i in range(25)]
    some = [
        r.message
        async for r in store.export(
            "line",
            workspace_id="ws_a",
            since=T0 + timedelta(seconds=10),
            until=T0 + timedelta(seconds=13),
            batch_size=2,
        )
    ]
    assert some == ["export line 10", "export line 11", "export line 12"]


async def test_purge_deletes_older_records_and_their_index_entries(store: LogStore) -> None:
    await store.add(
        [rec(f"old purged {i}", at=T0 - timedelta(days=40)) for i in range(12)]
        + [rec("new kept", at=T0)]
    )
    if isinstance(store, SqlLogStore):
        store = SqlLogStore(store._db, purge_batch=5)  # pyright: ignore[reportPrivateUsage]

    assert await store.purge(T0 - timedelta(days=30)) == 12

    assert await messages(store) == ["new kept"]
    assert await messages(store, "purged") == []
    assert await store.purge(T0 - timedelta(days=30)) == 0
    if isinstance(store, SqlLogStore) and store._db.dialect == "sqlite":  # pyright: ignore[reportPrivateUsage]
        # The FTS index matches the table exactly (raises "database disk image is malformed"
        # if a deleted record were still indexed).
        await store._db.transaction(  # pyright: ignore[reportPrivateUsage]
            lambda conn: conn.exec_driver_sql(
                "INSERT INTO logs_fts(logs_fts, rank) VALUES ('integrity-check', 1)"
            )
        )


async def test_ids_are_not_reused_after_everything_is_purged(store: LogStore) -> None:
    await store.add([rec("first", at=T0 - timedelta(days=2))])
    [first] = await store.search(workspace_id="ws_a")
    await store.purge(T0)
    await store.add([rec("second")])
    [second] = await store.search(workspace_id="ws_a")
    assert second.id > first.id


async def test_long_messages_and_ids_are_cut_and_nul_removed(store: LogStore) -> None:
    await store.add(
        [rec("x" * (MAX_MESSAGE_CHARS + 10) + " nul\x00here", step_id="s" * 100, logger="l" * 300)]
    )
    [got] = await store.search(workspace_id="ws_a")
    assert got.message.startswith("x" * MAX_MESSAGE_CHARS)
    assert got.message.endswith("characters cut]")
    assert got.step_id == "s" * 64
    assert len(got.logger) == 200


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ('"unterminated', "unterminated phrase"),
        ("--- ...", "no word to search for"),
        ("x" * 600, "at most 500 characters"),
        (" ".join(f"w{i}" for i in range(20)), "at most 16 words"),
    ],
)
async def test_bad_queries_are_usage_errors(store: LogStore, query: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        await store.search(query, workspace_id="ws_a")


async def test_fts_operators_in_input_are_plain_words(store: LogStore) -> None:
    # FTS5 and tsquery syntax has no power here: it is all separators or plain words.
    await store.add([rec("NEAR AND OR NOT are words"), rec("a & b | !c")])
    assert await messages(store, "NEAR OR") == ["NEAR AND OR NOT are words"]
    assert await messages(store, "a & b | !c") == ["a & b | !c"]
    assert await messages(store, "(a) :* c^") == ["a & b | !c"]


async def test_bad_limit_is_refused(store: LogStore) -> None:
    for limit in (0, 1001):
        with pytest.raises(UsageError, match="limit"):
            await store.search(workspace_id="ws_a", limit=limit)


def test_levels() -> None:
    assert parse_level("WARN") == 30
    assert parse_level(" error ") == 40
    assert level_name(25) == "info"
    assert level_name(5) == "debug"
    with pytest.raises(UsageError, match="unknown log level 'loud'"):
        parse_level("loud")


def test_query_rendering_per_backend() -> None:
    q = parse_query('timeout "connection ref"* ex_01ab retr*')
    assert fts5_query(q) == '"timeout" "connection ref" * "ex 01ab" "retr" *'
    assert tsquery(q) == "(timeout) & (connection <-> ref:*) & (ex <-> 01ab) & (retr:*)"
    assert not parse_query("   ")


async def test_sqlite_search_is_driven_by_the_fts_index(tmp_path: Path) -> None:
    # The FTS5 plan is SQLite's: this test runs on SQLite only, by construction.
    store_database = open_database(sqlite_url(tmp_path / "baton.db"))
    await create_schema(store_database)
    from baton.store.sql.logs import _Filter  # pyright: ignore[reportPrivateUsage]

    def plan(conn: sa.Connection) -> str:
        flt = _Filter(
            parse_query("timeout"),
            workspace_id="ws_a",
            execution_id=None,
            min_level=30,
            since=None,
        )
        stmt = flt.select(conn, newest_first=True, limit=100)
        assert stmt is not None
        compiled = stmt.compile(conn, compile_kwargs={"literal_binds": True})
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
        return " | ".join(str(r[-1]) for r in rows)

    try:
        text = await store_database.transaction(plan)
    finally:
        await store_database.dispose()
    assert "VIRTUAL TABLE INDEX" in text
    assert "TEMP B-TREE" not in text  # no sort of every match: the index gives the order


async def test_level_only_search_merges_levels_newest_first_and_pages(store: LogStore) -> None:
    # Levels interleaved, custom ones (25, 45) among them, and another workspace's records.
    levels = [10, 20, 25, 30, 40, 45, 50]
    await store.add(
        [rec(f"line {i}", level=levels[i % len(levels)]) for i in range(70)]
        + [rec("elsewhere", level=50, workspace_id="ws_b")]
    )

    def expected(min_level: int) -> list[str]:
        return [f"line {i}" for i in reversed(range(70)) if levels[i % len(levels)] >= min_level]

    for min_level in (10, 21, 30, 46, 50):
        assert await messages(store, "", min_level=min_level, limit=1000) == expected(min_level)
    page = await store.search(workspace_id="ws_a", min_level=25, limit=7)
    assert [r.message for r in page] == expected(25)[:7]
    rest = await messages(store, "", min_level=25, limit=1000, before_id=page[-1].id)
    assert rest == expected(25)[7:]
    # Oldest first after an id: the records of line 0..69 after the page's last one.
    newer = [r for r in await store.search(workspace_id="ws_a", limit=1000) if r.id > page[-1].id]
    severe = [r.message for r in reversed(newer) if r.level >= 40]
    tailed = await store.tail(page[-1].id, workspace_id="ws_a", min_level=40, limit=3)
    assert [r.message for r in tailed] == severe[:3]
    everything = await store.tail(0, workspace_id="ws_a", min_level=40, limit=1000)
    assert [r.message for r in everything] == expected(40)[::-1]


async def test_level_only_search_with_no_record_at_that_level(store: LogStore) -> None:
    await store.add([rec(f"quiet {i}", level=20) for i in range(20)])
    await store.add([rec("loud", level=50, workspace_id="ws_b")])

    assert await messages(store, "", min_level=40) == []
    assert await store.tail(0, workspace_id="ws_a", min_level=30) == []
    assert [r async for r in store.export(workspace_id="ws_a", min_level=30)] == []
    assert await messages(store, "", min_level=40, workspace_id="ws_b") == ["loud"]


async def test_sqlite_level_only_search_reads_each_level_in_order(tmp_path: Path) -> None:
    # A level filter alone must not walk the workspace (nothing may match) nor sort a level
    # range (everything may): each level present is read newest first from its index.
    store_database = open_database(sqlite_url(tmp_path / "baton.db"))
    await create_schema(store_database)
    await SqlLogStore(store_database).add([rec("a", level=20), rec("b", level=40)])
    from baton.store.sql.logs import _Filter  # pyright: ignore[reportPrivateUsage]

    def plan(conn: sa.Connection, flt: Any) -> str:
        stmt = flt.select(conn, newest_first=True, limit=100)
        assert stmt is not None
        compiled = stmt.compile(conn, compile_kwargs={"literal_binds": True})
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
        return " | ".join(str(r[-1]) for r in rows)

    by_level = _Filter(LogQuery(), workspace_id="ws_a", execution_id=None, min_level=10, since=None)
    # With a time window too, the level index must not be used for a level range (SQLite
    # would sort the whole range): the plan is the one from before that index existed.
    windowed = _Filter(LogQuery(), workspace_id="ws_a", execution_id=None, min_level=10, since=T0)
    try:
        text = await store_database.transaction(lambda conn: plan(conn, by_level))
        windowed_text = await store_database.transaction(lambda conn: plan(conn, windowed))
    finally:
        await store_database.dispose()
    assert text.count("USING INDEX ix_logs_workspace_id_level_id (workspace_id=? AND level=?)") == 2
    # The parts are read in index order: only their (at most 2 x 100) rows are merged.
    assert "SCAN logs" not in text
    assert "ix_logs_workspace_id_level_id" not in windowed_text
    assert "TEMP B-TREE" not in windowed_text
