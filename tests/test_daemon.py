"""The real daemon: `twistd -n kallithea` in a subprocess."""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from kallithead.db import schema as t
from kallithead.db.pool import create_engine
from tests.conftest import TEST_DB_URL_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
# twistd ends by re-raising the signal that stopped it, as Unix daemons do.
STOPPED_BY_SIGTERM = (0, -signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _twistd(*args: str, datadir: Path, config: Path | None = None) -> list[str]:
    command = [
        sys.executable,
        "-c",
        "from twisted.scripts.twistd import run; run()",
        "-n",
        "--pidfile=",
        "kallithea",
        "--datadir",
        str(datadir),
    ]
    if config is not None:
        command += ["--config", str(config)]
    return command + list(args)


def _environment(tmp_path: Path) -> dict[str, str]:
    environment = dict(os.environ)
    # The source tree first, so that its twisted/plugins and kallithead load.
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), environment.get("PYTHONPATH", "")]
    )
    return environment


def _config(tmp_path: Path, text: str = "") -> Path:
    """An ini file; with a database server under test, point at it."""
    url = os.environ.get(TEST_DB_URL_VARIABLE, "")
    if url and "[database]" not in text:
        text += f"\n[database]\nurl = {url}\n"
    path = tmp_path / "kallithea.ini"
    path.write_text(text)
    return path


def _empty_test_database() -> None:
    url = os.environ.get(TEST_DB_URL_VARIABLE, "")
    if not url:
        return
    from tests.conftest import _empty_database

    _empty_database(url)


