"""The client's address behind reverse proxies: ``X-Forwarded-For`` from trusted peers only.

``gateway.trusted_proxies`` lists the CIDRs of the proxies in front of the gateway
(default: none). The rule, as nginx's ``real_ip_recursive`` applies it:

* the direct peer is not a trusted proxy (or none are configured): the peer's address is
  the client, and ``X-Forwarded-For`` is ignored (anyone can send it);
* otherwise walk ``X-Forwarded-For`` from the right (the hop the trusted peer appended)
  and take the first address that is not itself a trusted proxy: everything left of it was
  written by a party we do not trust. If every hop is trusted, the left-most one is the
  client. A malformed hop ends the walk: the nearest trusted address seen is used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """Networks of CIDR strings (``10.0.0.0/8``, ``127.0.0.1``); ``ValueError`` if bad."""
    out = []
    for cidr in cidrs:
        try:
            out.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"invalid trusted proxy CIDR {cidr!r}: {exc}") from exc
    return tuple(out)


@lru_cache(maxsize=64)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(cidrs)


def _address(text: str) -> Address | None:
    """An address from one hop (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``::1``)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: Iterable[str] | tuple[Network, ...]
) -> str | None:
    """The client address of a request from ``peer`` carrying ``forwarded_for``."""
    items = tuple(trusted)
    if not items or peer is None:
        return peer
    networks = (
        _networks(tuple(str(i) for i in items))
        if any(isinstance(i, str) for i in items)
        else tuple(i for i in items if not isinstance(i, str))
    )
    current = _address(peer)
    if current is None or not _trusted(current, networks):
        return peer
    hops = [h for h in (forwarded_for or "").split(",") if h.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        current = address
        if not _trusted(address, networks):
            break
    return str(current)


__all__ = ["client_ip", "parse_networks"]
