"""The ``kallithea-api`` command and the kallithead.client Python client.

The command runs as a subprocess (``python -m kallithead.client``) with HOME
in a temporary folder, against the real daemon of the ``server`` fixture or,
for the failures a healthy kallithead never produces (HTTP 500, a wrong id, a
body that is not JSON), against a small standard-library HTTP server started
by the test. The daemon runs in this process's reactor, so the subprocess is
waited for on a thread.

Expected values come from the seed document (the example session), the
envelope of API-SPEC.md section 1, the daemon's own answers read through the
fixture's HTTP client, and the exit statuses documented in README.txt.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import threads

from kallithead.client import (
    ApiError,
    HttpStatusError,
    IdMismatchError,
    KallitheaClient,
    MalformedAnswerError,
    TransportError,
    api_endpoint,
)

ROOT = Path(__file__).resolve().parent.parent

EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_HTTP_ERROR = 4
EXIT_BAD_ANSWER = 5
EXIT_INTERRUPTED = 130

MISSING_USERID = "Missing non optional `userid` arg in JSON DATA"
MISSING_REPOID = "Missing non optional `repoid` arg in JSON DATA"
CALLING = re.compile(r"calling (\{.*\}) to (\S+)")


# The command as a subprocess.


def _environment(home: Path) -> dict[str, str]:
    environment = dict(os.environ)
    environment["HOME"] = str(home)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), environment.get("PYTHONPATH", "")]
    )
    return environment


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kallithead.client", *args]


def run_command(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run kallithea-api to the end; for tests that need no reactor."""
    return subprocess.run(
        _command(*args),
        env=_environment(home),
        capture_output=True,
        text=True,
        timeout=60,
    )


