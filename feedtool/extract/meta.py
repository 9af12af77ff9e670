"""The cleaning rules for what pages and feeds say about their site (model.SiteMeta).

Every value is republished in the head of each output, so it is cleaned once, here: a
language becomes a BCP 47 tag or nothing, an image URL an absolute http(s) URL or nothing.
"""

from __future__ import annotations

import re

from feedtool.urls import join, safe_url

_SUBTAG = re.compile(r"[A-Za-z0-9]{1,8}")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}")
_SCRIPT = re.compile(r"[A-Za-z]{4}")
_REGION = re.compile(r"[A-Za-z]{2}|[0-9]{3}")


def language_tag(value: object) -> str | None:
    """`value` as a BCP 47 tag of language, script and region ("ru", "en-US", "zh-Hant-TW");
    None unless it starts with a language.

    Pages write "ru_RU" (og:locale), "EN-us", or a list ("ru, en" in Content-Language): the
    first one counts, underscores become hyphens and each subtag takes its usual case, so one
    site always gives the same bytes. Subtags after the region (variants, extensions) are
    dropped, and "und" (undetermined) is no language: a feed rather says nothing than
    something the W3C validator refuses.
    """
    if not isinstance(value, str):
        return None
    subtags = value.split(",")[0].strip().replace("_", "-").split("-")
    if not all(_SUBTAG.fullmatch(subtag) for subtag in subtags):
        return None
    language, rest = subtags[0].lower(), subtags[1:]
    if not _LANGUAGE.fullmatch(language) or language == "und":
        return None
    tag = [language]
    if rest and _SCRIPT.fullmatch(rest[0]):
        tag.append(rest.pop(0).title())
    if rest and _REGION.fullmatch(rest[0]):
        tag.append(rest.pop(0).upper())
    return "-".join(tag)


def image_url(base: str, href: object) -> str | None:
    """An icon's or logo's URL made absolute against `base`, if it is http(s): readers load
    it, so a javascript:, data: or file: URL must never reach a feed."""
    if not isinstance(href, str) or not href.strip():
        return None
    return safe_url(join(base, href.strip()))
