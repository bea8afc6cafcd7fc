"""Stage 4: tag new and updated articles (monitor/tagging.py, rules in settings/topics.yaml).

The stage scores the article's title and matching text (folded, credit- and boilerplate-free)
and leaves a store hook that replaces the article's tags, with evidence and the rules
version, in the article's own transaction. `monitor retag` runs :func:`retag` over stored
articles with the current rules.

A rule file that does not load does not stop the crawl: articles are stored untagged (counted
under `monitor/tag/rules_error`, the error logged once) and `monitor retag` tags them once the
file is fixed.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, Self

from sqlalchemy.orm import Session, sessionmaker

from db.tags import TagRow, articles_to_tag, ensure_tags, replace_article_tags
from monitor.items import Action, ArticleItem
from monitor.pipelines import sessions_for
from monitor.tagging import DEFAULT_TOPICS, Rules, RulesError, TagHit, load_rules, tags_for

log = logging.getLogger(__name__)


def tag_rows(hits: list[TagHit]) -> list[TagRow]:
    """What the database keeps of each hit: score, rules version, and the evidence record
    (`matches`: rule entry, field, word positions, matched text, points; `via`)."""
    rows = []
    for hit in hits:
        record = hit.to_json()
        evidence = {"via": record["via"], "matches": record["matches"]}
        rows.append(TagRow(hit.tag, hit.score, evidence, hit.version))
    return rows


def rules_path(setting: str | None) -> Path:
    return Path(setting) if setting else DEFAULT_TOPICS


class TagPipeline:
    def __init__(self, sessions: Any, stats: Any, rules: Rules | None) -> None:
        self.sessions = sessions
        self.stats = stats
        self.rules = rules
        self._tag_ids: dict[str, int] | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> Self:
        path = rules_path(crawler.settings.get("MONITOR_TOPICS_FILE"))
        try:
            rules: Rules | None = load_rules(path)
        except RulesError as exc:
            log.error("tagging is off for this crawl: %s", exc)
            rules = None
        return cls(sessions_for(crawler), crawler.stats, rules)

    def _ids(self, rules: Rules) -> dict[str, int]:
        # Committed in a session of our own: a hook's transaction may roll back, the tag
        # registry rows must not go with it.
        if self._tag_ids is None:
            with self.sessions.begin() as session:
                self._tag_ids = ensure_tags(session, rules.labels())
        return self._tag_ids

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem) or item.article is None:
            return item
        if item.action is Action.UNCHANGED:
            return item
        rules = self.rules
        if rules is None:
            self.stats.inc_value("monitor/tag/rules_error")
            return item
        article = item.article
        hits = tags_for(article.title, article.match_text, article.language, rules)
        rows = tag_rows(hits)
        tag_ids = self._ids(rules)
        tagged_at = datetime.now(UTC)
        item.notes["tags"] = [hit.tag for hit in hits]

        def hook(session: Session, article_id: int) -> None:
            replace_article_tags(session, article_id, rows, tag_ids, tagged_at=tagged_at)

        item.hooks.append(hook)
        self.stats.inc_value("monitor/tag/articles")
        for hit in hits:
            self.stats.inc_value(f"monitor/tag/{hit.tag}")
        return item


class RetagReport(NamedTuple):
    version: str  # of the rules applied
    articles: int
    added: Counter[str]  # tag slug -> articles that gained it
    removed: Counter[str]  # tag slug -> articles that lost it
    changed: Counter[str]  # tag slug -> articles that kept it with a new score or evidence
    unchanged: int  # tags kept as they were


def retag(
    sessions: sessionmaker[Session],
    rules: Rules,
    *,
    since: datetime | None = None,
    batch: int = 500,
) -> RetagReport:
    """Re-apply ``rules`` to stored articles (published at or after ``since``; all when None).

    Each article gets exactly the tags the rules give it now, with fresh evidence; tags the
    rules no longer give are removed. Commits every ``batch`` articles, so an interrupted run
    keeps its progress and a rerun finishes the job.
    """
    with sessions.begin() as session:
        tag_ids = ensure_tags(session, rules.labels())
    report = RetagReport(rules.version, 0, Counter(), Counter(), Counter(), 0)
    unchanged = done = last_id = 0
    while True:
        with sessions.begin() as session:
            stored = articles_to_tag(session, since=since, after_id=last_id, limit=batch)
            now = datetime.now(UTC)
            for article in stored:
                hits = tags_for(article.title, article.match_text, article.language, rules)
                change = replace_article_tags(
                    session, article.id, tag_rows(hits), tag_ids, tagged_at=now
                )
                report.added.update(change.added)
                report.removed.update(change.removed)
                report.changed.update(change.changed)
                unchanged += len(change.unchanged)
        if not stored:
            break
        done += len(stored)
        last_id = stored[-1].id
    return report._replace(articles=done, unchanged=unchanged)
