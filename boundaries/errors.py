"""The one exception family of quhua's core.

Every error a user can cause derives from :class:`QuhuaError` and carries the exit code of SPEC §3
(2: the input cannot be used at all) and, for input problems, the SPEC §5 rule id that the JSON report
names. Messages say what arrived, what was allowed and how to fix it.
"""

from __future__ import annotations

__all__ = ["ConfigError", "InputError", "QuhuaError", "StoreError"]


class QuhuaError(Exception):
    """Base class: an error the user can act on (never a bug)."""

    exit_code = 2
    rule = "dataset.unreadable"

    def __init__(self, message: str, *, file: str | None = None, feature: str | None = None,
                 message_zh: str | None = None, rule: str | None = None):
        super().__init__(message)
        if rule:
            self.rule = rule  # the class's rule id unless the raise names a more precise one
        self.message = message
        self.message_zh = message_zh
        self.file = file
        self.feature = feature

    def text(self, lang: str = "zh") -> str:
        """The message in ``lang`` (English where no Chinese one was written)."""
        return self.message_zh if lang == "zh" and self.message_zh else self.message


class InputError(QuhuaError):
    """A submission that cannot be used at all (exit 2): unreadable, no CRS, bad encoding, bad archive."""


class ConfigError(QuhuaError):
    """A configuration file, field map or command-line value that is not valid."""

    rule = "dataset.config"


class StoreError(QuhuaError):
    """The database cannot be opened, created or written."""

    rule = "store.error"
