"""Who may call the API: keys, inactive users, IP whitelists, admin gates."""

from __future__ import annotations

import datetime
import ipaddress
import time

import pytest
import pytest_twisted
import sqlalchemy as sa
from twisted.internet import reactor
from twisted.internet.task import deferLater

from kallithead.auth.ipaddr import site_url
from kallithead.db import schema as t
from kallithead.db.access import bump_access_token
from tests.conftest import make_settings, start_server, stop_server


def _user_id(engine, username: str) -> int:
    with engine.connect() as c:
        return c.execute(
            sa.select(t.users.c.user_id).where(t.users.c.username == username)
        ).scalar_one()


async def _changed_elsewhere(server, engine) -> None:
    """What another process sharing the database does after a change: bump
    the access token; then let this server poll for it as its timer would."""
    with engine.begin() as c:
        bump_access_token(c)
    await server.service.users.poll_access_token()


def _add_extra_key(engine, username: str, key: str, expires: float) -> None:
    with engine.begin() as c:
        c.execute(
            t.user_api_keys.insert().values(
                user_id=_user_id(engine, username),
                api_key=key,
                description="extra",
                expires=expires,
                created_on=datetime.datetime.now(),
            )
        )


def _whitelist(engine, username: str, *entries: str) -> None:
    with engine.begin() as c:
        for entry in entries:
            c.execute(
                t.user_ip_map.insert().values(
                    user_id=_user_id(engine, username), ip_addr=entry, active=True
                )
            )


@pytest_twisted.ensureDeferred
async def test_extra_key_that_never_expires_works(server, engine):
    _add_extra_key(engine, "admin", "a" * 40, -1)
    reply = await server.call("get_user", key="a" * 40)
    assert reply.result["username"] == "admin"


@pytest_twisted.ensureDeferred
async def test_extra_key_before_its_expiry_works(server, engine):
    _add_extra_key(engine, "admin", "b" * 40, time.time() + 3600)
    reply = await server.call("get_user", key="b" * 40)
    assert reply.result["username"] == "admin"


@pytest_twisted.ensureDeferred
async def test_expired_extra_key_is_invalid(server, engine):
    _add_extra_key(engine, "admin", "c" * 40, time.time() - 1)
    reply = await server.call("get_user", key="c" * 40)
    assert reply.error == "Invalid API key"


@pytest_twisted.ensureDeferred
async def test_extra_keys_are_listed_after_the_main_key(server, engine):
    _add_extra_key(engine, "admin", "d" * 40, -1)
    _add_extra_key(engine, "admin", "e" * 40, time.time() - 10)
    user = (await server.call("get_user")).result
    assert user["api_keys"] == [server.admin_key, "d" * 40, "e" * 40]


@pytest_twisted.ensureDeferred
async def test_inactive_user_cannot_call(server):
    user = await server.create_user("sleepy")
    assert (await server.call("get_user", key=user["api_key"])).error is None
    await server.call("update_user", userid="sleepy", active=False)
    reply = await server.call("get_user", key=user["api_key"])
    assert reply.error == "Invalid API key"


@pytest_twisted.ensureDeferred
async def test_default_user_key_is_invalid(server, engine):
    with engine.connect() as c:
        key = c.execute(
            sa.select(t.users.c.api_key).where(t.users.c.username == "default")
        ).scalar_one()
    reply = await server.call("get_user", key=key)
    assert reply.error == "Invalid API key"


@pytest_twisted.ensureDeferred
async def test_deleted_users_key_is_invalid(server):
    user = await server.create_user("gone")
    await server.call("delete_user", userid="gone")
    reply = await server.call("get_user", key=user["api_key"])
    assert reply.error == "Invalid API key"


@pytest_twisted.ensureDeferred
async def test_whitelist_without_the_client_address_refuses(server, engine):
    _whitelist(engine, "admin", "10.0.0.0/8", "192.168.1.5")
    reply = await server.call("get_user")
    assert reply.error == "request from IP:127.0.0.1 not allowed"


@pytest.mark.parametrize("entry", ["127.0.0.1", "127.0.0.0/8", "0.0.0.0/0"])
@pytest_twisted.ensureDeferred
async def test_whitelist_with_the_client_address_allows(server, engine, entry):
    _whitelist(engine, "admin", "10.0.0.0/8", entry)
    reply = await server.call("get_user")
    assert reply.result["username"] == "admin"


