#!/usr/bin/env python3
"""One table from several `curlora run` folders: every method and ablation, mean ± sd over seeds.

Usage: python3 bench/ablation_table.py LABEL=DIR [LABEL=DIR ...]

Each DIR holds a `report.json`. A run is named `LABEL/method-rank` (just `method-rank` when
LABEL is `-`). Columns: ACC, BWT, forgetting, plasticity, FWT against the head-only (`frozen`)
run of the same seed, perplexity change (after the last task minus before training) and
trainable parameters. FWT is taken from the report when it has it; otherwise it is computed
here against a `frozen` run of the same seed found in any of the given folders (the head-only
run does not depend on CURLoRA's ablation flags, so one serves them all). Standard library only.
"""
import json
import math
import sys
from collections import OrderedDict


def mean_sd(values, digits=4):
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return "–"
    m = sum(v) / len(v)
    if len(v) == 1:
        return f"{m:.{digits}f}"
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
    miss = "" if len(v) == len(values) else f" ({len(v)} of {len(values)})"
    return f"{m:.{digits}f} ± {sd:.{digits}f}{miss}"


def label(run):
    name = run["method"]
    return name if name in ("full", "frozen") else f"{name}-{run['rank']}"


def diagonal(run):
    m = run["accuracy_matrix"]
    return [m[j][j] for j in range(len(m))]


def fwt(run, baseline):
    d = diagonal(run)
    if len(d) < 2 or baseline is None or any(x is None for x in d + baseline):
        return None
    return sum(d[j] - baseline[j] for j in range(1, len(d))) / (len(d) - 1)


def main(args):
    if not args:
        sys.exit(__doc__)
    groups = OrderedDict()
    frozen = {}
    for arg in args:
        tag, _, folder = arg.rpartition("=")
        report = json.load(open(f"{folder}/report.json"))
        for run in report["runs"]:
            if run["method"] == "frozen":
                frozen.setdefault(run["seed"], diagonal(run))
            name = label(run) if tag == "-" else f"{tag}/{label(run)}"
            groups.setdefault(name, []).append(run)
    print("| run | seeds | ACC | BWT | forgetting | plasticity | FWT vs head-only | Δ perplexity | trainable |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, runs in groups.items():
        col = lambda f, d=3: mean_sd([f(r) for r in runs], d)
        print(
            f"| {name} | {len(runs)} | {col(lambda r: r['metrics']['acc'])} "
            f"| {col(lambda r: r['metrics']['bwt'])} | {col(lambda r: r['metrics']['forgetting'])} "
            f"| {col(lambda r: r['metrics'].get('plasticity'))} "
            f"| {col(lambda r: r.get('fwt') if r.get('fwt') is not None else fwt(r, frozen.get(r['seed'])))} "
            f"| {col(lambda r: r['perplexity'][-1] - r['perplexity'][0], 1)} "
            f"| {runs[0]['trainable_params']} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
