"""The reporting package's errors for people: each message says what to do instead."""

from __future__ import annotations


class ReportingError(ValueError):
    """A report that cannot be built as asked; the message says what to do instead."""
