"""``kallithea-api``: call one Kallithea API method from the command line.

    kallithea-api [--apikey KEY] [--apihost URL] [--config FILE] [--save-config]
                  [--format pretty|json] [--timeout SECONDS] METHOD [key:value ...]
    kallithea-api _create_config --apikey KEY --apihost URL

``key:value`` sends the value as a string, as Kallithea's own command does;
``key:=value`` sends it as parsed JSON (``count:=3``, ``active:=false``,
``ids:=[1,2]``). The API key and host come from the options, else from the
JSON config file (``~/.config/kallithea`` unless ``--config`` names another),
which ``--save-config`` and ``_create_config`` write with mode 0600.

The exit status tells what happened; see the ``EXIT_*`` constants. Failures
other than an answer from the server are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from twisted.internet import task

from kallithead.client.rpc import (
    DEFAULT_TIMEOUT,
    Answer,
    ClientError,
    HttpStatusError,
    KallitheaClient,
    MalformedAnswerError,
    TransportError,
    api_endpoint,
)

PROG = "kallithea-api"
CREATE_CONFIG = "_create_config"
HIDDEN_KEY = "<hidden>"

EXIT_OK = 0
EXIT_API_ERROR = 1  # the server answered with an error
EXIT_USAGE = 2  # bad command line, bad or missing configuration
EXIT_UNREACHABLE = 3  # no answer: refused, unresolvable, cut, timed out
EXIT_HTTP_ERROR = 4  # an HTTP status other than 200
EXIT_BAD_ANSWER = 5  # HTTP 200 but not a JSON-RPC answer, or another id
EXIT_INTERNAL = 70  # a bug in this command: the traceback is printed
EXIT_INTERRUPTED = 130  # stopped by SIGINT (Ctrl-C) before the answer came


class UsageError(Exception):
    """A mistake on the command line or in the config file."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Call a method of the Kallithea JSON-RPC API.",
        epilog=(
            "key:value sends the value as a string; key:=value sends it as JSON "
            "(numbers, true/false, null, lists, objects). "
            f"'{PROG} {CREATE_CONFIG} --apikey=KEY --apihost=URL' only saves the "
            "configuration. Exit status: 0 success, 1 error answered by the API, "
            "2 usage or configuration error, 3 server unreachable or no answer "
            "in time, 4 HTTP status other than 200, 5 malformed answer or "
            "answer id mismatch, 130 interrupted."
        ),
    )
    parser.add_argument("--apikey", help="the API key to call with")
    parser.add_argument(
        "--apihost",
        metavar="URL",
        help="the server's base URL, e.g. http://127.0.0.1:5000 "
        "(a trailing /_admin/api is accepted)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="the JSON config file (default: ~/.config/kallithea)",
    )
    parser.add_argument(
        "--save-config",
        action="store_true",
        help="save the given --apikey and --apihost into the config file, "
        "then call METHOD if one is given",
    )
    parser.add_argument(
        "--format",
        choices=["pretty", "json"],
        default="pretty",
        help="pretty (default): the request, then the result or ERROR: and "
        "the message; json: only the whole answer, on one line",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up when there is no answer after this long "
        f"(default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("method", nargs="?", metavar="METHOD")
    parser.add_argument("args", nargs="*", metavar="key:value")
    return parser


def parse_arguments(tokens: Sequence[str]) -> dict[str, Any]:
    """Turn ``key:value`` and ``key:=json`` tokens into the ``args`` object.

    Raises :class:`UsageError` for a token without a key, a JSON value that
    does not parse, or a key given twice.
    """
    args: dict[str, Any] = {}
    for token in tokens:
        key, colon, value = token.partition(":")
        if not colon or not key:
            raise UsageError(f"argument {token!r} is not of the form key:value")
        if key in args:
            raise UsageError(f"argument {key!r} is given twice")
        if value.startswith("="):
            try:
                args[key] = json.loads(value[1:])
            except ValueError as e:
                raise UsageError(
                    f"argument {key!r}: {value[1:]!r} is not JSON: {e}"
                ) from None
        else:
            args[key] = value
    return args


def default_config_path() -> Path:
    """``~/.config/kallithea``, the file Kallithea's own command also uses."""
    return Path.home() / ".config" / "kallithea"


def load_config(path: Path) -> dict[str, Any]:
    """Read a config file: a JSON object whose apikey and apihost are strings."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read config file {path}: {e}") from None
    try:
        config = json.loads(text)
    except ValueError as e:
        raise UsageError(f"config file {path} is not JSON: {e}") from None
    if not isinstance(config, dict):
        raise UsageError(f"config file {path} does not hold a JSON object")
    for name in ("apikey", "apihost"):
        if name in config and not isinstance(config[name], str):
            raise UsageError(f"config file {path}: {name} is not a string")
    return config


def save_config(path: Path, config: dict[str, Any]) -> None:
    """Write ``config`` to ``path`` as JSON, readable by its owner only.

    The file is written beside its final place and renamed over it, so a
    reader never sees half of it and it never exists with a looser mode.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            json.dump(config, stream, indent=2, sort_keys=True)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class _Call:
    apihost: str
    apikey: str
    method: str
    args: dict[str, Any]
    format: str
    timeout: float


def _prepare(options: argparse.Namespace) -> _Call | None:
    """Save the configuration if asked; return the call to make, if any."""
    method: str | None = options.method
    args = parse_arguments(options.args)
    if options.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    for name in ("apikey", "apihost"):
        if getattr(options, name) == "":
            raise UsageError(f"--{name} is empty")
    if options.apihost is not None:
        _check_host(options.apihost, "--apihost")

    explicit_path = options.config is not None
    path = Path(options.config).expanduser() if explicit_path else None
    path = path or default_config_path()

    given = {
        name: getattr(options, name)
        for name in ("apikey", "apihost")
        if getattr(options, name) is not None
    }
    if method == CREATE_CONFIG:
        if args:
            raise UsageError(f"{CREATE_CONFIG} takes no key:value arguments")
        if len(given) != 2:
            raise UsageError(f"{CREATE_CONFIG} needs both --apikey and --apihost")
        _write(path, given)
        return None

    if options.save_config:
        if not given:
            raise UsageError("--save-config needs --apikey or --apihost")
        config = load_config(path) if path.exists() else {}
        _write(path, {**config, **given})
    elif method is None:
        raise UsageError("no METHOD given")
    if method is None:
        return None

    config = load_config(path) if explicit_path or path.exists() else {}
    settings = {**config, **given}
    if "apihost" not in settings:
        raise UsageError(f"no API host: give --apihost or save one in {path}")
    if "apikey" not in settings:
        raise UsageError(f"no API key: give --apikey or save one in {path}")
    if "apihost" not in given:
        _check_host(settings["apihost"], f"apihost in {path}")
    return _Call(
        apihost=settings["apihost"],
        apikey=settings["apikey"],
        method=method,
        args=args,
        format=options.format,
        timeout=options.timeout,
    )


def _check_host(host: str, origin: str) -> None:
    try:
        api_endpoint(host)
    except ValueError as e:
        raise UsageError(f"{origin}: {e}") from None


def _write(path: Path, config: dict[str, Any]) -> None:
    try:
        save_config(path, config)
    except OSError as e:
        raise UsageError(f"cannot write config file {path}: {e}") from None
    saved = " and ".join(name for name in ("apikey", "apihost") if name in config)
    _say(f"saved {saved} to {path}")


def _say(message: str) -> None:
    print(f"{PROG}: {' '.join(message.split())}", file=sys.stderr, flush=True)


def _out(text: str) -> None:
    """Print ``text`` on stdout; a reader that went away (``| head``) is no error."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Whatever is still buffered, and all later output, goes nowhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _show_answer(call: _Call, answer: Answer) -> None:
    if call.format == "json":
        _out(json.dumps(answer.document, ensure_ascii=False))
    elif answer.error is not None:
        _out(f"Kallithea said:\nERROR: {answer.error}")
    else:
        result = json.dumps(answer.result, indent=2, ensure_ascii=False)
        _out(f"Kallithea said:\n{result}")


@dataclass
class _Session:
    """What the reactor run produced; filled in by :func:`_call`."""

    code: int | None = None
    interrupted: bool = False


async def _call(reactor: Any, call: _Call, session: _Session) -> None:
    def shutting_down() -> None:
        if session.code is None:
            session.interrupted = True

    reactor.addSystemEventTrigger("before", "shutdown", shutting_down)
    client = KallitheaClient(
        call.apihost, call.apikey, reactor=reactor, timeout=call.timeout
    )
    try:
        request_id = client.new_request_id()
        if call.format == "pretty":
            shown = {
                "id": request_id,
                "api_key": HIDDEN_KEY,
                "method": call.method,
                "args": call.args,
            }
            _out(f"calling {json.dumps(shown, ensure_ascii=False)} to {client.url}")
        answer = await client.send(call.method, call.args, request_id=request_id)
    except ClientError as e:
        if session.interrupted:
            return
        if isinstance(e, TransportError):
            session.code = EXIT_UNREACHABLE
        elif isinstance(e, HttpStatusError):
            session.code = EXIT_HTTP_ERROR
        elif isinstance(e, MalformedAnswerError):
            session.code = EXIT_BAD_ANSWER
        else:
            raise
        _say(e.message)
    else:
        _show_answer(call, answer)
        session.code = EXIT_OK if answer.error is None else EXIT_API_ERROR
    finally:
        await client.close()


def _run(call: _Call) -> int:
    session = _Session()

    async def react_main(reactor: Any) -> None:
        try:
            await _call(reactor, call, session)
        except Exception:
            traceback.print_exc()
            session.code = EXIT_INTERNAL

    try:
        task.react(react_main)
    except SystemExit:
        pass
    if session.interrupted:
        _say("interrupted")
        return EXIT_INTERRUPTED
    return EXIT_INTERNAL if session.code is None else session.code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); return its status.

    It runs the global reactor, so call it once per process.
    """
    try:
        options = _parser().parse_intermixed_args(argv)
        call = _prepare(options)
    except UsageError as e:
        _say(f"{e} (see {PROG} --help)")
        return EXIT_USAGE
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if call is None:
        return EXIT_OK
    return _run(call)


if __name__ == "__main__":
    sys.exit(main())
