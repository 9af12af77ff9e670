"""Fetched bytes to text: binary sniffing and charset decoding, for listings and article pages."""

from __future__ import annotations

from feedtool.errors import ExtractError

# PNG, GIF, JPEG, PDF, ZIP (and so Office files), gzip.
_MAGIC = (b"\x89PNG", b"GIF87a", b"GIF89a", b"\xff\xd8\xff", b"%PDF-", b"PK\x03\x04", b"\x1f\x8b")
_CONTROL = bytes(c for c in [*range(32), 127] if chr(c) not in "\t\n\r\f")
_SNIFF_BYTES = 4096
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def looks_binary(body: bytes) -> bool:
    """A known binary format, or a start over 10 % control bytes (UTF-16 with a BOM is text).

    A stray NUL or two in a real page does not count: normalize strips control characters.
    """
    if body.startswith(_MAGIC):
        return True
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    head = body[:_SNIFF_BYTES]
    return len(head) - len(head.translate(None, _CONTROL)) > len(head) / 10


def decode(body: bytes, charset: str | None) -> str:
    """Bytes to text: the header's charset, then <meta>, then detection.

    Each candidate must decode the whole body strictly, so a wrong header (a windows-1251 page
    served as UTF-8) falls through to the next one instead of producing mojibake.
    """
    if looks_binary(body):
        raise ExtractError("not a text document (binary content)")
    if charset and not body.startswith(_BOMS):  # the common case, without BeautifulSoup
        try:
            return body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    from bs4.dammit import UnicodeDammit  # BeautifulSoup's one job left: finding the charset

    known = [charset] if charset else []
    dammit = UnicodeDammit(body, known_definite_encodings=known, is_html=True)
    if dammit.unicode_markup is None:
        raise ExtractError("cannot decode the page's text")
    return dammit.unicode_markup


def truncate(body: bytes, limit: int) -> bytes:
    """At most `limit` bytes, without a UTF-8 character cut in half at the end.

    decode() is strict: half a character would make UTF-8 fail and the page read as
    windows-1252. In a single-byte encoding this drops at most three bytes of a page cut anyway.
    """
    if len(body) <= limit:
        return body
    head = body[:limit]
    for back in range(1, min(4, len(head)) + 1):
        byte = head[-back]
        if byte < 0x80:  # ASCII: no sequence in progress
            return head
        if byte >= 0xC0:  # a lead byte: keep its sequence only if it is complete
            length = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return head if back >= length else head[:-back]
    return head
