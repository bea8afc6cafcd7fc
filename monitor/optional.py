"""Parts of the product that need a package not every install has, named in one line.

Each optional part (full-text extraction, the web view, the PostgreSQL driver) is imported
through :func:`load`, which turns a failed import into :class:`MissingDependency`: one line
saying what is unavailable, why, and the ``pip install`` that brings it back. The commands
that do not need the part never import it, so they keep working without it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from types import ModuleType


class MissingDependency(RuntimeError):
    """An optional part could not be imported; the message is the one line to show."""


@dataclass(frozen=True, slots=True)
class Part:
    feature: str  # what the user asked for, in their words
    module: str  # what we import
    install: str  # what brings it back


FULLTEXT = Part("full-text extraction", "trafilatura", "pip install trafilatura lxml_html_clean")
WEB_VIEW = Part("the web view (monitor browse)", "datasette", "pip install datasette uvicorn")
POSTGRES = Part("PostgreSQL", "psycopg", "pip install 'psycopg[binary]'")


def load(part: Part) -> ModuleType:
    """Import `part`'s module, or raise `MissingDependency` naming it and its install."""
    try:
        return importlib.import_module(part.module)
    except ImportError as exc:  # also a package present but broken (a missing sub-dependency)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MissingDependency(
            f"{part.feature} is unavailable: {reason}; install it with: {part.install}"
        ) from None


@cache
def unavailable(part: Part) -> str | None:
    """The one-line reason `part` cannot be used in this process, or None when it can."""
    try:
        load(part)
    except MissingDependency as exc:
        return str(exc)
    return None
