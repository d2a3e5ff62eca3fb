#!/usr/bin/env python3
"""curlora against PyTorch on the CPU, alternated in one run, on the workloads the tool runs.

What it does
    For each model shape (``--models``) and workload (``--workloads``: classify, lm,
    perplexity), and each repetition (``--reps``), it runs ``curlora --device cpu bench --json``
    (one binary or several, ``--curlora LABEL=PATH``, e.g. before and after a change) and then
    ``bench/reference_pytorch.py --jsonl`` with the same shapes, modes, batch, sequence length,
    rank and timed steps, one right after the other, so both sides see the same machine load.
    Each mode runs in its own process on our side (its own peak RSS); PyTorch runs the modes
    of one workload in one process, each on a fresh copy of the model.

    It prints one markdown table per model and workload: seconds per step (tokens/s for
    perplexity) of each side, the ratio ``ours / PyTorch`` (below 1 means we are faster; for
    perplexity the ratio is of times too), and peak RSS. With ``--reps`` > 1 the time is the
    median of the repetitions. Every JSON line both sides printed goes to ``--out``.

Command
    python3 bench/side_by_side.py [--curlora ours=target/release/curlora] \\
        [--models gpt2-small,smollm2-135m] [--workloads classify,lm,perplexity] \\
        [--modes frozen,lora,curlora] [--steps 3] [--reps 1] [--threads 2] [--out FILE]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PY_MODES = {"frozen", "lora", "curlora", "curlora-materialized", "full"}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def jsonl(text):
    return [json.loads(l) for l in text.splitlines() if l.strip().startswith("{")]


def run(cmd, env=None):
    log("$ " + " ".join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr[-4000:]}")
    return jsonl(out.stdout)


def main():
    default_bin = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "curlora")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--curlora", action="append", default=[], metavar="LABEL=PATH",
                    help=f"a curlora binary to time (repeatable; default ours={default_bin})")
    ap.add_argument("--models", default="gpt2-small,smollm2-135m")
    ap.add_argument("--workloads", default="classify,lm,perplexity")
    ap.add_argument("--modes", default="frozen,lora,curlora")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--out", help="write every JSON line here")
    args = ap.parse_args()

    bins = []
    for spec in args.curlora or [f"ours={default_bin}"]:
        label, _, path = spec.partition("=")
        if not path or not os.access(path, os.X_OK):
            ap.error(f"--curlora {spec!r}: expected LABEL=PATH to an executable")
        bins.append((label, path))
    modes = [m for m in args.modes.split(",") if m]
    py_modes = [m for m in modes if m in PY_MODES]
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    common = ["--steps", str(args.steps), "--batch", str(args.batch), "--seq", str(args.seq)]

    lines = []
    for model in args.models.split(","):
        for workload in args.workloads.split(","):
            for rep in range(args.reps):
                for label, path in bins:
                    for l in run([path, "--device", "cpu", "bench", "--models", model, "--workloads", workload,
                                  "--modes", ",".join(modes), "--layer", "false", "--json", *common], env):
                        lines.append({**l, "side": label, "rep": rep})
                if py_modes:
                    for l in run([sys.executable, os.path.join(HERE, "reference_pytorch.py"), "--model", model,
                                  "--workload", workload, "--modes", ",".join(py_modes), "--layer-iters", "0",
                                  "--threads", str(args.threads), "--jsonl", *common]):
                        lines.append({**l, "side": "pytorch", "rep": rep})
    if args.out:
        with open(args.out, "w") as f:
            for l in lines:
                f.write(json.dumps(l) + "\n")

    sides = [b[0] for b in bins] + ["pytorch"]
    for model in args.models.split(","):
        for workload in args.workloads.split(","):
            print(f"\n{model}, {workload} workload ({args.batch} × {args.seq} tokens, {args.threads} threads, "
                  f"median of {args.reps}):")
            unit = "tokens/s" if workload == "perplexity" else "s/step"
            head = "| mode |" + "".join(f" {s} {unit} |" for s in sides)
            head += "".join(f" {s} ÷ PyTorch (time) |" for s in sides[:-1])
            head += "".join(f" {s} peak RSS |" for s in sides)
            print(head)
            print("|---|" + "---:|" * (len(sides) * 2 + len(sides) - 1))
            for mode in modes:
                def pick(side):
                    ls = [l for l in lines if l["side"] == side and l["model"] == model
                          and l["workload"] == workload and l["mode"] == mode]
                    if not ls:
                        return None, None
                    sec = statistics.median(l["seconds_per_step"] for l in ls)
                    rss = max((l.get("peak_rss_bytes") or 0) for l in ls)
                    return sec, rss
                got = {s: pick(s) for s in sides}
                tokens = args.batch * args.seq
                row = f"| {mode} |"
                for s in sides:
                    sec = got[s][0]
                    row += " – |" if sec is None else (f" {tokens / sec:.0f} |" if workload == "perplexity"
                                                        else f" {sec:.3f} |")
                ref = got["pytorch"][0]
                for s in sides[:-1]:
                    sec = got[s][0]
                    row += " – |" if sec is None or ref is None else f" {sec / ref:.2f} |"
                for s in sides:
                    rss = got[s][1]
                    row += " – |" if not rss else f" {rss / 1048576:.0f} MiB |"
                print(row)


if __name__ == "__main__":
    main()