@pytest_twisted.ensureDeferred
async def test_default_users_whitelist_applies_to_everyone(server, engine):
    user = await server.create_user("regular")
    _whitelist(engine, "default", "10.1.2.3")
    await _changed_elsewhere(server, engine)
    assert (await server.call("get_user")).error == (
        "request from IP:127.0.0.1 not allowed"
    )
    reply = await server.call("get_user", key=user["api_key"])
    assert reply.error == "request from IP:127.0.0.1 not allowed"


@pytest_twisted.ensureDeferred
async def test_own_whitelist_entry_adds_to_the_default_users(server, engine):
    _whitelist(engine, "default", "10.1.2.3")
    _whitelist(engine, "admin", "127.0.0.1/32")
    reply = await server.call("get_user")
    assert reply.result["username"] == "admin"


@pytest_twisted.ensureDeferred
async def test_whitelist_is_checked_before_the_method(server, engine):
    _whitelist(engine, "admin", "10.0.0.0/8")
    reply = await server.call("no_such_method")
    assert reply.error == "request from IP:127.0.0.1 not allowed"


@pytest_twisted.ensureDeferred
async def test_get_ip_lists_the_users_own_entries_with_ranges(server, engine):
    await server.create_user("ranged")
    _whitelist(engine, "ranged", "192.168.0.0/24", "10.0.0.7", "2001:db8::/126")
    _whitelist(engine, "default", "127.0.0.1")
    reply = await server.call("get_ip", userid="ranged")
    assert reply.result == {
        "server_ip_addr": "127.0.0.1",
        "user_ips": [
            {"ip_addr": "192.168.0.0/24", "ip_range": ["192.168.0.0", "192.168.0.255"]},
            {"ip_addr": "10.0.0.7", "ip_range": ["10.0.0.7", "10.0.0.7"]},
            {"ip_addr": "2001:db8::/126", "ip_range": ["2001:db8::", "2001:db8::3"]},
        ],
    }


@pytest_twisted.ensureDeferred
async def test_get_ip_for_unknown_user(server):
    reply = await server.call("get_ip", userid="nobody")
    assert reply.error == "user `nobody` does not exist"


@pytest_twisted.ensureDeferred
async def test_forwarded_address_is_ignored_from_untrusted_peers(server):
    reply = await server.post(
        b'{"id": 1, "api_key": "%s", "method": "get_ip", "args": {}}'
        % server.admin_key.encode(),
        headers={b"X-Forwarded-For": [b"203.0.113.9"], b"X-Real-IP": [b"203.0.113.8"]},
    )
    assert reply.result["server_ip_addr"] == "127.0.0.1"


@pytest_twisted.ensureDeferred
async def test_forwarded_address_is_used_from_a_trusted_proxy(tmp_path, engine):
    running = await start_server(
        make_settings(tmp_path, trusted_proxies="127.0.0.1, ::1")
    )
    try:
        body = (
            b'{"id": 1, "api_key": "%s", "method": "get_ip", "args": {}}'
            % running.admin_key.encode()
        )
        forwarded = {b"X-Forwarded-For": [b"203.0.113.9, 10.0.0.1"]}
        reply = await running.post(body, headers=forwarded)
        assert reply.result["server_ip_addr"] == "203.0.113.9"

        real_ip = {b"X-Real-IP": [b"198.51.100.4"], **forwarded}
        reply = await running.post(body, headers=real_ip)
        assert reply.result["server_ip_addr"] == "198.51.100.4"

        # The whitelist is checked against the forwarded address too.
        _whitelist(engine, "admin", "203.0.113.0/24")
        await _changed_elsewhere(running, engine)
        reply = await running.post(body, headers=forwarded)
        assert reply.result["server_ip_addr"] == "203.0.113.9"
        reply = await running.post(body, headers={b"X-Forwarded-For": [b"10.9.9.9"]})
        assert reply.error == "request from IP:10.9.9.9 not allowed"
    finally:
        await stop_server(running)


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("test", {"args": 1}),
        ("get_server_info", {}),
        ("get_ip", {}),
        ("show_ip", {}),
        ("get_users", {}),
        ("create_user", {"username": "x", "email": "x@example.com"}),
        ("update_user", {"userid": 2}),
        ("delete_user", {"userid": 2}),
    ],
)
@pytest_twisted.ensureDeferred
async def test_admin_only_methods_deny_regular_users(server, method, args):
    user = await server.create_user("plain")
    reply = await server.call(method, key=user["api_key"], **args)
    assert reply.document == {
        "id": reply.document["id"],
        "result": None,
        "error": "Access was denied to this resource.",
    }


