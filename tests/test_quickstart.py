"""The README's quick start is what CI runs, installs from the lock, and declares every import."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib

import pytest

from tests.helpers import REPO

sys.path.insert(0, str(REPO / ".ci"))
from quickstart import quickstart_commands

README = (REPO / "README.md").read_text(encoding="utf-8")
CI_RUN = (REPO / ".ci" / "run").read_text(encoding="utf-8")
PACKAGES = ("monitor", "db", "spiders", "settings")


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]).lower()


def test_the_quick_start_is_two_commands_installing_from_the_lock() -> None:
    install, tests = quickstart_commands(README)
    for command in (install, tests):
        assert command.startswith(
            "python3 -m venv .venv && .venv/bin/pip install -c requirements.lock "
        )
        assert "--upgrade" not in command and " -U " not in command
    assert install.endswith("&& .venv/bin/monitor demo")
    assert "'.[test]'" in tests and tests.endswith("&& .venv/bin/pytest -q -n 3")


def test_ci_runs_the_readme_commands_and_installs_nothing_itself() -> None:
    printed = subprocess.run(
        [sys.executable, str(REPO / ".ci" / "quickstart.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert printed == quickstart_commands(README)
    assert 'commands="$(python3 .ci/quickstart.py)"' in CI_RUN
    code = [line for line in CI_RUN.splitlines() if not line.lstrip().startswith("#")]
    # No install or upgrade of its own: what a newcomer reads is all CI gets.
    assert not [line for line in code if re.search(r"\bpip\b|-m venv", line)]
    for linter in (".venv/bin/ruff check .", ".venv/bin/ruff format --check .", ".venv/bin/mypy"):
        assert linter in code


@pytest.mark.parametrize(
    "readme", ["no heading\n", "## Quick start\n```sh\nonly one\n```\n## Next\n"]
)
def test_a_quick_start_that_is_not_two_commands_fails_ci(readme: str) -> None:
    with pytest.raises(ValueError, match="Quick start"):
        quickstart_commands(readme)


def test_every_install_script_uses_the_lock() -> None:
    for script in (REPO / "deploy" / "install", REPO / "tools" / "lock"):
        text = script.read_text(encoding="utf-8")
        installs = [line for line in text.splitlines() if 'pip" install' in line]
        project = [line for line in installs if "requirements.lock" in line or "uv" in line]
        assert installs and project == installs, script


def test_the_lock_pins_every_dependency_exactly() -> None:
    pins = {}
    for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith(("#", " ")):
            name, sep, version = line.partition("==")
            assert sep and version, f"not an exact pin: {line!r}"
            pins[_name(name)] = version
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    assert {_name(req) for req in wanted} <= set(pins)
    assert "pip" not in pins  # the lock never upgrades the installer it is read by
    build = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
    assert all("==" in req for req in build["requires"])


def _third_party_imports() -> set[str]:
    local = set(PACKAGES) | set(sys.stdlib_module_names) | {"__future__", "_typeshed"}
    found: set[str] = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                found |= {name.split(".")[0] for name in names} - local
    return found


def test_every_imported_package_is_declared() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_name(req) for req in project["dependencies"]}
    providers = importlib.metadata.packages_distributions()
    undeclared = {
        module: providers.get(module)
        for module in _third_party_imports()
        if not {_name(dist) for dist in providers.get(module, [module])} & declared
    }
    assert not undeclared, f"imported but not in [project].dependencies: {undeclared}"
