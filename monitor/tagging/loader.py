"""Read a rule file: YAML that remembers line numbers and refuses duplicate keys.

A rule author who lists a term twice under one tag would silently lose one weight with plain
``yaml.safe_load``; here it is an error naming the line. Every mapping and list read from the
file knows its line, so validation messages can point at it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class RulesError(ValueError):
    """A rule file that cannot be used; the message names the file, line, rule and problem."""


class LineDict(dict[str, Any]):
    """A mapping read from YAML, with the 1-based line where it starts."""

    line: int = 0


class LineList(list[Any]):
    """A sequence read from YAML, with the 1-based line where it starts."""

    line: int = 0


class _Loader(yaml.SafeLoader):
    """Safe YAML loader whose mappings and sequences carry their line numbers."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise RulesError(
                f"line {key_node.start_mark.line + 1}: {key!r} is listed twice in the mapping "
                f"that starts on line {out.line}"
            )
        out[key] = loader.construct_object(value_node, deep=True)
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def read_yaml(text: str, source: str) -> Any:
    """Parse ``text`` (from ``source``, for messages) into LineDict/LineList/scalars."""
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    except RulesError as exc:
        raise RulesError(f"{source}, {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesError(f"{source}{where}: not valid YAML: {problem}") from None


def read_file(path: Path) -> Any:
    """Read and parse the rule file at ``path``; a missing file is a :class:`RulesError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot read the rule file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise RulesError(f"{path}: the rule file is not UTF-8 ({exc.reason})") from None
    return read_yaml(text, str(path))
