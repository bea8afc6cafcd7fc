"""`recluster` re-folds stored text with the current normaliser before rebuilding stories."""

from __future__ import annotations

from sqlalchemy import select, update

from db.models import Article
from monitor.normalise import matching_form
from monitor.pipelines.cluster import recluster
from tests.test_identity import Ingest, entry

BODY = (
    "<p>وقّع المغرب وإسرائيل، اليوم الثلاثاء بالرباط، مذكرة تفاهم للتعاون الأمني تشمل تبادل "
    "المعلومات والتدريب المشترك وتطوير الصناعات الدفاعية بين البلدين خلال السنوات المقبلة.</p>"
    "<p>الرباط (و م ع)</p>"
)


def test_recluster_refolds_stale_matching_keys(db_url: str) -> None:
    ingest = Ingest(db_url)
    ingest.run(
        entry(
            guid="m1", link="https://fr.le360.ma/m1", title="مذكرة تفاهم أمنية", content_html=BODY
        )
    )
    with ingest.sessions.begin() as session:  # as an older normaliser might have left them
        session.execute(update(Article).values(match_text="stale", title_key="stale"))
    report = recluster(ingest.sessions)
    assert report.articles == 1
    with ingest.sessions() as session:
        article = session.execute(select(Article)).scalar_one()
    title_key, match_text = matching_form(article.title, article.summary, article.body)
    assert (article.title_key, article.match_text) == (title_key, match_text)
    assert "اسراءيل" in match_text and "و م ع" not in match_text  # folded, credit removed
