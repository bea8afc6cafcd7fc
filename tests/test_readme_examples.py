"""Every example in the README's command table answers on the demo database.

A newcomer runs the quick start (`monitor demo`), pastes the line the demo prints, and types
the README's examples: each must give rows (or do what it says), not an empty table. The
examples are read from README.md itself, so an example that stops working on the demo data
fails here.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import REPO, monitor_env

README = (REPO / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent


def table_examples() -> list[str]:
    """The example column of the README's command table, in order."""
    section = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `monitor")]
    return [re.findall(r"`([^`]+)`", row.rsplit("|", 2)[1])[0] for row in rows]


def block_examples() -> list[str]:
    """The `monitor …` lines of the sh block that follows the command table."""
    section = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.startswith("monitor ")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A folder in which `monitor demo` ran, and the database URL it told us to export."""
    here = tmp_path_factory.mktemp("demo")
    env = monitor_env("sqlite:///unused.db") | {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MONITOR_DATABASE_URL")
    done = subprocess.run(
        ["monitor", "demo"],
        cwd=here,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    pasted = re.search(r"^\s*export MONITOR_DATABASE_URL=(\S+)$", done.stdout, re.M)
    assert pasted is not None, done.stdout[-2000:]
    assert pasted.group(1) == f"sqlite:///{here / 'demo-monitor.db'}"
    return here, pasted.group(1)


@pytest.fixture
def shell(demo: tuple[Path, str], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A working folder like the newcomer's, with their own copy of the demo database."""
    here, _ = demo
    work = tmp_path / "work"
    shutil.copytree(here, work)
    env = monitor_env(f"sqlite:///{work / 'demo-monitor.db'}")
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    return work, env


def sh(command: str, work: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_readme_documents_examples_for_every_command() -> None:
    assert len(table_examples()) >= 14
    assert len(block_examples()) >= 3


@pytest.mark.parametrize("example", table_examples() + block_examples())
def test_readme_example_answers_on_the_demo_data(
    example: str, shell: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    work, env = shell
    if "jq" in example and shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    if example == "monitor run":
        _check_daemon(work, env)
        return
    if example.startswith("monitor browse"):
        _check_browse(example, work, env)
        return
    example = example.replace("/tmp/", f"{tmp_path}/")
    done = sh(example, work, env)
    assert done.returncode == 0, f"{example}: {done.stderr}"
    if "> " in example:  # an export to a file
        target = work / example.rsplit("> ", 1)[1].strip()
        rows = list(csv.DictReader(target.read_text("utf-8-sig").splitlines()))
        assert rows, example
        assert all("defense-cooperation" in row["tags"] for row in rows)
        return
    assert done.stdout.strip(), f"{example} printed nothing"
    if example.endswith("--json"):
        assert json.loads(done.stdout), example
    elif example.startswith(("monitor articles", "monitor search", "monitor feeds list")):
        assert len(done.stdout.strip().splitlines()) >= 2, f"{example}: no rows\n{done.stdout}"
    elif example.startswith("monitor crawl"):
        assert "1 feeds fetched" in done.stdout


def _check_daemon(work: Path, env: dict[str, str]) -> None:
    with subprocess.Popen(
        ["monitor", "run"], cwd=work, env=env, stderr=subprocess.PIPE, text=True
    ) as daemon:
        assert daemon.stderr is not None
        try:
            assert "event=daemon.start" in daemon.stderr.readline()
            # Its first tick starts a crawl child at once: by then it is past its signal set-up.
            assert "event=crawl.start" in daemon.stderr.readline()
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.stderr.read()
        assert daemon.wait(timeout=40) == 0


def _check_browse(example: str, work: Path, env: dict[str, str]) -> None:
    port = free_port()
    command = example.replace("8001", str(port)).split()
    server = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/monitor/articles") as page:
                    assert "ضباط مغاربة" in page.read().decode("utf-8")
                    return
            except OSError:
                assert time.monotonic() < deadline, "the web view did not answer"
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=30)