async def kallithea_api(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run kallithea-api on a thread while the reactor serves the daemon."""
    return await threads.deferToThread(run_command, home, *args)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def config_path(home: Path) -> Path:
    return home / ".config" / "kallithea"


def credentials(server: Any) -> list[str]:
    return ["--apikey", server.admin_key, "--apihost", server.base_url]


@dataclass
class Pretty:
    """The three parts of the pretty output."""

    request: dict[str, Any]
    url: str
    said: str

    @property
    def result(self) -> Any:
        return json.loads(self.said)


def pretty(stdout: str) -> Pretty:
    calling, said_line, said = stdout.split("\n", 2)
    match = CALLING.fullmatch(calling)
    assert match, calling
    assert said_line == "Kallithea said:"
    return Pretty(json.loads(match[1]), match[2], said)


def one_line_message(stderr: str) -> str:
    """The single stderr line of a failure, without the command's name."""
    assert "Traceback" not in stderr
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert stderr.startswith("kallithea-api: ")
    return stderr.removeprefix("kallithea-api: ").rstrip("\n")


# A stand-in API server that answers what the test tells it to.


@dataclass
class FakeApi:
    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


Answer = Callable[[dict[str, Any]], tuple[int, dict[str, str], bytes]]


@contextmanager
def fake_api(answer: Answer) -> Iterator[FakeApi]:
    """An HTTP server on an ephemeral port of 127.0.0.1, in a thread."""
    requests: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            document = json.loads(body)
            requests.append(
                {
                    "path": self.path,
                    "content_type": self.headers["Content-Type"],
                    "document": document,
                }
            )
            status, headers, content = answer(document)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield FakeApi(f"http://127.0.0.1:{httpd.server_address[1]}", requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def json_answer(document: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps(document).encode()


def echo_answer(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """A well-formed answer whose result is the request's args."""
    return json_answer({"id": request["id"], "result": request["args"], "error": None})


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The seed document's example session.


@pytest_twisted.ensureDeferred
async def test_seed_session_get_repo_without_then_with_repoid(server, home):
    created = await server.call("create_repo", repo_name="myrepo")
    assert created.error is None, created.error

    saved = await kallithea_api(
        home,
        "_create_config",
        f"--apikey={server.admin_key}",
        f"--apihost={server.base_url}",
    )
    assert saved.returncode == EXIT_OK, saved.stderr

    without = await kallithea_api(home, "get_repo")
    assert without.returncode == EXIT_API_ERROR
    shown = pretty(without.stdout)
    assert shown.request["method"] == "get_repo"
    assert shown.request["args"] == {}
    assert shown.said == f"ERROR: {MISSING_REPOID}\n"

    with_repoid = await kallithea_api(home, "get_repo", "repoid:myrepo")
    assert with_repoid.returncode == EXIT_OK, with_repoid.stderr
    shown = pretty(with_repoid.stdout)
    assert shown.request["args"] == {"repoid": "myrepo"}
    repository = shown.result
    assert repository["repo_name"] == "myrepo"
    expected = (await server.call("get_repo", repoid="myrepo")).result
    assert repository["repo_id"] == expected["repo_id"]


@pytest_twisted.ensureDeferred
async def test_missing_argument_prints_error_and_exits_1(server, home):
    completed = await kallithea_api(home, *credentials(server), "delete_user")

    assert completed.returncode == EXIT_API_ERROR
    assert completed.stderr == ""
    shown = pretty(completed.stdout)
    assert shown.url == server.api_url
    assert set(shown.request) == {"id", "api_key", "method", "args"}
    assert shown.request["method"] == "delete_user"
    assert shown.request["args"] == {}
    assert shown.said == f"ERROR: {MISSING_USERID}\n"


@pytest_twisted.ensureDeferred
async def test_pretty_output_hides_the_api_key(server, home):
    completed = await kallithea_api(home, *credentials(server), "delete_user")

    assert pretty(completed.stdout).request["api_key"] == "<hidden>"
    assert server.admin_key not in completed.stdout


@pytest_twisted.ensureDeferred
async def test_pretty_output_prints_the_result_as_indented_json(server, home):
    completed = await kallithea_api(
        home, *credentials(server), "get_user", "userid:admin"
    )

    assert completed.returncode == EXIT_OK, completed.stderr
    shown = pretty(completed.stdout)
    assert shown.request["args"] == {"userid": "admin"}
    assert shown.said.startswith('{\n  "user_id": ')
    expected = (await server.call("get_user", userid="admin")).result
    assert shown.result == expected


@pytest_twisted.ensureDeferred
async def test_json_format_prints_the_whole_answer_on_one_line(server, home):
    completed = await kallithea_api(
        home, *credentials(server), "--format", "json", "get_users"
    )

    assert completed.returncode == EXIT_OK, completed.stderr
    assert completed.stdout.count("\n") == 1
    answer = json.loads(completed.stdout)
    assert set(answer) == {"id", "result", "error"}
    assert isinstance(answer["id"], int)
    assert answer["error"] is None
    assert answer["result"] == (await server.call("get_users")).result


@pytest_twisted.ensureDeferred
async def test_json_format_prints_an_error_answer_and_exits_1(server, home):
    completed = await kallithea_api(
        home, *credentials(server), "--format=json", "delete_user"
    )

    assert completed.returncode == EXIT_API_ERROR
    answer = json.loads(completed.stdout)
    assert answer["result"] is None
    assert answer["error"] == MISSING_USERID


@pytest_twisted.ensureDeferred
async def test_bad_api_key_exits_1(server, home):
    completed = await kallithea_api(
        home, "--apikey", "0" * 40, "--apihost", server.base_url, "get_user"
    )

    assert completed.returncode == EXIT_API_ERROR
    assert pretty(completed.stdout).said == "ERROR: Invalid API key\n"


@pytest_twisted.ensureDeferred
async def test_unknown_method_exits_1(server, home):
    completed = await kallithea_api(home, *credentials(server), "no_such_method")

    assert completed.returncode == EXIT_API_ERROR
    assert pretty(completed.stdout).said == "ERROR: No such method: no_such_method\n"


@pytest_twisted.ensureDeferred
async def test_a_created_user_comes_back(server, home):
    completed = await kallithea_api(
        home,
        *credentials(server),
        "create_user",
        "username:carol",
        "email:carol@example.com",
        "password:correct horse",
        "active:=false",
    )

    assert completed.returncode == EXIT_OK, completed.stderr
    created = pretty(completed.stdout).result
    assert created["msg"] == "created new user `carol`"
    stored = (await server.call("get_user", userid="carol")).result
    assert stored["email"] == "carol@example.com"
    assert stored["active"] is False


@pytest.mark.parametrize(
    "suffix", ["", "/", "/_admin/api", "/_admin/api/", "//_admin/api//"]
)
@pytest_twisted.ensureDeferred
async def test_apihost_is_the_base_url_with_or_without_the_api_path(
    server, home, suffix
):
    completed = await kallithea_api(
        home,
        "--apikey",
        server.admin_key,
        "--apihost",
        server.base_url + suffix,
        "get_user",
    )

    assert completed.returncode == EXIT_OK, completed.stderr
    shown = pretty(completed.stdout)
    assert shown.url == server.api_url
    assert shown.result["username"] == "admin"


def _read_one_line_then_close(home: Path, args: list[str]) -> tuple[str, int, str]:
    with subprocess.Popen(
        _command(*args),
        env=_environment(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        try:
            first = process.stdout.readline()
            process.stdout.close()
            stderr = process.stderr.read()
            return first, process.wait(timeout=60), stderr
        finally:
            if process.poll() is None:
                process.kill()


@pytest_twisted.ensureDeferred
async def test_a_reader_that_stops_early_is_no_error(server, home):
    # Far more output than a pipe holds, read like `kallithea-api ... | head -1`.
    many = "args:=[" + ",".join(["0"] * 30000) + "]"
    first, status, stderr = await threads.deferToThread(
        _read_one_line_then_close, home, [*credentials(server), "test", many]
    )

    assert first.startswith("calling ")
    assert status == EXIT_OK
    assert stderr == ""


# Argument values: strings, or JSON with key:=value.


@pytest.mark.parametrize(
    ("token", "sent"),
    [
        ("args:5", "5"),
        ("args:true", "true"),
        ("args:", ""),
        ("args:a:b", "a:b"),
        ("args:[1, 2]", "[1, 2]"),
        ("args:=5", 5),
        ("args:=-2.5", -2.5),
        ("args:=true", True),
        ("args:=null", None),
        ('args:=[1, "two", false]', [1, "two", False]),
        ('args:={"k": {"n": 1}}', {"k": {"n": 1}}),
        ('args:="=x"', "=x"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_values_are_strings_unless_given_with_colon_equals(
    server, home, token, sent
):
    # The `test` method answers with its `args` argument unchanged.
    completed = await kallithea_api(
        home, *credentials(server), "--format", "json", "test", token
    )

    assert completed.returncode == EXIT_OK, completed.stderr
    assert json.loads(completed.stdout)["result"] == sent


def test_request_envelope_on_the_wire(home):
    with fake_api(echo_answer) as api:
        completed = run_command(
            home,
            "--apikey",
            "k" * 40,
            "--apihost",
            api.base_url,
            "some_method",
            "a:1",
            "b:=1",
        )

    assert completed.returncode == EXIT_OK, completed.stderr
    [request] = api.requests
    assert request["path"] == "/_admin/api"
    assert request["content_type"] == "application/json"
    document = request["document"]
    assert set(document) == {"id", "api_key", "method", "args"}
    assert isinstance(document["id"], int)
    assert document["api_key"] == "k" * 40
    assert document["method"] == "some_method"
    assert document["args"] == {"a": "1", "b": 1}
    assert pretty(completed.stdout).request["id"] == document["id"]


# Saving and loading the configuration.


@pytest_twisted.ensureDeferred
async def test_create_config_saves_json_with_mode_0600(server, home):
    completed = await kallithea_api(
        home,
        "_create_config",
        f"--apikey={server.admin_key}",
        f"--apihost={server.base_url}",
    )

    assert completed.returncode == EXIT_OK, completed.stderr
    assert completed.stdout == ""
    path = config_path(home)
    assert json.loads(path.read_text()) == {
        "apikey": server.admin_key,
        "apihost": server.base_url,
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert one_line_message(completed.stderr) == (f"saved apikey and apihost to {path}")


@pytest_twisted.ensureDeferred
async def test_saved_config_is_used_without_options(server, home):
    await kallithea_api(home, "_create_config", *credentials(server))

    completed = await kallithea_api(home, "get_user")

    assert completed.returncode == EXIT_OK, completed.stderr
    assert pretty(completed.stdout).result["username"] == "admin"


@pytest_twisted.ensureDeferred
async def test_save_config_with_a_method_saves_then_calls(server, home):
    completed = await kallithea_api(
        home, "--save-config", *credentials(server), "get_user"
    )

    assert completed.returncode == EXIT_OK, completed.stderr
    assert pretty(completed.stdout).result["username"] == "admin"
    saved = json.loads(config_path(home).read_text())
    assert saved == {"apikey": server.admin_key, "apihost": server.base_url}
    assert stat.S_IMODE(config_path(home).stat().st_mode) == 0o600


@pytest_twisted.ensureDeferred
async def test_save_config_to_a_named_file(server, home, tmp_path):
    path = tmp_path / "elsewhere" / "api.json"

    saved = await kallithea_api(
        home, "--config", str(path), "--save-config", *credentials(server)
    )
    completed = await kallithea_api(home, "--config", str(path), "get_user")

    assert saved.returncode == EXIT_OK, saved.stderr
    assert saved.stdout == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not config_path(home).exists()
    assert completed.returncode == EXIT_OK, completed.stderr
    assert pretty(completed.stdout).result["username"] == "admin"


@pytest_twisted.ensureDeferred
async def test_save_config_with_one_value_keeps_the_other(server, home):
    user = await server.create_user("dave")
    await kallithea_api(home, "_create_config", *credentials(server))

    saved = await kallithea_api(home, "--save-config", "--apikey", user["api_key"])
    completed = await kallithea_api(home, "get_user")

    assert saved.returncode == EXIT_OK, saved.stderr
    assert json.loads(config_path(home).read_text()) == {
        "apikey": user["api_key"],
        "apihost": server.base_url,
    }
    assert pretty(completed.stdout).result["username"] == "dave"


def test_save_config_tightens_a_loose_file_mode(home):
    path = config_path(home)
    path.parent.mkdir()
    path.write_text('{"apihost": "http://127.0.0.1:5000"}')
    path.chmod(0o644)

    completed = run_command(home, "--save-config", "--apikey", "abc")

    assert completed.returncode == EXIT_OK, completed.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {
        "apikey": "abc",
        "apihost": "http://127.0.0.1:5000",
    }


@pytest_twisted.ensureDeferred
async def test_command_line_options_override_the_config_file(server, home):
    user = await server.create_user("erin")
    config_path(home).parent.mkdir()
    config_path(home).write_text(
        json.dumps(
            {"apikey": server.admin_key, "apihost": f"http://127.0.0.1:{closed_port()}"}
        )
    )

    with_host = await kallithea_api(home, "--apihost", server.base_url, "get_user")
    with_both = await kallithea_api(
        home, "--apihost", server.base_url, "--apikey", user["api_key"], "get_user"
    )

    assert pretty(with_host.stdout).result["username"] == "admin"
    assert pretty(with_both.stdout).result["username"] == "erin"


# Exit status 2: usage and configuration errors, one line on stderr.


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "no METHOD given"),
        (["get_user"], "no API host"),
        (["--apihost", "http://127.0.0.1:5000", "get_user"], "no API key"),
        (["--apikey", "k", "--apihost", "127.0.0.1:5000", "get_user"], "--apihost"),
        (["--apikey", "k", "--apihost", "ftp://h", "get_user"], "--apihost"),
        (["--apikey", "k", "--apihost", "http://h", "get_user", "x"], "key:value"),
        (["--apikey", "k", "--apihost", "http://h", "m", ":v"], "key:value"),
        (["--apikey", "k", "--apihost", "http://h", "m", "a:1", "a:2"], "twice"),
        (["--apikey", "k", "--apihost", "http://h", "m", "a:=nope"], "not JSON"),
        (["--apikey", "k", "--apihost", "http://h", "--timeout", "0", "m"], "timeout"),
        (["--format", "xml", "get_user"], "xml"),
        (["--no-such-option", "get_user"], "--no-such-option"),
        (["--save-config"], "--save-config needs"),
        (["_create_config", "--apikey=k"], "needs both"),
        (["_create_config", "--apikey=k", "--apihost=http://h", "a:1"], "no key"),
    ],
)
def test_usage_errors_exit_2_with_one_line(home, args, says):
    completed = run_command(home, *args)

    assert completed.returncode == EXIT_USAGE
    assert completed.stdout == ""
    assert says in one_line_message(completed.stderr)
    assert not config_path(home).exists()


def test_a_named_config_file_that_does_not_exist_exits_2(home, tmp_path):
    missing = tmp_path / "missing.json"

    completed = run_command(home, "--config", str(missing), "get_user")

    assert completed.returncode == EXIT_USAGE
    assert str(missing) in one_line_message(completed.stderr)


@pytest.mark.parametrize(
    "content",
    ["not json", "[1, 2]", '{"apikey": 5, "apihost": "http://h"}', '{"apihost": "h"}'],
)
def test_a_bad_config_file_exits_2(home, content):
    path = config_path(home)
    path.parent.mkdir()
    path.write_text(content)

    completed = run_command(home, "--apikey", "k", "get_user")

    assert completed.returncode == EXIT_USAGE
    assert str(path) in one_line_message(completed.stderr)


def test_save_config_refuses_to_merge_into_a_broken_file(home):
    path = config_path(home)
    path.parent.mkdir()
    path.write_text("not json")

    completed = run_command(home, "--save-config", "--apikey", "k")

    assert completed.returncode == EXIT_USAGE
    assert path.read_text() == "not json"


def test_help_exits_0_and_lists_the_exit_statuses(home):
    completed = run_command(home, "--help")

    assert completed.returncode == EXIT_OK
    assert completed.stdout.startswith("usage: kallithea-api")
    assert "130 interrupted" in " ".join(completed.stdout.split())


# Exit status 3: no answer.


def test_unreachable_server_exits_3_with_one_line(home):
    url = f"http://127.0.0.1:{closed_port()}"

    completed = run_command(home, "--apikey", "k", "--apihost", url, "get_user")

    assert completed.returncode == EXIT_UNREACHABLE
    message = one_line_message(completed.stderr)
    assert message.startswith(f"cannot reach {url}/_admin/api: ")
    assert "refused" in message


def test_unresolvable_host_exits_3(home):
    url = "http://no-such-host.invalid"

    completed = run_command(home, "--apikey", "k", "--apihost", url, "get_user")

    assert completed.returncode == EXIT_UNREACHABLE
    assert one_line_message(completed.stderr).startswith(f"cannot reach {url}")


def test_a_server_that_never_answers_exits_3_after_the_timeout(home):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"

        completed = run_command(
            home, "--apikey", "k", "--apihost", url, "--timeout", "0.5", "get_user"
        )

    assert completed.returncode == EXIT_UNREACHABLE
    assert one_line_message(completed.stderr) == (
        f"no answer from {url}/_admin/api within 0.5 seconds"
    )


# Exit status 4: HTTP errors.


@pytest.mark.parametrize(
    ("status", "headers", "says"),
    [
        (500, {}, "HTTP 500 Internal Server Error from "),
        (404, {}, "HTTP 404 Not Found from "),
        (
            301,
            {"Location": "https://example.org/_admin/api"},
            "(Location: https://example.org/_admin/api)",
        ),
    ],
)
def test_http_error_exits_4_with_one_line(home, status, headers, says):
    with fake_api(lambda request: (status, headers, b"<html>no</html>")) as api:
        completed = run_command(
            home, "--apikey", "k", "--apihost", api.base_url, "get_user"
        )

    assert completed.returncode == EXIT_HTTP_ERROR
    assert says in one_line_message(completed.stderr)
    assert len(api.requests) == 1


# Exit status 5: a malformed answer or another request's id.


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (lambda r: (200, {}, b"<html>hello</html>"), "is not JSON: <html>hello</html>"),
        (lambda r: (200, {}, b""), "is not JSON: (empty body)"),
        (lambda r: json_answer([r["id"], None, None]), "not a JSON object"),
        (lambda r: json_answer({"id": r["id"], "result": 1}), "lacks error"),
        (
            lambda r: json_answer({"id": r["id"], "result": None, "error": {"a": 1}}),
            "error that is not a string",
        ),
        (
            lambda r: json_answer({"id": r["id"] + 1, "result": 1, "error": None}),
            "has id",
        ),
        (
            lambda r: json_answer({"id": str(r["id"]), "result": 1, "error": None}),
            "has id",
        ),
        (
            lambda r: json_answer({"id": None, "result": 1, "error": None}),
            "has id null",
        ),
    ],
)
def test_malformed_answer_exits_5_with_one_line(home, answer, says):
    with fake_api(answer) as api:
        completed = run_command(
            home, "--apikey", "k", "--apihost", api.base_url, "get_user"
        )

    assert completed.returncode == EXIT_BAD_ANSWER
    assert says in one_line_message(completed.stderr)


def test_id_mismatch_names_both_ids(home):
    def wrong_id(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        return json_answer({"id": 7, "result": "someone else's", "error": None})

    with fake_api(wrong_id) as api:
        completed = run_command(
            home, "--apikey", "k", "--apihost", api.base_url, "--format=json", "m"
        )
        sent = api.requests[0]["document"]["id"]

    assert completed.returncode == EXIT_BAD_ANSWER
    assert completed.stdout == ""
    assert one_line_message(completed.stderr) == (
        f"the answer from {api.base_url}/_admin/api has id 7 "
        f"but the request had id {sent}"
    )


def test_an_error_answer_with_a_null_id_is_the_servers_refusal(home):
    # A server that could not read the envelope answers before it knows the id.
    def refusal(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        return json_answer({"id": None, "result": None, "error": "Content-Length is 0"})

    with fake_api(refusal) as api:
        completed = run_command(
            home, "--apikey", "k", "--apihost", api.base_url, "get_user"
        )

    assert completed.returncode == EXIT_API_ERROR
    assert pretty(completed.stdout).said == "ERROR: Content-Length is 0\n"


# Exit status 130: interrupted while waiting.


def test_sigint_while_waiting_exits_130(home):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.settimeout(30)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with subprocess.Popen(
            _command("--apikey", "k", "--apihost", url, "get_user"),
            env=_environment(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            try:
                connection, _ = silent.accept()
                with connection:
                    # Once the request has arrived the reactor is running.
                    connection.settimeout(30)
                    assert connection.recv(65536).startswith(b"POST /_admin/api ")
                    process.send_signal(signal.SIGINT)
                    stdout, stderr = process.communicate(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()

    assert process.returncode == EXIT_INTERRUPTED
    assert stdout.startswith("calling ")
    assert one_line_message(stderr) == "interrupted"


# The Python client in this process.


@pytest.mark.parametrize(
    ("base_url", "endpoint"),
    [
        ("http://h:5000", "http://h:5000/_admin/api"),
        ("http://h:5000/", "http://h:5000/_admin/api"),
        ("http://h:5000/_admin/api", "http://h:5000/_admin/api"),
        ("https://h/_admin/api/", "https://h/_admin/api"),
        ("https://h/kallithea", "https://h/kallithea/_admin/api"),
        ("https://h/kallithea/_admin/api", "https://h/kallithea/_admin/api"),
    ],
)
def test_api_endpoint_of_a_base_url(base_url, endpoint):
    assert api_endpoint(base_url) == endpoint


@pytest.mark.parametrize("base_url", ["h:5000", "ftp://h/", "http://", "http://h/?a=1"])
def test_api_endpoint_refuses_what_is_not_an_http_url(base_url):
    with pytest.raises(ValueError):
        api_endpoint(base_url)


@pytest_twisted.ensureDeferred
async def test_client_call_returns_the_result(server):
    async with KallitheaClient(server.base_url, server.admin_key) as client:
        user = await client.call("get_user", userid="admin")
        echoed = await client.call("test", args={"n": [1, None, True]})

    assert user == (await server.call("get_user", userid="admin")).result
    assert echoed == {"n": [1, None, True]}


@pytest_twisted.ensureDeferred
async def test_client_api_error_carries_the_message(server):
    client = KallitheaClient(server.base_url, server.admin_key)
    try:
        with pytest.raises(ApiError) as raised:
            await client.call("delete_user")
    finally:
        await client.close()

    assert raised.value.message == MISSING_USERID
    assert raised.value.method == "delete_user"


@pytest_twisted.ensureDeferred
async def test_client_send_returns_an_error_answer_without_raising(server):
    async with KallitheaClient(server.base_url, "0" * 40) as client:
        answer = await client.send("get_user", request_id=41)

    assert answer.id == 41
    assert answer.result is None
    assert answer.error == "Invalid API key"
    assert answer.document == {"id": 41, "result": None, "error": "Invalid API key"}


@pytest_twisted.ensureDeferred
async def test_client_keeps_working_over_many_calls(server):
    async with KallitheaClient(server.base_url, server.admin_key) as client:
        names = [
            (await client.call("get_user", userid="admin"))["username"]
            for _ in range(5)
        ]

    assert names == ["admin"] * 5


@pytest_twisted.ensureDeferred
async def test_client_unreachable_raises_transport_error():
    url = f"http://127.0.0.1:{closed_port()}"
    async with KallitheaClient(url, "k") as client:
        with pytest.raises(TransportError) as raised:
            await client.call("get_user")

    assert raised.value.message.startswith(f"cannot reach {url}/_admin/api: ")


@pytest_twisted.ensureDeferred
async def test_client_http_error_raises_with_the_status():
    with fake_api(lambda request: (502, {}, b"bad gateway")) as api:
        async with KallitheaClient(api.base_url, "k") as client:
            with pytest.raises(HttpStatusError) as raised:
                await client.call("get_user")

    assert raised.value.status == 502
    assert raised.value.body == b"bad gateway"


@pytest_twisted.ensureDeferred
async def test_client_wrong_id_raises_id_mismatch():
    def wrong_id(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        return json_answer({"id": "other", "result": None, "error": None})

    with fake_api(wrong_id) as api:
        async with KallitheaClient(api.base_url, "k") as client:
            with pytest.raises(IdMismatchError) as raised:
                await client.call("get_user")
        sent = api.requests[0]["document"]["id"]

    assert raised.value.sent == sent
    assert raised.value.received == "other"
    assert isinstance(raised.value, MalformedAnswerError)
