"""Refresh the dependency locks from pyproject.toml.

    python scripts/lock.py             # after editing pyproject.toml: keep the pins that still fit
    python scripts/lock.py --upgrade   # move every pin to the newest release pyproject allows

Writes two locks with exact versions and the sha256 of every file PyPI has for them, for every
platform (`--universal`), so that a Docker image on arm64 gets the same versions as CI on x86_64:

    requirements-dev.lock   runtime + the `dev` extra (tests, linters)   README test command, CI
    requirements.lock       runtime only, the same pins                  README run command, Docker

Both are made by uv's `pip compile` (uv is in the `dev` extra, so its version is locked too).
The runtime lock is resolved under the dev lock as constraints, so no package can have two
versions. `tests/test_lock.py` fails when pyproject.toml and the locks disagree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = "requirements.lock"
DEV_LOCK = "requirements-dev.lock"
#: The oldest Python pyproject.toml allows; pins must install there.
PYTHON_VERSION = "3.11"


def compile_lock(output: str, *extra_args: str) -> None:
    """Run `uv pip compile` for pyproject.toml into `output`."""
    command = [
        sys.executable,
        "-m",
        "uv",
        "pip",
        "compile",
        "pyproject.toml",
        "--universal",
        "--python-version",
        PYTHON_VERSION,
        "--generate-hashes",
        "--quiet",
        "--custom-compile-command",
        "python scripts/lock.py",
        "--output-file",
        output,
        *extra_args,
    ]
    subprocess.run(command, cwd=ROOT, check=True)


def main(argv: list[str]) -> int:
    """Write the dev lock, then the runtime lock constrained by it."""
    upgrade = ["--upgrade"] if "--upgrade" in argv[1:] else []
    compile_lock(DEV_LOCK, "--extra", "dev", *upgrade)
    compile_lock(RUNTIME_LOCK, "--constraint", DEV_LOCK)
    print(f"wrote {DEV_LOCK} and {RUNTIME_LOCK}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
