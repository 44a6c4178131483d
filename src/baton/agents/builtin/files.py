"""File agents: read, write and list files inside the workspace.

Every path is confined to ``resources.workspace`` (see `_workspace.confine`); the blocking file
system calls run in a worker thread so the event loop never waits on the disk.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from fnmatch import fnmatchcase
from functools import partial
from pathlib import Path

from anyio import to_thread
from pydantic import BaseModel, ConfigDict, Field

from baton.agents.builtin._workspace import (
    atomic_write,
    confine,
    read_bytes,
    relative_name,
)
from baton.agents.builtin.resources import AgentResources
from baton.agents.decorator import agent
from baton.agents.parsing.text import (
    find_paths,
    find_quoted,
    refers_to_previous,
    word_after,
)
from baton.agents.protocol import Agent, AgentContext, Extraction, ExtractionContext, Risk
from baton.errors import AgentError, AgentInputError

MAX_ENTRIES = 10_000
"""Most entries `files.list` returns; more set ``truncated``."""

_TAGS = ("builtin", "files")


class ReadInput(BaseModel):
    """Inputs of ``files.read``."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="File to read, relative to the workspace.")


class ReadOutput(BaseModel):
    """Output of ``files.read``."""

    path: str = Field(description="The file read, relative to the workspace.")
    content: str = Field(description="The file's text (UTF-8).")
    size: int = Field(description="Size of the file in bytes.")


class WriteInput(BaseModel):
    """Inputs of ``files.write``."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="File to write, relative to the workspace; folders are created.")
    content: str = Field(description="Text to write (UTF-8).")
    overwrite: bool = Field(default=True, description="Replace the file if it exists.")
    append: bool = Field(default=False, description="Add to the end of the file instead.")


class WriteOutput(BaseModel):
    """Output of ``files.write``."""

    path: str = Field(description="The file written, relative to the workspace.")
    bytes_written: int = Field(description="Bytes of `content` written.")


class ListInput(BaseModel):
    """Inputs of ``files.list``."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(default=".", description="Folder to list, relative to the workspace.")
    pattern: str = Field(default="*", description="Glob the names must match, e.g. '*.csv'.")
    recursive: bool = Field(default=False, description="Include the contents of subfolders.")
    include_hidden: bool = Field(default=False, description="Include names starting with '.'.")


class FileEntry(BaseModel):
    """One entry of a folder listing."""

    path: str = Field(description="Path relative to the workspace.")
    size: int = Field(description="Size in bytes (0 for folders).")
    is_dir: bool = Field(description="Whether it is a folder.")


class ListOutput(BaseModel):
    """Output of ``files.list``."""

    entries: list[FileEntry] = Field(description="Matching entries, sorted by path.")
    count: int = Field(description="Number of entries.")
    truncated: bool = Field(default=False, description="More entries matched than were listed.")


def _read(root: Path, inputs: ReadInput) -> ReadOutput:
    target = confine(root, inputs.path)
    data = read_bytes(root, target)
    name = relative_name(root, target)
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AgentInputError(
            f"{name!r} is not UTF-8 text (byte {exc.start} is not valid UTF-8)",
            hint="files.read reads text files only",
        ) from None
    return ReadOutput(path=name, content=content, size=len(data))


def _append_marker(root: Path, target: Path, key: str) -> Path:
    digest = hashlib.sha256(f"{key}\0{target}".encode()).hexdigest()
    return root / ".baton" / "appends" / digest


def _write(root: Path, inputs: WriteInput, key: str) -> WriteOutput:
    target = confine(root, inputs.path)
    name = relative_name(root, target)
    if target.is_dir() or target == root:
        raise AgentInputError(f"{name!r} is a folder; give a file name to write")
    data = inputs.content.encode("utf-8")
    exists = target.exists()
    if exists and not inputs.overwrite and not inputs.append:
        raise AgentInputError(
            f"{name!r} already exists and overwrite is false",
            hint="set overwrite=true to replace it, or append=true to add to it",
        )
    if not inputs.append:
        atomic_write(target, data)
        return WriteOutput(path=name, bytes_written=len(data))
    # Appending twice is not idempotent by nature; a marker per idempotency key makes a retry of
    # the same step a no-op. (A crash between the write and the marker can still append twice.)
    marker = _append_marker(root, target, key) if key else None
    if marker is not None and marker.exists():
        return WriteOutput(path=name, bytes_written=len(data))
    old = read_bytes(root, target) if exists else b""
    atomic_write(target, old + data)
    if marker is not None:
        atomic_write(marker, name.encode())
    return WriteOutput(path=name, bytes_written=len(data))


