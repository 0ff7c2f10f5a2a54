"""Benchmark the JSON-RPC API of a running kallithead daemon.

Usage, from the repository root::

    python bench/api_bench.py BASE_URL API_KEY [--duration SECONDS] [--runs N]
        [--skip-ceiling] [--generator auto|wrk|python] [--wrk-threads 1|2]

BASE_URL is where the daemon listens, such as ``http://127.0.0.1:5000``; only
loopback addresses are accepted. Each workload, ``get_server_info`` and
``get_user`` with empty arguments, is driven at concurrency 1 and 16 for
``--duration`` seconds, ``--runs`` times over, and the median run (by
requests per second) is reported with its p50 and p99 latency.

Unless ``--skip-ceiling`` is given, ``bench/ceiling_app.py`` is started with
this interpreter on a free port of 127.0.0.1 and measured the same way, with
the same request; each API figure is then also given as a share of that
ceiling at the same concurrency.

The load comes from ``wrk`` when it is on PATH (a Lua script written to a
temporary folder makes it POST the JSON body), otherwise from a small asyncio
client in this file that keeps N HTTP/1.1 connections busy. The asyncio client
competes with the server for the CPU and its own overhead is part of every
latency it records, so near the ceiling it reports less than wrk would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol
from urllib.parse import urlsplit

# Kallithea 0.7.0 and the goals set against it, from ../shared/PERFORMANCE.md:
# get_server_info served 150 req/s at concurrency 1 and at 16; kallithead
# should serve at least ten times that, with p99 below 20 ms at concurrency 16,
# and its simplest calls should reach half of what a bare Klein route reaches.
BASELINE_SERVER_INFO_RPS = 150.0
GOAL_SERVER_INFO_SPEEDUP = 10.0
GOAL_SERVER_INFO_P99_MS_AT_16 = 20.0
GOAL_SHARE_OF_CEILING = 0.5

API_PATH = "/_admin/api"
API_METHODS = ("get_server_info", "get_user")
CONCURRENCIES = (1, 16)
CEILING = "ceiling"
CEILING_SCRIPT = Path(__file__).resolve().with_name("ceiling_app.py")
CEILING_START_SECONDS = 15.0
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# Bounds on every loop besides the clock.
REQUEST_TIMEOUT_SECONDS = 10
MAX_REQUESTS_PER_CONNECTION = 5_000_000
MAX_ERRORS_PER_CONNECTION = 100
PAUSE_AFTER_ERROR_SECONDS = 0.05


class BenchError(Exception):
    """A reason to stop the benchmark, worded for the person running it."""


@dataclass(frozen=True)
class Target:
    """One workload: where its requests go and the body each one carries."""

    name: str
    host: str
    port: int
    path: str
    body: bytes

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"


@dataclass(frozen=True)
class Measurement:
    """What one run of one workload at one concurrency achieved."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


class LoadGenerator(Protocol):
    label: str

    def measure(
        self, target: Target, concurrency: int, duration: int
    ) -> Measurement: ...


def rpc_body(api_key: str, method: str) -> bytes:
    envelope = {"id": 1, "api_key": api_key, "method": method, "args": {}}
    return json.dumps(envelope).encode()


