"""Ranked full-text search over articles: FTS5 on SQLite, tsvector + GIN on PostgreSQL.

Both indexes (migration 0002) cover the folded title (`title_key`, weighted higher) and
the folded body (`match_text`). This module does not parse queries (db/ imports nothing
from monitor/): callers pass the two renderings of one parsed query, made by
`monitor.search_query.to_fts5` and `to_tsquery`. Both travel as bound parameters.

Ranks are "higher is better" on both databases (SQLite: minus bm25; PostgreSQL:
ts_rank), comparable within one result list, not across databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, column, func, literal_column, select, table
from sqlalchemy.orm import Session

from db.models import Article

TITLE_WEIGHT = 3.0  # a hit in the headline counts three times one in the body (bm25)


@dataclass(frozen=True)
class SearchExpression:
    """One query rendered for each database (see monitor.search_query)."""

    fts5: str
    tsquery: str
    tsquery_rank: str | None = None  # a shorter query to rank with (PostgreSQL)


@dataclass(frozen=True)
class Hit:
    article_id: int
    rank: float


def search(
    session: Session,
    expression: SearchExpression,
    *,
    within: Select[Any] | None = None,
    limit: int | None = 50,
) -> list[Hit]:
    """Best matches first; ``within`` (a SELECT of article ids) applies the caller's filters."""
    id_column: ColumnElement[Any]
    if session.get_bind().dialect.name == "sqlite":
        fts = table("articles_fts", column("rowid"))
        bm25 = func.bm25(literal_column("articles_fts"), TITLE_WEIGHT, 1.0)
        query = (
            select(fts.c.rowid, bm25)
            .select_from(fts)
            .where(literal_column("articles_fts").op("MATCH")(bindparam("q", expression.fts5)))
            .order_by(bm25, fts.c.rowid.desc())
        )
        id_column = fts.c.rowid
        sign = -1.0
    else:
        vector: ColumnElement[Any] = literal_column("articles.search_vector")
        # Scalar subqueries are evaluated once; a bare to_tsquery() (STABLE) may be parsed
        # again for every row. Ranking uses ts_rank with the short query: ts_rank_cd and
        # long OR lists of prefixes cost seconds over a few thousand hits.
        tsquery = _tsquery(expression.tsquery)
        rank = func.ts_rank(vector, _tsquery(expression.tsquery_rank or expression.tsquery))
        query = (
            select(Article.id, rank)
            .where(vector.op("@@")(tsquery))
            .order_by(rank.desc(), Article.id.desc())
        )
        id_column = Article.__table__.c.id
        sign = 1.0
    if within is not None:
        query = query.where(id_column.in_(within.scalar_subquery()))
    if limit:
        query = query.limit(limit)
    return [Hit(int(i), sign * float(r)) for i, r in session.execute(query)]


def _tsquery(text: str) -> Any:
    regconfig: ColumnElement[Any] = literal_column("'simple'::regconfig")
    return select(func.to_tsquery(regconfig, bindparam(None, text))).scalar_subquery()


def article_texts(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, str, str]]:
    """(title, summary, body) of these articles, for snippets."""
    if not ids:
        return {}
    rows = session.execute(
        select(Article.id, Article.title, Article.summary, Article.body).where(
            Article.id.in_(list(ids))
        )
    )
    return {i: (title or "", summary or "", body or "") for i, title, summary, body in rows}
