"""Names with a fixed meaning in the database, shared by modules that must not
import one another."""

from __future__ import annotations

DEFAULT_USERNAME = "default"
"""The user that stands for everyone, and for anonymous visitors."""
