"""A throwaway PostgreSQL server for the test suite and the benchmarks.

`running_postgres()` finds the server binaries (installing Debian's ``postgresql`` package with
apt-get when they are missing and this process is root), initialises a cluster in a fresh
temporary directory, starts it on 127.0.0.1 with a free port and its unix socket inside that
directory, creates a password-protected ``baton`` role that owns a ``baton`` database, and on
exit stops the server and deletes the directory::

    with running_postgres() as server:
        server.url()                          # postgresql+asyncpg://baton:...@127.0.0.1:PORT/baton
        async with fresh_database(server) as url:
            ...                               # an empty database of its own, dropped afterwards

PostgreSQL refuses to run as root, so as root every server command runs as the ``postgres`` OS
user (created if missing), which then owns the directory. TCP logins need the password (SCRAM),
so a wrong password is refused as it would be in production; the unix socket trusts its local
users, but it lives in a directory only the server's OS user can enter. ``fsync`` stays on: the
durability of each commit is the point of testing against a real server. A directory left
behind by a process that was killed is stopped and removed by the next run.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

__all__ = [
    "PostgresServer",
    "PostgresUnavailable",
    "ensure_installed",
    "find_bindir",
    "fresh_database",
    "running_postgres",
    "start_postgres",
    "stop_postgres",
]

BINDIR_ENV = "BATON_TEST_PG_BINDIR"
"""Environment variable naming a directory with ``initdb`` and ``pg_ctl`` (overrides the search)."""

PREFIX = "baton-pg-"
"""Name prefix of the temporary directories (how a later run recognises leftovers)."""

ROLE = "baton"
DATABASE = "baton"
SUPERUSER = "postgres"
OS_USER = "postgres"
TOOLS = ("initdb", "pg_ctl", "postgres", "psql")

APT_TIMEOUT_S = 900.0
INITDB_TIMEOUT_S = 120.0
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
STALE_AFTER_S = 600.0


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be installed, started or stopped here; the message says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PostgresServer:
    """A running test server and how to reach it."""

    host: str
    """Always ``127.0.0.1``."""
    port: int
    user: str
    """The ``baton`` role: it may log in over TCP with `password` and create databases."""
    password: str
    database: str
    """The database the role owns (the per-test databases are created beside it)."""
    version: str
    """Major version, e.g. ``15``."""
    root: Path
    """The temporary directory holding the cluster, its socket and its log."""
    bindir: Path
    os_user: str | None
    """The OS user the server runs as, when this process is root; otherwise None."""

    def url(
        self, database: str | None = None, *, driver: str = "asyncpg", password: str | None = None
    ) -> str:
        """A SQLAlchemy URL for `database` (default: the role's own database)."""
        pw = self.password if password is None else password
        name = self.database if database is None else database
        return f"postgresql+{driver}://{self.user}:{pw}@{self.host}:{self.port}/{name}"

    @property
    def log_file(self) -> Path:
        """The server's log (read it when something fails)."""
        return self.root / "server.log"

    async def connect(self, database: str | None = None) -> asyncpg.Connection:
        """A raw asyncpg connection as the ``baton`` role (close it when done)."""
        return await asyncpg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.database if database is None else database,
            timeout=10,
        )


def find_bindir() -> Path | None:
    """The directory with the server binaries, or None: ``$BATON_TEST_PG_BINDIR``, then the
    newest ``/usr/lib/postgresql/*/bin`` (Debian), then wherever ``pg_ctl`` is on PATH."""
    candidates: list[Path] = []
    if override := os.environ.get(BINDIR_ENV):
        candidates.append(Path(override))
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = sorted(debian.glob("*/bin"), key=_version_key, reverse=True)
        candidates.extend(versions)
    if on_path := shutil.which("pg_ctl"):
        candidates.append(Path(on_path).resolve().parent)
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in TOOLS):
            return bindir
    return None


def ensure_installed(*, timeout_s: float = APT_TIMEOUT_S) -> Path:
    """Return the server's binary directory, installing Debian's package first if needed.

    Raises:
        PostgresUnavailable: not installed and it cannot be installed here (with the reason).
    """
    if (found := find_bindir()) is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found in "
            "/usr/lib/postgresql/*/bin or on PATH, and this process cannot install them "
            "(that needs root and apt-get). Install the `postgresql` package, or set "
            f"{BINDIR_ENV} to the directory holding initdb and pg_ctl."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=300"]
    deadline = time.monotonic() + timeout_s
    for args in (["update"], ["install", "-y", "--no-install-recommends", "postgresql"]):
        _run([*apt, *args], what="apt-get " + args[0], timeout=deadline - time.monotonic(), env=env)
    if (found := find_bindir()) is None:
        raise PostgresUnavailable(
            "apt-get installed `postgresql` but initdb/pg_ctl are still not in "
            "/usr/lib/postgresql/*/bin"
        )
    return found


