"""Load feedtool.toml into a frozen Config, rejecting every mistake with a one-line error.

The message names the file, the source and the key: "feedtool.toml: sources[1] (csto-news):
select.link: expected "selector@attribute"". Unknown keys are errors, never silently dropped.
"""

from __future__ import annotations

import difflib
import os
import re
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from feedtool import messenger
from feedtool.errors import ConfigError
from feedtool.extract.syntax import XPATH_PREFIX, SelectorError, check
from feedtool.model import (
    DEFAULT_BODY_TEMPLATE,
    DEFAULT_TITLE_TEMPLATE,
    HEAL_MODES,
    IDENTITY_RULES,
    SOURCE_TYPES,
    TEMPLATE_FIELDS,
    Config,
    NotifyTarget,
    Paginate,
    Selectors,
    Settings,
    Source,
)

DEFAULT_PATH = Path("feedtool.toml")
ENV_VAR = "FEEDTOOL_CONFIG"
SOURCE_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_INTERVAL = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_RETRIES = 10  # with the waits between them doubling, more would hold a run for hours
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# A host name (its letters in any script, for IDN), an IPv4 or an IPv6 address: no spaces,
# quotes or brackets, which urlsplit lets through and no request can be sent to.
_HOST = re.compile(r"(?:[A-Za-z0-9_.:%-]|[^\x00-\x7f\s])+")
MAX_INTERVAL = 366 * 86400

T = TypeVar("T")


class _Problem(Exception):
    """A mistake at a key path; turned into a ConfigError naming the file."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")


def resolve_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--config, else $FEEDTOOL_CONFIG, else ./feedtool.toml."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return DEFAULT_PATH


def load(path: Path, *, secrets: bool = True) -> Config:
    """Read and validate a config file. Raises ConfigError with a one-line message.

    secrets=False leaves ${VAR} in notify URLs unexpanded, for commands that send nothing
    (status, opml) and so need not run with the daemon's environment.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a byte-order mark (Notepad) is harmless
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(
            f"{path.absolute()}: config file not found"
            " (give one with --config or $FEEDTOOL_CONFIG; `feedtool demo` shows one at work)"
        ) from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (save the file as UTF-8)") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    except RecursionError:  # tomllib recurses into each nested array and inline table
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    return parse(data, path, secrets=secrets)


def parse(data: Mapping[str, Any], path: Path, *, secrets: bool = True) -> Config:
    """Validate an already-decoded TOML document; `path` locates relative dirs and errors."""
    try:
        _check_depth(data)
        return _config(data, path, secrets)
    except _Problem as e:
        raise ConfigError(f"{path}: {e}") from None


MAX_DEPTH = 32  # tables and arrays within each other; feedtool's own need four


