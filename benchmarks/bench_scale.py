"""End-to-end scale run: 1,000 therapists x ~20 patients x <= 10 sessions.

Usage::

    python benchmarks/bench_scale.py [--therapists 1000] [--patients 20000]
        [--max-sessions 10] [--cores 2] [--keep DIR]

Writes the default config with a larger simulated study (the project's own simulator,
``data.source: simulate``) into a temporary directory, runs
``python -m snakemake --cores 2`` there (everything, supplement included) and samples
every process of the run with psutil every 0.2 s. Prints the wall time, and the peak
resident memory of each job (keyed by its script) and of the whole run. Issue 10's
target: <= 5 min and no job above 4 GiB. A script, not a test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
GIB = 1024**3


def job_name(proc: psutil.Process) -> str:
    """The script a process runs (Snakemake copies scripts to .snakemake/scripts/)."""
    try:
        cmd = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "?"
    scripts = [Path(c).name for c in cmd if c.endswith(".py")]
    if scripts:
        # tmpXXXX.descriptives.py -> descriptives
        return scripts[-1].split(".")[-2]
    if "snakemake" in " ".join(cmd):
        return "snakemake (scheduler)"
    return Path(cmd[0]).name if cmd else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--therapists", type=int, default=1000)
    parser.add_argument("--patients", type=int, default=20000)
    parser.add_argument("--max-sessions", type=int, default=10)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None, help="run here and keep the results")
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["data"]["source"] = "simulate"
    config["simulate"].update(
        n_therapists=args.therapists, n_patients=args.patients, max_sessions=args.max_sessions
    )
    with tempfile.TemporaryDirectory(prefix="scale_") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(ROOT / "Snakefile"),
            "-d",
            str(work),
            "--configfile",
            str(work / "config.yaml"),
            "--cores",
            str(args.cores),
        ]
        peaks: dict[str, int] = {}
        total_peak = 0
        start = time.perf_counter()
        runner = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        root = psutil.Process(runner.pid)
        deadline = start + 590  # every command must end within 10 minutes
        while runner.poll() is None and time.perf_counter() < deadline:
            total = 0
            try:
                family = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for proc in family:
                try:
                    rss = proc.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += rss
                name = job_name(proc)
                peaks[name] = max(peaks.get(name, 0), rss)
            total_peak = max(total_peak, total)
            time.sleep(0.2)
        if runner.poll() is None:
            runner.kill()
            print("stopped after 590 s")
        output = runner.communicate()[0]
        wall = time.perf_counter() - start
        print(output[-3000:] if runner.returncode else output.splitlines()[-1])
        print(
            f"{args.therapists} therapists, {args.patients} patients, <= {args.max_sessions} "
            f"sessions, --cores {args.cores}: exit {runner.returncode}, wall {wall:.1f} s"
        )
        for name, rss in sorted(peaks.items(), key=lambda kv: -kv[1]):
            print(f"  peak RSS {rss / GIB:6.3f} GiB  {name}")
        print(f"peak RSS of all processes together: {total_peak / GIB:.3f} GiB")


if __name__ == "__main__":
    main()
