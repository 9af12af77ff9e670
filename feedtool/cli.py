"""Command line: the only module that prints or chooses exit codes.

Exit codes: 0 success, 1 some source failed (or state trouble), 2 bad usage or config.
Errors are one line on stderr ("feedtool: error: ..."); -v adds tracebacks.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sqlite3
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from feedtool import __version__, config
from feedtool.errors import ConfigError, FeedtoolError, SourceError, UsageError
from feedtool.model import SOURCE_TYPES, Config, Source, Status
from feedtool.terminal import PrintableFormatter, printable

if TYPE_CHECKING:
    from feedtool.progress import Progress

logger = logging.getLogger("feedtool")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        if "required: COMMAND" in message:  # `feedtool` alone: show what there is to do
            self.print_help(sys.stderr)
        raise UsageError(message)


def _global_options(parser: argparse.ArgumentParser, *, after_command: bool) -> None:
    """--config and -v, accepted before and after the command (`feedtool run -v`).

    After the command they default to "not given", so they keep what came before it.
    """
    unset = argparse.SUPPRESS if after_command else None
    parser.add_argument(
        "-c",
        "--config",
        default=unset,
        help="config file (default: $FEEDTOOL_CONFIG or ./feedtool.toml)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=unset if after_command else 0,
        help="more output (-vv: debug)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="feedtool", description="Feeds and alerts for sites that have none.")
    parser.add_argument("--version", action="version", version=f"feedtool {__version__}")
    _global_options(parser, after_command=False)
    options = _Parser(add_help=False)
    _global_options(options, after_command=True)
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, parents=[options])

    run = command("run", "check the sources that are due, publish, notify")
    run.add_argument(
        "--source", action="append", default=[], metavar="ID", help="only this source (repeat)"
    )
    run.add_argument("--force", action="store_true", help="check every source, due or not")
    run.add_argument("--json", action="store_true", help="one JSON object per source per line")

    daemon = command("daemon", "run forever, checking each source on its interval")
    daemon.add_argument(
        "--serve", action="store_true", help="also serve the feeds and status page (see serve)"
    )
    daemon.add_argument("--port", type=_port, default=8080, help="with --serve (default 8080)")
    daemon.add_argument(
        "--host", type=_host, default="127.0.0.1", help="with --serve (default 127.0.0.1)"
    )

    preview = command("preview", "fetch a page or a configured source and print its items")
    preview.add_argument(
        "target", metavar="URL|SOURCE_ID", help="a page to try, or the id of a configured source"
    )
    preview.add_argument("--type", choices=SOURCE_TYPES, help="default: auto (html with --item)")
    preview.add_argument("--item", metavar="SEL", help="CSS selector matching each item")
    for field, what in (
        ("title", "its text is the title (default: the link's text)"),
        ("link", 'the link, "sel@attr" (default: the first a@href)'),
        ("date", 'the date text, or "sel@attr" such as time@datetime'),
        ("summary", "the summary (kept as HTML)"),
        ("content", "the full content (kept as HTML)"),
    ):
        preview.add_argument(f"--{field}", metavar="SEL", help=f"selector in the item: {what}")
    preview.add_argument("--date-format", metavar="FMT", help="strptime format of the dates")
    preview.add_argument("--next", metavar="SEL", help='the next page\'s link, "sel@href"')
    preview.add_argument(
        "--max-pages", type=int, metavar="N", help="pages to read (default 1; 3 with --next)"
    )

    serve = command("serve", "serve the feeds, a status page and OPML over HTTP")
    serve.add_argument("--port", type=_port, default=8080, help="default 8080")
    serve.add_argument(
        "--host",
        type=_host,
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1 only)",
    )

    snapshot = command("snapshot", "save a source's page and its items now, for `check`")
    snapshot.add_argument("source", nargs="+", metavar="SOURCE")
    check = command("check", "re-run extraction on the saved snapshots, offline, and show changes")
    check.add_argument("--source", action="append", default=[], metavar="ID")

    status = command("status", "one line per source: health, last check, items")
    status.add_argument("--json", action="store_true", help="one JSON object per source per line")
    heal = command("heal", "pin the selectors proposed for a source whose own stopped matching")
    heal.add_argument("source", metavar="SOURCE")
    command("opml", "print an OPML list of all published feeds")
    command("demo", "the whole pipeline on a bundled sample site")
    import_opml = command("import-opml", "add a feed reader's OPML subscriptions as feed sources")
    import_opml.add_argument("file", metavar="FILE", help="an OPML file (- for stdin)")
    command("init", "write a commented starter config (never over an existing file)")
    add = command("add", "examine a URL, show its items and add it as a source")
    add.add_argument("url", metavar="URL", help="a feed, or a page that has or advertises news")
    add.add_argument("--id", metavar="ID", help="the source's id (default: from the URL)")
    add.add_argument("--dry-run", action="store_true", help="print the block, change nothing")
    return parser


def _host(text: str) -> str:
    """A name or address to listen on. Never empty: to sockets, "" means every interface."""
    if not text.strip() or any(c.isspace() or c in "/[]" for c in text):
        raise argparse.ArgumentTypeError(f"invalid host {text!r} (a name or an address)")
    return text


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"invalid port {text!r} (1-65535)")
    return int(text)


def script() -> NoReturn:
    """The `feedtool` command: main(), then exit.

    Before exiting, every object is frozen out of the garbage collector: the interpreter's
    last collections would walk them all only to free memory the process is about to give
    back (30 ms of a 400 ms run where nothing changed). Nothing else changes at exit.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 a source failed, 2 usage/config)."""
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
    except sqlite3.Error as e:  # a read outside a transaction met a damaged database
        _error(e, verbose, prefix="state database: ")
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("feedtool: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `feedtool preview URL | head`: the reader left, nothing is wrong
        sys.stderr.close()  # and Python must not complain when it flushes stdout at exit
        return EXIT_OK
    except OSError as e:  # a file or folder feedtool cannot use: say which, and why
        known = e.filename is not None and e.strerror is not None
        _error(e, verbose, text=f"{e.filename}: {e.strerror}" if known else None)
        return EXIT_FAILED
    except Exception as e:  # the last guard: one line, not a traceback, unless -v
        _error(e, verbose, prefix=f"internal error: {type(e).__name__}: ")
        return EXIT_FAILED


def _error(error: Exception, verbose: int, prefix: str = "", text: str | None = None) -> None:
    """The one line an error is (`text`, else the error's own), with whatever a server put
    into it made printable."""
    if verbose:
        logger.error("details", exc_info=error)
    print(printable(f"feedtool: error: {prefix}{text or error}"), file=sys.stderr)


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
    handler = _StderrHandler()
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # The level the root has: a daemon or serve started before in this process raised it.
    logging.getLogger("feedtool").setLevel(logging.NOTSET)
    quiet = logging.WARNING if verbose >= 2 else logging.ERROR
    for name in ("urllib3", "trafilatura", "htmldate", "charset_normalizer"):
        logging.getLogger(name).setLevel(quiet)  # third-party chatter, only with -vv
    logging.getLogger("apprise").setLevel(logging.WARNING)  # its debug lines print secret URLs


def _load(args: argparse.Namespace, *, secrets: bool = True) -> Config:
    return config.load(config.resolve_path(args.config), secrets=secrets)


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command == "run":
        return _run(args)
    if command == "daemon":
        from feedtool.daemon import Daemon

        if args.verbose == 0:  # a daemon's log is its one line per source run
            logging.getLogger("feedtool").setLevel(logging.INFO)
        daemon = Daemon(config.resolve_path(args.config))
        if args.serve:  # the server on a thread; stopped when the daemon stops (SIGTERM)
            from feedtool.serve import Background

            with Background(daemon.config_path, host=args.host, port=args.port):
                return daemon.run()
        return daemon.run()
    if command == "preview":
        from feedtool.preview import preview

        return preview(args)
    if command == "serve":
        from feedtool.serve import serve

        if args.verbose == 0:  # a server's log is its access log
            logging.getLogger("feedtool").setLevel(logging.INFO)
        return serve(config.resolve_path(args.config), host=args.host, port=args.port)
    if command == "status":
        from feedtool.status import print_status

        if args.json:
            return _status_json(_load(args, secrets=False))
        return print_status(_load(args, secrets=False))
    if command == "opml":
        from feedtool.opml import opml

        sys.stdout.write(opml(_load(args, secrets=False)))
        return EXIT_OK
    if command == "snapshot":
        return _snapshot(args)
    if command == "check":
        return _check(args)
    if command == "heal":
        return _heal(args)
    if command == "import-opml":
        return _import_opml(args)
    if command == "init":
        from feedtool.init import init

        path = config.resolve_path(args.config)
        init(path)
        print(f"wrote {path}; add a source with `feedtool add URL`")
        return EXIT_OK
    if command == "add":
        return _add(args)
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
    from feedtool.model import utc_now

    cfg = _load(args, secrets=False)  # fetches and saves pages, sends nothing
    for source in _sources(cfg, args.source):
        try:
            path, count = snapshot.take(cfg, source, utc_now())
        except SourceError as e:  # which source, and where: as a run's line says it
            raise SourceError(f"{source.id}: {source.url}: {e}") from e
        print(f"{source.id}: {count} items saved in {path}")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from feedtool import snapshot

    cfg = _load(args, secrets=False)  # offline: sends nothing
    changed = False
    for source in _sources(cfg, args.source):
        results = snapshot.check(cfg, source)
        if not results:
            print(f"{source.id}: no snapshot (take one: feedtool snapshot {source.id})")
        for result in results:
            name = result.snapshot.stem
            if result.error:
                print(printable(f"{source.id} {name}: FAILED: {result.error}"))
            elif result.changes:
                print(f"{source.id} {name}: {len(result.changes)} change(s), {result.count} items")
                print(printable("\n".join(f"  {line}" for line in result.changes), keep="\t\n"))
            else:
                print(f"{source.id} {name}: ok, {result.count} items as saved")
            changed = changed or bool(result.error or result.changes)
    return EXIT_FAILED if changed else EXIT_OK


def _heal(args: argparse.Namespace) -> int:
    from feedtool.heal import heal
    from feedtool.preview import select_block

    cfg = _load(args, secrets=False)
    [source] = _sources(cfg, [args.source])
    selectors = heal(cfg.path, source)  # NothingToHeal: exit 1
    print(f"{source.id}: pinned in {cfg.path}:\n{select_block(selectors)}")
    return EXIT_OK


def _progress() -> Progress:
    from feedtool.progress import Progress

    return Progress(enabled=sys.stderr.isatty())


def _run(args: argparse.Namespace) -> int:
    from feedtool.lock import AlreadyRunning, exclusive
    from feedtool.runner import run_all

    cfg = _load(args)
    _sources(cfg, args.source)
    try:
        with exclusive(cfg.settings.state_dir), _progress() as progress:
            results = run_all(
                cfg,
                only=args.source,
                force=args.force,
                on_start=progress.start,
                on_result=progress.done,
            )
    except AlreadyRunning as e:
        print(f"feedtool: another run holds {e}; nothing done", file=sys.stderr)
        return EXIT_OK
    if args.json:
        from feedtool.report import run_json

        _json_lines(run_json(results, cfg))
    elif not results and not args.source:  # nothing was due: say when something will be
        from feedtool.report import iso, next_due

        due = next_due(cfg)
        if due is not None:
            logger.info("nothing due; next: %s at %s", due[0], iso(due[1]))
    failed = [r for r in results if r.status is Status.FAILED]
    return EXIT_FAILED if failed else EXIT_OK


def _json_lines(objects: Sequence[object]) -> None:
    import json

    for value in objects:
        print(json.dumps(value, ensure_ascii=False))


def _status_json(cfg: Config) -> int:
    from feedtool.report import reports, status_json

    found, problem = reports(cfg)
    if problem:
        raise FeedtoolError(problem)
    _json_lines([status_json(report) for report in found])
    return EXIT_OK


def _import_opml(args: argparse.Namespace) -> int:
    from pathlib import Path

    from feedtool.opml import import_opml

    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as e:
        raise UsageError(f"{args.file}: cannot read: {e.strerror}") from None
    path = config.resolve_path(args.config)
    imported = import_opml(path, data)
    for url, why in imported.skipped:
        print(f"skipped {url}: {why}")
    for source_id, url in imported.added:
        print(f"added {source_id}: {url}")
    print(f"{len(imported.added)} feeds added to {path}, {len(imported.skipped)} skipped")
    return EXIT_OK


def _add(args: argparse.Namespace) -> int:
    from feedtool.add import add
    from feedtool.preview import table

    if problem := config.url_problem(args.url):
        raise UsageError(problem)
    if args.id is not None and not config.SOURCE_ID.fullmatch(args.id):
        raise UsageError(f"--id: invalid id {args.id!r} (use a-z, 0-9 and -)")
    path = config.resolve_path(args.config)
    found, block = add(path, args.url, source_id=args.id, dry_run=args.dry_run)
    items = list(found.result.items)
    print(f"{found.source.url}: {found.how}\n")
    print(table(items))
    print(f"\n{len(items)} items")
    if args.dry_run:
        print(f"\nNothing written (--dry-run). The block for {path}:\n\n{block}", end="")
    else:
        print(f"\nAdded to {path}:\n\n{block}", end="")
    return EXIT_OK
