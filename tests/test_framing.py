"""The JSON-RPC envelope over real HTTP: framing errors, ids, arguments."""

from __future__ import annotations

import http.client
import io
import json

import pytest
import pytest_twisted
import sqlalchemy as sa
from twisted.internet import defer, threads
from twisted.logger import globalLogPublisher
from twisted.web.client import FileBodyProducer
from twisted.web.iweb import UNKNOWN_LENGTH


class Chunked(FileBodyProducer):
    """A body of unknown length: the client sends it with chunked encoding."""

    def __init__(self, data: bytes, read_size: int) -> None:
        super().__init__(io.BytesIO(data), readSize=read_size)
        self.length = UNKNOWN_LENGTH


OK_USER_BODY = '{"id": 7, "api_key": "%s", "method": "get_user", "args": {}}'


def _request(server, **fields):
    document = {"id": 1, "api_key": server.admin_key, "method": "get_user", "args": {}}
    document.update(fields)
    return json.dumps(document).encode()


@pytest_twisted.ensureDeferred
async def test_get_without_body_says_no_content_length(server):
    reply = await server.post(None, method="GET")
    assert reply.status == 200
    assert reply.document == {
        "id": None,
        "result": None,
        "error": "No Content-Length in request",
    }


@pytest_twisted.ensureDeferred
async def test_empty_body_says_content_length_is_0(server):
    reply = await server.post(b"")
    assert reply.status == 200
    assert reply.document == {
        "id": None,
        "result": None,
        "error": "Content-Length is 0",
    }


@pytest_twisted.ensureDeferred
async def test_chunked_body_is_accepted(server):
    body = (OK_USER_BODY % server.admin_key).encode()
    reply = await server.post(Chunked(body, read_size=10))
    assert reply.status == 200
    assert reply.document["id"] == 7
    assert reply.document["error"] is None
    assert reply.document["result"]["username"] == "admin"


@pytest_twisted.ensureDeferred
async def test_malformed_json_reports_parser_message_and_raw_body(server):
    body = b'{"id": 99, "method": "get_server_info", "args": {'
    reply = await server.post(body)
    assert reply.document["id"] is None
    assert reply.document["result"] is None
    error = reply.document["error"]
    assert error.startswith("JSON parse error ERR:Expecting property name enclosed")
    assert error.endswith(" RAW:" + repr(body))


@pytest_twisted.ensureDeferred
async def test_invalid_utf8_is_a_parse_error(server):
    reply = await server.post(b'{"id": "\xff\xfe"}')
    assert reply.document["error"].startswith("JSON parse error ERR:")


@pytest_twisted.ensureDeferred
async def test_deeply_nested_json_is_a_parse_error(server):
    reply = await server.post(b"[" * 100_000 + b"]" * 100_000)
    assert reply.document["error"].startswith("JSON parse error ERR:")


@pytest_twisted.ensureDeferred
async def test_json_that_is_not_an_object_misses_api_key(server):
    reply = await server.post(b"[1, 2, 3]")
    assert reply.document == {
        "id": None,
        "result": None,
        "error": "Incorrect JSON query missing 'api_key'",
    }


@pytest.mark.parametrize(
    ("missing", "echoed_id"),
    [("api_key", None), ("id", None), ("method", 1), ("args", 1)],
)
@pytest_twisted.ensureDeferred
async def test_missing_envelope_key_is_reported(server, missing, echoed_id):
    document = {"id": 1, "api_key": server.admin_key, "method": "get_user", "args": {}}
    del document[missing]
    reply = await server.post(json.dumps(document).encode())
    assert reply.document == {
        "id": echoed_id,
        "result": None,
        "error": f"Incorrect JSON query missing '{missing}'",
    }


@pytest_twisted.ensureDeferred
async def test_api_key_is_checked_before_method_and_args(server):
    reply = await server.post(b'{"api_key": "nope", "id": 3}')
    assert reply.document["error"] == "Incorrect JSON query missing 'method'"
    reply = await server.post(
        b'{"api_key": "nope", "id": 3, "method": "get_user", "args": {}}'
    )
    assert reply.document == {"id": 3, "result": None, "error": "Invalid API key"}


@pytest.mark.parametrize(
    "key",
    ["trololo", "0" * 40, "", 12, None, ["x"], "g" * 39 + "!"],
)
@pytest_twisted.ensureDeferred
async def test_bad_api_keys_are_invalid(server, key):
    reply = await server.post(_request(server, api_key=key))
    assert reply.document == {"id": 1, "result": None, "error": "Invalid API key"}


