"""All benchmarks in one command; results to benchmarks/results/<date>.json.

    python benchmarks/run.py [-n 10000] [--modes bare,direct,direct2]

Each figure is measured in this one run (ratios compare runs made minutes apart on the same machine).
Runs on Prism: add `prism` to --modes once `bash tests/scale/setup_runners.sh` has built it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--stages-n", type=int, default=1000)
    ap.add_argument("--modes", default="bare,direct,direct2")
    args = ap.parse_args()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    stages_json, throughput_json = out / ".stages.json", out / ".throughput.json"
    subprocess.run([sys.executable, str(HERE / "stages.py"), "-n", str(args.stages_n), "--json", str(stages_json)],
                   check=True)
    subprocess.run([sys.executable, str(HERE / "throughput.py"), "-n", str(args.n), "--modes", args.modes,
                    "--json", str(throughput_json)], check=True)
    result = {"date": date.today().isoformat(), "stages": json.loads(stages_json.read_text()),
              "throughput": json.loads(throughput_json.read_text())}
    target = out / f"{result['date']}.json"
    target.write_text(json.dumps(result, indent=2))
    stages_json.unlink()
    throughput_json.unlink()
    print(f"\nwritten {target}")


if __name__ == "__main__":
    main()
