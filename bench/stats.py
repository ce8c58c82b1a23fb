"""Percentiles and result files shared by the benchmarks."""
import json
import statistics
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(pct) - 1] if len(ordered) > 1 else ordered[0]


def write_result(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {path}")
    return path
