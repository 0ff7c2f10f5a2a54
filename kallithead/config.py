"""Loading and validating kallithead's ini configuration.

Every key has a default (listed in etc/kallithea.ini). The file overrides the
defaults and command-line options override the file. Unknown sections, unknown
keys and bad values are collected and reported together, so that one start
attempt shows everything that is wrong with a file.
"""

from __future__ import annotations

import configparser
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_LISTEN = "tcp:5000:interface=127.0.0.1"
DEFAULT_DATADIR = "./kallithea-data"
DEFAULT_MAX_BODY_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_PUSH_SIZE = 1024 * 1024 * 1024


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` names each bad key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))

    def __str__(self) -> str:
        lines = ["invalid configuration:"]
        lines.extend(f"  - {problem}" for problem in self.problems)
        return "\n".join(lines)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ServerSettings:
    listen: str
    datadir: Path
    max_body_size: int
    max_push_size: int
    trusted_proxies: tuple[Network, ...]
    stop_timeout: float
    access_log: bool
    auth_cache_refresh: float
    canonical_url: str
    gist_alias_url: str


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    pool_size: int


@dataclass(frozen=True)
class VcsSettings:
    git_path: str
    repos_root: Path
    pool_size: int
    rescan_interval: float
    serve_pool_size: int


@dataclass(frozen=True)
class Settings:
    server: ServerSettings
    database: DatabaseSettings
    vcs: VcsSettings

    @property
    def admin_key_path(self) -> Path:
        return self.server.datadir / "admin-api-key"


def _parse_str(value: str) -> str:
    return value.strip()


def _parse_positive_int(value: str) -> int:
    number = int(value.strip())
    if number <= 0:
        raise ValueError("must be a positive integer")
    return number


def _parse_non_negative_float(value: str) -> float:
    number = float(value.strip())
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _parse_bool(value: str) -> bool:
    word = value.strip().lower()
    if word in {"true", "yes", "on", "1"}:
        return True
    if word in {"false", "no", "off", "0"}:
        return False
    raise ValueError("must be true or false")


def _parse_networks(value: str) -> tuple[Network, ...]:
    entries = [item.strip() for item in value.split(",") if item.strip()]
    return tuple(ipaddress.ip_network(item, strict=False) for item in entries)


def _parse_site_url(value: str) -> str:
    text = value.strip().rstrip("/")
    if text:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL, or empty")
    return text


def _parse_listen(value: str) -> str:
    text = value.strip()
    if not text or ":" not in text:
        raise ValueError("must be a Twisted endpoint string such as tcp:5000")
    return text


@dataclass(frozen=True)
class _Key:
    default: str
    parse: Callable[[str], Any]


# section -> key -> (default as written in the ini file, parser)
SCHEMA: Mapping[str, Mapping[str, _Key]] = {
    "server": {
        "listen": _Key(DEFAULT_LISTEN, _parse_listen),
        "datadir": _Key(DEFAULT_DATADIR, _parse_str),
        "max_body_size": _Key(str(DEFAULT_MAX_BODY_SIZE), _parse_positive_int),
        "max_push_size": _Key(str(DEFAULT_MAX_PUSH_SIZE), _parse_positive_int),
        "trusted_proxies": _Key("", _parse_networks),
        "stop_timeout": _Key("30", _parse_non_negative_float),
        "access_log": _Key("false", _parse_bool),
        "auth_cache_refresh": _Key("1", _parse_non_negative_float),
        "canonical_url": _Key("", _parse_site_url),
        "gist_alias_url": _Key("", _parse_str),
    },
    "database": {
        "url": _Key("", _parse_str),
        "pool_size": _Key("5", _parse_positive_int),
    },
    "vcs": {
        "git_path": _Key("git", _parse_str),
        "repos_root": _Key("", _parse_str),
        "pool_size": _Key("4", _parse_positive_int),
        "rescan_interval": _Key("600", _parse_non_negative_float),
        "serve_pool_size": _Key("8", _parse_positive_int),
    },
}


def load_settings(
    path: str | Path | None = None,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> Settings:
    """Build the settings from defaults, an optional ini file and overrides.

    ``overrides`` maps section -> key -> raw string value, as an ini file
    would hold it; the command-line options arrive this way.
    """
    raw: dict[str, dict[str, str]] = {
        section: {key: spec.default for key, spec in keys.items()}
        for section, keys in SCHEMA.items()
    }
    problems: list[str] = []

    if path is not None:
        problems.extend(_read_file(Path(path), raw))

    for section, values in (overrides or {}).items():
        for key, value in values.items():
            raw[section][key] = value

    parsed: dict[str, dict[str, Any]] = {section: {} for section in SCHEMA}
    for section, keys in SCHEMA.items():
        for key, spec in keys.items():
            try:
                parsed[section][key] = spec.parse(raw[section][key])
            except ValueError as e:
                problems.append(f"[{section}] {key} = {raw[section][key]!r}: {e}")

    if problems:
        raise ConfigError(problems)
    return _build(parsed)


def _read_file(path: Path, raw: dict[str, dict[str, str]]) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    try:
        with path.open(encoding="utf-8") as f:
            parser.read_file(f)
    except OSError as e:
        return [f"cannot read {path}: {e.strerror}"]
    except configparser.Error as e:
        return [f"cannot parse {path}: {e}"]

    problems = []
    for section in parser.sections():
        if section not in SCHEMA:
            problems.append(f"unknown section [{section}]")
            continue
        for key, value in parser.items(section):
            if key not in SCHEMA[section]:
                problems.append(f"unknown key [{section}] {key}")
                continue
            raw[section][key] = value
    return problems


def _build(parsed: dict[str, dict[str, Any]]) -> Settings:
    server = parsed["server"]
    datadir = Path(server["datadir"] or DEFAULT_DATADIR).expanduser().absolute()
    database = parsed["database"]
    vcs = parsed["vcs"]
    url = database["url"] or f"sqlite:///{datadir / 'kallithea.db'}"
    return Settings(
        server=ServerSettings(
            listen=server["listen"],
            datadir=datadir,
            max_body_size=server["max_body_size"],
            max_push_size=server["max_push_size"],
            trusted_proxies=server["trusted_proxies"],
            stop_timeout=server["stop_timeout"],
            access_log=server["access_log"],
            auth_cache_refresh=server["auth_cache_refresh"],
            canonical_url=server["canonical_url"],
            gist_alias_url=server["gist_alias_url"],
        ),
        database=DatabaseSettings(url=url, pool_size=database["pool_size"]),
        vcs=VcsSettings(
            git_path=vcs["git_path"] or "git",
            repos_root=Path(vcs["repos_root"]).expanduser().absolute()
            if vcs["repos_root"]
            else datadir / "repos",
            pool_size=vcs["pool_size"],
            rescan_interval=vcs["rescan_interval"],
            serve_pool_size=vcs["serve_pool_size"],
        ),
    )
