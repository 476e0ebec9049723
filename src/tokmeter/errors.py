"""tokmeter's exceptions: one base class, turned into a clean exit in one place (cli.main)."""

from __future__ import annotations


class TokmeterError(Exception):
    """Base of every error tokmeter raises on purpose. Carries a hint on how to fix it."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\nHint: {self.hint}" if self.hint else self.message


class UsageError(TokmeterError):
    """Bad arguments or options."""

    exit_code = 2


class ConfigError(TokmeterError):
    """A bad configuration or price file."""

    exit_code = 2


class NoStoreError(UsageError):
    """A command that reads the store was pointed at a directory or URL that holds none (a mistyped
    --store or $TOKMETER_STORE, or nothing ingested yet)."""


class StoreError(TokmeterError):
    """The store cannot be read or written."""

    exit_code = 3


class StoreBusyError(StoreError):
    """Another tokmeter process holds the store's lock and we were told not to wait."""

    exit_code = 75  # EX_TEMPFAIL: cron may simply retry later


class BadCaptureError(TokmeterError):
    """One capture cannot be turned into a usage row. Never stops a run; it is counted and reported."""


class BadCapturesFound(TokmeterError):
    """Raised after a --strict ingest that set captures aside."""

    exit_code = 4


class VerificationFailed(TokmeterError):
    """``tokmeter verify`` found modified, missing or unexpected parts, or a broken ledger chain."""

    exit_code = 5


class CoverageBelow(TokmeterError):
    """``tokmeter reconcile --fail-under`` found metered coverage of the bill below the threshold."""

    exit_code = 8
