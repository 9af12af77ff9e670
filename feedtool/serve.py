"""`feedtool serve`: the published feeds, a status page and OPML over HTTP, on uvicorn.

Why uvicorn (with Starlette for routing): one asyncio event loop holds every connection, so
hundreds of idle or slow clients cost a few kilobytes each, not a thread each, and never lock
a reader out; its h11 parser is pure Python, caps a request's head (h11's incomplete-event
limit) and answers malformed requests with 400. Its keep-alive timeout closes idle
connections; `_Protocol` adds what uvicorn lacks: a deadline for a request's head, so a client
that connects and sends nothing, or trickles its headers, is cut off too.

Signals are feedtool's own: uvicorn re-raises a caught SIGTERM after shutting down (the process
would die "killed by SIGTERM"); here SIGTERM and SIGINT stop the server and `serve` exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, TracebackType

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from feedtool.errors import FeedtoolError

logger = logging.getLogger(__name__)

HEAD_TIMEOUT = 10.0  # seconds for a request line and headers to arrive, whatever the pace
KEEP_ALIVE = 5  # seconds an idle keep-alive connection stays open
GRACE = 5  # seconds a stopping server gives the responses in flight
BACKLOG = 2048


class _Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's head.

    The clock starts when the connection waits for a request (on connect, and after each
    response on a kept-alive connection) and is not reset by data: trickling a header a
    byte a second gains nothing.
    """

    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is complete
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_deadline = self.loop.call_later(HEAD_TIMEOUT, self._too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            logger.debug("serve: closing a connection that sent no request in time")
            self.transport.close()


class _Server(uvicorn.Server):
    """uvicorn.Server that leaves signals to feedtool (see the module's docstring)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, opened before anything else starts: a taken port is one line."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as e:
        raise FeedtoolError(f"cannot serve on {host}:{port}: {e.strerror or e}") from e


def _server(config_path: Path) -> _Server:
    from feedtool.web.app import create_app
    from feedtool.web.site import Site

    app = create_app(Site(config_path))
    return _Server(
        uvicorn.Config(
            app,
            http=_Protocol,
            ws="none",
            lifespan="off",
            interface="asgi3",
            log_config=None,  # feedtool's logging setup stays in charge
            access_log=False,  # web.app.AccessLog escapes what it logs; uvicorn's does not
            timeout_keep_alive=KEEP_ALIVE,
            timeout_graceful_shutdown=GRACE,
            server_header=False,
            proxy_headers=False,
        )
    )


def serve(config_path: Path, *, host: str, port: int) -> int:
    """Serve until SIGTERM or SIGINT; exit code 0."""
    server = _server(config_path)  # a bad config fails here, before the port is taken
    listening = bind(host, port)
    actual = listening.getsockname()[1]

    def stop(signum: int, frame: FrameType | None) -> None:
        server.force_exit = server.should_exit  # a second Ctrl-C: do not wait for anyone
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    shown = f"[{host}]" if ":" in host else host
    print(f"feedtool: serving at http://{shown}:{actual}/", file=sys.stderr)
    server.run(sockets=[listening])
    listening.close()
    return 0


class Background:
    """The server on a thread of its own, for `feedtool daemon --serve`: bound on enter
    (a taken port fails before the daemon starts), stopped and joined on exit."""

    def __init__(self, config_path: Path, *, host: str, port: int) -> None:
        self.server = _server(config_path)
        self.listening = bind(host, port)
        self.port: int = self.listening.getsockname()[1]
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.listening]},
            name="feedtool-serve",
            daemon=True,
        )

    def __enter__(self) -> Background:
        self.thread.start()
        logger.info("serve: listening on port %d", self.port)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self.thread.join(GRACE + 5)
        self.listening.close()
