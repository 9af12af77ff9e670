"""The deadline: a watchdog that cuts connections off, and the pools and connections it tracks.

`Watchdog` shuts down the socket of an attempt past its deadline, or of every attempt once
`stop` is set; `track` makes a PoolManager's pools tell it which connection each attempt uses,
and makes their connections connect only where the AddressPolicy allows.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

import urllib3
import urllib3.connection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from feedtool.errors import FetchError, Interrupted
from feedtool.fetch.policy import AddressPolicy, connect_checked

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

STOP_POLL = 0.2  # seconds: how soon `stop` is noticed by a request or a wait for a host slot

_local = threading.local()  # .guard: the _Guard of the request the current thread is making


def _current_guard() -> _Guard | None:
    guard: _Guard | None = getattr(_local, "guard", None)
    return guard


class _Guard:
    """One attempt under watch: the connection it is using, and whether it was cut off.

    The pool tells it which connection the thread took (`use`) and gave back (`let_go`), so
    the watchdog never touches a connection another request took from the pool since.
    """

    __slots__ = ("_conn", "_done", "_lock", "deadline", "fired", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.fired: str | None = None  # "deadline" or "stop"
        self._conn: BaseHTTPConnection | None = None
        self._done = False
        self._lock = threading.Lock()

    def use(self, conn: BaseHTTPConnection) -> None:
        with self._lock:
            self._conn = conn

    def let_go(self, conn: BaseHTTPConnection) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None

    def cut(self, reason: str) -> None:
        """Shut the connection's socket down (the watchdog repeats this until the attempt ends:
        a connection still connecting has no socket yet)."""
        with self._lock:
            if self._done:
                return
            self.fired = self.fired or reason
            sock = getattr(self._conn, "feedtool_sock", None)
            # An SSLTransport (TLS through an HTTPS proxy) wraps its socket.
            sock = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    # socket.socket's own: SSLSocket.shutdown would drop its TLS state under
                    # the reading thread's feet; this way the read just sees the end.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._conn = None

    def check(self) -> None:
        """Raise what the watchdog's cut means, if it cut."""
        if self.fired == "stop":
            raise Interrupted("stopped")
        if self.fired == "deadline":
            raise FetchError(f"response took longer than {self.seconds:g}s")


class Watchdog:
    """One daemon thread per fetcher: cuts off attempts past their deadline (a heap of them),
    and every attempt once `stop` is set. Idle (no thread, or one asleep) while nothing runs."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, _Guard]] = []
        self._live: set[_Guard] = set()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    @contextlib.contextmanager
    def guard(self, seconds: float) -> Iterator[_Guard]:
        guard = _Guard(seconds)
        with self._wake:
            heapq.heappush(self._heap, (guard.deadline, next(self._order), guard))
            self._live.add(guard)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name="feedtool-fetch-watchdog", daemon=True
                )
                self._thread.start()
            if self._heap[0][2] is guard:  # the earliest deadline: the thread may sleep past it
                self._wake.notify()
        _local.guard = guard
        try:
            yield guard
        finally:
            _local.guard = None
            guard.finish()
            with self._wake:
                self._live.discard(guard)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        with self._wake:
            while not self._closed:
                if not self._live:
                    self._heap.clear()
                    self._wake.wait()
                    continue
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    heapq.heappop(self._heap)[2].cut("deadline")
                for guard in self._live:
                    if self._stop.is_set():
                        guard.cut("stop")
                    elif guard.fired:
                        guard.cut(guard.fired)  # again: it may have connected since
                wait = self._heap[0][0] - now if self._heap else STOP_POLL
                self._wake.wait(min(wait, STOP_POLL))


class _TrackedPool(HTTPConnectionPool):
    """Tells the current thread's _Guard which connection it took and gave back."""

    def _get_conn(self, timeout: float | None = None) -> BaseHTTPConnection:
        conn = super()._get_conn(timeout)
        guard = _current_guard()
        if guard is not None:
            guard.use(conn)
        return conn

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        guard = _current_guard()
        if guard is not None and conn is not None:
            guard.let_go(conn)
        super()._put_conn(conn)


class _TrackedConnection(urllib3.connection.HTTPConnection):
    """Keeps its socket where the watchdog finds it: http.client forgets `sock` as soon as a
    response that ends with the connection arrives, though the response still reads from it.

    And connects only to addresses its fetcher's AddressPolicy allows (`feedtool_policy`, set
    by _tracked): every connection of every hop is made here, HTTPS ones too (TLS comes after,
    with the host's name for SNI and the certificate; the Host header is the name as well).
    """

    feedtool_sock: object = None
    feedtool_policy: AddressPolicy = AddressPolicy()

    def connect(self) -> None:
        super().connect()
        self.feedtool_sock = self.sock

    def _new_conn(self) -> socket.socket:
        if self.proxy is not None or getattr(self, "_socks_options", None) is not None:
            # The proxy the admin chose (it may well be on loopback); it resolves the target
            # and must enforce the policy itself. check_url refused the target's IP literals.
            return super()._new_conn()
        # Failures are wrapped as urllib3's own _new_conn wraps them, so _describe reads them
        # alike; a refusal (FetchError) passes through.
        try:
            return connect_checked(
                self._dns_host.strip("[]"),
                self.port,
                self.feedtool_policy,
                self.timeout,
                self.source_address,
                self.socket_options,
            )
        except socket.gaierror as e:
            raise NameResolutionError(self.host, self, e) from e
        except UnicodeError as e:  # a label over 63 characters: no name, no retry
            raise FetchError(f"invalid host name {self.host!r}") from e
        except TimeoutError as e:
            message = f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            raise ConnectTimeoutError(self, message) from e
        except OSError as e:
            raise NewConnectionError(self, f"Failed to establish a new connection: {e}") from e


@functools.cache
def _tracked(
    pool_class: type[HTTPConnectionPool], policy: AddressPolicy
) -> type[HTTPConnectionPool]:
    """`pool_class` (http, https, or a SOCKS one) with _TrackedPool's and _TrackedConnection's
    hooks, its connections bound by `policy`."""
    connection_class = pool_class.ConnectionCls
    tracked_connection = type(
        f"Tracked{connection_class.__name__}",
        (_TrackedConnection, connection_class),
        {"feedtool_policy": policy},
    )
    return cast(
        type[HTTPConnectionPool],
        type(
            f"Tracked{pool_class.__name__}",
            (_TrackedPool, pool_class),
            {"ConnectionCls": tracked_connection},
        ),
    )


def track(manager: urllib3.PoolManager, policy: AddressPolicy) -> None:
    manager.pool_classes_by_scheme = {
        scheme: _tracked(pool_class, policy)
        for scheme, pool_class in manager.pool_classes_by_scheme.items()
    }
