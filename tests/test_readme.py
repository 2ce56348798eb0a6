"""The README's two set-up commands stay at its top, and CI runs the test command verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The shell code blocks before the first horizontal rule."""
    top = (ROOT / "README.md").read_text(encoding="utf-8").split("\n---\n", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", top, flags=re.DOTALL)


def test_readme_starts_with_exactly_two_setup_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    install_and_run, install_and_test = commands
    # Both install exactly the locked versions (hash-checked), then the project without resolving.
    assert "pip install --require-hashes -r requirements.lock " in install_and_run
    assert "pip install --no-deps . " in install_and_run and "quartierbot run" in install_and_run
    assert "pip install --require-hashes -r requirements-dev.lock " in install_and_test
    assert "pip install --no-deps -e . " in install_and_test and "pytest" in install_and_test
    assert "ruff check" in install_and_test and "mypy bot handlers storage" in install_and_test


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert readme_commands()[1] in ci.splitlines()