def start_postgres(bindir: Path | None = None) -> PostgresServer:
    """Initialise and start a server in a new temporary directory (see the module docstring).

    Raises:
        PostgresUnavailable: any step failed; the message carries the command's output.
    """
    bindir = bindir or ensure_installed()
    base = Path(tempfile.gettempdir())
    _remove_stale(base, bindir)
    os_user = _server_os_user()
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
    try:
        (root / "owner.pid").write_text(f"{os.getpid()}\n")
        (root / "sock").mkdir()
        if os_user is not None:
            entry = pwd.getpwnam(os_user)
            for path in (root, root / "sock"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        return _init_and_start(bindir, root, os_user)
    except BaseException:
        _teardown(root, bindir)
        raise


def stop_postgres(server: PostgresServer) -> None:
    """Stop the server and delete its directory.

    Raises:
        PostgresUnavailable: the directory could not be removed.
    """
    _teardown(server.root, server.bindir)


@contextlib.contextmanager
def running_postgres(bindir: Path | None = None) -> Iterator[PostgresServer]:
    """A started server, stopped and removed on exit."""
    server = start_postgres(bindir)
    try:
        yield server
    finally:
        stop_postgres(server)


@contextlib.asynccontextmanager
async def fresh_database(server: PostgresServer) -> AsyncIterator[str]:
    """Create an empty database owned by the ``baton`` role; yield its URL; drop it after.

    The drop uses ``WITH (FORCE)``, so connections a test left open cannot keep it alive.
    """
    name = f"t_{secrets.token_hex(6)}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    try:
        yield server.url(name)
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(server: PostgresServer, sql: str) -> None:
    conn = await server.connect()
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _init_and_start(bindir: Path, root: Path, os_user: str | None) -> PostgresServer:
    data, sock = root / "data", root / "sock"
    run = _Runner(bindir, root, os_user)
    # --no-sync: an interrupted initdb leaves a throwaway directory, nothing to protect.
    # The server itself runs with fsync on.
    run(
        "initdb",
        [
            *("-D", str(data), "-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync"),
            *("--auth-local=trust", "--auth-host=scram-sha-256"),
        ],
        timeout=INITDB_TIMEOUT_S,
    )
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# baton test server\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{sock}'\n"
            "fsync = on\n"
            "synchronous_commit = on\n"
            "full_page_writes = on\n"
            "max_connections = 200\n"
        )
    port = _start_on_free_port(run, data, root / "server.log")
    password = secrets.token_hex(16)
    run(
        "psql",
        [
            *("-X", "-q", "-v", "ON_ERROR_STOP=1"),
            *("-h", str(sock), "-p", str(port), "-U", SUPERUSER, "-d", "postgres"),
        ],
        timeout=30,
        stdin=(
            f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{password}';\n"
            # DROP DATABASE ... WITH (FORCE) terminates every backend in the database, and an
            # autovacuum worker that happens to be there belongs to no role the owner is a
            # member of: without this grant the drop fails ("must be a member of the role
            # whose process is being terminated or member of pg_signal_backend").
            f"GRANT pg_signal_backend TO {ROLE};\n"
            f"CREATE DATABASE {DATABASE} OWNER {ROLE};\n"
        ),
    )
    return PostgresServer(
        host="127.0.0.1",
        port=port,
        user=ROLE,
        password=password,
        database=DATABASE,
        version=(data / "PG_VERSION").read_text().strip(),
        root=root,
        bindir=bindir,
        os_user=os_user,
    )


def _start_on_free_port(run: _Runner, data: Path, log: Path) -> int:
    # A port found free can be taken before the server binds it (other test runs share the
    # machine): then try another.
    for _ in range(5):
        port = _free_port()
        try:
            run(
                "pg_ctl",
                [
                    *("start", "-D", str(data), "-l", str(log)),
                    *("-w", "-t", str(START_TIMEOUT_S), "-o", f"-p {port}"),
                ],
                timeout=START_TIMEOUT_S + 15,
            )
        except PostgresUnavailable as exc:
            if "Address already in use" in _tail(log):
                continue
            raise PostgresUnavailable(f"{exc}\nserver log:\n{_tail(log)}") from None
        return port
    raise PostgresUnavailable(f"no free port for PostgreSQL after 5 tries:\n{_tail(log)}")


