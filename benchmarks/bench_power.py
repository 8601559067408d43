"""Wall time of the default design-planning grid (`snakemake power`).

Runs ``snakemake power --cores N`` in a fresh copy of the repository (generating
values from the simulator, so the main workflow's models are not fitted first) and
prints the wall time. ``--replicates`` scales the grid down; the time is then also
extrapolated to the configured number of replicates (replicates dominate the cost,
so the time scales about linearly).

    python benchmarks/bench_power.py                   # the full default grid
    python benchmarks/bench_power.py --replicates 20   # scaled down, extrapolated
    python benchmarks/bench_power.py --replicates 50 --batch-size 5  # as many jobs as the full grid

Extrapolating linearly also multiplies the per-job start-up, so with as many jobs as
the full grid the extrapolation is an upper bound.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=None, help="per cell (default: config)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: config")
    parser.add_argument("--cores", default="all")
    args = parser.parse_args()
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    defaults = {k: v.get("default") for k, v in schema["properties"]["power"]["properties"].items()}
    full = int(defaults["replicates"])
    replicates = args.replicates or full
    with tempfile.TemporaryDirectory(prefix="bench-power-") as tmp:
        work = Path(tmp) / "repo"
        files = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        for f in files:
            (work / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, work / f)
        grid = {"power": {"generating_values": "simulator", "replicates": replicates}}
        if args.batch_size:
            grid["power"]["batch_size"] = args.batch_size
        (work / "grid.yaml").write_text(yaml.safe_dump(grid))
        env = os.environ | {"PYTHONPATH": str(REPO / "src")}
        cmd = [
            "snakemake",
            "power",
            "--cores",
            args.cores,
            "--configfile",
            "config/config.yaml",
            "grid.yaml",
            "-q",
        ]
        start = time.perf_counter()
        cpu_start = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, cwd=work, env=env, check=True)
        seconds = time.perf_counter() - start
        cpu_end = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)
        power = pd.read_csv(work / "results/power/power.csv")
    cells = power["cell"].nunique()
    print(f"cells: {cells}, replicates per cell: {replicates}, cores: {args.cores}")
    print(f"wall time: {seconds:.0f} s ({seconds / 60:.1f} min)")
    print(f"per replicate (wall): {seconds / (cells * replicates):.3f} s")
    # CPU time of every process of the run: on a machine shared with other work the wall
    # time is inflated, CPU time / cores is what an otherwise idle machine would take.
    ncores = os.cpu_count() if args.cores == "all" else int(args.cores)
    print(
        f"CPU time: {cpu:.0f} s ({cpu / (cells * replicates):.3f} s per replicate); "
        f"CPU time / {ncores} cores: {cpu / ncores / 60:.1f} min"
    )
    if replicates != full:
        scale = full / replicates
        print(
            f"extrapolated to {full} replicates per cell (linear in replicates): "
            f"wall {seconds * scale / 60:.1f} min, CPU / {ncores} cores "
            f"{cpu * scale / ncores / 60:.1f} min"
        )
    print(
        power[["cell", "effect", "power", "power_mc_se", "singular_share"]].to_string(index=False)
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
