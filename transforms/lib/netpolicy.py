"""Which network addresses the fetcher may connect to, and how names resolve.

Checked at connect time on the resolved address, for every hop of every
redirect, so a public name that resolves to a private address (or a
redirect to one) is refused just like a private IP literal.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import NamedTuple

# The cloud metadata service: named so the dead-letter reason says what it is.
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


class BlockedAddressError(Exception):
    """The target resolves only to addresses the policy refuses."""

    def __init__(self, host: str, address: str, why: str):
        super().__init__(f"refusing to connect to {host} ({address}): {why}; see --allow_private_networks")
        self.host, self.address, self.why = host, address, why


def address_refusal(address: str, allow_private_networks: bool) -> str | None:
    """Why an IP address is refused, or None when it may be used."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "cloud metadata address"  # refused even when private networks are allowed
    if ip.is_multicast:
        return "multicast address"
    if ip.is_unspecified:
        return "unspecified address"
    if allow_private_networks:
        return None
    for attribute, why in (
        ("is_loopback", "loopback address"),
        ("is_link_local", "link-local address"),
        ("is_reserved", "reserved address"),
        ("is_private", "private address"),
    ):
        if getattr(ip, attribute):
            return why
    if not ip.is_global:
        return "non-global address"
    return None


class ConnectTo(NamedTuple):
    """curl's --connect-to: requests for host:port go to target_host:target_port."""

    host: str  # "" matches any host
    port: int | None  # None matches any port
    target_host: str
    target_port: int | None  # None keeps the requested port

    @classmethod
    def parse(cls, spec: str) -> "ConnectTo":
        """Parse ``HOST:PORT:TARGET_HOST:TARGET_PORT`` (HOST, PORT and TARGET_PORT may be empty)."""
        parts = spec.split(":")
        if len(parts) != 4 or not parts[2]:
            raise ValueError(f"--connect_to wants HOST:PORT:TARGET_HOST:TARGET_PORT, got {spec!r}")
        host, port, target_host, target_port = parts
        return cls(host.lower(), int(port) if port else None, target_host, int(target_port) if target_port else None)

    def applies(self, host: str, port: int) -> bool:
        return (not self.host or self.host == host.lower()) and (self.port is None or self.port == port)


def resolve(host: str, port: int, connect_to: tuple[ConnectTo, ...]) -> list[tuple[str, int]]:
    """The (address, port) pairs to try for host:port, after --connect_to mapping."""
    for rule in connect_to:
        if rule.applies(host, port):
            host, port = rule.target_host, rule.target_port or port
            break
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[tuple[str, int]] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        pair = (sockaddr[0], sockaddr[1])
        if pair not in seen:
            seen.append(pair)
    return seen
