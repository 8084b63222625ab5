"""The C front end's errors. Each names the construct and where it is in the
driver source, so that a user sees what to change; the CLI turns every
``CFrontError`` into a message and exit code 2."""
from __future__ import annotations


class CFrontError(Exception):
    """Base class: the front end cannot read or run this driver source."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        self.message, self.file, self.line, self.column = message, file, line, column
        super().__init__(str(self))

    def where(self) -> str:
        if self.file is None:
            return ""
        place = f"{self.file}:{self.line}" if self.line else self.file
        return place + (f":{self.column}" if self.column else "") + ": "

    def __str__(self) -> str:
        return self.where() + self.message


class PreprocessError(CFrontError):
    """The C preprocessor rejected the source (a missing header, a bad directive)."""


class CSyntaxError(CFrontError):
    """The preprocessed source does not parse."""


class Unsupported(CFrontError):
    """A construct outside the C subset the interpreter runs."""

    def __init__(self, construct: str, file: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        self.construct = construct
        super().__init__(f"unsupported construct: {construct}", file, line, column)


class DriverFault(CFrontError):
    """The interpreted driver did what would crash a compiled build: a NULL
    or poisoned pointer dereference, a division by zero, a read of an
    uninitialised variable, a corrupted list."""
