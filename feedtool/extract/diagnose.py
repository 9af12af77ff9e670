"""What a page without repeated items looks like, so `0 items` becomes a reason.

A source that finds nothing fails with EmptyPageError; "no items found" alone sends the user
guessing. The usual causes look different enough to tell apart from the page itself:

- an error page served with HTTP 200 ("404", "Not found" in the title or heading, little text);
- a login or consent wall (a password field; "sign in" or "cookie" forms taking up the page);
- a JavaScript-rendered shell (little visible text, heavy scripts, an empty app root), whose
  items the browser draws: feedtool reads the HTML as served;
- a single article (og:type=article, one <article>, one long block of text), not a listing.

Each check is a heuristic on counts, cheap enough to run on every failing page.
"""

from __future__ import annotations

import re

import lxml.etree
import lxml.html

from feedtool.extract.html import Page
from feedtool.extract.selector import Selector, text_of

# Visible text below this many characters is "little": a listing of ten items has more.
LITTLE_TEXT = 600
# A single article's body: one block holding this much text, and most of the page's.
ARTICLE_TEXT = 1500

_ERROR_WORDS = re.compile(
    r"\b(?:404|403|410|500|503|not found|page not found|error|forbidden|unavailable)\b"
    r"|не найден|ошибка",
    re.IGNORECASE,
)
_LOGIN_WORDS = re.compile(
    r"\b(?:sign in|log ?in|sign up|password|authenticate)\b|войти|вход|парол", re.IGNORECASE
)
_CONSENT_WORDS = re.compile(
    r"\b(?:cookies?|consent|gdpr|privacy choices|accept all)\b|согласие", re.IGNORECASE
)
_APP_ROOTS = ("root", "app", "__next", "__nuxt", "svelte", "main-app")
_SCRIPT_HEAVY = 50_000  # characters of inline script, or ...
_MANY_SCRIPTS = 8  # ... this many script elements, make a page "script-heavy"


def diagnose(page: Page) -> str | None:
    """A phrase saying what the page looks like instead of a listing, or None."""
    text = visible_text(page.root)
    return (
        _error_page(page, text)
        or _wall(page, text)
        or _script_shell(page, text)
        or _single_article(page, text)
    )


_VISIBLE_TEXT = lxml.etree.XPath(
    "//body//text()[not(ancestor::script or ancestor::style or ancestor::template"
    " or ancestor::noscript or ancestor::svg)]",
    smart_strings=False,
)


def visible_text(root: lxml.html.HtmlElement) -> str:
    """The body's text as a reader sees it: no scripts, styles, templates or <noscript>."""
    return " ".join(s for s in (t.strip() for t in _VISIBLE_TEXT(root)) if s)


def _error_page(page: Page, text: str) -> str | None:
    heading = Selector.compile("h1").first(page.root)
    for label, value in (
        ("title", _title_text(page)),
        ("heading", text_of(heading) if heading is not None else ""),
    ):
        if value and _ERROR_WORDS.search(value) and len(text) < LITTLE_TEXT * 2:
            return f"an error page served with HTTP 200 ({label} {_quote(value)})"
    return None


def _wall(page: Page, text: str) -> str | None:
    if Selector.compile('input[type="password" i]').first(page.root) is not None:
        return "a login wall (a password form): the listing needs an account"
    forms = Selector.compile('form, dialog, [role="dialog"]').all(page.root)
    form_text = " ".join(text_of(form) for form in forms)
    if len(text) >= LITTLE_TEXT and len(form_text) * 2 < len(text):
        return None  # forms are a small part of a page with text of its own
    marks = " ".join(f"{f.get('id', '')} {f.get('class', '')} {form_text}" for f in forms)
    if _CONSENT_WORDS.search(marks):
        return "a cookie consent wall: the listing is behind a consent form"
    if _LOGIN_WORDS.search(marks):
        return "a login wall (a sign-in form): the listing needs an account"
    return None


def _script_shell(page: Page, text: str) -> str | None:
    if len(text) >= LITTLE_TEXT:
        return None
    scripts = Selector.compile("script").all(page.root)
    inline = sum(len(script.text or "") for script in scripts)
    root = next(
        (
            f'<div id="{element.get("id")}">'
            for element in Selector.compile("[id]").all(page.root)
            if element.get("id") in _APP_ROOTS and not text_of(element)
        ),
        None,
    )
    next_data = page.root.find(".//script[@id='__NEXT_DATA__']") is not None
    heavy = inline >= _SCRIPT_HEAVY or len(scripts) >= _MANY_SCRIPTS
    found = [
        sign
        for sign in (
            root and f"an empty {root}",
            next_data and "__NEXT_DATA__",
            heavy and f"{len(scripts)} scripts",
        )
        if sign
    ]
    if not found:
        return None
    return (
        f"a JavaScript-rendered shell ({len(text)} characters of text, {', '.join(found)}):"
        " its items are drawn in the browser; look for a feed or the JSON the page loads"
    )


def _single_article(page: Page, text: str) -> str | None:
    og_type = page.root.find(".//meta[@property='og:type']")
    if og_type is not None and (og_type.get("content") or "").strip().lower() == "article":
        return "a single article (og:type=article), not a listing: use the page that links to it"
    # The paragraph text of each block: one block holding most of the page's text is a body.
    blocks: dict[lxml.html.HtmlElement, int] = {}
    for paragraph in Selector.compile("p").all(page.root):
        parent = paragraph.getparent()
        if parent is not None:
            blocks[parent] = blocks.get(parent, 0) + len(text_of(paragraph))
    longest = max(blocks.values(), default=0)
    if longest >= ARTICLE_TEXT and longest * 2 >= len(text):
        return "a single article (one long text), not a listing: use the page that links to it"
    return None


def _title_text(page: Page) -> str:
    title = page.root.find(".//title")
    return text_of(title) if title is not None else ""


def _quote(value: str, width: int = 60) -> str:
    value = " ".join(value.split())
    return repr(value if len(value) <= width else value[: width - 1] + "…")
