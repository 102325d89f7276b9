"""Failures that retrying cannot fix: a task raising one fails at once, without its retries."""

from __future__ import annotations


class NotRetryable(RuntimeError):
    """The same inputs would fail the same way: a person must change something first."""


class ConfigurationError(NotRetryable, ValueError):
    """A setting is wrong: a run param, a connection's extra, the registry."""