def _check_depth(data: Mapping[str, Any]) -> None:
    """Refuse absurd nesting at once, without recursing: it can only be a mistake or an attack,
    and the checks that follow must not meet it."""
    stack: list[tuple[object, str, int]] = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _Problem(where, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            children: Iterable[tuple[object, object]] = value.items()
        elif isinstance(value, list):
            children = enumerate(value)
        else:
            continue
        for key, child in children:
            if depth < MAX_DEPTH and not isinstance(child, dict | list):
                continue  # a plain value within the limit: nothing to check, no path to build
            if isinstance(value, list):
                at = f"{where}[{key}]"
            else:
                at = f"{where}.{key}" if where else str(key)
            stack.append((child, at, depth + 1))


def parse_interval(value: object, where: str) -> int:
    """ "30m", "2h", "1h30m", "45s", "1d" or a number of seconds -> seconds (> 0)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_INTERVAL:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        parts = _INTERVAL.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            seconds = sum(int(n) * _UNITS[u] for n, u in parts)
            if 0 < seconds <= MAX_INTERVAL:
                return seconds
    raise _Problem(
        where, f'invalid interval {value!r} (expected e.g. "30m", "2h", "1d"; at most a year)'
    )


# --- tables ------------------------------------------------------------------------------------


class _Table:
    """Typed access to one TOML table that remembers which keys were read."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise _Problem(where, f"expected a table, got {_kind(data)}")
        self.data: dict[str, Any] = data
        self.where = where
        self._known: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def optional(self, key: str, kind: type[T]) -> T | None:
        self._known.add(key)
        if key not in self.data:
            return None
        value = self.data[key]
        is_number = isinstance(value, int) and not isinstance(value, bool)
        if kind is float and is_number:
            return float(value)  # type: ignore[return-value]
        if not isinstance(value, kind) or (kind is int and not is_number):
            raise _Problem(self.at(key), f"expected {_NAMES[kind]}, got {_kind(value)}")
        if isinstance(value, int) and not -(2**63) <= value < 2**63:  # what SQLite stores
            raise _Problem(self.at(key), f"{value} is out of range")
        return value

    def get(self, key: str, kind: type[T], default: T) -> T:
        value = self.optional(key, kind)
        return default if value is None else value

    def required(self, key: str, kind: type[T]) -> T:
        value = self.optional(key, kind)
        if value is None:
            raise _Problem(self.at(key), "missing (required)")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        values = self.get(key, list, [])
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise _Problem(f"{self.at(key)}[{i}]", f"expected a string, got {_kind(value)}")
        return tuple(values)

    def positive(self, key: str, default: int) -> int:
        value = self.get(key, int, default)
        if value < 1:
            raise _Problem(self.at(key), f"must be at least 1, got {value}")
        return value

    def interval(self, key: str, default: int) -> int:
        self._known.add(key)
        if key not in self.data:
            return default
        return parse_interval(self.data[key], self.at(key))

    def done(self) -> None:
        """Reject keys nobody asked for: a typo must not be silently ignored."""
        unknown = sorted(set(self.data) - self._known)
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(self._known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _Problem(self.at(unknown[0]), "unknown key" + hint)


_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


def _kind(value: object) -> str:
    for kind, name in _NAMES.items():
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return name
    return type(value).__name__


# --- the document ------------------------------------------------------------------------------


def _config(data: Mapping[str, Any], path: Path, secrets: bool) -> Config:
    root = _Table(dict(data), "")
    settings = _settings(root.get("settings", dict, {}), path.parent)
    sources = _each(root.get("sources", list, []), "sources", _source)
    if not sources:
        raise _Problem("sources", "no [[sources]] defined")
    seen: set[str] = set()
    for i, source in enumerate(sources):
        if source.id in seen:
            raise _Problem(f"sources[{i}] ({source.id}).id", f"duplicate source id {source.id!r}")
        seen.add(source.id)
    notify = _each(
        root.get("notify", list, []), "notify", lambda t: _notify(t, secrets, settings.state_dir)
    )
    for i, target in enumerate(notify):
        for name in target.sources:
            if name not in seen:
                raise _Problem(f"notify[{i}].sources", f"no source with id {name!r}")
    root.done()
    return Config(path=path, settings=settings, sources=sources, notify=notify)


def _each(tables: list[Any], name: str, build: Callable[[_Table], T]) -> tuple[T, ...]:
    return tuple(build(_Table(table, f"{name}[{i}]")) for i, table in enumerate(tables))


def _settings(data: dict[str, Any], folder: Path) -> Settings:
    t = _Table(data, "settings")
    base_url = t.get("base_url", str, "http://localhost:8080/")
    _check_url(base_url, t.at("base_url"))
    hub = t.optional("hub", str)
    if hub is not None:
        _check_url(hub, t.at("hub"))
    settings = Settings(
        state_dir=_directory(t, "state_dir", "state", folder),
        output_dir=_directory(t, "output_dir", "public", folder),
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        max_items=t.positive("max_items", 50),
        timeout=t.get("timeout", float, 20.0),
        max_bytes=t.positive("max_bytes", 10 * 1024 * 1024),
        retries=t.get("retries", int, 2),
        host_delay=t.get("host_delay", float, 1.0),
        remind_every=t.interval("remind_every", 86400),
        notify_max_age=t.interval("notify_max_age", 7 * 86400),
        workers=t.positive("workers", 8),
        host_connections=t.positive("host_connections", 2),
        host_spacing=t.get("host_spacing", float, 0.0),
        allow_private_addresses=t.get("allow_private_addresses", bool, True),
        hub=hub,
    )
    if not 0 < settings.timeout <= 3600:
        raise _Problem(t.at("timeout"), "must be between 0 and 3600 seconds")
    if not 0 <= settings.retries <= MAX_RETRIES:
        raise _Problem(t.at("retries"), f"must be between 0 and {MAX_RETRIES}")
    for key in ("host_delay", "host_spacing"):
        if not 0 <= getattr(settings, key) <= 3600:
            raise _Problem(t.at(key), "must be between 0 and 3600 seconds")
    if settings.workers > 64:
        raise _Problem(t.at("workers"), "must be at most 64")
    if settings.host_connections > 16:
        raise _Problem(t.at("host_connections"), "must be at most 16")
    state, output = settings.state_dir.resolve(), settings.output_dir.resolve()
    if state == output or output in state.parents:  # what output_dir holds is served to all
        raise _Problem(t.at("state_dir"), "must be outside output_dir, which is public")
    t.done()
    return settings


def _directory(t: _Table, key: str, default: str, folder: Path) -> Path:
    """Relative dirs are relative to the config file, not the cwd: cron runs from /."""
    value = t.get(key, str, default)
    if "\0" in value:
        raise _Problem(t.at(key), "a path cannot hold a NUL character")
    path = Path(value).expanduser()
    return path if path.is_absolute() else folder / path


def url_problem(url: str) -> str | None:
    """What is wrong with `url` as a page to watch; None for an http(s) URL with a host.

    The one rule for URLs from the config, the command line and OPML files."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number in range)
    except ValueError:
        return f"invalid URL {url!r}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"expected an http(s) URL, got {url!r}"
    if not _HOST.fullmatch(parts.hostname):
        return f"invalid host {parts.hostname!r} in {url!r}"
    return None


def _check_url(url: str, where: str) -> None:
    if problem := url_problem(url):
        raise _Problem(where, problem)


def _source(t: _Table) -> Source:
    source_id = t.required("id", str)
    if not SOURCE_ID.fullmatch(source_id):
        raise _Problem(t.at("id"), f"invalid id {source_id!r} (use a-z, 0-9 and -)")
    t.where = f"{t.where} ({source_id})"
    url = t.required("url", str)
    _check_url(url, t.at("url"))
    kind = t.get("type", str, "auto")
    if kind not in SOURCE_TYPES:
        raise _Problem(t.at("type"), f"expected one of {', '.join(SOURCE_TYPES)}, got {kind!r}")
    select_table = t.optional("select", dict)
    select = None if select_table is None else _selectors(select_table, t.at("select"))
    if kind == "feed" and select is not None:
        raise _Problem(t.at("select"), 'selectors apply to HTML pages, not type = "feed"')
    identity = t.optional("identity", str)
    if identity is not None and identity not in IDENTITY_RULES:
        _check_selector(identity, t.at("identity"))
        if select is None:
            raise _Problem(t.at("identity"), "a selector identity needs [sources.select]")
    source = Source(
        id=source_id,
        url=url,
        title=t.optional("title", str),
        type=kind,  # type: ignore[arg-type]
        interval=t.interval("interval", 1800),
        select=select,
        identity=identity,
        paginate=_paginate(t.get("paginate", dict, {}), t.at("paginate")),
        fulltext=t.get("fulltext", bool, False),
        include=_patterns(t, "include"),
        exclude=_patterns(t, "exclude"),
        notify_initial=t.get("notify_initial", bool, False),
        notify_updates=t.get("notify_updates", bool, False),
        broken_after=t.positive("broken_after", 3),
        keep_items=t.positive("keep_items", 1000),
        heal=_heal(t, select),  # type: ignore[arg-type]
    )
    t.done()
    return source


def _heal(t: _Table, select: Selectors | None) -> str:
    """`heal = "auto"` (or "off", the default): only selectors can be healed."""
    heal = t.get("heal", str, "off")
    if heal not in HEAL_MODES:
        raise _Problem(t.at("heal"), f"expected one of {', '.join(HEAL_MODES)}, got {heal!r}")
    if heal == "auto" and select is None:
        raise _Problem(t.at("heal"), "only [sources.select] selectors can be healed")
    return heal


def selectors(data: dict[str, Any]) -> Selectors:
    """A [sources.select] table checked alone (for `preview`); ConfigError names the key."""
    try:
        return _selectors(data, "")
    except _Problem as e:
        raise ConfigError(str(e)) from None


def _selectors(data: dict[str, Any], where: str) -> Selectors:
    t = _Table(data, where)
    item = t.required("item", str)
    _check_selector(item, t.at("item"), attribute=False)
    fields = {}
    for key in ("title", "link", "date", "summary", "content"):
        value = t.optional(key, str)
        if value is not None:
            _check_selector(value, t.at(key))
        fields[key] = value
    link = fields["link"]
    if link is not None and "@" not in link and not _targets_anchor(link):
        raise _Problem(
            t.at("link"), f'{link!r} is not a link: use "selector@attribute", e.g. "a@href"'
        )
    date_format = t.optional("date_format", str)
    if date_format is not None:
        _check_date_format(date_format, t.at("date_format"))
    t.done()
    return Selectors(item=item, date_format=date_format, **fields)


_STRPTIME_DIRECTIVES = set("aAwdbBmyYHIpMSfzZjUWcxXGuV%")


def _check_date_format(value: str, where: str) -> None:
    directives = re.findall(r"%(.?)", value)
    if not directives:
        raise _Problem(where, f"{value!r} has no strptime directives (e.g. %d.%m.%Y)")
    for directive in directives:
        if directive not in _STRPTIME_DIRECTIVES:
            raise _Problem(where, f"unknown directive %{directive} in {value!r}")


def _targets_anchor(selector: str) -> bool:
    """True when the last compound selector names <a>, so "@href" can be implied; for an XPath,
    which may select the href itself, always."""
    if selector.startswith(XPATH_PREFIX):
        return True
    last = re.split(r"[\s>+~]+", selector.strip())[-1]
    return re.match(r"a(?![\w-])", last) is not None


def _check_selector(value: str, where: str, *, attribute: bool = True) -> None:
    """Checked by the engine extraction uses, so what loads is what runs: "css",
    "css@attribute", "@attribute" (the item element's own) or "xpath:EXPR"."""
    try:
        reads = check(value)
    except SelectorError as e:
        raise _Problem(where, e.problem) from None
    if not attribute and reads is not None:
        raise _Problem(where, f"{value!r} reads an attribute; the item selector selects elements")


def _paginate(data: dict[str, Any], where: str) -> Paginate:
    t = _Table(data, where)
    next_selector = t.optional("next", str)
    if next_selector is not None:
        _check_selector(next_selector, t.at("next"))
    paginate = Paginate(next=next_selector, max_pages=t.positive("max_pages", 1))
    t.done()
    return paginate


# \b, \w and \d in RE2 are ASCII-only: beside Cyrillic or accented text they silently fail
_ASCII_CLASS = re.compile(r"(?<!\\)(?:\\\\)*\\[bBwWdD]")


def _patterns(t: _Table, key: str) -> tuple[str, ...]:
    """Regular expressions as RE2 compiles them (normalize.filter_pattern), checked now.

    RE2 runs in linear time (a pattern from the config can never hang a run) but cannot
    express backreferences or lookaround, and its \\b, \\w and \\d are ASCII-only: a pattern
    using them beside non-ASCII letters would silently stop matching, so it is refused too.
    """
    patterns = t.strings(key)
    if not patterns:
        return patterns
    import re2  # type: ignore[import-untyped,unused-ignore]

    from feedtool.normalize import filter_pattern

    for i, pattern in enumerate(patterns):
        where = f"{t.at(key)}[{i}]"
        try:
            filter_pattern(pattern)
        except re2.error as e:  # its message is bytes
            reason = e.args[0].decode() if e.args and isinstance(e.args[0], bytes) else str(e)
            raise _Problem(
                where,
                f"invalid regular expression {pattern!r}: {reason}"
                " (RE2 syntax: no backreferences or lookaround)",
            ) from None
        if _ASCII_CLASS.search(pattern) and not pattern.isascii():
            raise _Problem(
                where,
                f"{pattern!r}: \\b, \\w and \\d match only ASCII in RE2;"
                " use \\pL for any letter, or spaces",
            )
    return patterns


def _notify(t: _Table, secrets: bool, state_dir: Path) -> NotifyTarget:
    url = t.required("url", str)
    if secrets:
        url = _expand_env(url, t.at("url"))
        _check_notify_url(url, t.at("url"), state_dir)
    target = NotifyTarget(
        url=url,
        sources=t.strings("sources"),
        digest=t.get("digest", bool, False),
        max_per_run=t.positive("max_per_run", 20),
        title_template=_template(t, "title_template", DEFAULT_TITLE_TEMPLATE),
        body_template=_template(t, "body_template", DEFAULT_BODY_TEMPLATE),
    )
    t.done()
    return target


def _check_notify_url(url: str, where: str, state_dir: Path) -> None:
    if not messenger.accepts(url, state_dir):  # the URL holds secrets: name only its scheme
        scheme = url.split(":")[0]
        raise _Problem(where, f"not a notification URL Apprise understands ({scheme}://...)")


def _expand_env(value: str, where: str) -> str:
    """Replace ${NAME} with the environment's value, so secrets stay out of the config file."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise _Problem(where, f"environment variable {name} is not set")
        return os.environ[name]

    return _ENV_REF.sub(lookup, value)


def _template(t: _Table, key: str, default: str) -> str:
    template = t.get(key, str, default)
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as e:
        raise _Problem(t.at(key), f"invalid template: {e}") from None
    unknown = sorted(names - set(TEMPLATE_FIELDS))
    if unknown:
        fields = ", ".join("{" + f + "}" for f in sorted(TEMPLATE_FIELDS))
        raise _Problem(t.at(key), f"unknown field {{{unknown[0]}}} (use {fields})")
    try:  # format specs ("{title:d}", "{title:>{x}}") fail only when rendered: render once now
        template.format(**dict.fromkeys(TEMPLATE_FIELDS, "text"))
    except (ValueError, KeyError, IndexError) as e:
        raise _Problem(t.at(key), f"invalid template: {e}") from None
    return template
