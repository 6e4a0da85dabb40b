"""User-facing errors. The CLI prints ``str(err)`` as one line and exits 2 — no traceback."""

from __future__ import annotations

import errno


class LagesbildError(Exception):
    """A problem the user can fix (bad input, bad config). The message says what to do."""


class ConfigError(LagesbildError):
    """config.yaml is invalid; the message names the key and what is allowed."""


class InputError(LagesbildError):
    """A structural problem with an export or reference file (not a single bad row).

    The message names partner, file, line and column where they are known.
    """

    def __init__(
        self,
        message: str,
        *,
        partner: str | None = None,
        file: str | None = None,
        line: int | None = None,
        column: str | None = None,
    ):
        where = ", ".join(
            part
            for part in (
                f"partner {partner}" if partner else "",
                f"file {file}" if file else "",
                f"line {line}" if line else "",
                f"column {column!r}" if column else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.partner, self.file, self.line, self.column = partner, file, line, column


class LockedError(LagesbildError):
    """Another lagesbild run holds the lock."""


class OutputError(LagesbildError):
    """An output cannot be written (permission, read-only file system, full disk).

    Outputs are written atomically, so the previous version of the file is still in place.
    """


#: errno values that are the machine's state, not a bug: one line and exit 2.
PERMISSION_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def output_error(err: OSError, path) -> OutputError | None:
    """The one-line :class:`OutputError` for an OSError writing ``path``, or None if ``err``
    is not a permission or space problem (then it is a bug and keeps its traceback).

    >>> str(output_error(PermissionError(errno.EACCES, "Permission denied"), "maps/index.html"))[:54]
    'maps/index.html: cannot write here (permission denied)'
    """
    if err.errno in PERMISSION_ERRNOS:
        why = "read-only file system" if err.errno == errno.EROFS else "permission denied"
        return OutputError(
            f"{path}: cannot write here ({why}); make the folder writable for the user that "
            "runs lagesbild (the previous file is unchanged)"
        )
    if err.errno in SPACE_ERRNOS:
        return disk_full_error(path)
    return None


def disk_full_error(path) -> OutputError:
    return OutputError(
        f"{path}: the disk is full (or a file size limit was reached) while writing it; free "
        "some space and run again (the previous file is unchanged)"
    )
