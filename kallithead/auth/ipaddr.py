"""Client addresses and per-user IP whitelists (API-SPEC.md 1.8)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from kallithead.config import Network

UNKNOWN_ADDRESS = "0.0.0.0"


def _strip_zone(address: str) -> str:
    return address.split("%", 1)[0].strip()


def client_address(
    peer: str | None,
    forwarded_for: str | None,
    real_ip: str | None,
    trusted_proxies: Sequence[Network],
) -> str:
    """The address of the client, as whitelists and ``get_ip`` see it.

    The socket's peer address, unless the peer is a trusted proxy: then the
    first address of X-Real-IP, else of X-Forwarded-For.
    """
    address = _strip_zone(peer) if peer else UNKNOWN_ADDRESS
    if not trusted_proxies or not _in_any(address, trusted_proxies):
        return address
    for header in (real_ip, forwarded_for):
        if header and header.strip():
            first = _strip_zone(header.split(",", 1)[0])
            if first:
                return first
    return address


def site_url(
    secure: bool,
    host: str | None,
    local_host: str,
    peer: str | None,
    forwarded_proto: str | None,
    forwarded_host: str | None,
    trusted_proxies: Sequence[Network],
) -> str:
    """``scheme://host`` of this site as the client addressed it.

    The request's own scheme and Host header (``local_host``, the address
    the connection arrived on, without one), unless the peer is a trusted
    proxy: then X-Forwarded-Proto and X-Forwarded-Host where they are sent.
    """
    scheme = "https" if secure else "http"
    netloc = host.strip() if host and host.strip() else local_host
    address = _strip_zone(peer) if peer else UNKNOWN_ADDRESS
    if trusted_proxies and _in_any(address, trusted_proxies):
        proto = (forwarded_proto or "").split(",", 1)[0].strip().lower()
        if proto in ("http", "https"):
            scheme = proto
        forwarded = (forwarded_host or "").split(",", 1)[0].strip()
        if forwarded:
            netloc = forwarded
    return f"{scheme}://{netloc}"


def _in_any(address: str, networks: Iterable[Network]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def parse_entry(entry: str) -> Network | None:
    """A whitelist entry (address with an optional /mask) as a network."""
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None


def address_allowed(address: str, entries: Sequence[str]) -> bool:
    """Whether ``address`` may call the API given these whitelist entries.

    No entries at all allows every address.
    """
    if not entries:
        return True
    networks = [n for n in map(parse_entry, entries) if n is not None]
    return _in_any(address, networks)


def address_range(entry: str) -> list[str]:
    """The first and last address an entry covers, as ``get_ip`` shows it."""
    network = parse_entry(entry)
    if network is None:
        return [entry, entry]
    return [str(network.network_address), str(network.broadcast_address)]
