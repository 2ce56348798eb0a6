"""Shared output of the benchmarks: a small table on stdout and a JSON file for comparisons.

Every figure is a count or a ratio against a baseline measured in the same run; absolute times
are printed for orientation only.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(os.environ.get("QUARTIERBOT_BENCH_DIR", "benchmarks/results"))


@dataclass
class Row:
    """One measured figure and its goal."""

    name: str
    value: float
    unit: str
    goal: str = ""
    passed: bool | None = None


@dataclass
class Report:
    """A benchmark's results."""

    benchmark: str
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(
        self, name: str, value: float, unit: str, goal: str = "", passed: bool | None = None
    ) -> None:
        """Record a figure."""
        self.rows.append(Row(name, value, unit, goal, passed))

    def print_table(self) -> None:
        """A plain table for the terminal."""
        width = max(len(r.name) for r in self.rows) if self.rows else 10
        print(f"\n{self.benchmark}")
        print("-" * (width + 44))
        for row in self.rows:
            verdict = "" if row.passed is None else ("ok" if row.passed else "MISSED")
            value = f"{row.value:,.3f}".rstrip("0").rstrip(".")
            print(f"{row.name:<{width}}  {value:>12} {row.unit:<8} {row.goal:<14} {verdict}")

    def write_json(self) -> Path:
        """benchmarks/results/<name>.json with the machine description."""
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{self.benchmark}.json"
        payload = {
            "benchmark": self.benchmark,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "rows": [row.__dict__ for row in self.rows],
            "details": self.details,
        }
        path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        return path

    def finish(self) -> int:
        """Print, write, and exit non-zero if a goal was missed."""
        self.print_table()
        print(f"results: {self.write_json()}")
        return 1 if any(row.passed is False for row in self.rows) else 0


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the values lie."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    """The median (0 for none)."""
    return statistics.median(values) if values else 0.0
