"""The one error type the command turns into ``exit 2`` with a one-line reason."""

from __future__ import annotations


class TrainError(Exception):
    """A problem with the user's input (data, flags, files); the message is shown as is."""
