"""ETL errors: a log message for developers and a one-line Chinese message for the clerk."""

from __future__ import annotations


class EtlError(Exception):
    """Base of the ETL error family (like pygeoapi's GenericError): `str(e)` is the log
    message, `e.user_msg` the Chinese message shown to the user."""

    exit_code = 1

    def __init__(self, msg: str, user_msg: str | None = None):
        super().__init__(msg)
        self.user_msg = user_msg or msg


class UnusableInput(EtlError):
    """A file that cannot be loaded at all: unreadable, unknown kind, required columns missing,
    a bad `--map` or `--crs`. The CLI exits 2 and nothing is written.

    `file` names the input file, `missing` the required fields not found, `unknown` the file's
    headers that matched no field, `accepted` a short list of accepted header names, `kind` the
    data kind the file was taken for (when known).
    """

    exit_code = 2

    def __init__(
        self,
        msg: str,
        user_msg: str | None = None,
        *,
        file: str = "",
        missing: list[str] | None = None,
        unknown: list[str] | None = None,
        accepted: list[str] | None = None,
        kind: str | None = None,
    ):
        super().__init__(msg, user_msg)
        self.file = file
        self.missing = list(missing or [])
        self.unknown = list(unknown or [])
        self.accepted = list(accepted or [])
        self.kind = kind


class UnreadableFile(UnusableInput):
    """The file is missing, empty, of an unsupported type or in an undetectable encoding."""


class UnknownKind(UnusableInput):
    """The data kind could not be detected from the headers (or `--kind` names no kind)."""


class MissingColumns(UnusableInput):
    """Columns the kind requires are not in the file (and no `--map` supplies them)."""


class BadOption(UnusableInput):
    """A command-line option is malformed: `--map`, `--crs` or `--kind`."""