def _teardown(root: Path, bindir: Path) -> None:
    """Stop a server (if one runs in `root`) and delete `root`."""
    data = root / "data"
    pidfile = data / "postmaster.pid"
    if pidfile.exists():
        run = _Runner(bindir, root, _owner_name(root))
        for mode, wait in (("fast", STOP_TIMEOUT_S), ("immediate", 15)):
            with contextlib.suppress(PostgresUnavailable):
                run(
                    "pg_ctl",
                    ["stop", "-D", str(data), "-m", mode, "-w", "-t", str(wait)],
                    timeout=wait + 10,
                )
            if not pidfile.exists():
                break
        else:
            _kill_postmaster(pidfile)
    shutil.rmtree(root, ignore_errors=True)
    if root.exists():
        raise PostgresUnavailable(f"could not remove the test server's directory {root}")


def _kill_postmaster(pidfile: Path) -> None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):  # its backends notice the postmaster's death and exit
            os.kill(pid, 0)
            time.sleep(0.05)


def _remove_stale(base: Path, bindir: Path) -> None:
    """Stop and delete servers left by test runs that were killed before their teardown."""
    for root in base.glob(f"{PREFIX}*"):
        try:
            owner = int((root / "owner.pid").read_text())
        except (OSError, ValueError):
            # Not written yet by a run starting right now, or unreadable: only if old.
            with contextlib.suppress(OSError):
                if time.time() - root.stat().st_mtime > STALE_AFTER_S:
                    _teardown_quietly(root, bindir)
            continue
        if not _alive(owner):
            _teardown_quietly(root, bindir)


def _teardown_quietly(root: Path, bindir: Path) -> None:
    # Another user's directory, or a run that finished in the meantime: leave it be.
    with contextlib.suppress(OSError, PostgresUnavailable, KeyError):
        if os.geteuid() == 0 or root.stat().st_uid == os.geteuid():
            _teardown(root, bindir)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _server_os_user() -> str | None:
    """As root, the OS user the server runs as (created if missing); otherwise None."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        _run(
            [
                *("useradd", "--system", "--user-group", "--no-create-home"),
                *("--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", OS_USER),
            ],
            what=f"creating the {OS_USER} OS user",
            timeout=30,
        )
    return OS_USER


def _owner_name(root: Path) -> str | None:
    """The OS user to run server commands as for an existing directory."""
    if os.geteuid() != 0:
        return None
    name = pwd.getpwuid(root.stat().st_uid).pw_name
    return None if name == "root" else name


class _Runner:
    """Runs the server's tools as its OS user, in its directory, with a clean environment."""

    def __init__(self, bindir: Path, root: Path, os_user: str | None) -> None:
        self._bindir = bindir
        self._root = root
        self._os_user = os_user

    def __call__(
        self, tool: str, args: list[str], *, timeout: float, stdin: str | None = None
    ) -> str:
        env = {
            "PATH": f"{self._bindir}:/usr/bin:/bin",
            "HOME": str(self._root),
            "LC_ALL": "C",
            "LANG": "C",
        }
        return _run(
            [str(self._bindir / tool), *args],
            what=tool,
            timeout=timeout,
            env=env,
            cwd=self._root,
            user=self._os_user,
            stdin=stdin,
        )


def _run(
    cmd: list[str],
    *,
    what: str,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
    stdin: str | None = None,
) -> str:
    """Run a command; raise `PostgresUnavailable` with its output if it fails or hangs."""
    shown = " ".join(cmd)
    as_user: dict[str, object] = {}
    if user is not None:
        entry = pwd.getpwnam(user)
        as_user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    try:
        proc = subprocess.run(
            cmd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=max(timeout, 1.0),
            env=env,
            cwd=cwd,
            check=False,
            **as_user,  # type: ignore[arg-type]
        )
    except subprocess.TimeoutExpired as exc:
        output = _text(exc.stdout) + _text(exc.stderr)
        raise PostgresUnavailable(
            f"{what} did not finish within {timeout:.0f} s: {shown}\n{output[-3000:]}"
        ) from None
    except OSError as exc:
        raise PostgresUnavailable(f"{what} could not be run: {shown}: {exc}") from None
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        raise PostgresUnavailable(
            f"{what} failed with exit status {proc.returncode}: {shown}\n{output[-3000:]}"
        )
    return proc.stdout


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no server log)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _version_key(bindir: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", bindir.parent.name)) or (0,)


def create_database(server: PostgresServer) -> str:
    """Create an empty database from sync code (its own event loop); return its URL."""
    import anyio

    name = f"t_{secrets.token_hex(6)}"
    anyio.run(_admin, server, f'CREATE DATABASE "{name}"')
    return server.url(name)


def drop_database(server: PostgresServer, url: str) -> None:
    """Drop a database made by `create_database`, whoever is still connected."""
    import anyio

    name = url.rsplit("/", 1)[-1]
    anyio.run(_admin, server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
