"""One exception hierarchy; str() of each is a one-line message fit for the user."""


class FeedtoolError(Exception):
    """Base of feedtool's own errors."""


class ConfigError(FeedtoolError):
    """The config file is missing or wrong (exit 2)."""


class UsageError(FeedtoolError):
    """The command line is wrong (exit 2)."""


class SourceError(FeedtoolError):
    """One source failed this run; the others go on (exit 1)."""


class FetchError(SourceError):
    """The page or feed could not be fetched.

    `retry_after`: seconds the server asked to wait (Retry-After on a 429 or 503), if any.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ExtractError(SourceError):
    """The page or feed was fetched but yielded nothing usable."""


class StateError(FeedtoolError):
    """The state database cannot be read or written (exit 1)."""


class EmptyPageError(ExtractError):
    """The page was read but no item was found on it: selectors that no longer match."""


class Interrupted(FeedtoolError):
    """The daemon was told to stop while a source was being checked: not the source's fault."""


class PublishError(FeedtoolError):
    """The feeds cannot be written (output_dir unwritable, disk full): concerns every source."""
