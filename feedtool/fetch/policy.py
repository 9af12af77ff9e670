"""The address policy (SSRF): the addresses feedtool refuses to connect to.

`AddressPolicy` judges an address; `connect_checked` (used by the fetcher's connections, see
deadline._TrackedConnection) checks every address a host name resolves to before connecting.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from urllib3.util.connection import allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from feedtool.errors import FetchError

NAT64 = ipaddress.ip_network("64:ff9b::/96")  # NAT64's well-known prefix: IPv4 in the last 32 bits
NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")  # what inet_aton might read as IPv4 ("2130706433")


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """The addresses feedtool refuses to connect to, whoever chose the URL (a source, a redirect,
    a next page, an advertised feed, an article link): pages are written by others.

    Link-local addresses are always refused: 169.254.169.254 and fe80:: are where cloud
    metadata services hand out credentials. With `allow_private` off, so is everything that is
    not a public unicast address (loopback, private, multicast, unspecified, reserved), for
    deployments where others add sources; on (the default), one can still watch one's own
    intranet page. An IPv6 address carrying an IPv4 one (IPv4-mapped, 6to4, NAT64) is judged by
    the IPv4 address it reaches.
    """

    allow_private: bool = True

    def refusal(self, address: str) -> str | None:
        """The one-line reason not to connect to `address` (an IP literal), or None."""
        try:
            ip = _reached(ipaddress.ip_address(address))
        except ValueError:
            return None  # not an IP address: resolved, and then checked, at connect time
        if ip.is_link_local:
            return f"refused address {address} (link-local: cloud metadata)"
        if self.allow_private:
            return None
        kind = _non_public_kind(ip)
        if kind is None:
            return None
        return f"refused address {address} ({kind}; allow_private_addresses = false)"

    def check_url(self, url: str) -> None:
        """Raise FetchError if `url`'s host is an IP literal the policy refuses.

        Through a proxy this is all feedtool can check (the proxy resolves and connects);
        directly it spares a refused literal its connect. Also reads the forms inet_aton
        accepts ("2130706433", "127.1", "0x7f.1"), which a resolver would turn into IPv4.
        """
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return  # no URL: get() refuses it
        if NUMERIC_HOST.fullmatch(host) and any(c.isdigit() for c in host):
            with contextlib.suppress(OSError):
                host = socket.inet_ntoa(socket.inet_aton(host))
        reason = self.refusal(host)
        if reason is not None:
            raise FetchError(reason)


def _reached(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The IPv4 address an IPv6 one leads to (IPv4-mapped, 6to4, NAT64), else `ip` itself."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _non_public_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What makes `ip` no public unicast address ("loopback", "private"...), or None."""
    for kind, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("not public", not ip.is_global),  # e.g. 100.64.0.0/10, carrier-grade NAT
    ):
        if flag:
            return kind
    return None


def connect_checked(
    host: str,
    port: int,
    policy: AddressPolicy,
    timeout: object,  # seconds, None (blocking) or urllib3's "default" sentinel
    source_address: tuple[str, int] | None,
    socket_options: Sequence[tuple[int, int, int | bytes]] | None,
) -> socket.socket:
    """urllib3's create_connection, with every resolved address checked before its connect.

    The check is on the very address the socket connects to: a name that resolved to a public
    address for a check and to 169.254.169.254 for the connect (DNS rebinding) gets nowhere.
    Refused addresses are skipped; when none is left the refusal is the error (FetchError,
    which urllib3 lets through untouched, and get() never retries).
    """
    refused: str | None = None
    error: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(
        host, port, allowed_gai_family(), socket.SOCK_STREAM
    ):
        reason = policy.refusal(str(address[0]))
        if reason is not None:
            refused = refused or reason
            continue
        sock = socket.socket(family, kind, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(cast(float | None, timeout))
            if source_address:
                sock.bind(source_address)
            sock.connect(address)
        except OSError as e:
            error = e
            sock.close()
            continue
        return sock
    if error is not None:
        raise error
    if refused is not None:
        raise FetchError(refused)
    raise OSError("getaddrinfo returns an empty list")