def _call(port: int, key: str, method: str, **args) -> dict:
    body = json.dumps({"id": 1, "api_key": key, "method": method, "args": args})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_admin/api", data=body.encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"twistd exited early: {process.stdout.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("twistd did not start listening")


def _run_to_exit(tmp_path: Path, datadir: Path, config: Path) -> tuple[int, str]:
    """Run twistd expecting it to stop by itself; its exit status and output."""
    result = subprocess.run(
        _twistd(datadir=datadir, config=config),
        cwd=tmp_path,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stdout + result.stderr


class Daemon:
    def __init__(self, tmp_path: Path, config_text: str = "") -> None:
        self.port = _free_port()
        self.datadir = tmp_path / "data"
        listen = f"tcp:{self.port}:interface=127.0.0.1"
        self.process = subprocess.Popen(
            _twistd(
                "--listen",
                listen,
                datadir=self.datadir,
                config=_config(tmp_path, config_text),
            ),
            cwd=tmp_path,
            env=_environment(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _wait_for_port(self.port, self.process)

    @property
    def admin_key(self) -> str:
        return (self.datadir / "admin-api-key").read_text().strip()

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=30)
        return output


@pytest.fixture
def fresh_database():
    _empty_test_database()


def test_twistd_starts_and_answers_get_server_info(tmp_path, fresh_database):
    daemon = Daemon(tmp_path)
    try:
        key_file = daemon.datadir / "admin-api-key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        reply = _call(daemon.port, daemon.admin_key, "get_server_info")
        assert reply["error"] is None
        assert reply["result"]["kallithea_version"] == "0.7.0"
        assert reply["id"] == 1
    finally:
        output = daemon.stop()
    assert daemon.process.returncode in STOPPED_BY_SIGTERM
    # The log names the key file but never shows the key.
    assert str(key_file) in output
    assert daemon.admin_key not in output


def test_second_start_keeps_the_admin_and_its_key(tmp_path, fresh_database):
    first = Daemon(tmp_path)
    key = first.admin_key
    first.stop()
    second = Daemon(tmp_path)
    try:
        assert second.admin_key == key
        reply = _call(second.port, key, "get_users")
        assert [user["username"] for user in reply["result"]] == ["admin"]
    finally:
        output = second.stop()
    assert "Created the administrator" not in output


def _http_post(sock: socket.socket, body: bytes, close: bool) -> None:
    connection = b"close" if close else b"keep-alive"
    sock.sendall(
        b"POST /_admin/api HTTP/1.1\r\nHost: x\r\nConnection: %s\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (connection, len(body), body)
    )


def _read_response(reader) -> dict:
    status = reader.readline()
    assert status.startswith(b"HTTP/1.1 200"), status
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return json.loads(reader.read(length))


def test_sigterm_lets_the_request_in_flight_finish(tmp_path, fresh_database):
    daemon = Daemon(tmp_path)
    try:
        key = daemon.admin_key
        warm_up = {"id": 1, "api_key": key, "method": "get_user", "args": {}}
        # create_user hashes the password with bcrypt (tens of milliseconds):
        # the request is still being answered when SIGTERM arrives.
        slow = {
            "id": 2,
            "api_key": key,
            "method": "create_user",
            "args": {"username": "late", "email": "late@example.com", "password": "pw"},
        }
        with socket.create_connection(("127.0.0.1", daemon.port)) as sock:
            reader = sock.makefile("rb")
            _http_post(sock, json.dumps(warm_up).encode(), close=False)
            assert _read_response(reader)["error"] is None
            _http_post(sock, json.dumps(slow).encode(), close=True)
            time.sleep(0.005)
            daemon.process.send_signal(signal.SIGTERM)
            document = _read_response(reader)
        assert document["error"] is None
        assert document["result"]["msg"] == "created new user `late`"
    finally:
        output, _ = daemon.process.communicate(timeout=30)
    assert daemon.process.returncode in STOPPED_BY_SIGTERM
    assert "Received SIGTERM" in output


def test_unknown_keys_and_bad_values_stop_the_start(tmp_path):
    config = _config(
        tmp_path,
        "[server]\nmax_body_size = lots\nbogus = 1\n[nonsense]\nx = 1\n"
        "[database]\npool_size = 0\n",
    )
    returncode, output = _run_to_exit(tmp_path, tmp_path / "data", config)
    assert returncode != 0
    assert "unknown key [server] bogus" in output
    assert "unknown section [nonsense]" in output
    assert "[server] max_body_size = 'lots'" in output
    assert "[database] pool_size = '0'" in output
    assert not (tmp_path / "data").exists()


def test_database_older_than_the_code_refuses_to_start(tmp_path, fresh_database):
    daemon = Daemon(tmp_path)
    daemon.stop()
    url = os.environ.get(TEST_DB_URL_VARIABLE) or (
        f"sqlite:///{daemon.datadir / 'kallithea.db'}"
    )
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()

    returncode, output = _run_to_exit(tmp_path, daemon.datadir, _config(tmp_path))
    assert returncode != 0
    assert "schema revision 0000" in output
    assert "kallithead-db upgrade" in output
    assert "Traceback" not in output


class SilentRemote:
    """A listening socket that takes connections and never answers: a clone
    from it waits until whoever started it goes away."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen()
        self.connected = threading.Event()
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}/repo"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(connection)
            self.connected.set()

    def close(self) -> None:
        self._socket.close()
        for connection in self._held:
            connection.close()


def _build_folders(root: Path) -> list[Path]:
    return sorted(root.glob(".kallithead-new-*"))


@pytest.mark.parametrize("repo_type", ["hg", "git"])
def test_a_creation_cut_off_by_a_crash_is_undone_by_a_later_rescan(
    tmp_path, fresh_database, repo_type
):
    remote = SilentRemote()
    daemon = Daemon(tmp_path)
    key = daemon.admin_key
    repos_root = daemon.datadir / "repos"
    url = os.environ.get(TEST_DB_URL_VARIABLE) or (
        f"sqlite:///{daemon.datadir / 'kallithea.db'}"
    )
    try:
        creating = threading.Thread(
            target=lambda: _call_ignoring_failure(
                daemon.port,
                key,
                "create_repo",
                repo_name="mirror",
                repo_type=repo_type,
                clone_uri=remote.url,
            ),
            daemon=True,
        )
        creating.start()
        assert remote.connected.wait(30)
        # The clone is under way when the process dies.
        daemon.process.kill()
        daemon.process.communicate(timeout=30)
    finally:
        remote.close()
    engine = create_engine(url)
    try:
        query = sa.select(t.repositories.c.repo_name, t.repositories.c.repo_state)
        with engine.connect() as c:
            assert list(c.execute(query)) == [("mirror", "repo_state_pending")]
        if repo_type == "git":
            # dulwich makes the folder before it fetches.
            assert len(_build_folders(repos_root)) == 1
        # Two hours later, a daemon's rescan finds the creation abandoned.
        then = time.time() - 7200
        for build in _build_folders(repos_root):
            for path in [*build.rglob("*"), build]:
                os.utime(path, (then, then))
        with engine.begin() as c:
            c.execute(
                t.repositories.update().values(
                    created_on=datetime.datetime.now() - datetime.timedelta(hours=2)
                )
            )
    finally:
        engine.dispose()

    later = Daemon(tmp_path)
    try:
        reply = _call(later.port, key, "rescan_repos")
        assert reply["result"] == {"added": [], "removed": []}
        assert _build_folders(repos_root) == []
        assert _call(later.port, key, "get_repos")["result"] == []
        reply = _call(
            later.port, key, "create_repo", repo_name="mirror", repo_type=repo_type
        )
        assert reply["error"] is None
    finally:
        later.stop()


def _call_ignoring_failure(port: int, key: str, method: str, **args) -> None:
    """A call whose answer never comes (the daemon is killed meanwhile)."""
    try:
        _call(port, key, method, **args)
    except OSError:
        pass
