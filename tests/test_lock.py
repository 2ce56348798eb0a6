"""pyproject.toml and the dependency locks agree, and the tests run on exactly the locked versions.

Refresh the locks with `python scripts/lock.py` when one of these fails.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"


@dataclass(frozen=True)
class Pin:
    """One locked package: exact version, platform marker and file hashes."""

    name: str
    version: str
    marker: str
    hashes: frozenset[str]

    def applies_here(self) -> bool:
        """Whether pip installs this pin on the machine running the tests."""
        return not self.marker or Marker(self.marker).evaluate()


def parse_lock(text: str) -> dict[str, Pin]:
    """The pins of a lock written by `uv pip compile --generate-hashes`."""
    pins: dict[str, Pin] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
        logical = entry.replace("\\\n", " ")
        head = logical.split(" --hash=", 1)[0].split("#", 1)[0].strip()
        if not head:
            continue
        requirement = Requirement(head)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"not an exact pin: {head!r}"
        name = canonicalize_name(requirement.name)
        pins[name] = Pin(
            name=name,
            version=specifier.version,
            marker=str(requirement.marker or ""),
            hashes=frozenset(re.findall(r"--hash=(sha256:[0-9a-f]{64})", logical)),
        )
    return pins


def project_requirements(pyproject: str) -> tuple[list[Requirement], list[Requirement]]:
    """The runtime dependencies and the `dev` extra of a pyproject.toml text."""
    project = tomllib.loads(pyproject)["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    dev = [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return runtime, dev


def disagreements(requirements: list[Requirement], pins: dict[str, Pin], lock: str) -> list[str]:
    """Requirements the lock lacks, pins outside their range, and pins without hashes."""
    problems = []
    for requirement in requirements:
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement.name} is in pyproject.toml but not in {lock}")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(
                f"{lock} pins {pin.name}=={pin.version}, outside pyproject's "
                f"{requirement.specifier}"
            )
    problems += [f"{lock}: {pin.name} has no hash" for pin in pins.values() if not pin.hashes]
    return problems


def needed_packages(requirements: list[Requirement]) -> set[str]:
    """Every distribution `requirements` pull in on this machine, from installed metadata."""
    needed: set[str] = set()
    pending = [
        (r, frozenset(r.extras)) for r in requirements if not r.marker or r.marker.evaluate()
    ]
    visited: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        if (name, extras) in visited:
            continue
        visited.add((name, extras))
        needed.add(name)
        try:
            lines = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue  # not installed: the comparison with the lock names it
        for line in lines:
            sub = Requirement(line)
            wanted = any(
                sub.marker is None or sub.marker.evaluate({"extra": extra})
                for extra in (extras or {""})
            )
            if wanted:
                pending.append((sub, frozenset(sub.extras)))
    return needed


def read_locks() -> tuple[dict[str, Pin], dict[str, Pin]]:
    """The runtime and the dev lock."""
    runtime = parse_lock(RUNTIME_LOCK.read_text(encoding="utf-8"))
    dev = parse_lock(DEV_LOCK.read_text(encoding="utf-8"))
    return runtime, dev


def test_every_requirement_is_locked_within_its_range() -> None:
    runtime_requirements, dev_requirements = project_requirements(
        (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    )
    runtime, dev = read_locks()
    problems = disagreements(runtime_requirements, runtime, RUNTIME_LOCK.name)
    problems += disagreements(runtime_requirements + dev_requirements, dev, DEV_LOCK.name)
    assert problems == []


def test_the_runtime_lock_is_the_dev_lock_without_the_dev_tools() -> None:
    runtime, dev = read_locks()
    # Markers may differ (a package only the dev tools need on every Python), versions may not.
    assert {name: (pin.version, pin.hashes) for name, pin in runtime.items()} == {
        name: (dev[name].version, dev[name].hashes) for name in runtime if name in dev
    }


def test_the_locks_hold_exactly_what_pyproject_needs() -> None:
    runtime_requirements, dev_requirements = project_requirements(
        (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    )
    runtime, dev = read_locks()
    for requirements, pins in (
        (runtime_requirements, runtime),
        (runtime_requirements + dev_requirements, dev),
    ):
        locked_here = {name for name, pin in pins.items() if pin.applies_here()}
        assert locked_here == needed_packages(requirements)


def test_the_tests_run_on_the_locked_versions() -> None:
    _, dev = read_locks()
    installed = {
        name: importlib.metadata.version(name) for name, pin in dev.items() if pin.applies_here()
    }
    assert {name: pin.version for name, pin in dev.items() if name in installed} == installed


BROKEN_PYPROJECT = """
[project]
dependencies = ["Babel>=2.14", "aiosqlite>=0.20,<0.21"]
[project.optional-dependencies]
dev = ["pytest>=8", "left-out>=1"]
"""
LOCK = """\
# This file was autogenerated by uv via the following command:
#    python scripts/lock.py
aiosqlite==0.22.1 \\
    --hash=sha256:{a}
    # via quartierbot (pyproject.toml)
babel==2.19.0 \\
    --hash=sha256:{b} \\
    --hash=sha256:{c}
    # via quartierbot (pyproject.toml)
colorama==0.4.6 ; sys_platform == 'win32' \\
    --hash=sha256:{a}
    # via pytest
pytest==9.2.0
    # via quartierbot (pyproject.toml)
""".format(a="a" * 64, b="b" * 64, c="c" * 64)


def test_the_check_reports_a_missing_dependency_a_pin_out_of_range_and_a_missing_hash() -> None:
    runtime, dev = project_requirements(BROKEN_PYPROJECT)
    pins = parse_lock(LOCK)
    assert pins["babel"].hashes == {"sha256:" + "b" * 64, "sha256:" + "c" * 64}
    assert pins["colorama"].marker == 'sys_platform == "win32"'
    assert disagreements(runtime + dev, pins, "lock") == [
        "lock pins aiosqlite==0.22.1, outside pyproject's <0.21,>=0.20",
        "left-out is in pyproject.toml but not in lock",
        "lock: pytest has no hash",
    ]


def test_a_lock_entry_must_be_an_exact_pin() -> None:
    with pytest.raises(AssertionError, match="not an exact pin"):
        parse_lock("babel>=2.14 \\\n    --hash=sha256:" + "b" * 64 + "\n")
