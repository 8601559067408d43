"""Wall time of the default design-planning grid (`snakemake power`).

Runs ``snakemake power --cores N`` in a fresh copy of the repository (generating
values from the simulator, so the main workflow's models are not fitted first) and
prints the wall time. ``--replicates`` scales the grid down; the time is then also
extrapolated to the configured number of replicates (replicates dominate the cost,
so the time scales about linearly).

    python benchmarks/bench_power.py                   # the full default grid
    python benchmarks/bench_power.py --replicates 20   # scaled down, extrapolated
"""

from __future__ import annotations

import argparse
import os
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
        subprocess.run(cmd, cwd=work, env=env, check=True)
        seconds = time.perf_counter() - start
        power = pd.read_csv(work / "results/power/power.csv")
    cells = power["cell"].nunique()
    print(f"cells: {cells}, replicates per cell: {replicates}, cores: {args.cores}")
    print(f"wall time: {seconds:.0f} s ({seconds / 60:.1f} min)")
    print(f"per replicate (wall): {seconds / (cells * replicates):.3f} s")
    if replicates != full:
        print(
            f"extrapolated to {full} replicates per cell: "
            f"{seconds * full / replicates / 60:.1f} min (linear in replicates)"
        )
    print(
        power[["cell", "effect", "power", "power_mc_se", "singular_share"]].to_string(index=False)
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
