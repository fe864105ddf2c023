"""Percentiles and the table the benchmark prints."""

from __future__ import annotations

import statistics


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of samples given in seconds, in milliseconds."""
    return {
        "p50": percentile(samples, 0.50) * 1000,
        "p95": percentile(samples, 0.95) * 1000,
        "p99": percentile(samples, 0.99) * 1000,
        "mean": statistics.fmean(samples) * 1000 if samples else float("nan"),
        "n": len(samples),
    }


class Table:
    """Rows of (figure, ours, baseline, ratio, target) printed as one markdown table."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(self, figure: str, ours: str, baseline: str = "—", ratio: str = "—", target: str = "") -> None:
        self.rows.append((figure, ours, baseline, ratio, target))
        print(f"  {figure}: {ours}  (baseline {baseline}, ratio {ratio}) {target}", flush=True)

    def markdown(self) -> str:
        lines = ["| figure | ours | baseline | ratio | target |", "|---|---|---|---|---|"]
        lines += [f"| {' | '.join(row)} |" for row in self.rows]
        return "\n".join(lines)


def ratio(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.2f}×" if baseline and baseline == baseline else "—"