@pytest.mark.parametrize(
    "request_id",
    [None, 0, 17, -3, 2.5, "abc", "", [1, "a"], {"k": [None]}, True, 10**30],
)
@pytest_twisted.ensureDeferred
async def test_id_is_echoed_with_its_json_type(server, request_id):
    for method in ("get_user", "no_such_method"):
        reply = await server.post(_request(server, id=request_id, method=method))
        echoed = reply.document["id"]
        assert echoed == request_id
        assert type(echoed) is type(request_id)


@pytest_twisted.ensureDeferred
async def test_method_starting_with_underscore_is_not_allowed(server):
    reply = await server.post(_request(server, method="_secret"))
    assert reply.document["error"] == "Method not allowed"


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("no_such_thing", "No such method: no_such_thing"),
        (5, "No such method: 5"),
        (None, "No such method: None"),
        ("GET_USER", "No such method: GET_USER"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_unknown_method(server, method, message):
    reply = await server.post(_request(server, method=method))
    assert reply.document == {"id": 1, "result": None, "error": message}


@pytest_twisted.ensureDeferred
async def test_show_ip_is_get_ip(server):
    shown = await server.call("show_ip")
    got = await server.call("get_ip")
    assert (
        shown.result
        == got.result
        == {
            "server_ip_addr": "127.0.0.1",
            "user_ips": [],
        }
    )


@pytest.mark.parametrize("args", [None, 1, [], ["userid"], "text"])
@pytest_twisted.ensureDeferred
async def test_args_that_are_not_an_object_count_as_empty(server, args):
    reply = await server.post(_request(server, method="get_users", args=args))
    assert reply.status == 200
    assert [user["username"] for user in reply.result] == ["admin"]
    reply = await server.post(_request(server, method="get_ip", args=args))
    assert reply.result["server_ip_addr"] == "127.0.0.1"


@pytest_twisted.ensureDeferred
async def test_missing_required_argument(server):
    reply = await server.call("delete_user")
    assert reply.error == "Missing non optional `userid` arg in JSON DATA"


@pytest_twisted.ensureDeferred
async def test_last_missing_required_argument_is_reported(server):
    reply = await server.call("create_user")
    assert reply.error == "Missing non optional `email` arg in JSON DATA"
    reply = await server.call("create_user", email="a@example.com")
    assert reply.error == "Missing non optional `username` arg in JSON DATA"


@pytest_twisted.ensureDeferred
async def test_required_argument_given_as_null_is_present(server):
    reply = await server.call("delete_user", userid=None)
    assert reply.error == "user `None` does not exist"


@pytest_twisted.ensureDeferred
async def test_unknown_arguments_are_listed(server):
    reply = await server.call("get_user", foo=1)
    assert reply.error == "Unknown `foo` arg in JSON DATA"
    reply = await server.call("get_user", userid=2, foo=1, bar=None)
    assert reply.error == "Unknown `foo`, `bar` arg in JSON DATA"


@pytest_twisted.ensureDeferred
async def test_apiuser_in_args_is_rejected_as_unknown(server):
    reply = await server.call("get_user", apiuser="admin")
    assert reply.error == "Unknown `apiuser` arg in JSON DATA"


@pytest_twisted.ensureDeferred
async def test_missing_argument_is_reported_before_unknown_ones(server):
    reply = await server.call("delete_user", foo=1)
    assert reply.error == "Missing non optional `userid` arg in JSON DATA"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"userid": [1]},
            "Invalid `userid` arg in JSON DATA: expected an id or a name",
        ),
        (
            {"userid": {"id": 1}},
            "Invalid `userid` arg in JSON DATA: expected an id or a name",
        ),
        (
            {"userid": True},
            "Invalid `userid` arg in JSON DATA: expected an id or a name",
        ),
        (
            {"userid": 1.5},
            "Invalid `userid` arg in JSON DATA: expected an id or a name",
        ),
    ],
)
@pytest_twisted.ensureDeferred
async def test_wrong_argument_types_get_a_clear_error(server, args, message):
    reply = await server.call("get_user", **args)
    assert reply.error == message


@pytest_twisted.ensureDeferred
async def test_explicit_null_for_optional_argument_means_omitted(server):
    omitted = await server.call("get_user")
    null = await server.call("get_user", userid=None)
    assert null.result == omitted.result


