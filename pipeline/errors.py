"""User-facing errors. The CLI prints ``str(err)`` as one line and exits 2 — no traceback."""

from __future__ import annotations


class LagesbildError(Exception):
    """A problem the user can fix (bad input, bad config). The message says what to do."""


class ConfigError(LagesbildError):
    """config.yaml is invalid; the message names the key and what is allowed."""


class InputError(LagesbildError):
    """A structural problem with an export or reference file (not a single bad row).

    The message names partner, file, line and column where they are known.
    """

    def __init__(self, message: str, *, partner: str | None = None, file: str | None = None,
                 line: int | None = None, column: str | None = None):
        where = ", ".join(
            part for part in (
                f"partner {partner}" if partner else "",
                f"file {file}" if file else "",
                f"line {line}" if line else "",
                f"column {column!r}" if column else "",
            ) if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.partner, self.file, self.line, self.column = partner, file, line, column


class LockedError(LagesbildError):
    """Another lagesbild run holds the lock."""
