"""Defence-cooperation tags: multilingual, explainable rules (EMM-style) applied to articles.

Rules are data (``settings/topics.yaml``, its header documents the language): shared entity
lists with their spellings across scripts, and per tag and per language weighted terms,
``all``/``any``/``none`` conditions, proximity clauses and a threshold. They are validated and
compiled once (:func:`load_rules`); :func:`tags_for` then folds an article's title and body,
finds every term in one pass over each, and returns the tags reached, each with its score,
its evidence (rule entries, field, word positions) and the rules version.

Pure: values in, values out; no database, no Scrapy.
"""

from __future__ import annotations

from pathlib import Path

from monitor.tagging.compile import compile_rules
from monitor.tagging.engine import tags_for
from monitor.tagging.loader import RulesError, read_file, read_yaml
from monitor.tagging.model import LANGUAGES, Match, Rules, TagHit

DEFAULT_TOPICS = Path(__file__).resolve().parents[2] / "settings" / "topics.yaml"


def load_rules(path: Path | str = DEFAULT_TOPICS) -> Rules:
    """Read, validate and compile the rule file at ``path``; raise :class:`RulesError`."""
    path = Path(path)
    return compile_rules(read_file(path), str(path))


def parse_rules(text: str, source: str = "<rules>") -> Rules:
    """Validate and compile rules given as YAML text (``source`` names it in messages)."""
    return compile_rules(read_yaml(text, source), source)


__all__ = [
    "DEFAULT_TOPICS",
    "LANGUAGES",
    "Match",
    "Rules",
    "RulesError",
    "TagHit",
    "load_rules",
    "parse_rules",
    "tags_for",
]
