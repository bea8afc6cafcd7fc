"""The command line is written for people: documented, with examples, and friendly errors."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from monitor.cli import cli
from tests.helpers import REPO, monitor_env, run_monitor


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, f"`monitor {prefix}{name}` is listed but not defined"
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found += _commands(command, f"{path} ")
        else:
            found.append((path, command))
    return found


COMMANDS = _commands(cli)


def test_every_module_command_is_listed() -> None:
    import importlib

    from monitor.cli import COMMANDS

    for module in set(COMMANDS.values()):
        for command in importlib.import_module(f"monitor.cli.{module}").commands:
            assert COMMANDS.get(command.name or "") == module, f"{command.name} is not listed"


def test_design_commands_exist() -> None:
    names = {name for name, _ in COMMANDS}
    for wanted in ("feeds sync", "feeds list", "crawl", "articles", "status", "db upgrade", "demo"):
        assert wanted in names


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_every_command_has_examples_and_is_in_readme(name: str, command: click.Command) -> None:
    assert command.help and "Examples:" in command.help, f"`monitor {name}` help has no examples"
    assert f"monitor {name}" in command.help
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"`monitor {name}" in readme, f"`monitor {name}` is not documented in README.md"


def test_help_runs_without_configuration() -> None:
    result = CliRunner().invoke(cli, ["--help"], env={"MONITOR_BOGUS": "1"})
    assert result.exit_code == 0
    assert "feeds" in result.output and "crawl" in result.output


def test_unknown_setting_is_named(tmp_path: Path) -> None:
    env = monitor_env(f"sqlite:///{tmp_path / 'm.db'}", MONITOR_DATABSE_URL="oops")
    done = run_monitor(["status"], env)
    assert done.returncode == 1
    assert "unknown setting MONITOR_DATABSE_URL" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "m.db").exists()


def test_unreachable_database_is_named(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"
    done = run_monitor(["status"], monitor_env(url))
    assert done.returncode == 1
    assert "cannot reach the database postgresql://nobody@127.0.0.1:1/none" in done.stderr
    assert "Traceback" not in done.stderr
    missing = run_monitor(["status"], monitor_env(f"sqlite:///{tmp_path}/no/such/dir/m.db"))
    assert missing.returncode == 1 and "is missing" in missing.stderr


def test_bad_registry_is_named_and_nothing_loaded(tmp_path: Path, db_url: str) -> None:
    bad = tmp_path / "feeds.yaml"
    bad.write_text(
        "feeds:\n  - id: a\n    outlet: A\n    country: MA\n    language: ar\n"
        "    url: https://a.ma/feed\n  - id: a\n    outlet: B\n    country: MA\n"
        "    language: fr\n    url: https://b.ma/feed\n",
        encoding="utf-8",
    )
    done = run_monitor(["feeds", "sync", "--file", str(bad)], monitor_env(db_url))
    assert done.returncode == 1
    assert f"{bad}:7: duplicate id 'a' (first defined on line 2)" in done.stderr
    listed = run_monitor(["feeds", "list", "--json"], monitor_env(db_url))
    assert json.loads(listed.stdout) == []


def test_unknown_feed_id_is_a_usage_error(db_url: str) -> None:
    done = run_monitor(["crawl", "--feed", "nope"], monitor_env(db_url))
    assert done.returncode == 2
    assert "no feed with id nope" in done.stderr


def test_bad_date_is_a_usage_error(db_url: str) -> None:
    done = run_monitor(["articles", "--since", "yesterday-ish"], monitor_env(db_url))
    assert done.returncode == 2
    assert "is not a date" in done.stderr


def test_sync_then_list_formats(tmp_path: Path, db_url: str) -> None:
    env = monitor_env(db_url)
    synced = run_monitor(["feeds", "sync"], env)
    assert synced.returncode == 0, synced.stderr
    count = int(re.match(r"(\d+) added", synced.stdout).group(1))  # type: ignore[union-attr]
    assert count >= 20
    again = run_monitor(["feeds", "sync"], env)
    assert again.stdout.startswith(f"0 added, 0 updated, 0 disabled, {count} unchanged")
    records = json.loads(run_monitor(["feeds", "list", "--json"], env).stdout)
    assert {r["id"] for r in records} >= {"hespress-ar", "ynet-he", "telquel-fr", "jpost-en"}
    assert all(r["health"] == "new" for r in records)
    raw = run_monitor(["feeds", "list", "--csv"], env).stdout
    assert raw.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(raw.removeprefix("\ufeff"))))
    assert [row["id"] for row in rows] == [r["id"] for r in records]
    lines = run_monitor(["feeds", "list", "--jsonl"], env).stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [r["id"] for r in records]
    # A feed removed from the registry is disabled, not deleted.
    small = tmp_path / "small.yaml"
    small.write_text(
        "feeds:\n  - id: hespress-ar\n    outlet: Hespress\n    country: MA\n"
        "    language: ar\n    url: https://www.hespress.com/feed\n",
        encoding="utf-8",
    )
    shrunk = run_monitor(["feeds", "sync", "--file", str(small)], env)
    assert f"{count - 1} disabled" in shrunk.stdout
    after = json.loads(run_monitor(["feeds", "list", "--json"], env).stdout)
    assert len(after) == count
    assert {r["id"] for r in after if r["enabled"]} == {"hespress-ar"}


def test_demo_refuses_to_replace_another_database(tmp_path: Path) -> None:
    precious = tmp_path / "monitor.db"
    precious.write_bytes(b"analyst data")
    done = run_monitor(
        ["demo", "--database", str(precious), "--out", str(tmp_path / "o")],
        monitor_env(f"sqlite:///{precious}"),
    )
    assert done.returncode == 1 and "would replace it" in done.stderr
    assert precious.read_bytes() == b"analyst data"


def test_csv_cells_never_become_formulas() -> None:
    from monitor.cli.output import render

    text = render([{"title": '=HYPERLINK("http://x")', "n": "-3", "ok": "Rabat"}], "csv", [])
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows == [{"title": '\'=HYPERLINK("http://x")', "n": "'-3", "ok": "Rabat"}]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MONITOR_MAX_INTERVAL": "172800"}, "MONITOR_MAX_INTERVAL must be at most 86400"),
        ({"MONITOR_POLL_TICK": "soon"}, "MONITOR_POLL_TICK must be a whole number"),
        ({"MONITOR_SMTP_SECURITY": "tls"}, "MONITOR_SMTP_SECURITY must be starttls, ssl or none"),
        ({"MONITOR_DIGEST_TZ": "Mars/Olympus"}, "not a known time zone"),
        ({"MONITOR_DATABASE_URL": "nonsense:://secret@x"}, "not a database URL"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    base = monitor_env(f"sqlite:///{tmp_path / 'm.db'}")
    done = run_monitor(["status"], {**base, **env})
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert "secret" not in done.stderr and "Traceback" not in done.stderr


def test_password_in_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MONITOR_SMTP_PASSWORD=hunter2\n", encoding="utf-8")
    done = run_monitor(["status"], monitor_env(f"sqlite:///{tmp_path / 'm.db'}"), cwd=tmp_path)
    assert done.returncode == 1
    assert "may only be set in the environment" in done.stderr and "hunter2" not in done.stderr