@pytest_twisted.ensureDeferred
async def test_test_method_echoes_every_character(server):
    import string

    value = {
        "ascii_letters": string.ascii_letters,
        "ws": string.whitespace,
        "printables": string.printable,
        "unicode": "ünïcødé ☃ \u2028 \x00",
        "nested": [1, 2.5, None, True, {"a": []}],
    }
    reply = await server.call("test", args=value)
    assert reply.status == 200
    assert reply.result == value


@pytest.mark.parametrize(
    "headers",
    [
        {b"Content-Type": [b"text/plain"]},
        {b"Content-Type": [b"application/x-www-form-urlencoded"]},
        {b"Content-Type": [b"application/json; charset=utf-8"]},
        None,
    ],
)
@pytest_twisted.ensureDeferred
async def test_any_content_type_is_accepted(server, headers):
    reply = await server.post(_request(server), headers=headers)
    assert reply.result["username"] == "admin"


def _raw_exchange(base_url: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request with the standard library, which shows headers untouched."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", "/_admin/api", body=body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest_twisted.ensureDeferred
async def test_response_is_one_line_json_with_exact_length(server):
    status, headers, body = await threads.deferToThread(
        _raw_exchange, server.base_url, _request(server)
    )
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(body))
    assert "Transfer-Encoding" not in headers
    assert b"\n" not in body
    assert set(json.loads(body)) == {"id", "result", "error"}


@pytest_twisted.ensureDeferred
async def test_double_slash_path_reaches_the_api(server):
    reply = await server.post(_request(server), path="//_admin/api")
    assert reply.status == 200
    assert reply.result["username"] == "admin"


@pytest.mark.parametrize("method", ["PUT", "GET"])
@pytest_twisted.ensureDeferred
async def test_other_http_methods_with_a_body_work(server, method):
    reply = await server.post(_request(server), method=method)
    assert reply.result["username"] == "admin"


@pytest_twisted.ensureDeferred
async def test_body_over_the_limit_is_refused_without_being_kept(server):
    # The fixture's limit is 1 MiB; send 20 MiB of a valid-looking document.
    padding = "x" * (20 * 1024 * 1024)
    body = _request(server, args={"padding": padding})
    reply = await server.post(body)
    assert reply.status == 200
    assert reply.document == {
        "id": None,
        "result": None,
        "error": "Request body too large: the limit is 1048576 bytes",
    }
    # The server still answers normally afterwards.
    reply = await server.post(_request(server))
    assert reply.result["username"] == "admin"


@pytest_twisted.ensureDeferred
async def test_chunked_body_over_the_limit_is_refused(server):
    body = _request(server, args={"padding": "y" * (3 * 1024 * 1024)})
    reply = await server.post(Chunked(body, read_size=65536))
    assert reply.document["error"] == (
        "Request body too large: the limit is 1048576 bytes"
    )


@pytest_twisted.ensureDeferred
async def test_body_just_under_the_limit_is_processed(server):
    document = {"id": 1, "api_key": server.admin_key, "method": "test", "args": {}}
    skeleton = len(json.dumps({**document, "args": {"args": ""}}))
    document["args"] = {"args": "z" * (1024 * 1024 - skeleton)}
    body = json.dumps(document).encode()
    assert len(body) == 1024 * 1024
    reply = await server.post(body)
    assert reply.result == document["args"]["args"]


@pytest_twisted.ensureDeferred
async def test_concurrent_requests_each_get_their_own_answer(server):
    calls = [
        defer.ensureDeferred(
            server.post(_request(server, id=n, method="test", args={"args": n}))
        )
        for n in range(40)
    ]
    replies = await defer.gatherResults(calls)
    assert [reply.document["id"] for reply in replies] == list(range(40))
    assert [reply.result for reply in replies] == list(range(40))


@pytest_twisted.ensureDeferred
async def test_unexpected_failure_is_logged_and_answered_generically(server, engine):
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        # A real fault: the table the method reads is gone.
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE user_email_map"))
        reply = await server.call("get_users")
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert reply.document == {
        "id": reply.document["id"],
        "result": None,
        "error": "Internal server error",
    }
    failures = [e for e in events if e.get("log_failure") is not None]
    assert len(failures) == 1
    assert failures[0]["method"] == "get_users"
    assert "user_email_map" in str(failures[0]["log_failure"].value)
