"""The address policy: where feedtool refuses to connect, checked on the resolved address.

pytest-socket lets the tests reach only 127.0.0.1 and ::1, so other addresses come from a fake
DNS (socket.getaddrinfo patched for made-up names), and a spy on socket.connect shows that a
refused address is never connected to.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from feedtool.cli import main
from feedtool.config import load
from feedtool.errors import FetchError
from feedtool.fetch import AddressPolicy, HttpFetcher
from feedtool.model import Fetched
from tests.conftest import SELECT_BLOCK, Site, listing, news_items, write_config

METADATA = "169.254.169.254"
STRICT = "allow_private_addresses = false"


class FakeDns:
    """Answers for made-up names, one list of addresses per lookup (the last one repeats);
    other names go to the real resolver. Counts the lookups of each made-up name."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: dict[str, int] = {}
        real = socket.getaddrinfo

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host not in self.answers:
                return real(host, port, *args, **kwargs)
            n = self.lookups[host] = self.lookups.get(host, 0) + 1
            answers = self.answers[host]
            return [_addrinfo(address, int(port)) for address in answers[min(n, len(answers)) - 1]]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def add(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = list(answers)


def _addrinfo(address: str, port: int) -> tuple[Any, ...]:
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    return FakeDns(monkeypatch)


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The address of every connect attempted (through pytest-socket's own guard)."""
    attempted: list[str] = []
    original: Callable[..., Any] = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        attempted.append(str(address[0]))
        return original(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempted


def fetcher(*, strict: bool = False, retries: int = 0) -> HttpFetcher:
    return HttpFetcher(retries=retries, backoff=0.01, allow_private_addresses=not strict)


# --- which addresses -----------------------------------------------------------------------------


LINK_LOCAL_FORMS = [
    METADATA,
    "169.254.0.1",
    "fe80::1",
    "fe80::1%1",
    f"::ffff:{METADATA}",  # IPv4-mapped
    "2002:a9fe:a9fe::1",  # 6to4
    "64:ff9b::a9fe:a9fe",  # NAT64
]


@pytest.mark.parametrize("address", LINK_LOCAL_FORMS)
def test_link_local_is_refused_by_default_in_every_form(address: str) -> None:
    reason = AddressPolicy().refusal(address)
    assert reason == f"refused address {address} (link-local: cloud metadata)"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("2002:7f00:1::", "loopback"),
        ("64:ff9b::7f00:1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("fd00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not public"),
    ],
)
def test_strict_policy_refuses_every_non_public_range(address: str, kind: str) -> None:
    assert AddressPolicy().refusal(address) is None  # the default: one's own intranet is fine
    reason = AddressPolicy(allow_private=False).refusal(address)
    assert reason == f"refused address {address} ({kind}; allow_private_addresses = false)"


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass_either_policy(address: str) -> None:
    assert AddressPolicy(allow_private=False).refusal(address) is None


# --- checked at connect time, after DNS ----------------------------------------------------------


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_name_resolving_to_link_local_is_refused_without_a_connect(
    dns: FakeDns, connects: list[str], scheme: str
) -> None:
    dns.add("metadata.test", [METADATA])
    with fetcher(retries=3) as f, pytest.raises(FetchError) as error:
        f.get(f"{scheme}://metadata.test/latest/meta-data/")
    assert str(error.value) == f"refused address {METADATA} (link-local: cloud metadata)"
    assert connects == []
    assert dns.lookups["metadata.test"] == 1  # never retried


def test_an_ipv4_mapped_answer_is_judged_by_its_ipv4_address(
    dns: FakeDns, connects: list[str]
) -> None:
    dns.add("mapped.test", ["::ffff:10.0.0.1"])
    with fetcher(strict=True) as f, pytest.raises(FetchError) as error:
        f.get("http://mapped.test/")
    assert str(error.value) == (
        "refused address ::ffff:10.0.0.1 (private; allow_private_addresses = false)"
    )
    assert connects == []


def test_dns_rebinding_is_caught_on_the_next_connect(
    dns: FakeDns, connects: list[str], site: Site
) -> None:
    """The name answers loopback, then the metadata address: each connect checks its own."""
    site.page("/news/", "<html>news</html>")
    dns.add("news.test", ["127.0.0.1"], [METADATA])
    url = f"http://news.test:{site.server.server_port}/news/"
    with fetcher() as f:
        assert isinstance(f.get(url), Fetched)
        with pytest.raises(FetchError, match=r"refused address 169\.254\.169\.254"):
            f.get(url)  # the test server closes every connection: this one connects anew
    assert connects == ["127.0.0.1"]
    assert len(site.hits("/news/")) == 1


def test_of_several_answers_only_the_allowed_ones_are_connected_to(
    dns: FakeDns, connects: list[str], site: Site
) -> None:
    site.page("/news/", "<html>news</html>")
    dns.add("mixed.test", [METADATA, "127.0.0.1"])
    with fetcher() as f:
        assert isinstance(f.get(f"http://mixed.test:{site.server.server_port}/news/"), Fetched)
    assert connects == ["127.0.0.1"]


@pytest.mark.parametrize("target", [f"http://{METADATA}/latest/", "http://metadata.test/latest/"])
def test_a_redirect_to_link_local_is_refused_without_a_connect(
    dns: FakeDns, connects: list[str], site: Site, target: str
) -> None:
    dns.add("metadata.test", [METADATA])
    url = site.page("/go", b"", status=302, headers={"Location": target}, etag=False)
    with fetcher(retries=2) as f, pytest.raises(FetchError) as error:
        f.get(url)
    assert str(error.value) == f"refused address {METADATA} (link-local: cloud metadata)"
    assert connects == ["127.0.0.1"]  # the local site's, once: never retried
    assert len(site.hits("/go")) == 1


# --- allow_private_addresses = false -------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "[::1]", "2130706433", "127.1", "[::ffff:127.0.0.1]"]
)
def test_strict_policy_refuses_the_local_site_however_it_is_named(
    connects: list[str], site: Site, host: str
) -> None:
    site.page("/news/", "<html>secret</html>")
    with fetcher(strict=True) as f, pytest.raises(FetchError) as error:
        f.get(f"http://{host}:{site.server.server_port}/news/")
    assert str(error.value).startswith("refused address ")
    assert str(error.value).endswith(" (loopback; allow_private_addresses = false)")
    assert connects == []
    assert site.hits("/news/") == []


# --- configuration and a whole run ---------------------------------------------------------------


def test_the_setting_parses_and_reaches_the_fetcher(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[[sources]]\nid = "a"\nurl = "http://x.test/"\n')
    settings = load(path).settings
    assert settings.allow_private_addresses is True
    path = write_config(
        tmp_path, '[[sources]]\nid = "a"\nurl = "http://x.test/"\n', settings=STRICT
    )
    settings = load(path).settings
    assert settings.allow_private_addresses is False
    with HttpFetcher.for_settings(settings) as f:
        assert f.policy == AddressPolicy(allow_private=False)


def test_a_setting_of_the_wrong_type_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(
        tmp_path,
        '[[sources]]\nid = "a"\nurl = "http://x.test/"\n',
        settings='allow_private_addresses = "no"',
    )
    assert main(["--config", str(path), "run"]) == 2
    err = capsys.readouterr().err
    assert "settings.allow_private_addresses" in err
    assert err.count("\n") == 1


def test_a_run_publishes_its_items_and_never_follows_refused_links(
    dns: FakeDns,
    connects: list[str],
    site: Site,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An article link, a next page and an advertised feed on a refused address: each one is
    logged and skipped, never fetched, and the sources still publish their own items."""
    dns.add("metadata.test", [METADATA])
    items = [*news_items(3), ("25.12.2024", "Stolen credentials", f"http://{METADATA}/latest/")]
    site.page("/news/", listing(items, next_page="http://metadata.test/news/?PAGEN_1=2"))
    advertised = f'<link rel="alternate" type="application/rss+xml" href="http://{METADATA}/rss">'
    site.page("/auto/", listing(news_items(6)).replace("</head>", advertised + "</head>"))
    for i in range(3):
        site.page(f"/news/news_odkb/item-{i}/", "<html><article><p>Body.</p></article></html>")
    config = write_config(
        tmp_path,
        f"""
[[sources]]
id = "news"
url = "{site.url}/news/"
type = "html"
fulltext = true
[sources.paginate]
next = "a.next@href"
max_pages = 3
{SELECT_BLOCK}
[[sources]]
id = "auto"
url = "{site.url}/auto/"
""",
        settings="host_delay = 0",
    )
    assert main(["-c", str(config), "-v", "run"]) == 0

    assert all(address == "127.0.0.1" for address in connects)
    assert set(dns.lookups) == {"metadata.test"}
    refused = f"refused address {METADATA} (link-local: cloud metadata)"
    log = capsys.readouterr().err  # -v: the run logs each refusal on stderr
    assert f"http://{METADATA}/latest/: full text not fetched: {refused}" in log
    assert f"page http://metadata.test/news/?PAGEN_1=2 not read: {refused}" in log
    assert f"advertised feed http://{METADATA}/rss not used: {refused}" in log
    news = (tmp_path / "public" / "news.json").read_text(encoding="utf-8")
    assert "Stolen credentials" in news  # its link is refused, not the item
    assert "<p>Body.</p>" in news  # the allowed articles' full text
    assert "News item number 2" in news
    assert [len(site.hits(f"/news/news_odkb/item-{i}/")) for i in range(3)] == [1, 1, 1]
    assert "News item number 5" in (tmp_path / "public" / "auto.json").read_text(encoding="utf-8")
