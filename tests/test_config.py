"""Config mistakes: each is one line naming file, source and key, and exit code 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from feedtool import config
from feedtool.cli import main
from feedtool.errors import ConfigError

GOOD_SOURCE = """
[[sources]]
id = "csto-news"
url = "https://en.odkb-csto.org/news/"
"""


def check_error(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "feedtool.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["--config", str(path), "run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"feedtool: error: {path}: ")
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD_SOURCE + "colour = 'red'\n", "sources[0] (csto-news).colour: unknown key"),
        (GOOD_SOURCE + "full_text = true\n", "full_text: unknown key (did you mean 'fulltext'?)"),
        ("[settings]\nmax_itmes = 5\n" + GOOD_SOURCE, "settings.max_itmes: unknown key"),
        (GOOD_SOURCE + "interval = 30\ntitle = 5\n", "title: expected a string, got an integer"),
        (GOOD_SOURCE + GOOD_SOURCE, "sources[1] (csto-news).id: duplicate source id"),
        ('[[sources]]\nid = "CSTO News"\nurl = "https://x.org/"\n', "sources[0].id: invalid id"),
        (GOOD_SOURCE + 'interval = "5x"\n', "interval: invalid interval '5x'"),
        (GOOD_SOURCE + "[sources.select]\nitem = 'div[[x'\n", "select.item: invalid CSS"),
        (
            GOOD_SOURCE + "[sources.select]\nitem = '.i'\nlink = '.title'\n",
            "select.link: '.title' is not a link",
        ),
        (GOOD_SOURCE + "[sources.select]\ntitle = 'h2'\n", "select.item: missing (required)"),
        ('[[sources]]\nid = "a"\nurl = "ftp://x.org/"\n', "sources[0] (a).url: expected an http"),
        (GOOD_SOURCE + 'type = "rss"\n', "type: expected one of html, feed, auto"),
        (GOOD_SOURCE + "include = ['(unclosed']\n", "include[0]: invalid regular expression"),
        ("[settings]\nmax_items = 0\n" + GOOD_SOURCE, "settings.max_items: must be at least 1"),
        ("[settings]\n", "sources: no [[sources]] defined"),
        ("this is not toml", "invalid TOML"),
        (
            GOOD_SOURCE + '[[notify]]\nurl = "json://h/"\nsources = ["nope"]\n',
            "notify[0].sources: no source with id 'nope'",
        ),
        (
            GOOD_SOURCE + '[[notify]]\nurl = "json://h/"\nbody_template = "{titel}"\n',
            "notify[0].body_template: unknown field {titel}",
        ),
        (
            GOOD_SOURCE + '[[notify]]\nurl = "ntfys://${FEEDTOOL_TEST_UNSET}@ntfy.sh/t"\n',
            "notify[0].url: environment variable FEEDTOOL_TEST_UNSET is not set",
        ),
        (GOOD_SOURCE + "[sources.select]\nitem = '.i'\ndate = 'time@'\n", "invalid attribute"),
        ('[[sources]]\nid = "a"\nurl = "http://[::1/"\n', "sources[0] (a).url: invalid URL"),
        ('[[sources]]\nid = "a"\nurl = "http://x.org:99999/"\n', "url: invalid URL"),
        (GOOD_SOURCE + 'interval = "99999999999d"\n', "at most a year"),
        ("[settings]\ntimeout = nan\n" + GOOD_SOURCE, "settings.timeout: must be between"),
        (
            GOOD_SOURCE + "[sources.select]\nitem = '.i'\ndate_format = '%d.%Q'\n",
            "select.date_format: unknown directive %Q",
        ),
        (
            GOOD_SOURCE + '[[notify]]\nurl = "json://h/"\ntitle_template = "{title:d}"\n',
            "notify[0].title_template: invalid template",
        ),
        (
            GOOD_SOURCE + '[[notify]]\nurl = "bogus://secret-token@x/"\n',
            "notify[0].url: not a notification URL Apprise understands (bogus://...)",
        ),
    ],
)
def test_config_mistake_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    assert expected in check_error(tmp_path, text, capsys)


def test_a_config_that_is_not_utf8_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "feedtool.toml"
    path.write_bytes(GOOD_SOURCE.encode("utf-16"))
    assert main(["--config", str(path), "run"]) == 2
    assert "not UTF-8 text" in capsys.readouterr().err


def test_a_byte_order_mark_is_harmless(tmp_path: Path) -> None:
    path = tmp_path / "feedtool.toml"
    path.write_bytes(GOOD_SOURCE.encode("utf-8-sig"))
    assert config.load(path).sources[0].id == "csto-news"


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "nope.toml"), "status"]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_unknown_source_on_the_command_line_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "feedtool.toml"
    path.write_text(GOOD_SOURCE)
    assert main(["--config", str(path), "run", "--source", "other"]) == 2
    assert "no source with id 'other'" in capsys.readouterr().err


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert capsys.readouterr().err.startswith("feedtool: error: argument COMMAND")


def test_a_good_config_is_typed_and_resolved_against_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NTFY_TOKEN", "s3cret")
    path = tmp_path / "conf" / "feedtool.toml"
    path.parent.mkdir()
    path.write_text(
        GOOD_SOURCE
        + """interval = "1h30m"
