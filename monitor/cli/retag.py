"""`monitor retag`: re-apply the tag rules (MONITOR_TOPICS_FILE) to stored articles."""

from __future__ import annotations

import json
import time
from datetime import datetime

import click

from db.engine import get_engine, session_factory
from monitor.cli import AppContext, pass_app
from monitor.cli.output import When
from monitor.tagging import Rules, RulesError, load_rules


def _load(app: AppContext) -> Rules:
    try:
        return load_rules(app.config.topics_file)
    except RulesError as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@click.option("--since", type=When(), help="Only articles published at or after (default: all).")
@click.option("--check", is_flag=True, help="Only validate the rule file; touch no article.")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@pass_app
def retag(app: AppContext, since: datetime | None, check: bool, as_json: bool) -> None:
    """Re-apply the tag rules to stored articles and report what changed.

    Every article (published since --since, all by default) gets exactly the tags the
    current rules give it, with fresh evidence and the rules version; tags the rules no
    longer give are removed. Run it after editing the rule file (MONITOR_TOPICS_FILE,
    settings/topics.yaml by default). An invalid rule file is reported with the rule and
    line at fault, and nothing is changed.

    \b
    Examples:
      monitor retag --check
      monitor retag
      monitor retag --since 30d
      monitor retag --since 2026-11-01 --json
    """
    rules = _load(app)
    if check:
        click.echo(
            f"{rules.source}: version {rules.version}, {len(rules.tags)} tags "
            f"({', '.join(rules.slugs())}), {len(rules.matcher.phrases)} phrases: OK"
        )
        return
    from monitor.pipelines.tag import retag as run_retag

    url = app.database()
    started = time.monotonic()
    report = run_retag(session_factory(get_engine(url)), rules, since=since)
    seconds = round(time.monotonic() - started, 1)
    if as_json:
        record = {
            "version": report.version,
            "articles": report.articles,
            "added": dict(report.added),
            "removed": dict(report.removed),
            "changed": dict(report.changed),
            "unchanged": report.unchanged,
            "seconds": seconds,
        }
        click.echo(json.dumps(record, ensure_ascii=False))
        return
    click.echo(
        f"re-tagged {report.articles} articles with rules {report.version}: "
        f"{report.added.total()} tags added, {report.removed.total()} removed, "
        f"{report.changed.total()} changed, {report.unchanged} unchanged ({seconds} s)"
    )
    slugs = [s for s in rules.slugs() if report.added[s] or report.removed[s] or report.changed[s]]
    slugs += sorted((set(report.removed) | set(report.added)) - set(slugs))
    for slug in slugs:
        click.echo(
            f"  {slug:<22} +{report.added[slug]:<6} -{report.removed[slug]:<6} "
            f"~{report.changed[slug]}"
        )


commands = [retag]
