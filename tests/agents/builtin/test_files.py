"""files.read / files.write / files.list: real files in a temporary workspace."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from baton.agents.builtin import files
from baton.agents.builtin.resources import AgentResources
from baton.agents.protocol import Agent, AgentContext, ExtractionContext, Risk
from baton.errors import AgentInputError

pytestmark = pytest.mark.anyio


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def by_name(ws: Path) -> dict[str, Agent]:
    resources = AgentResources(workspace=ws, calendar=cast("Any", object()))
    return {a.spec.name: a for a in files.agents(resources)}


def ctx(ws: Path, key: str = "key-1") -> AgentContext:
    return AgentContext(execution_id="e1", step_id="s1", idempotency_key=key, workspace=ws)


async def run(agent: Agent, ws: Path, key: str = "key-1", **inputs: Any) -> dict[str, Any]:
    model = agent.spec.input_model.model_validate(inputs)
    return (await agent.run(model, ctx(ws, key))).model_dump()


def test_specs_declare_risk_and_idempotency(by_name: dict[str, Agent]) -> None:
    assert set(by_name) == {"files.read", "files.write", "files.list"}
    assert by_name["files.read"].spec.risk is Risk.READ
    assert by_name["files.read"].spec.cacheable is False
    assert by_name["files.write"].spec.risk is Risk.WRITE
    assert by_name["files.write"].spec.idempotent is True
    for agent in by_name.values():
        assert agent.spec.tags == ("builtin", "files")
        assert 3 <= len(agent.spec.examples) <= 6


async def test_read_returns_content_and_size(by_name: dict[str, Agent], ws: Path) -> None:
    (ws / "docs").mkdir()
    (ws / "docs" / "plan.md").write_text("héllo\n", encoding="utf-8")
    out = await run(by_name["files.read"], ws, path="docs/plan.md")
    assert out == {"path": "docs/plan.md", "content": "héllo\n", "size": 7}


async def test_read_accepts_absolute_path_inside(by_name: dict[str, Agent], ws: Path) -> None:
    (ws / "a.txt").write_text("x")
    out = await run(by_name["files.read"], ws, path=str(ws / "a.txt"))
    assert out["path"] == "a.txt"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../secret.txt", "'..' climbs out"),
        ("docs/../../secret.txt", "'..' climbs out"),
        ("~/secret.txt", "home folder"),
        ("", "empty"),
    ],
)
async def test_read_refuses_paths_out_of_the_workspace(
    by_name: dict[str, Agent], ws: Path, path: str, reason: str
) -> None:
    (ws.parent / "secret.txt").write_text("top secret")
    with pytest.raises(AgentInputError, match="refused path") as err:
        await run(by_name["files.read"], ws, path=path)
    assert reason in str(err.value)


async def test_read_refuses_absolute_path_elsewhere(by_name: dict[str, Agent], ws: Path) -> None:
    outside = ws.parent / "secret.txt"
    outside.write_text("top secret")
    with pytest.raises(AgentInputError, match="absolute path outside the workspace"):
        await run(by_name["files.read"], ws, path=str(outside))


async def test_read_refuses_symlink_pointing_out(by_name: dict[str, Agent], ws: Path) -> None:
    outside = ws.parent / "secret.txt"
    outside.write_text("top secret")
    (ws / "link.txt").symlink_to(outside)
    (ws / "linkdir").symlink_to(ws.parent, target_is_directory=True)
    with pytest.raises(AgentInputError, match="symbolic link"):
        await run(by_name["files.read"], ws, path="link.txt")
    with pytest.raises(AgentInputError, match="symbolic link"):
        await run(by_name["files.read"], ws, path="linkdir/secret.txt")


async def test_read_follows_symlink_inside(by_name: dict[str, Agent], ws: Path) -> None:
    (ws / "real.txt").write_text("inside")
    (ws / "alias.txt").symlink_to(ws / "real.txt")
    out = await run(by_name["files.read"], ws, path="alias.txt")
    assert out["content"] == "inside"


async def test_read_missing_file_names_the_neighbours(by_name: dict[str, Agent], ws: Path) -> None:
    (ws / "notes.txt").write_text("x")
    with pytest.raises(AgentInputError, match=r"no file 'note\.txt'") as err:
        await run(by_name["files.read"], ws, path="note.txt")
    assert err.value.hint is not None
    assert "notes.txt" in err.value.hint


async def test_read_refuses_folders_and_binary(by_name: dict[str, Agent], ws: Path) -> None:
    (ws / "sub").mkdir()
    (ws / "blob.bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(AgentInputError, match="is a folder"):
        await run(by_name["files.read"], ws, path="sub")
    with pytest.raises(AgentInputError, match="not UTF-8"):
        await run(by_name["files.read"], ws, path="blob.bin")


async def test_write_creates_folders_and_leaves_no_temp_file(
    by_name: dict[str, Agent], ws: Path
) -> None:
    out = await run(by_name["files.write"], ws, path="out/summary.txt", content="done ✓")
    assert out == {"path": "out/summary.txt", "bytes_written": len("done ✓".encode())}
    assert (ws / "out" / "summary.txt").read_text(encoding="utf-8") == "done ✓"
    assert os.listdir(ws / "out") == ["summary.txt"]


async def test_write_is_atomic_when_the_replace_fails(
    by_name: dict[str, Agent], ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ws / "a.txt").write_text("old")

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(Exception, match="No space left"):
        await run(by_name["files.write"], ws, path="a.txt", content="new")
    assert (ws / "a.txt").read_text() == "old"
    assert os.listdir(ws) == ["a.txt"]  # the temporary file was cleaned up


async def test_write_respects_overwrite_false(by_name: dict[str, Agent], ws: Path) -> None:
    (ws / "a.txt").write_text("old")
    with pytest.raises(AgentInputError, match="already exists"):
        await run(by_name["files.write"], ws, path="a.txt", content="new", overwrite=False)
    assert (ws / "a.txt").read_text() == "old"


async def test_append_is_idempotent_per_key(by_name: dict[str, Agent], ws: Path) -> None:
    (ws / "log.txt").write_text("a\n")
    write = by_name["files.write"]
    await run(write, ws, "k1", path="log.txt", content="b\n", append=True)
    await run(write, ws, "k1", path="log.txt", content="b\n", append=True)  # a retry
    await run(write, ws, "k2", path="log.txt", content="c\n", append=True)
    assert (ws / "log.txt").read_text() == "a\nb\nc\n"


async def test_write_refuses_escape_through_symlinked_folder(
    by_name: dict[str, Agent], ws: Path
) -> None:
    (ws / "out").symlink_to(ws.parent, target_is_directory=True)
    with pytest.raises(AgentInputError, match="symbolic link"):
        await run(by_name["files.write"], ws, path="out/evil.txt", content="x")
    with pytest.raises(AgentInputError, match=r"'\.\.' climbs out"):
        await run(by_name["files.write"], ws, path="../evil.txt", content="x")
    assert not (ws.parent / "evil.txt").exists()


@pytest.fixture
def tree(ws: Path) -> Path:
    (ws / "reports" / "2024").mkdir(parents=True)
    (ws / "reports" / "q1.csv").write_text("a,b\n")
    (ws / "reports" / "notes.md").write_text("hello")
    (ws / "reports" / "2024" / "q2.csv").write_text("a\n")
    (ws / "reports" / ".hidden").write_text("h")
    (ws.parent / "outside").mkdir()
    (ws / "reports" / "escape").symlink_to(ws.parent / "outside", target_is_directory=True)
    return ws


async def test_list_one_level(by_name: dict[str, Agent], tree: Path) -> None:
    out = await run(by_name["files.list"], tree, path="reports")
    assert out["entries"] == [
        {"path": "reports/2024", "size": 0, "is_dir": True},
        {"path": "reports/notes.md", "size": 5, "is_dir": False},
        {"path": "reports/q1.csv", "size": 4, "is_dir": False},
    ]
    assert out["count"] == 3
    assert out["truncated"] is False


async def test_list_recursive_with_pattern(by_name: dict[str, Agent], tree: Path) -> None:
    out = await run(by_name["files.list"], tree, pattern="*.csv", recursive=True)
    assert [e["path"] for e in out["entries"]] == ["reports/2024/q2.csv", "reports/q1.csv"]


async def test_list_hidden_only_when_asked(by_name: dict[str, Agent], tree: Path) -> None:
    out = await run(by_name["files.list"], tree, path="reports", include_hidden=True)
    assert "reports/.hidden" in [e["path"] for e in out["entries"]]


async def test_list_refusals(by_name: dict[str, Agent], tree: Path) -> None:
    with pytest.raises(AgentInputError, match="is a file"):
        await run(by_name["files.list"], tree, path="reports/q1.csv")
    with pytest.raises(AgentInputError, match="refused pattern"):
        await run(by_name["files.list"], tree, pattern="../*")
    with pytest.raises(AgentInputError, match=r"'\.\.' climbs out"):
        await run(by_name["files.list"], tree, path="..")
    with pytest.raises(AgentInputError, match="no folder"):
        await run(by_name["files.list"], tree, path="nope")


NOW = ExtractionContext(now=datetime(2026, 1, 5, tzinfo=UTC))
AFTER = ExtractionContext(now=datetime(2026, 1, 5, tzinfo=UTC), previous_agents=("text.summarize",))


@pytest.mark.parametrize(
    ("clause", "inputs"),
    [
        ("read notes.txt", {"path": "notes.txt"}),
        ("read the file docs/plan.md.", {"path": "docs/plan.md"}),
        ("read 'my notes.txt' please", {"path": "my notes.txt"}),
        ("read the notes", {}),
    ],
)
def test_extract_read(clause: str, inputs: dict[str, Any]) -> None:
    assert files.extract_read(clause, NOW).inputs == inputs


def test_extract_write_takes_content_from_previous() -> None:
    e = files.extract_write("write the summary to out/summary.txt", AFTER)
    assert e.inputs == {"path": "out/summary.txt"}
    assert e.from_previous == ("content",)
    assert e.understood == "write the previous result to out/summary.txt"


def test_extract_write_literal_append() -> None:
    e = files.extract_write("append 'all done' to log.txt", NOW)
    assert e.inputs == {"path": "log.txt", "content": "all done", "append": True}
    assert e.from_previous == ()


@pytest.mark.parametrize(
    ("clause", "inputs"),
    [
        ("list the files in reports", {"path": "reports"}),
        ("list the files in the reports folder", {"path": "reports"}),
        ("what files are in the workspace", {}),
        (
            "list all csv files under data recursively",
            {"path": "data", "pattern": "*.csv", "recursive": True},
        ),
        ("list *.md in docs/notes", {"path": "docs/notes", "pattern": "*.md"}),
        # The kind of file, singular or plural, names the pattern.
        (
            "list every markdown file in docs, recursively",
            {"path": "docs", "pattern": "*.md", "recursive": True},
        ),
        ("show the markdown files in docs", {"path": "docs", "pattern": "*.md"}),
        ("list the csv files in data", {"path": "data", "pattern": "*.csv"}),
        ("list the one json file in config", {"path": "config", "pattern": "*.json"}),
        ("list python files under src", {"path": "src", "pattern": "*.py"}),
        ("show the text files", {"pattern": "*.txt"}),
        ("list the .csv files in data", {"path": "data", "pattern": "*.csv"}),
        ("list the log-files in logs", {"path": "logs", "pattern": "*.log"}),
        # A literal glob wins over a kind, and keeps its "?" wildcards; sentence punctuation goes.
        ("list *.log in logs.", {"path": "logs", "pattern": "*.log"}),
        ("list the *.log text files", {"pattern": "*.log"}),
        ("list 'report-??.csv' in out", {"path": "out", "pattern": "report-??.csv"}),
        ("list docs/*.md", {"pattern": "docs/*.md"}),
        # A question mark ends a question, not a glob.
        ("what files are in reports?", {"path": "reports"}),
        # "Recursively" in its several spellings; "subfolders" is not the folder to list.
        ("list the files in all subfolders", {"recursive": True}),
        (
            "list csv files in all subfolders of data",
            {"path": "data", "pattern": "*.csv", "recursive": True},
        ),
        ("list files in every subfolder of docs", {"path": "docs", "recursive": True}),
        ("list every file in docs, including sub folders", {"path": "docs", "recursive": True}),
        ("list the hidden files in config", {"path": "config", "include_hidden": True}),
        # Words before "files" that are not a kind of file give no pattern.
        ("list all files in reports", {"path": "reports"}),
        ("which files are here", {}),
    ],
)
def test_extract_list(clause: str, inputs: dict[str, Any]) -> None:
    assert files.extract_list(clause, NOW).inputs == inputs
    # Each extraction is valid input for files.list.
    files.ListInput.model_validate(inputs)


def test_extract_list_says_what_it_understood() -> None:
    found = files.extract_list("list every markdown file in docs, recursively", NOW)
    assert found.understood == "list files matching *.md in docs and its subfolders"
    assert found.unparsed == ()


async def test_the_extracted_inputs_list_what_was_asked(
    by_name: dict[str, Agent], tree: Path
) -> None:
    (tree / "reports" / "2024" / "deep.md").write_text("deep")
    inputs = files.extract_list("list every markdown file in reports, recursively", NOW).inputs
    out = await run(by_name["files.list"], tree, **inputs)
    assert [e["path"] for e in out["entries"]] == ["reports/2024/deep.md", "reports/notes.md"]