identity = "title+date"
[sources.select]
item = ".news-item"
link = "a"
date = "time@datetime"
[sources.paginate]
max_pages = 3
[[notify]]
url = "ntfys://${NTFY_TOKEN}@ntfy.sh/news"
digest = true
"""
    )
    cfg = config.load(path)
    assert cfg.settings.state_dir == path.parent / "state"
    assert cfg.settings.output_dir == path.parent / "public"
    source = cfg.sources[0]
    assert (source.interval, source.identity, source.type) == (5400, "title+date", "auto")
    html_without_selectors = GOOD_SOURCE + 'type = "html"\n'
    path.write_text(html_without_selectors)
    assert config.load(path).sources[0].type == "html"  # detects items; follows no feed
    assert source.select is not None
    assert source.select.link == "a"
    assert source.paginate.max_pages == 3
    assert cfg.notify[0].url == "ntfys://s3cret@ntfy.sh/news"
    assert cfg.notify[0].wants("csto-news")


def test_config_path_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDTOOL_CONFIG", "/etc/feedtool/feedtool.toml")
    assert config.resolve_path(None) == Path("/etc/feedtool/feedtool.toml")
    assert config.resolve_path("x.toml") == Path("x.toml")


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("2h", 7200), ("1d", 86400), ("45s", 45), (90, 90)]
)
def test_intervals(text: str | int, seconds: int) -> None:
    assert config.parse_interval(text, "interval") == seconds


def test_readme_example_config_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's full example must load: documentation that lies is a bug."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index("```toml\n") + len("```toml\n")
    example = readme[start : readme.index("```", start)]
    for name in re.findall(r"\$\{(\w+)\}", example):
        monkeypatch.setenv(name, "secret")
    path = tmp_path / "feedtool.toml"
    path.write_text(example, encoding="utf-8")
    try:
        cfg = config.load(path)
    except ConfigError as e:
        pytest.fail(str(e))
    assert cfg.sources


def test_every_command_and_option_in_the_readme_exists(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's command table is executed against the real parser."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `feedtool ([\w-]+)([^`]*)` \|", readme, flags=re.MULTILINE)
    assert {command for command, _ in rows} >= {
        "run", "daemon", "preview", "serve", "status", "opml", "demo", "snapshot", "check"
    }  # fmt: skip
    for command, usage in rows:
        with pytest.raises(SystemExit) as done:
            main([command, "--help"])
        assert done.value.code == 0
        helptext = capsys.readouterr().out
        for option in re.findall(r"--[a-z-]+", usage):
            assert option in helptext, f"feedtool {command} has no {option}"


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        ("item = 'li:first'", "select.item: invalid CSS selector 'li:first': The pseudo-class"),
        ("item = 'a:hover'", "select.item: invalid CSS selector 'a:hover': The pseudo-class :h"),
        ("item = '.i'\ntitle = 'a::text'", "select.title: invalid CSS selector 'a::text'"),
        ("item = 'svg|g'", "select.item: invalid CSS selector 'svg|g': Undefined namespace"),
        ("item = 'xpath://li['", "select.item: invalid XPath '//li[': Invalid expression"),
        ("item = '.i'\ndate = 'xpath:date(.)'", "select.date: invalid XPath 'date(.)'"),
        ("item = 'a@href'", "select.item: 'a@href' reads an attribute; the item selector"),
    ],
)
def test_a_selector_the_engine_cannot_evaluate_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], select: str, expected: str
) -> None:
    text = GOOD_SOURCE + f"[sources.select]\n{select}\n"
    assert f"sources[0] (csto-news).{expected}" in check_error(tmp_path, text, capsys)


def test_an_inexpressible_pagination_or_identity_selector_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paginate = GOOD_SOURCE + "[sources.paginate]\nnext = 'a:contains-text(next)'\n"
    assert "paginate.next: invalid CSS selector" in check_error(tmp_path, paginate, capsys)
    identity = GOOD_SOURCE + "identity = 'xpath:@'\n[sources.select]\nitem = '.i'\n"
    assert "identity: invalid XPath '@'" in check_error(tmp_path, identity, capsys)


def test_xpath_selectors_load(tmp_path: Path) -> None:
    path = tmp_path / "feedtool.toml"
    path.write_text(
        GOOD_SOURCE
        + "identity = 'xpath:string(@data-id)'\n[sources.select]\n"
        + "item = \"xpath://div[@class='news-item']\"\nlink = 'xpath:.//h3/a'\n"
        + "date = 'xpath:string(.//time/@datetime)'\n"
    )

    select = config.load(path).sources[0].select

    assert select is not None
    assert (select.item, select.link) == ("xpath://div[@class='news-item']", "xpath:.//h3/a")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[settings]\nretries = 1000\n" + GOOD_SOURCE, "retries: must be between 0 and 10"),
        (GOOD_SOURCE + "keep_items = 100000000000000000000\n", "is out of range"),
        ('[settings]\nstate_dir = "st\\u0000x"\n' + GOOD_SOURCE, "state_dir: a path cannot"),
        (GOOD_SOURCE.replace("en.odkb-csto.org", "en.odkb csto.org"), "invalid host 'en.odkb"),
        ('[settings]\nstate_dir = "public"\n' + GOOD_SOURCE, "state_dir: must be outside"),
        ('[settings]\nstate_dir = "public/state"\n' + GOOD_SOURCE, "state_dir: must be outside"),
    ],
)
def test_values_no_run_could_use_are_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    """Found when the config loads, as one line: not a traceback at run time, nor a run that
    waits for days between retries."""
    assert expected in check_error(tmp_path, text, capsys)


@pytest.mark.parametrize(
    "url",
    ["http://उदाहरण.भारत/news/", "http://ตัวอย่าง.ไทย/", "http://пример.рф/", "http://[::1]:8080/x"],
)
def test_hosts_in_any_script_and_ip_literals_are_fine(url: str) -> None:
    assert config.url_problem(url) is None


@pytest.mark.parametrize("url", ["http://[::1/", "http://exa mple.org/news/", "ftp://x.org/"])
def test_a_bad_url_on_the_command_line_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    path = tmp_path / "feedtool.toml"
    path.write_text(GOOD_SOURCE, encoding="utf-8")
    for command in (["add", url], ["preview", url]):
        assert main(["--config", str(path), *command]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert "internal error" not in err
    assert path.read_text(encoding="utf-8") == GOOD_SOURCE
