"""CPU cost of the alarm rule evaluation per reading, in the consumer's inner loop (no database).

Runs ``AlarmEngine._run`` (the per-sensor loop that applies qhse.domain.alarm_rules) on
readings of one sensor under a threshold rule: below the threshold (the common case) and
while an alarm is open (each reading updates it).  Prints nanoseconds per reading.

    .venv/bin/python bench/alarm_eval.py [--readings 200000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingestion.alarms import AlarmEngine, OpenAlarm  # noqa: E402
from ingestion.registry import SensorInfo  # noqa: E402
from qhse.domain.alarm_rules import Rule  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readings", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    rule = Rule(1, "high temperature", "temperature", None, None, "threshold", ">", 80.0, 75.0, 0, "warning")
    info = SensorInfo(id=1, site="S", area="A", site_id=1, area_id=1, asset=None, code="T-1", kind="temperature",
                      unit="°C", min_valid=-50.0, max_valid=500.0, active=True)
    below = [(i * 1000, 20.0 + (i % 7)) for i in range(a.readings)]
    above = [(i * 1000, 85.0 + (i % 7)) for i in range(a.readings)]
    eng = AlarmEngine(registry=None)  # type: ignore[arg-type]
    for name, series in (("below threshold", below), ("alarm open (updates)", above)):
        best = float("inf")
        for _ in range(a.repeat):
            eng.open = {(rule.id, info.id): OpenAlarm(7, rule.id, info.id, "open")} if series is above else {}
            t = time.perf_counter()
            eng._run(None, rule, info, iter(series), [], [])
            best = min(best, time.perf_counter() - t)
        print(f"{name}: {best / len(series) * 1e9:.0f} ns per reading ({len(series)} readings, best of {a.repeat})")


if __name__ == "__main__":
    main()