@pytest_twisted.ensureDeferred
async def test_argument_errors_come_before_the_admin_gate(server):
    user = await server.create_user("plain")
    reply = await server.call("delete_user", key=user["api_key"])
    assert reply.error == "Missing non optional `userid` arg in JSON DATA"


@pytest_twisted.ensureDeferred
async def test_promoted_user_gets_admin_methods_at_once(server):
    user = await server.create_user("rising")
    await server.call("update_user", userid="rising", admin=True)
    reply = await server.call("get_users", key=user["api_key"])
    assert "rising" in [u["username"] for u in reply.result]


@pytest_twisted.ensureDeferred
async def test_get_server_info_reports_the_server(server):
    info = (await server.call("get_server_info")).result
    assert set(info) == {
        "modules",
        "py_version",
        "platform",
        "kallithea_version",
        "git_version",
        "git_path",
    }
    names = [name for name, _version in info["modules"]]
    assert names == sorted(names, key=str.lower)
    assert "Twisted" in names or "twisted" in names
    assert info["kallithea_version"] == "0.7.0"
    assert info["git_path"] == "git"
    assert info["git_version"][0].isdigit()
    assert info["git_version"] != "0.0"


@pytest_twisted.ensureDeferred
async def test_change_by_another_process_is_seen_after_the_poll(server, engine):
    assert (await server.call("get_user")).error is None
    _whitelist(engine, "admin", "10.0.0.0/8")
    # Remembered: the change is not announced yet.
    assert (await server.call("get_user")).error is None
    await _changed_elsewhere(server, engine)
    reply = await server.call("get_user")
    assert reply.error == "request from IP:127.0.0.1 not allowed"


@pytest_twisted.ensureDeferred
async def test_without_the_cache_direct_changes_apply_at_once(tmp_path, engine):
    running = await start_server(make_settings(tmp_path, auth_cache_refresh="0"))
    try:
        assert (await running.call("get_user")).error is None
        _whitelist(engine, "admin", "10.0.0.0/8")
        reply = await running.call("get_user")
        assert reply.error == "request from IP:127.0.0.1 not allowed"
    finally:
        await stop_server(running)


@pytest_twisted.ensureDeferred
async def test_remembered_extra_key_stops_at_its_expiry(server, engine):
    _add_extra_key(engine, "admin", "f" * 40, time.time() + 1.5)
    assert (await server.call("get_user", key="f" * 40)).error is None
    assert (await server.call("get_user", key="f" * 40)).error is None
    await deferLater(reactor, 1.6)
    reply = await server.call("get_user", key="f" * 40)
    assert reply.error == "Invalid API key"


@pytest_twisted.ensureDeferred
async def test_demoted_admin_loses_admin_methods_at_once(server):
    other = await server.create_user("second", admin=True)
    assert (await server.call("get_users", key=other["api_key"])).error is None
    await server.call("update_user", userid="second", admin=False)
    reply = await server.call("get_users", key=other["api_key"])
    assert reply.error == "Access was denied to this resource."


# --- the site's own URL, as answers show it -------------------------------------

PROXY = (ipaddress.ip_network("10.0.0.0/8"),)


@pytest.mark.parametrize(
    ("secure", "host", "peer", "proto", "forwarded", "proxies", "expected"),
    [
        (
            False,
            "code.example.com",
            "192.0.2.7",
            None,
            None,
            (),
            "http://code.example.com",
        ),
        (
            True,
            "code.example.com:8443",
            "192.0.2.7",
            None,
            None,
            (),
            "https://code.example.com:8443",
        ),
        (False, None, "192.0.2.7", None, None, (), "http://127.0.0.1:5000"),
        (False, "  ", "192.0.2.7", None, None, (), "http://127.0.0.1:5000"),
        # Forwarded headers count only from a trusted proxy.
        (
            False,
            "inner:5000",
            "192.0.2.7",
            "https",
            "code.example.com",
            PROXY,
            "http://inner:5000",
        ),
        (
            False,
            "inner:5000",
            "10.1.2.3",
            "https",
            "code.example.com",
            PROXY,
            "https://code.example.com",
        ),
        (
            False,
            "inner:5000",
            "10.1.2.3",
            "HTTPS, http",
            "a.example, b.example",
            PROXY,
            "https://a.example",
        ),
        (False, "inner:5000", "10.1.2.3", "gopher", None, PROXY, "http://inner:5000"),
    ],
)
def test_site_url(secure, host, peer, proto, forwarded, proxies, expected):
    got = site_url(secure, host, "127.0.0.1:5000", peer, proto, forwarded, proxies)
    assert got == expected
