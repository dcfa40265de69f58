"""A real PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` into a temporary folder, on a free loopback port.

PostgreSQL refuses to run as root; under root the server runs as ``nobody`` (``subprocess``'s ``user=``) in a
folder it owns. Tests that use it skip, saying why, only where no server binary is installed.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def pg_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` with initdb and pg_ctl, else the ones on PATH."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name),
                            reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binary (initdb/pg_ctl) on this machine: apt-get install postgresql")
    root = os.geteuid() == 0
    user = "nobody" if root else None
    folder = Path(tempfile.mkdtemp(prefix="lavr-pg-"))
    data, port = folder / "data", _free_port()
    if root:
        pw = pwd.getpwnam("nobody")
        os.chown(folder, pw.pw_uid, pw.pw_gid)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(bindir / args[0]), *args[1:]], user=user, group=user and "nogroup" if root else None,
                              extra_groups=[] if root else None, env=env, capture_output=True, text=True,
                              timeout=timeout, cwd=folder)

    out = run("initdb", "-D", str(data), "-U", "lavr", "--auth=trust", "-E", "UTF8", "--no-sync")
    if out.returncode != 0:
        pytest.fail(f"initdb failed: {out.stderr[-1500:]}")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder} -c fsync=off"
    out = run("pg_ctl", "-D", str(data), "-o", opts, "-l", str(folder / "log"), "-w", "-t", "60", "start")
    if out.returncode != 0:
        log = (folder / "log").read_text(errors="replace") if (folder / "log").exists() else ""
        pytest.fail(f"pg_ctl start failed: {out.stderr[-800:]} {log[-1500:]}")
    try:
        yield f"postgresql://lavr@127.0.0.1:{port}/postgres"
    finally:
        run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
