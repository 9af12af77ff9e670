"""Proxies, read once: the proxy and CA bundle environment, and the pools through a proxy."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import urllib3
from urllib3.util import Url, make_headers

from feedtool.errors import FetchError
from feedtool.fetch.redirects import DEFAULT_PORTS


@dataclass(frozen=True, slots=True)
class Routes:
    """The proxy and CA bundle environment, read once (not at every request, as requests did).

    `tls`: the pools' CA settings, a bundle (file or directory) named by REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE; else the system's certificates (OpenSSL's, which honour SSL_CERT_FILE and
    SSL_CERT_DIR).
    """

    proxies: dict[str, str]  # scheme (or "all") -> proxy URL
    no_proxy: tuple[str, ...]
    tls: dict[str, str]

    @classmethod
    def from_environ(cls) -> Routes:
        proxies: dict[str, str] = {}
        if any(name.lower().endswith("_proxy") for name in os.environ):  # else no import
            import urllib.request

            proxies = urllib.request.getproxies()  # HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY
        no_proxy = proxies.pop("no", "")
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        entries = tuple(e.strip().lower() for e in no_proxy.split(",") if e.strip())
        tls = {"ca_cert_dir" if os.path.isdir(bundle) else "ca_certs": bundle} if bundle else {}
        return cls(proxies=proxies, no_proxy=entries, tls=tls)

    def proxy_for(self, target: Url) -> str | None:
        """The proxy URL for `target` (its scheme's, else ALL_PROXY's); None when there is none
        or NO_PROXY covers `target`."""
        scheme = target.scheme or ""
        proxy = self.proxies.get(scheme) or self.proxies.get("all")
        if proxy is None:
            return None
        host, port = (target.host or "").strip("[]"), target.port or DEFAULT_PORTS.get(scheme)
        if any(_no_proxy_covers(entry, host, port) for entry in self.no_proxy):
            return None
        return proxy


def proxy_manager(proxy: str, pool_kw: dict[str, Any]) -> urllib3.PoolManager:
    """Pools through the proxy at `proxy`, as requests made them: "http://" when it names no
    scheme, Proxy-Authorization (Basic) from its user info, SOCKS with PySocks."""
    if "://" not in proxy:
        proxy = "http://" + proxy
    try:
        parts = urlsplit(proxy)
        username, password = unquote(parts.username or ""), unquote(parts.password or "")
        if parts.scheme.lower().startswith("socks"):
            if importlib.util.find_spec("socks") is None:
                raise FetchError("SOCKS proxy needs PySocks (pip install PySocks)")
            from urllib3.contrib.socks import SOCKSProxyManager

            return SOCKSProxyManager(proxy, username or None, password or None, **pool_kw)
        auth = make_headers(proxy_basic_auth=f"{username}:{password}") if username else None
        return urllib3.ProxyManager(proxy, proxy_headers=auth, **pool_kw)
    except ValueError as e:  # urllib3's LocationValueError and ProxySchemeUnknown included
        raise FetchError("invalid proxy URL") from e


def _no_proxy_covers(entry: str, host: str, port: int | None) -> bool:
    """Whether one NO_PROXY entry covers host:port: "*", an IP address or network, a domain
    with its subdomains ("example.org" or ".example.org"), optionally with ":port"."""
    if entry == "*":
        return True
    try:
        network = ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        pass
    else:
        try:
            return ipaddress.ip_address(host) in network
        except ValueError:
            return False
    name, _, entry_port = entry.rpartition(":")
    if name and entry_port.isdigit():
        if int(entry_port) != port:
            return False
        entry = name
    entry = entry.lstrip(".")
    return host == entry or host.endswith("." + entry)
