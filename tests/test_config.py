"""Configuration: defaults, the shipped ini file, overrides and errors."""

from __future__ import annotations

import configparser
import ipaddress
from pathlib import Path

import pytest

from kallithead.config import SCHEMA, ConfigError, load_settings

SHIPPED_INI = Path(__file__).resolve().parent.parent / "etc" / "kallithea.ini"


def test_shipped_ini_lists_every_key_with_its_default():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(SHIPPED_INI)
    shipped = {section: dict(parser.items(section)) for section in parser.sections()}
    expected = {
        section: {key: spec.default for key, spec in keys.items()}
        for section, keys in SCHEMA.items()
    }
    assert shipped == expected


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.server.listen == "tcp:5000:interface=127.0.0.1"
    assert settings.server.datadir == tmp_path / "kallithea-data"
    assert settings.server.max_body_size == 10 * 1024 * 1024
    assert settings.server.trusted_proxies == ()
    assert (
        settings.database.url == f"sqlite:///{tmp_path / 'kallithea-data'}/kallithea.db"
    )
    assert settings.admin_key_path == tmp_path / "kallithea-data" / "admin-api-key"


def test_file_overrides_defaults_and_options_override_the_file(tmp_path):
    ini = tmp_path / "k.ini"
    ini.write_text(
        "[server]\nlisten = tcp:6000\ndatadir = /srv/from-file\n"
        "trusted_proxies = 10.0.0.1, 192.168.0.0/16\n"
        "[database]\nurl = postgresql+psycopg://u@h/db\npool_size = 9\n"
    )
    settings = load_settings(ini, {"server": {"listen": "tcp:7000"}})
    assert settings.server.listen == "tcp:7000"
    assert settings.server.datadir == Path("/srv/from-file")
    assert settings.server.trusted_proxies == (
        ipaddress.ip_network("10.0.0.1"),
        ipaddress.ip_network("192.168.0.0/16"),
    )
    assert settings.database.url == "postgresql+psycopg://u@h/db"
    assert settings.database.pool_size == 9


def test_every_problem_is_reported_at_once(tmp_path):
    ini = tmp_path / "k.ini"
    ini.write_text(
        "[server]\nmax_body_size = -5\ntrusted_proxies = not-an-ip\n"
        "colour = blue\naccess_log = maybe\n[extra]\na = 1\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(ini)
    problems = raised.value.problems
    assert "unknown key [server] colour" in problems
    assert "unknown section [extra]" in problems
    assert any(p.startswith("[server] max_body_size = '-5'") for p in problems)
    assert any(p.startswith("[server] trusted_proxies = 'not-an-ip'") for p in problems)
    assert any(p.startswith("[server] access_log = 'maybe'") for p in problems)
    assert len(problems) == 5


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path / "absent.ini")
    assert "cannot read" in str(raised.value)


@pytest.mark.parametrize(
    "value, read",
    [
        ("", ""),
        ("https://code.example.com/", "https://code.example.com"),
        ("http://h:8080/prefix", "http://h:8080/prefix"),
        ("ftp://h", None),
        ("code.example.com", None),
    ],
)
def test_canonical_url(value, read):
    overrides = {"server": {"canonical_url": value}}
    if read is None:
        with pytest.raises(ConfigError) as raised:
            load_settings(None, overrides)
        [problem] = raised.value.problems
        assert problem.startswith(f"[server] canonical_url = {value!r}")
    else:
        assert load_settings(None, overrides).server.canonical_url == read
