"""Tagging throughput: articles per second with the full rule set, beside a one-regex baseline.

Texts: the labelled items (tests/data/tagging, four languages) plus, when the shared corpus is
beside the repository, every item of its real feeds (Israeli outlets in Hebrew and English,
Hespress in Arabic, TelQuel in French) and the Alnas repost, cycled up to --articles.

Measured in one run over the same texts:

* tagger: ``tags_for(title, body, lang, rules)`` with settings/topics.yaml: fold, one pass
  over the words with Arabic/Hebrew prefix readings, all eight tags scored, evidence built;
* baseline: fold the same title and body, then one compiled regular expression, an
  alternation of every variant of every term in the rules (whole words, ``*`` stems as
  ``\\w*``), run with ``findall`` over each field: no prefixes, no scoring, no evidence;
* fold only: the share of both that is text folding.

    python bench/tagging.py                  # 20,000 articles (well under a minute)
    python bench/tagging.py --articles 100000
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from itertools import cycle, islice
from pathlib import Path

import yaml

from monitor.parsing import parse_feed
from monitor.tagging import LANGUAGES, Rules, load_rules, tags_for
from monitor.text import clean_text, fold

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "tagging"
CORPUS = ROOT.parent / "shared" / "corpus" / "real"

Article = tuple[str, str, str | None]  # title, body, language


def labelled() -> list[Article]:
    out: list[Article] = []
    for folder in (DATA, DATA / "holdout", DATA / "holdout2"):
        for lang in LANGUAGES:
            for item in yaml.safe_load((folder / f"{lang}.yaml").read_text(encoding="utf-8")):
                out.append((item["title"], item["body"], lang))
    return out


def corpus() -> list[Article]:
    """Real feed items (title, cleaned summary or content); empty without the corpus."""
    if not CORPUS.is_dir():
        return []
    out: list[Article] = []
    for path in sorted(CORPUS.rglob("*.xml")):
        feed = parse_feed(path.read_bytes(), url=f"https://example.invalid/{path.name}", headers={})
        for entry in feed.entries:
            body = clean_text(entry.content_html or entry.summary_html)
            out.append((entry.title, body, entry.language))
    repost = CORPUS / "alnas-repost-2022-07-19.txt"
    if repost.exists():
        title, _, body = repost.read_text(encoding="utf-8").partition("\n")
        out.append((title, body, "ar"))
    return out


def baseline_regex(rules: Rules) -> re.Pattern[str]:
    """One alternation of every phrase of the rule set, longest first, whole words."""
    variants = []
    for phrase in rules.matcher.phrases:
        words = [re.escape(text) + (r"\w*" if is_stem else "") for text, is_stem in phrase]
        variants.append(" ".join(words))
    variants.sort(key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(variants) + r")(?!\w)")


def timed(label: str, articles: list[Article], work: Callable[[Article], object]) -> float:
    start = time.perf_counter()
    for article in articles:
        work(article)
    elapsed = time.perf_counter() - start
    rate = len(articles) / elapsed
    print(f"  {label:<34}{rate:>10,.0f} articles/s   ({elapsed:.2f} s)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=20_000)
    args = parser.parse_args()

    started = time.perf_counter()
    rules = load_rules()
    compile_s = time.perf_counter() - started
    texts = labelled() + corpus()
    articles = list(islice(cycle(texts), args.articles))
    words = sum(len(fold(t).split()) + len(fold(b).split()) for t, b, _ in texts) / len(texts)
    pattern = baseline_regex(rules)
    print(
        f"rules {rules.version}: {len(rules.tags)} tags, {len(rules.matcher.phrases)} phrases, "
        f"compiled in {compile_s * 1000:.0f} ms"
    )
    print(
        f"{len(texts)} distinct texts (mean {words:.0f} words), cycled to {len(articles):,} "
        f"articles; baseline regex {len(pattern.pattern):,} characters"
    )

    def tagger(a: Article) -> object:
        return tags_for(a[0], a[1], a[2], rules)

    def baseline(a: Article) -> object:
        return pattern.findall(fold(a[0])), pattern.findall(fold(a[1]))

    def fold_only(a: Article) -> object:
        return fold(a[0]), fold(a[1])

    # warm both (the tagger's per-word cache fills on first sight of a word, as in a daemon)
    for article in islice(iter(texts), 200):
        tagger(article)
        baseline(article)
    ours = timed("tagger (full rules, evidence)", articles, tagger)
    base = timed("baseline (one regex alternation)", articles, baseline)
    only = timed("fold only", articles, fold_only)
    tagged = sum(1 for a in texts if tagger(a))
    print(f"ratio tagger / baseline: {ours / base:.2f}x")
    print(f"fold alone: {only:,.0f} articles/s; texts with a tag: {tagged}/{len(texts)}")


if __name__ == "__main__":
    main()
