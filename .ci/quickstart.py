"""Print the README's quick-start commands, one a line, for .ci/run to execute as they stand.

The commands are the lines of the first ```sh block under the "## Quick start" heading of
README.md, comments and blank lines left out. There must be exactly two (install and run
the demo; install and run the tests): anything else is an error, so CI never runs a
quick start that differs from the one a newcomer reads.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
_SECTION = re.compile(r"^## Quick start\s*$(.*?)(?=^## )", re.S | re.M)
_BLOCK = re.compile(r"^```sh\s*$(.*?)^```\s*$", re.S | re.M)


def quickstart_commands(readme: str) -> list[str]:
    section = _SECTION.search(readme)
    if section is None:
        raise ValueError("README.md has no '## Quick start' section")
    block = _BLOCK.search(section.group(1))
    if block is None:
        raise ValueError("the Quick start section has no ```sh block")
    lines = [line.strip() for line in block.group(1).splitlines()]
    commands = [line for line in lines if line and not line.startswith("#")]
    if len(commands) != 2:
        raise ValueError(f"the Quick start block has {len(commands)} commands, not 2")
    return commands


if __name__ == "__main__":
    try:
        print("\n".join(quickstart_commands(README.read_text(encoding="utf-8"))))
    except ValueError as exc:
        sys.exit(f"quickstart: {exc}")
