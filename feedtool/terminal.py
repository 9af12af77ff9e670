"""Text from servers, made safe to print on a terminal.

A server's reason phrase, a Content-Type header, an href or a title ends up in log lines,
`status`, `preview` and alerts. Printed raw, an ESC or a C1 control in it is a terminal escape
sequence: it can retitle the window, hide text, rewrite earlier lines or, on some terminals,
answer back into the input. Every such character is shown as an escape (`\\x1b`) instead.
"""

from __future__ import annotations

import logging
import re

# C0 controls, DEL and C1 controls, and the Unicode bidirectional overrides and isolates,
# which reorder what is shown ("Trojan Source").
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, keep: str = "\t") -> str:
    """`text` with every control character but those in `keep` written as an escape.

    Tab is kept by default; pass keep="\\t\\n" for output that is meant to span lines.
    """

    def escape(match: re.Match[str]) -> str:
        char = match.group(0)
        if char in keep:
            return char
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _UNPRINTABLE.sub(escape, text)


class PrintableFormatter(logging.Formatter):
    """Escapes control characters in each message: log lines carry text servers chose
    (reason phrases, content types, hrefs), which must not drive the terminal. One record
    stays one line; a traceback (-v) is added after, as written."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))
