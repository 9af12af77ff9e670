"""Selectors as a config writes them: "css", "css@attribute", "@attribute" or "xpath:EXPR".

What one says (its CSS as XPath steps, the attribute it reads) takes cssselect only: loading a
config checks every selector here, on every run, without loading lxml, which only the pages
that changed need (`selector.Selector` runs selectors).
"""

from __future__ import annotations

import re
from typing import Any

import cssselect
from cssselect.parser import CombinedSelector

from feedtool.errors import ExtractError

XPATH_PREFIX = "xpath:"
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z_:][\w:.-]*")


class _Translator(cssselect.HTMLTranslator):
    """cssselect's translation, except for what a browser's state decides (":hover",
    ":visited"), which it writes as "never": on a fetched page such a selector matches
    nothing, so it is refused as unknown pseudo-classes are."""

    _STATES = frozenset({"active", "focus", "hover", "target", "visited"})

    def xpath_pseudo(self, pseudo: Any) -> Any:
        if pseudo.ident.lower() in self._STATES:
            raise cssselect.ExpressionError(f"The pseudo-class :{pseudo.ident} is a browser state")
        return super().xpath_pseudo(pseudo)


_TRANSLATOR = _Translator()
# From an element to the elements a CSS combinator's left side is matched against.
_AXES = {
    " ": "ancestor::{}",
    ">": "parent::{}",
    "+": "preceding-sibling::*[1][self::{}]",
    "~": "preceding-sibling::{}",
}


class SelectorError(ExtractError):
    """A selector feedtool cannot evaluate.

    `problem` is the phrase config puts after a key ("invalid CSS selector 'div[': Expected...").
    """

    def __init__(self, spec: str, problem: str, detail: str | None = None) -> None:
        super().__init__(f"invalid selector {spec!r}: {detail or problem}")
        self.problem = problem
        self._arguments = (spec, problem, detail)

    def __reduce__(self) -> tuple[type[SelectorError], tuple[str, str, str | None]]:
        """Pickled by its arguments: it may cross from a pool process to the run."""
        return (SelectorError, self._arguments)


def check(spec: str) -> str | None:
    """Raise what compiling `spec` would raise (SelectorError); return the attribute it reads.

    CSS is parsed and translated, which is a third of the cost of building it into XPath. An
    XPath is compiled, and so is CSS with a "|" (a namespace prefix fails only when evaluated).
    """
    if spec.startswith(XPATH_PREFIX) or "|" in spec:
        from feedtool.extract.selector import Selector  # lxml: only for these

        return Selector.compile(spec).attribute
    return parse(spec)[1]


def parse(spec: str) -> tuple[str, str | None, list[str] | None]:
    """(css, attribute, the XPath step of each selector in the css) of a CSS spec, or
    (expression, None, None) of "xpath:EXPR"; raises SelectorError for what CSS cannot say or
    XPath cannot express. An empty css part has no steps: the scope itself."""
    if spec.startswith(XPATH_PREFIX):
        return spec.removeprefix(XPATH_PREFIX).strip(), None, None
    css, attribute = spec, None
    if "@" in spec:
        css, _, attribute = spec.rpartition("@")
        if not _ATTRIBUTE_NAME.fullmatch(attribute):
            raise SelectorError(spec, f"invalid attribute name {attribute!r} in {spec!r}")
    css = css.strip()
    if not css:
        if attribute is None:
            raise SelectorError(spec, "empty selector")
        return css, attribute, []
    try:
        return css, attribute, [_css_step(selector) for selector in cssselect.parse(css)]
    except cssselect.SelectorError as e:  # syntax, or nothing XPath can express
        detail = first_line(e)
        raise SelectorError(spec, f"invalid CSS selector {css!r}: {detail}", detail) from None


def _css_step(selector: cssselect.Selector) -> str:
    if selector.pseudo_element is not None:
        raise cssselect.ExpressionError(f"pseudo-element ::{selector.pseudo_element} unsupported")
    return _step(selector.parsed_tree)


def _step(tree: Any) -> str:
    """One XPath step ("div[...]") matching what tree matches, with its combinators as predicates
    looking back from the element: "a b" is b[ancestor::a].

    cssselect's own translation walks forward from the root, so evaluated from an element it
    would need the selector's ancestors inside that element; soupsieve never did.
    """
    if isinstance(tree, CombinedSelector):
        left = _step(tree.selector)
        return f"{_step(tree.subselector)}[{_AXES[tree.combinator].format(left)}]"
    expression = _TRANSLATOR.xpath(tree)
    return expression.element + (f"[{expression.condition}]" if expression.condition else "")


def first_line(error: Exception) -> str:
    """The first line of an error's message, its spaces collapsed: for a one-line error."""
    return " ".join(str(error).split("\n", 1)[0].split()) or type(error).__name__
