"""statsforecast's models on an M4 set: the side of bench/m4_compare.py that
runs in the pinned environment of bench/statsforecast-requirements.txt.

    python m4_statsforecast.py DIR SET OUT.csv [--jobs N] [MODEL ...]

Reads DIR/SET-train.csv, fits each MODEL (AutoETS, AutoARIMA, AutoTheta,
MSTL; all by default) on every series with N processes (statsforecast's
n_jobs, default 1), and writes OUT.csv: method, id, step, point, lo80, hi80,
lo95, hi95; then prints each model's wall time ("MODEL<TAB>seconds") on
stderr. A series a model cannot fit gets the seasonal naive, statsforecast's
fallback_model.
"""
import csv
import sys
import time

import numpy as np
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import MSTL, AutoARIMA, AutoETS, AutoTheta, SeasonalNaive

# M4's horizons; the season length of AutoETS, AutoARIMA and AutoTheta (M4's
# frequencies, as Nixtla's own M4 experiments give them: a seasonal ARIMA of
# period 52 takes many minutes a series, and ETS takes no season above 24);
# MSTL's seasons (the cycles the data has)
SETS = {"Hourly": (48, 24, [24, 168]), "Weekly": (13, 1, [52])}


def read(path):
    out = []
    with open(path, newline="") as f:
        rows = csv.reader(f)
        next(rows)
        for row in rows:
            out.append((row[0], np.array([float(v) for v in row[1:] if v != ""])))
    return out


def model(name, m, seasons):
    if name == "AutoETS":
        return AutoETS(season_length=m)
    if name == "AutoARIMA":
        return AutoARIMA(season_length=m)
    if name == "AutoTheta":
        return AutoTheta(season_length=m)
    if name == "MSTL":
        return MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN"))
    raise SystemExit("unknown model " + name)


def main():
    src, name, out_path = sys.argv[1:4]
    args = sys.argv[4:]
    jobs = 1
    if args[:1] == ["--jobs"]:
        jobs = int(args[1])
        args = args[2:]
    names = args or ["AutoETS", "AutoARIMA", "AutoTheta", "MSTL"]
    h, m, seasons = SETS[name]
    train = read(f"{src}/{name}-train.csv")
    frames = []
    for sid, y in train:
        frames.append(pd.DataFrame({"unique_id": sid, "ds": np.arange(len(y)), "y": y}))
    df = pd.concat(frames, ignore_index=True)
    with open(out_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "id", "step", "point", "lo80", "hi80", "lo95", "hi95"])
        for n in names:
            mod = model(n, m, seasons)
            sf = StatsForecast(models=[mod], freq=1, n_jobs=jobs,
                               fallback_model=SeasonalNaive(season_length=m))
            t0 = time.monotonic()
            fc = sf.forecast(df=df, h=h, level=[80, 95])
            secs = time.monotonic() - t0
            col = [c for c in fc.columns if c not in ("unique_id", "ds") and "-lo-" not in c
                   and "-hi-" not in c][0]
            fc = fc.sort_values(["unique_id", "ds"])
            for sid, g in fc.groupby("unique_id", sort=False):
                for step, (_, r) in enumerate(g.iterrows()):
                    w.writerow([n, sid, step, r[col], r[f"{col}-lo-80"], r[f"{col}-hi-80"],
                                r[f"{col}-lo-95"], r[f"{col}-hi-95"]])
            print(f"{n}\t{secs:.1f}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
