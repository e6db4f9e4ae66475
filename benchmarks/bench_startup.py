"""Start-up of the `zoo` command vs `python -c "import torch"`: CPU time of fresh processes, alternating, median.

Each round runs the baseline, then every measured command once, each as a fresh process, and reads the child's
CPU time (user + system, from ``os.wait4``): CPU time is what a command costs, and a busy shared machine stretches
wall time far more than it. The report gives the median of the rounds for each command and its ratio to the
median baseline, against the targets of issue 18: `zoo --help`, `zoo --version` and `zoo COMMAND --help` for
every command at most 0.2x (they never import torch); `zoo list`, which builds the registry (torch and every
plugin), at most 1.3x.

    python benchmarks/bench_startup.py [--rounds 7] [--check]

``--check`` exits 1 when a command misses its target.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys

from zoo.cli._main import build_parser

HELP_TARGET = 0.2
RUN_TARGET = 1.3


def cpu_seconds(argv: list[str]) -> float:
    """User + system CPU seconds of ``argv`` run to completion as a child process (its output discarded)."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {process.returncode}")
    return usage.ru_utime + usage.ru_stime


def commands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(action.choices)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--check", action="store_true", help="exit 1 when a command misses its target")
    args = parser.parse_args()
    script = shutil.which("zoo")
    zoo = [script] if script else [sys.executable, "-m", "zoo"]
    baseline = [sys.executable, "-c", "import torch"]
    cases: dict[str, tuple[list[str], float]] = {"zoo --help": (zoo + ["--help"], HELP_TARGET),
                                                 "zoo --version": (zoo + ["--version"], HELP_TARGET)}
    for command in commands():
        cases[f"zoo {command} --help"] = (zoo + [command, "--help"], HELP_TARGET)
    cases["zoo list"] = (zoo + ["list"], RUN_TARGET)

    cpu_seconds(baseline)  # warm the page cache
    for argv, _ in cases.values():
        cpu_seconds(argv)
    baseline_times: list[float] = []
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        baseline_times.append(cpu_seconds(baseline))
        for name, (argv, _) in cases.items():
            times[name].append(cpu_seconds(argv))

    base = statistics.median(baseline_times)
    label = 'python -c "import torch"'
    print(f"{label:28s} {base * 1000:7.0f} ms CPU  (median of {args.rounds} rounds)")
    missed = []
    for name, (_, target) in cases.items():
        median = statistics.median(times[name])
        ratio = median / base
        verdict = "ok" if ratio <= target else "MISSED"
        if ratio > target:
            missed.append(name)
        print(f"{name:28s} {median * 1000:7.0f} ms CPU  {ratio:6.3f}x  (target <= {target}x: {verdict})")
    worst = max((n for n, (_, t) in cases.items() if t == HELP_TARGET), key=lambda n: statistics.median(times[n]))
    print(f"slowest help or version: {worst}, {statistics.median(times[worst]) / base:.3f}x")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
