"""Command line: the only module that prints or chooses exit codes.

Exit codes: 0 success, 1 some source failed (or state trouble), 2 bad usage or config.
Errors are one line on stderr ("feedtool: error: ..."); -v adds tracebacks.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from feedtool import __version__, config
from feedtool.errors import ConfigError, FeedtoolError, UsageError
from feedtool.model import Config, Source, Status

logger = logging.getLogger("feedtool")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="feedtool", description="Feeds and alerts for sites that have none.")
    parser.add_argument("--version", action="version", version=f"feedtool {__version__}")
    parser.add_argument(
        "-c", "--config", help="config file (default: $FEEDTOOL_CONFIG or ./feedtool.toml)"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more output (-vv for debug)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="check the sources that are due, publish, notify")
    run.add_argument(
        "--source", action="append", default=[], metavar="ID", help="only this source (repeat)"
    )
    run.add_argument("--force", action="store_true", help="check every source, due or not")

    commands.add_parser("daemon", help="run forever, checking each source on its interval")

    preview = commands.add_parser("preview", help="fetch a page and print the items found")
    preview.add_argument("url")
    preview.add_argument("--type", choices=config.SOURCE_TYPES, default="auto")
    for field in ("item", "title", "link", "date", "summary", "content"):
        preview.add_argument(f"--{field}", metavar="SELECTOR")
    preview.add_argument("--date-format", metavar="STRFTIME")

    serve = commands.add_parser("serve", help="serve the published feeds over HTTP")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--host", default="127.0.0.1")

    snapshot = commands.add_parser(
        "snapshot", help="save a source's page and its items now, for `check`"
    )
    snapshot.add_argument("source", nargs="+", metavar="SOURCE")
    check = commands.add_parser(
        "check", help="re-run extraction on the saved snapshots, offline, and show changes"
    )
    check.add_argument("--source", action="append", default=[], metavar="ID")

    commands.add_parser("status", help="one line per source: health, last check, items")
    commands.add_parser("opml", help="print an OPML list of all published feeds")
    commands.add_parser("demo", help="the whole pipeline on a bundled sample site")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    verbose = 0
    try:
        args = _parser().parse_args(argv)
        verbose = args.verbose
        _setup_logging(verbose)
        return _dispatch(args)
    except (ConfigError, UsageError) as e:
        _error(e, verbose)
        return EXIT_USAGE
    except FeedtoolError as e:
        _error(e, verbose)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("feedtool: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # the last guard: one line, not a traceback, unless -v
        _error(f"internal error: {type(e).__name__}: {e}", verbose)
        return EXIT_FAILED


def _error(error: object, verbose: int) -> None:
    if verbose and isinstance(error, BaseException):
        logger.exception("details")
    print(f"feedtool: error: {error}", file=sys.stderr)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Writes to whatever sys.stderr is at the time, not the one it was created with."""

    @property  # type: ignore[override,unused-ignore]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(message)s",
        handlers=[_StderrHandler()],
        force=True,
    )
    if verbose < 2:  # third-party chatter (urllib3 retries, apprise internals) only at -vv
        for name in ("urllib3", "apprise", "trafilatura", "charset_normalizer"):
            logging.getLogger(name).setLevel(logging.WARNING)


def _load(args: argparse.Namespace) -> Config:
    return config.load(config.resolve_path(args.config))


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command == "run":
        return _run(args)
    if command == "daemon":
        from feedtool.scheduler import Daemon

        if args.verbose == 0:  # a daemon's log is its one line per source run
            logging.getLogger("feedtool").setLevel(logging.INFO)
        return Daemon(config.resolve_path(args.config)).run()
    if command == "preview":
        from feedtool.preview import preview

        return preview(args)
    if command == "serve":
        from feedtool.serve import serve

        cfg = _load(args)
        return serve(cfg.settings.output_dir, host=args.host, port=args.port)
    if command == "status":
        from feedtool.status import print_status

        return print_status(_load(args))
    if command == "opml":
        from feedtool.opml import opml

        sys.stdout.write(opml(_load(args)))
        return EXIT_OK
    if command == "snapshot":
        return _snapshot(args)
    if command == "check":
        return _check(args)
    if command == "demo":
        from feedtool.demo import demo

        return demo()
    raise UsageError(f"unknown command {command!r}")  # argparse makes this unreachable


def _sources(cfg: Config, ids: Sequence[str]) -> list[Source]:
    """The named sources (all when none are named); an unknown id is a usage error."""
    known = {source.id: source for source in cfg.sources}
    for source_id in ids:
        if source_id not in known:
            raise UsageError(f"no source with id {source_id!r} in {cfg.path}")
    return [known[i] for i in ids] if ids else list(cfg.sources)


def _snapshot(args: argparse.Namespace) -> int:
    from feedtool import snapshot
    from feedtool.scheduler import utc_now

    cfg = _load(args)
    for source in _sources(cfg, args.source):
        path, count = snapshot.take(cfg, source, utc_now())
        print(f"{source.id}: {count} items saved in {path}")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from feedtool import snapshot

    cfg = _load(args)
    changed = False
    for source in _sources(cfg, args.source):
        results = snapshot.check(cfg, source)
        if not results:
            print(f"{source.id}: no snapshot (take one: feedtool snapshot {source.id})")
        for result in results:
            name = result.snapshot.stem
            if result.error:
                print(f"{source.id} {name}: FAILED: {result.error}")
            elif result.changes:
                print(f"{source.id} {name}: {len(result.changes)} change(s), {result.count} items")
                print("\n".join(f"  {line}" for line in result.changes))
            else:
                print(f"{source.id} {name}: ok, {result.count} items as saved")
            changed = changed or bool(result.error or result.changes)
    return EXIT_FAILED if changed else EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from feedtool.lock import AlreadyRunning, exclusive
    from feedtool.pipeline import run_all

    cfg = _load(args)
    _sources(cfg, args.source)
    try:
        with exclusive(cfg.settings.state_dir):
            results = run_all(cfg, only=args.source, force=args.force)
    except AlreadyRunning as e:
        print(f"feedtool: another run holds {e}; nothing done", file=sys.stderr)
        return EXIT_OK
    failed = [r for r in results if r.status is Status.FAILED]
    return EXIT_FAILED if failed else EXIT_OK