def percentile_ms(sorted_seconds: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile of sorted latencies, in milliseconds."""
    if not sorted_seconds:
        return 0.0
    rank = max(1, -(-len(sorted_seconds) * percent // 100))
    return sorted_seconds[int(rank) - 1] * 1000.0


# ---------------------------------------------------------------------------
# wrk


WRK_PERCENTILE_LINE = re.compile(
    r"^\s*(?P<percent>\d+(?:\.\d+)?)%"
    r"\s+(?P<value>\d+(?:\.\d+)?)(?P<unit>us|ms|s|m|h)\s*$",
    re.MULTILINE,
)
WRK_RATE_LINE = re.compile(r"^Requests/sec:\s+(?P<rate>\d+(?:\.\d+)?)", re.MULTILINE)
WRK_TOTAL_LINE = re.compile(r"^\s*(?P<count>\d+) requests in ", re.MULTILINE)
WRK_BAD_STATUS_LINE = re.compile(r"Non-2xx or 3xx responses:\s+(?P<count>\d+)")
WRK_SOCKET_ERRORS_LINE = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)
WRK_UNIT_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def lua_long_string(text: str) -> str:
    """``text`` as a Lua long-bracket literal that no content can close early."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    equals = "=" * level
    return f"[{equals}[{text}]{equals}]"


def wrk_script(body: bytes) -> str:
    return (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {lua_long_string(body.decode())}\n"
    )


def parse_wrk_report(report: str) -> Measurement:
    """Read the figures out of what ``wrk --latency`` prints."""
    percentiles = {
        float(match["percent"]): float(match["value"]) * WRK_UNIT_TO_MS[match["unit"]]
        for match in WRK_PERCENTILE_LINE.finditer(report)
    }
    rate = WRK_RATE_LINE.search(report)
    total = WRK_TOTAL_LINE.search(report)
    if (
        rate is None
        or total is None
        or 50.0 not in percentiles
        or 99.0 not in percentiles
    ):
        raise BenchError(f"cannot read the wrk report:\n{report}")

    errors = 0
    bad_status = WRK_BAD_STATUS_LINE.search(report)
    if bad_status is not None:
        errors += int(bad_status["count"])
    socket_errors = WRK_SOCKET_ERRORS_LINE.search(report)
    if socket_errors is not None:
        errors += sum(int(count) for count in socket_errors.groups())

    return Measurement(
        requests_per_second=float(rate["rate"]),
        p50_ms=percentiles[50.0],
        p99_ms=percentiles[99.0],
        requests=int(total["count"]),
        errors=errors,
    )


class WrkGenerator:
    """Drives ``wrk`` with one generated Lua script per workload."""

    def __init__(self, executable: str, threads: int, script_folder: Path) -> None:
        self.executable = executable
        self.threads = threads
        self.script_folder = script_folder
        self.label = f"wrk ({executable}, up to {threads} thread(s))"

    def measure(self, target: Target, concurrency: int, duration: int) -> Measurement:
        script = self.script_folder / f"{target.name}.lua"
        if not script.exists():
            script.write_text(wrk_script(target.body))

        command = [
            self.executable,
            f"--threads={min(self.threads, concurrency)}",
            f"--connections={concurrency}",
            f"--duration={duration}s",
            f"--timeout={REQUEST_TIMEOUT_SECONDS}s",
            f"--script={script}",
            "--latency",
            target.url,
        ]
        try:
            finished = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=duration + REQUEST_TIMEOUT_SECONDS + 30,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"wrk did not finish: {' '.join(command)}") from None
        if finished.returncode != 0:
            raise BenchError(
                f"wrk failed with status {finished.returncode}: "
                f"{finished.stderr.strip() or finished.stdout.strip()}"
            )
        return parse_wrk_report(finished.stdout)


# ---------------------------------------------------------------------------
# The asyncio client, for machines without wrk