def _list(root: Path, inputs: ListInput) -> ListOutput:
    base = confine(root, inputs.path)
    name = relative_name(root, base)
    pattern = inputs.pattern.strip() or "*"
    if pattern.startswith("/") or ".." in pattern.split("/"):
        raise AgentInputError(f"refused pattern {pattern!r}: it would match outside {name!r}")
    if not base.exists():
        raise AgentInputError(f"no folder {name!r} in the workspace")
    if not base.is_dir():
        raise AgentInputError(f"{name!r} is a file, not a folder", hint="read it with files.read")
    show_hidden = inputs.include_hidden or pattern.startswith(".")
    entries: list[FileEntry] = []
    pending = [base]
    truncated = False
    while pending and not truncated:
        folder = pending.pop()
        with os.scandir(folder) as scan:
            for item in scan:
                if item.name.startswith(".") and not show_hidden:
                    continue
                real = Path(item.path).resolve()
                if not real.is_relative_to(root):
                    continue  # a symlink out of the workspace: neither listed nor followed
                is_dir = item.is_dir()
                if is_dir and inputs.recursive and not item.is_symlink():
                    pending.append(Path(item.path))
                rel = Path(item.path).relative_to(base).as_posix()
                if not fnmatchcase(rel if "/" in pattern else item.name, pattern):
                    continue
                if len(entries) >= MAX_ENTRIES:
                    truncated = True
                    break
                size = 0 if is_dir else item.stat().st_size
                # `base` is resolved and symlinked folders are not entered, so the entry's own
                # path (not its target) is inside the workspace.
                path = relative_name(root, Path(item.path))
                entries.append(FileEntry(path=path, size=size, is_dir=is_dir))
    entries.sort(key=lambda e: e.path)
    return ListOutput(entries=entries, count=len(entries), truncated=truncated)


# --- extractors (offline planner) ----------------------------------------------------------

_LIST_EXTENSIONS = {
    "csv": "csv",
    "json": "json",
    "text": "txt",
    "txt": "txt",
    "markdown": "md",
    "md": "md",
    "python": "py",
    "py": "py",
    "pdf": "pdf",
    "yaml": "yaml",
    "yml": "yml",
    "toml": "toml",
    "xml": "xml",
    "html": "html",
    "log": "log",
    "image": "png",
}
"""The kind of file a clause names ("markdown file", "csv files") and the extension it means."""
# "every markdown file", "the .csv files", "log-files": the kind is the word just before.
_KIND_OF_FILE = re.compile(r"(?<![\w.])\.?(?P<kind>[a-z]+)[\s-]+files?\b", re.IGNORECASE)
_SUBFOLDERS = r"sub-?\s?(?:folders?|director(?:y|ies)|dirs?)"
_RECURSIVE = re.compile(
    rf"\brecursive(?:ly)?\b|\b{_SUBFOLDERS}\b|\bnested\b|\ball the way down\b", re.IGNORECASE
)
# "in all subfolders of data": the folder is the word after "of".
_IN_SUBFOLDERS_OF = re.compile(
    rf"\b{_SUBFOLDERS}\s+(?:of|in|under|inside|within)\s+(?:the\s+)?(?P<folder>[\w.\-]+)",
    re.IGNORECASE,
)
_NOT_FOLDERS = frozenset(
    {"workspace", "folder", "directory", "dir", "current", "here", "root", "every", "each"}
    | {"subfolder", "subfolders", "sub-folders", "subdirectory", "subdirectories", "subdirs"}
)
_GLOB_CHARS = frozenset("*?")


