"""Every file of ../shared/corpus through parse_feed: only FeedParseError may escape.

The corpus (real outlet feeds and three parser test suites) lives beside the repository and
is never copied into it; these tests skip when it is absent.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from monitor.parsing import FeedParseError, parse_feed
from monitor.urls import canonical_url

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
REAL = CORPUS / "real"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _real_feeds() -> list[Path]:
    return [p for p in _files(REAL) if p.suffix == ".xml"] if REAL.is_dir() else []


def test_every_corpus_file_parses_or_is_a_named_parse_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    escaped: list[str] = []
    for path in _files(CORPUS):
        try:
            feed = parse_feed(
                path.read_bytes(), url=f"https://corpus.example/{path.name}", headers={}
            )
        except FeedParseError as error:
            counts["parse_error"] += 1
            reasons[str(error).split(" (", 1)[0]] += 1
            assert str(error), path
        except Exception as error:  # the point: nothing else may escape
            escaped.append(f"{path.relative_to(CORPUS)}: {error!r}")
        else:
            counts["entries" if feed.entries else "no_entries"] += 1
            counts["bozo"] += feed.bozo is not None
            counts["items"] += len(feed.entries)
    total = counts["entries"] + counts["no_entries"] + counts["parse_error"]
    with capsys.disabled():
        print(
            f"\ncorpus: {total} files: {counts['entries']} with entries "
            f"({counts['items']} items), {counts['no_entries']} feeds without entries, "
            f"{counts['parse_error']} parse errors; {counts['bozo']} feeds flagged bozo"
        )
        for reason, n in reasons.most_common():
            print(f"  parse_error x{n}: {reason}")
    assert not escaped, escaped
    assert total == len(_files(CORPUS))
    assert counts["entries"] > 1000  # the suites are mostly feeds with entries


@pytest.mark.parametrize("path", _real_feeds(), ids=lambda p: p.name)
def test_real_outlet_feeds_yield_entries_with_links(path: Path) -> None:
    feed = parse_feed(path.read_bytes(), url="https://corpus.example/feed", headers={})
    assert feed.entries, path.name
    for entry in feed.entries:
        assert entry.title, path.name
        assert entry.link is not None, (path.name, entry.title)
        assert entry.link.startswith("https://"), entry.link
        assert entry.published is not None, (path.name, entry.title)


def test_real_hespress_and_telquel_links_fold_to_outlet_hosts() -> None:
    if not (REAL / "hespress.xml").exists():
        pytest.skip("real Hespress/TelQuel samples absent")
    hespress = parse_feed(
        (REAL / "hespress.xml").read_bytes(), url="https://h.example/", headers={}
    )
    telquel = parse_feed((REAL / "telquel.xml").read_bytes(), url="https://t.example/", headers={})
    keys = [canonical_url(e.link or "") for e in hespress.entries]
    assert all(k.startswith("https://hespress.com/%D8") or "hespress.com/" in k for k in keys)
    assert len(set(keys)) == len(keys)
    assert all(
        canonical_url(e.link or "").startswith("https://telquel.ma/") for e in telquel.entries
    )
    # both wrongly declare English; the parser reports what is declared, lang.py checks it
    assert hespress.language == telquel.language == "en"
    assert any("\u0600" <= ch <= "\u06ff" for ch in hespress.entries[0].title)


def test_jpost_repolls_give_the_same_keys_for_the_same_items() -> None:
    polls = sorted((REAL / "jpost-2023-02").glob("*.xml")) if REAL.is_dir() else []
    if len(polls) < 2:
        pytest.skip("JPost polls absent")
    first, second = (
        {
            canonical_url(e.link or "")
            for e in parse_feed(p.read_bytes(), url="https://j/", headers={}).entries
        }
        for p in polls[:2]
    )
    assert first & second  # the two polls overlap
    assert all(key.startswith("https://jpost.com/") for key in first | second)