@dataclass
class ConnectionTally:
    """What one client connection saw: a latency per answer, and its errors."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def http_request(target: Target) -> bytes:
    host = f"[{target.host}]" if ":" in target.host else target.host
    head = (
        f"POST {target.path} HTTP/1.1\r\n"
        f"Host: {host}:{target.port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(target.body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + target.body


async def skip_chunked_body(reader: asyncio.StreamReader) -> None:
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return
        await reader.readexactly(size + 2)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Consume one response; return its status and whether to keep the socket."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    status = int(status_line.split(None, 2)[1])
    headers: dict[bytes, bytes] = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()

    keep_alive = headers.get(b"connection") != b"close"
    length = headers.get(b"content-length")
    if length is not None:
        await reader.readexactly(int(length))
    elif headers.get(b"transfer-encoding") == b"chunked":
        await skip_chunked_body(reader)
    else:
        await reader.read()
        keep_alive = False
    return status, keep_alive


async def keep_connection_busy(
    target: Target, request: bytes, deadline: float, tally: ConnectionTally
) -> None:
    """Send requests back to back on one connection until the deadline."""
    streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    sent = 0
    while (
        time.perf_counter() < deadline
        and sent < MAX_REQUESTS_PER_CONNECTION
        and tally.errors < MAX_ERRORS_PER_CONNECTION
    ):
        sent += 1
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                if streams is None:
                    streams = await asyncio.open_connection(target.host, target.port)
                reader, writer = streams
                began = time.perf_counter()
                writer.write(request)
                status, keep_alive = await read_response(reader)
            tally.latencies.append(time.perf_counter() - began)
        except (OSError, EOFError, asyncio.LimitOverrunError, ValueError):
            # Timeouts are OSErrors; EOFError covers a connection closed early.
            tally.errors += 1
            if streams is not None:
                streams[1].close()
                streams = None
            await asyncio.sleep(PAUSE_AFTER_ERROR_SECONDS)
            continue

        if status != 200:
            tally.errors += 1
        if not keep_alive:
            writer.close()
            streams = None

    if streams is not None:
        streams[1].close()


async def run_connections(
    target: Target, concurrency: int, duration: int
) -> Measurement:
    request = http_request(target)
    tallies = [ConnectionTally() for _ in range(concurrency)]

    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(keep_connection_busy(target, request, deadline, tally) for tally in tallies)
    )
    elapsed = time.perf_counter() - started

    latencies = sorted(latency for tally in tallies for latency in tally.latencies)
    return Measurement(
        requests_per_second=len(latencies) / elapsed,
        p50_ms=percentile_ms(latencies, 50),
        p99_ms=percentile_ms(latencies, 99),
        requests=len(latencies),
        errors=sum(tally.errors for tally in tallies),
    )


class PythonGenerator:
    """N asyncio connections with HTTP/1.1 keep-alive, one request at a time each."""

    label = "python (asyncio raw sockets, HTTP/1.1 keep-alive, in this process)"

    def measure(self, target: Target, concurrency: int, duration: int) -> Measurement:
        return asyncio.run(run_connections(target, concurrency, duration))


# ---------------------------------------------------------------------------
# Checking answers and running the ceiling


def check_answer(target: Target) -> None:
    """Send one request and insist on a JSON-RPC reply whose error is null."""
    connection = http.client.HTTPConnection(
        target.host, target.port, timeout=REQUEST_TIMEOUT_SECONDS
    )
    try:
        connection.request(
            "POST",
            target.path,
            body=target.body,
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        payload = response.read()
    except (OSError, http.client.HTTPException) as e:
        raise BenchError(f"{target.name}: cannot reach {target.url}: {e}") from None
    finally:
        connection.close()

    if response.status != 200:
        raise BenchError(
            f"{target.name}: {target.url} answered HTTP {response.status}; "
            "is BASE_URL a kallithead daemon?"
        )
    try:
        reply = json.loads(payload)
    except ValueError:
        raise BenchError(
            f"{target.name}: the answer is not JSON: {payload[:200]!r}"
        ) from None
    if not isinstance(reply, dict) or "error" not in reply:
        raise BenchError(f"{target.name}: not a JSON-RPC reply: {payload[:200]!r}")
    if reply["error"] is not None:
        raise BenchError(
            f"{target.name}: the server answered with error {reply['error']!r}; "
            "check API_KEY"
        )


class CeilingProcess:
    """``ceiling_app.py`` in a child process for the length of a ``with``."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> int:
        """Start the app and return the port it listens on."""
        self.process = subprocess.Popen(
            [sys.executable, str(CEILING_SCRIPT)],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select(
            [self.process.stdout], [], [], CEILING_START_SECONDS
        )
        line = self.process.stdout.readline().strip() if ready else ""
        if not line.isdigit():
            self.stop()
            raise BenchError(f"{CEILING_SCRIPT.name} did not report a port")
        return int(line)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_until_answering(target: Target, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            check_answer(target)
            return
        except BenchError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# ---------------------------------------------------------------------------
# Running and reporting


def measure_all(
    generator: LoadGenerator, targets: Sequence[Target], duration: int, runs: int
) -> dict[tuple[str, int], Measurement]:
    """Measure every workload at every concurrency; keep each one's median run.

    Runs are interleaved (all workloads once, then all again) so that a change
    in the machine's load spreads over every workload instead of one. With an
    even number of runs the slower of the two middle runs is kept.
    """
    runs_seen: dict[tuple[str, int], list[Measurement]] = {}
    for run in range(1, runs + 1):
        for concurrency in CONCURRENCIES:
            for target in targets:
                measurement = generator.measure(target, concurrency, duration)
                runs_seen.setdefault((target.name, concurrency), []).append(measurement)
                print(
                    f"  run {run}/{runs}  {target.name:<16} c={concurrency:<3}"
                    f" {measurement.requests_per_second:9.1f} req/s",
                    flush=True,
                )

    medians: dict[tuple[str, int], Measurement] = {}
    for key, measurements in runs_seen.items():
        ordered = sorted(measurements, key=lambda m: m.requests_per_second)
        medians[key] = ordered[(len(ordered) - 1) // 2]
    return medians


def share_of_ceiling(
    results: dict[tuple[str, int], Measurement], name: str, concurrency: int
) -> float | None:
    """Requests/s of a workload over the ceiling's, or None without a ceiling."""
    ceiling = results.get((CEILING, concurrency))
    if name == CEILING or ceiling is None or ceiling.requests_per_second == 0:
        return None
    return results[(name, concurrency)].requests_per_second / (
        ceiling.requests_per_second
    )


def print_table(
    results: dict[tuple[str, int], Measurement], names: Sequence[str]
) -> None:
    print()
    print(
        f"{'workload':<16} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'/ceiling':>8} {'requests':>9} {'errors':>6}"
    )
    for concurrency in CONCURRENCIES:
        for name in names:
            result = results[(name, concurrency)]
            share = share_of_ceiling(results, name, concurrency)
            share_text = "-" if share is None else f"{share:.2f}"
            print(
                f"{name:<16} {concurrency:>4} {result.requests_per_second:>9.1f}"
                f" {result.p50_ms:>8.2f} {result.p99_ms:>8.2f} {share_text:>8}"
                f" {result.requests:>9} {result.errors:>6}"
            )


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def print_comparison(results: dict[tuple[str, int], Measurement]) -> None:
    if ("get_server_info", 1) not in results:
        return
    single = results[("get_server_info", 1)]
    sixteen = results[("get_server_info", 16)]
    speedups = [
        result.requests_per_second / BASELINE_SERVER_INFO_RPS
        for result in (single, sixteen)
    ]
    speed_met = min(speedups) >= GOAL_SERVER_INFO_SPEEDUP
    p99_met = sixteen.p99_ms < GOAL_SERVER_INFO_P99_MS_AT_16

    print()
    print(
        f"vs Kallithea 0.7.0 get_server_info ({BASELINE_SERVER_INFO_RPS:.0f} req/s):"
        f" {speedups[0]:.1f}x at c=1, {speedups[1]:.1f}x at c=16"
        f" (goal >= {GOAL_SERVER_INFO_SPEEDUP:.0f}x: {verdict(speed_met)});"
        f" p99 at c=16 {sixteen.p99_ms:.2f} ms"
        f" (goal < {GOAL_SERVER_INFO_P99_MS_AT_16:.0f} ms: {verdict(p99_met)})"
    )

    single_share = share_of_ceiling(results, "get_server_info", 1)
    sixteen_share = share_of_ceiling(results, "get_server_info", 16)
    if single_share is not None and sixteen_share is not None:
        share_met = min(single_share, sixteen_share) >= GOAL_SHARE_OF_CEILING
        print(
            f"get_server_info vs the bare Klein route: {single_share:.2f} at c=1,"
            f" {sixteen_share:.2f} at c=16"
            f" (goal >= {GOAL_SHARE_OF_CEILING:.2f}: {verdict(share_met)})"
        )

    if any(result.errors for result in results.values()):
        print("WARNING: some requests failed (see the errors column)")


def parse_base_url(base_url: str) -> tuple[str, int, str]:
    """Host, port and path prefix of BASE_URL; loopback over plain HTTP only."""
    parts = urlsplit(base_url)
    if parts.scheme != "http" or not parts.hostname:
        raise BenchError(
            f"BASE_URL must look like http://127.0.0.1:5000, not {base_url!r}"
        )
    if parts.hostname not in LOOPBACK_HOSTS:
        raise BenchError(f"refusing to load {parts.hostname}: loopback addresses only")
    try:
        port = parts.port or 80
    except ValueError:
        raise BenchError(f"BASE_URL has a bad port: {base_url!r}") from None
    return parts.hostname, port, parts.path.rstrip("/")


def choose_generator(
    choice: str, wrk_threads: int, resources: contextlib.ExitStack
) -> LoadGenerator:
    wrk = shutil.which("wrk")
    if choice == "python" or (choice == "auto" and wrk is None):
        return PythonGenerator()
    if wrk is None:
        raise BenchError(
            "wrk is not on PATH (Debian: apt-get install wrk); "
            "use --generator python or auto"
        )
    folder = Path(resources.enter_context(tempfile.TemporaryDirectory("-api-bench")))
    return WrkGenerator(wrk, wrk_threads, folder)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the JSON-RPC API of a running kallithead daemon."
    )
    parser.add_argument(
        "base_url", metavar="BASE_URL", help="e.g. http://127.0.0.1:5000"
    )
    parser.add_argument("api_key", metavar="API_KEY", help="an API key of a user")
    parser.add_argument(
        "--duration", type=positive_int, default=10, help="seconds per run (10)"
    )
    parser.add_argument(
        "--runs", type=positive_int, default=3, help="runs per workload; median (3)"
    )
    parser.add_argument(
        "--skip-ceiling", action="store_true", help="do not measure the bare route"
    )
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk if on PATH, else python (auto)",
    )
    parser.add_argument(
        "--methods",
        default=",".join(API_METHODS),
        help="comma-separated API methods to measure, args {} "
        f"({','.join(API_METHODS)})",
    )
    parser.add_argument(
        "--wrk-threads",
        type=int,
        choices=(1, 2),
        default=1,
        help="wrk threads; leave a core to the server (1)",
    )
    return parser.parse_args(argv)


def run(options: argparse.Namespace) -> None:
    host, port, prefix = parse_base_url(options.base_url)
    targets = [
        Target(method, host, port, prefix + API_PATH, rpc_body(options.api_key, method))
        for method in options.methods.split(",")
    ]
    for target in targets:
        check_answer(target)

    with contextlib.ExitStack() as resources:
        generator = choose_generator(options.generator, options.wrk_threads, resources)
        if not options.skip_ceiling:
            ceiling_port = resources.enter_context(CeilingProcess())
            ceiling = Target(
                CEILING, "127.0.0.1", ceiling_port, API_PATH, targets[0].body
            )
            wait_until_answering(ceiling, CEILING_START_SECONDS)
            targets.append(ceiling)

        print(f"load generator: {generator.label}")
        print(
            f"{options.runs} run(s) of {options.duration} s per workload and"
            " concurrency; the median run by req/s is reported"
        )
        results = measure_all(generator, targets, options.duration, options.runs)

    print_table(results, [target.name for target in targets])
    print_comparison(results)
    print(f"load generator: {generator.label}")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_arguments(argv)
    try:
        run(options)
    except BenchError as e:
        print(f"api_bench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("api_bench: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