def extract_read(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read the file path of "read notes.txt", "show me docs/plan.md"."""
    paths = find_paths(clause)
    if not paths:
        return Extraction(understood="read a file (no file name found)")
    return Extraction(inputs={"path": paths[0]}, understood=f"read the file {paths[0]}")


def extract_write(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read "write the summary to out/summary.txt", "append 'done' to log.txt"."""
    paths = find_paths(clause)
    inputs: dict[str, object] = {}
    if paths:
        # "write X to PATH": the destination is the last path named.
        inputs["path"] = paths[-1]
    literal = [q for q in find_quoted(clause) if q.strip() not in paths]
    from_previous: tuple[str, ...] = ()
    if literal:
        inputs["content"] = literal[0]
    elif refers_to_previous(clause) or ctx.previous_agents:
        from_previous = ("content",)
    lowered = clause.lower()
    if re.search(r"\bappend|\badd\b.*\bto the end\b", lowered):
        inputs["append"] = True
    if re.search(r"\b(?:without overwriting|do not overwrite|don't overwrite|unless)", lowered):
        inputs["overwrite"] = False
    what = "the given text" if literal else "the previous result"
    verb = "append" if inputs.get("append") else "write"
    where = inputs.get("path", "a file (no file name found)")
    return Extraction(
        inputs=inputs, from_previous=from_previous, understood=f"{verb} {what} to {where}"
    )


def _glob(clause: str) -> str | None:
    """The first glob written in `clause` ("*.log", "'report-??.csv'", "docs/*.md")."""
    for token in clause.split():
        # A "?" that ends a word ends a question ("what is in reports?"), not a glob.
        word = token.strip("'\"`,;:()").rstrip("?!.")
        if _GLOB_CHARS & set(word):
            return word
    return None


def _file_kind(clause: str) -> str | None:
    """The pattern of a kind of file: "markdown file" -> ``*.md``, "csv files" -> ``*.csv``."""
    for found in _KIND_OF_FILE.finditer(clause):
        if ext := _LIST_EXTENSIONS.get(found["kind"].lower()):
            return f"*.{ext}"
    return None


def _folder(clause: str) -> str | None:
    """The folder to list: a path, or the bare word after "in"/"under" ("in reports")."""
    folders = [p for p in find_paths(clause) if not _GLOB_CHARS & set(p)]
    if folders:
        return folders[0]
    # A bare folder name is only recognisable by its place in the sentence.
    word = word_after(clause, ("in", "under", "inside", "within"))
    if word and word.lower() in _NOT_FOLDERS and (of := _IN_SUBFOLDERS_OF.search(clause)):
        word = of["folder"]  # "in all subfolders of data"
    if word and word.lower() not in _NOT_FOLDERS and re.fullmatch(r"[\w.\-]+", word):
        return word
    return None


def extract_list(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read "list the files in reports", "list every markdown file in docs, recursively"."""
    inputs: dict[str, object] = {}
    if pattern := _glob(clause) or _file_kind(clause):
        inputs["pattern"] = pattern
    if folder := _folder(clause):
        inputs["path"] = folder
    if _RECURSIVE.search(clause):
        inputs["recursive"] = True
    if re.search(r"\bhidden\b", clause, re.IGNORECASE):
        inputs["include_hidden"] = True
    where = inputs.get("path", "the workspace")
    what = f"files matching {inputs['pattern']}" if "pattern" in inputs else "the files"
    deep = " and its subfolders" if inputs.get("recursive") else ""
    return Extraction(inputs=inputs, understood=f"list {what} in {where}{deep}")


def agents(resources: AgentResources) -> list[Agent]:
    """The file agents, confined to ``resources.workspace``."""
    root = resources.workspace

    @agent(
        "files.read",
        description="Read a text file from the workspace and return its content and size.",
        risk=Risk.READ,
        idempotent=True,
        cacheable=False,  # the file may change between runs
        examples=(
            "read notes.txt",
            "read the file docs/plan.md",
            "open report.md and show me what it says",
            "get the contents of data/config.yaml",
        ),
        tags=_TAGS,
        extract=extract_read,
    )
    async def read(inputs: ReadInput) -> ReadOutput:
        return await to_thread.run_sync(partial(_read, root, inputs))

    @agent(
        "files.write",
        description=(
            "Write text to a file in the workspace (atomically; folders are created), "
            "replacing it or appending to it."
        ),
        risk=Risk.WRITE,
        idempotent=True,
        examples=(
            "write the summary to out/summary.txt",
            "save it as report.md",
            "append the result to log.txt",
            "write 'hello' to greeting.txt",
            "store the output in results/today.json",
        ),
        tags=_TAGS,
        extract=extract_write,
    )
    async def write(inputs: WriteInput, ctx: AgentContext) -> WriteOutput:
        resource = "file:" + posixpath.normpath(inputs.path)
        fence = ctx.fence
        # Fencing: a step that lost its lock (paused past its lease) must not write.
        if fence is not None and fence.covers(resource) and not await fence.still_held(resource):
            raise AgentError(
                f"lost the lock on {resource} before writing; another step holds it now",
                retryable=True,
            )
        try:
            result = await to_thread.run_sync(partial(_write, root, inputs, ctx.idempotency_key))
        except OSError as exc:  # disk full, permissions: worth reporting, not retrying blindly
            raise AgentError(f"could not write {inputs.path!r}: {exc.strerror or exc}") from exc
        ctx.log(f"wrote {result.bytes_written} bytes to {result.path}")
        return result

    @agent(
        "files.list",
        description="List the files and folders in a workspace folder, optionally recursively.",
        risk=Risk.READ,
        idempotent=True,
        examples=(
            "list the files in reports",
            "what files are in the workspace",
            "list all csv files under data recursively",
            "show the markdown files in docs",
        ),
        tags=_TAGS,
        extract=extract_list,
    )
    async def list_files(inputs: ListInput) -> ListOutput:
        return await to_thread.run_sync(partial(_list, root, inputs))

    return [read, write, list_files]
