#!/usr/bin/env python3
"""Builds the small task files of curlora's embedded default from ../shared/data.

Deterministic (no randomness beyond a fixed seed for the style task). Run from the repository
root:  python3 assets/make_tasks.py [DATA_DIR]   (default DATA_DIR: ../shared/data)

Writes assets/tasks/{movies,tweets,style}-{train,eval}.csv with header `text,label`.
"""
import csv, os, random, sys

data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
out = os.path.join(os.path.dirname(__file__), "tasks")
os.makedirs(out, exist_ok=True)
N_TRAIN, N_EVAL = 800, 300


def write(name, rows):
    with open(os.path.join(out, name), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["text", "label"])
        for text, label in rows:
            w.writerow([text.strip(), label])


def balanced(rows, n):
    """The first n rows of the list, alternating labels so both classes are equally present."""
    by = {}
    for r in rows:
        by.setdefault(r[1], []).append(r)
    labels = sorted(by)
    outl = []
    i = 0
    while len(outl) < n:
        for l in labels:
            if i < len(by[l]) and len(outl) < n:
                outl.append(by[l][i])
        i += 1
    return outl


# 1. movies: SST-2 (GLUE). Train: first rows of train.tsv; eval: dev.tsv.
def sst2(path):
    with open(path, encoding="utf-8") as f:
        next(f)
        rows = []
        for line in f:
            s, l = line.rstrip("\n").split("\t")
            if len(s.split()) >= 4:
                rows.append((s, "positive" if l == "1" else "negative"))
        return rows

write("movies-train.csv", balanced(sst2(f"{data}/sst2/train.tsv"), N_TRAIN))
write("movies-eval.csv", balanced(sst2(f"{data}/sst2/dev.tsv"), N_EVAL))

# 2. tweets: Sentiment140, random 20k sample (polarity 0 / 4). Train: first rows; eval: the
# rows after them.
with open(f"{data}/sentiment140/random20k/sentiment140_sample.csv", encoding="utf-8") as f:
    r = csv.DictReader(f)
    tw = [(row["text"], "positive" if row["target"] == "4" else "negative") for row in r]
write("tweets-train.csv", balanced(tw[:4000], N_TRAIN))
write("tweets-eval.csv", balanced(tw[4000:8000], N_EVAL))

# 3. style: is a line Shakespeare or Wikipedia? Lines of 8+ words from Tiny Shakespeare and
# from WikiText-2 test (outside the held-out tail used for perplexity).
with open(f"{data}/tinyshakespeare/input.txt", encoding="utf-8") as f:
    sh = [l.strip() for l in f if len(l.split()) >= 8]
with open(f"{data}/wikitext-2-raw/wiki.test.raw", encoding="utf-8") as f:
    wk_lines = f.read().split("\n")
wk_lines = wk_lines[: int(len(wk_lines) * 0.8)]
wk = []
for l in wk_lines:
    l = l.strip()
    if l and not l.startswith("="):
        for sent in l.split(" . "):
            if 8 <= len(sent.split()) <= 30:
                wk.append(sent.strip() + " .")
rng = random.Random(2024)
rng.shuffle(sh)
rng.shuffle(wk)
style = [(s, "shakespeare") for s in sh[: N_TRAIN + N_EVAL]] + [(s, "wikipedia") for s in wk[: N_TRAIN + N_EVAL]]
sh_rows = [(s, "shakespeare") for s in sh[: N_TRAIN + N_EVAL]]
wk_rows = [(s, "wikipedia") for s in wk[: N_TRAIN + N_EVAL]]
write("style-train.csv", balanced(sh_rows[:N_TRAIN // 2 + 1] + wk_rows[:N_TRAIN // 2 + 1], N_TRAIN))
write("style-eval.csv", balanced(sh_rows[N_TRAIN:] + wk_rows[N_TRAIN:], N_EVAL))
print("wrote", sorted(os.listdir(out)))
