#!/usr/bin/env python3
"""Benchmark: our forecasting beside Nixtla's statsforecast on M4, in one run.

For each M4 set (Hourly, Weekly), on the same series:
  ours:   build/m4_bench's Naive2, seasonal naive and fo_fc_auto;
  theirs: statsforecast's AutoETS, AutoARIMA, AutoTheta and MSTL
          (bench/m4_statsforecast.py, in build/venv-statsforecast from the
          pinned bench/statsforecast-requirements.txt, made on first use and
          reused while the pins are unchanged);
then m4_bench scores every method with the same code (sMAPE, MASE, OWA
against Naive2, 80% and 95% interval coverage, MSIS) and prints one
Markdown table a set, with each statsforecast model's wall time.

statsforecast's AutoARIMA at a season of 52 takes minutes a series;
--series K takes K series spread evenly over the set (every method gets the
same ones), and --models picks the statsforecast models.

Usage: bench/m4_compare.py [--data ../shared/data/m4] [--sets Hourly Weekly]
           [--series K] [--models AutoETS AutoARIMA AutoTheta MSTL]
           [--jobs 2] [--bindir build]
"""
import argparse
import csv
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQS = os.path.join(ROOT, "bench", "statsforecast-requirements.txt")


def statsforecast_python(venv):
    """The venv's python, made from REQS unless it was made from the same pins."""
    want = hashlib.sha256(open(REQS, "rb").read()).hexdigest()
    stamp = os.path.join(venv, ".requirements.sha256")
    py = os.path.join(venv, "bin", "python")
    try:
        if os.access(py, os.X_OK) and open(stamp).read().strip() == want:
            return py
    except OSError:
        pass
    print(f"m4_compare: creating {venv} from {REQS}", file=sys.stderr)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", REQS],
                   check=True)
    with open(stamp, "w") as f:
        f.write(want + "\n")
    return py


def subset(src, name, k, dst):
    """Writes K series spread evenly over SET (train and test) into dst."""
    for part in ("train", "test"):
        with open(os.path.join(src, f"{name}-{part}.csv"), newline="") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        if k and k < len(body):
            body = [body[i * len(body) // k] for i in range(k)]
        with open(os.path.join(dst, f"{name}-{part}.csv"), "w", newline="") as f:
            csv.writer(f, quoting=csv.QUOTE_ALL).writerows([header] + body)
    return len(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "m4"))
    ap.add_argument("--sets", nargs="+", default=["Hourly", "Weekly"])
    ap.add_argument("--series", type=int, default=0, help="K series a set (default all)")
    ap.add_argument("--models", nargs="+", default=["AutoETS", "AutoARIMA", "AutoTheta", "MSTL"])
    ap.add_argument("--jobs", type=int, default=2, help="statsforecast's n_jobs")
    ap.add_argument("--bindir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--venv", default=os.path.join(ROOT, "build", "venv-statsforecast"))
    args = ap.parse_args()

    if not os.path.isdir(args.data):
        print(f"m4_compare: no M4 data at {args.data}; nothing to compare", file=sys.stderr)
        return 0
    py = statsforecast_python(args.venv)
    tmp = tempfile.mkdtemp(prefix="m4_compare.")
    try:
        for name in args.sets:
            n = subset(args.data, name, args.series, tmp)
            theirs = os.path.join(tmp, f"{name}-statsforecast.csv")
            print(f"m4_compare: {name}, {n} series: statsforecast {' '.join(args.models)}",
                  file=sys.stderr, flush=True)
            times = subprocess.run(
                [py, os.path.join(ROOT, "bench", "m4_statsforecast.py"), tmp, name, theirs,
                 "--jobs", str(args.jobs)] + args.models,
                check=True, stderr=subprocess.PIPE, text=True).stderr
            table = subprocess.run(
                [os.path.join(args.bindir, "m4_bench"), tmp, "--set", name, "--score", theirs,
                 "--markdown"], check=True, stdout=subprocess.PIPE, text=True).stdout
            print(table.replace("M4 ", "### M4 ", 1))
            print(f"statsforecast wall time on {args.jobs} core(s), seconds: " +
                  ", ".join(line.replace("\t", " ") for line in times.split("\n") if "\t" in line))
            print()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
