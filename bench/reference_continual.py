#!/usr/bin/env python3
"""An independent oracle for a study's cells: the same continual runs in PyTorch + transformers.

For each cell of a `curlora study` folder (methods frozen, lora, curlora), this runs the cell's
experiment (read from DIR/study.json: the same files, the same rows with the same balanced and
held-out selection, the same hyper-parameters) with the reference code's semantics
(`shared/docs/curlora-reference.md`):

    * the model from an HF Llama-family folder (`curlora import-gguf` writes one for the GGUF),
      f32, its `tokenizer.json`, no special tokens, pairs concatenated, truncated to max_len;
    * adapters on every targeted nn.Linear: LoRA `x @ A @ B` with A kaiming-uniform
      (U(-1/sqrt(r), 1/sqrt(r))), B = 0, alpha = 1, no /r; CURLoRA `C @ U @ R` with columns and
      rows of W drawn with replacement with probabilities ∝ 1 / (p + 0.001), U = 0;
      `frozen`: no adapter, only the heads train;
    * a fresh nn.Linear(d, classes) head per task (torch's default init), earlier heads kept;
    * torch.optim.AdamW (lr, betas, eps, weight decay as the experiment says), no gradient
      clipping unless the experiment has one (then a *global* norm clip, as PyTorch users run);
    * transformers' cosine schedule with warm-up over optimizer steps;
    * right padding with an attention mask, the last real token pooled, cross-entropy;
    * after each task, accuracy on every task so far with its own head; perplexity before and
      after each task, sliding windows as the experiment says (HF's stride recipe).

Randomness (head init, LoRA's A, CUR draws, shuffling) comes from torch / numpy seeded with
the cell's seed: the same seed is not the same draw as ours, so ours and this agree in
distribution, over seeds, not run by run.

Commands
    python3 bench/reference_continual.py DIR --model HF_FOLDER [--cells ID,ID] [--threads 2]
    python3 bench/reference_continual.py DIR --compare      # markdown: ours vs PyTorch

Writes DIR/reference/<id>.json per cell (atomically).
"""

import argparse
import csv
import json
import math
import os
import sys
import time

import numpy as np


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Rows, as curlora's readers and `Dataset::select` give them
# ---------------------------------------------------------------------------------------------


def read_rows(task):
    fmt, path = task["format"], task["_path"]
    rows = []
    if fmt == "mrpc":
        with open(path, encoding="utf-8-sig") as f:
            next(f)
            for line in f:
                q = line.rstrip("\n").split("\t")
                if len(q) == 5:
                    rows.append((q[3] + q[4], int(q[0])))
    elif fmt == "sst2":
        with open(path, encoding="utf-8") as f:
            next(f)
            for line in f:
                text, label = line.rstrip("\n").rsplit("\t", 1)
                rows.append((text, int(label)))
    elif fmt == "sentiment140":
        labels = task.get("sentiment140_labels") or "reference"
        with open(path, encoding="utf-8", newline="") as f:
            for i, rec in enumerate(csv.reader(f)):
                if i == 0 and not rec[0].strip().isdigit():
                    continue
                p = int(rec[0])
                if labels == "binary":
                    y = {0: 0, 4: 1}[p]
                elif labels == "three-class":
                    y = {0: 0, 2: 1, 4: 2}[p]
                else:
                    y = p // 4
                rows.append((rec[5], y))
    else:
        raise SystemExit(f"task {task['name']}: format {fmt} is not read by this oracle")
    return rows


def select(rows, skip, n, balanced):
    rest = rows[skip:]
    if n is None:
        return rest, skip + len(rest)
    if not balanced:
        return rest[:n], skip + min(n, len(rest))
    classes = sorted({y for _, y in rest})
    quota = n // len(classes)
    counts = {c: 0 for c in classes}
    out, last = [], 0
    for i, (x, y) in enumerate(rest):
        if counts[y] < quota:
            counts[y] += 1
            out.append((x, y))
            last = i + 1
            if len(out) == quota * len(classes):
                break
    return out, skip + last


def wikitext_reference(path):
    raw = open(path, encoding="utf-8").read().replace("\r\n", "\n")
    lines = raw.splitlines(keepends=True)
    return "".join(l for l in lines if l not in (" \n", " ", ""))


# ---------------------------------------------------------------------------------------------
# Model, adapters, schedule
# ---------------------------------------------------------------------------------------------


def cosine_with_warmup(base, step, warmup, total):
    if step < warmup:
        return base * step / max(warmup, 1)
    progress = (step - warmup) / max(total - warmup, 1)
    return base * max(0.0, 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0))))


def lr_at(schedule, base, step, total_steps, total_examples):
    kind = schedule["kind"]
    if kind == "constant":
        return base
    if kind == "warmup-cosine":
        return cosine_with_warmup(base, step, round(total_steps * schedule["warmup_fraction"]), total_steps)
    if kind == "reference":
        return cosine_with_warmup(base, step, schedule["warmup_steps"], total_examples)
    raise SystemExit(f"schedule {kind} is not known to this oracle")


def run_cell(exp, cell, model_dir, data_root):
    import torch
    from torch import nn
    from tokenizers import Tokenizer
    from transformers import LlamaForCausalLM

    seed = cell["seed"]
    torch.manual_seed(seed)
    np_rng = np.random.default_rng(seed)
    model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    for p in model.parameters():
        p.requires_grad_(False)
    rank, alpha, method = cell["rank"], exp["alpha"], cell["method"]

    class LoRA(nn.Module):
        def __init__(self, base):
            super().__init__()
            self.base = base
            n_out, n_in = base.weight.shape
            self.A = nn.Parameter(torch.empty(n_in, rank).uniform_(-1 / math.sqrt(rank), 1 / math.sqrt(rank)))
            self.B = nn.Parameter(torch.zeros(rank, n_out))

        def forward(self, x):
            return self.base(x) + alpha * (x @ self.A @ self.B)

    class CURLoRA(nn.Module):
        def __init__(self, base):
            super().__init__()
            self.base = base
            w = base.weight.detach().t()  # [in, out], as the reference's W
            a = w.double().numpy()
            sq = a * a
            total = sq.sum()

            def inv(norms):
                p = norms / total
                q = 1.0 / (p + exp.get("epsilon", 0.001))
                return q / q.sum()

            cols = np_rng.choice(a.shape[1], size=rank, replace=exp.get("replacement", True), p=inv(sq.sum(0)))
            rows = np_rng.choice(a.shape[0], size=rank, replace=exp.get("replacement", True), p=inv(sq.sum(1)))
            self.C = w[:, torch.as_tensor(cols)].clone()
            self.R = w[torch.as_tensor(rows), :].clone()
            self.U = nn.Parameter(torch.zeros(rank, rank))

        def forward(self, x):
            return self.base(x) + alpha * (x @ (self.C @ self.U @ self.R))

    if method in ("lora", "curlora"):
        wrap = LoRA if method == "lora" else CURLoRA
        for name, module in list(model.named_modules()):
            for child_name, child in list(module.named_children()):
                full = f"{name}.{child_name}" if name else child_name
                if isinstance(child, nn.Linear) and any(full.endswith(t) for t in exp["targets"]):
                    setattr(module, child_name, wrap(child))
    elif method != "frozen":
        raise SystemExit(f"method {method}: this oracle runs frozen, lora and curlora")
    adapter_params = [p for p in model.parameters() if p.requires_grad]

    max_len = exp["max_len"]
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else 0

    def encode(rows):
        return [(tok.encode(x, add_special_tokens=False).ids[:max_len] or [pad], y) for x, y in rows]

    tasks = []
    for t in exp["tasks"]:
        t = dict(t)
        t["_path"] = t["train"]
        train, used = select(read_rows(t), 0, t.get("train_rows"), t.get("balanced", False))
        t["_path"] = t["eval"]
        ev, _ = select(read_rows(t), t.get("eval_skip") or 0, t.get("eval_rows"), t.get("balanced", False))
        classes = 2 if t["format"] in ("mrpc", "sst2") or t.get("sentiment140_labels") == "binary" else 3
        tasks.append(dict(spec=t, train=encode(train), eval=encode(ev), classes=classes))

    def batch(items):
        t = max(len(e) for e, _ in items)
        ids = torch.tensor([e + [pad] * (t - len(e)) for e, _ in items])
        mask = torch.tensor([[1] * len(e) + [0] * (t - len(e)) for e, _ in items])
        last = torch.tensor([len(e) - 1 for e, _ in items])
        labels = torch.tensor([y for _, y in items])
        return ids, mask, last, labels

    def pooled(ids, mask, last):
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        return hidden[torch.arange(ids.shape[0]), last]

    ppl_spec = exp["perplexity"]
    text = wikitext_reference(ppl_spec["text"]) if ppl_spec.get("wikitext_rule") else open(ppl_spec["text"], encoding="utf-8").read()
    wiki = tok.encode(text, add_special_tokens=False).ids

    def perplexity():
        mode = ppl_spec["mode"]
        if mode["kind"] == "first-window":
            ids = torch.tensor([wiki[: mode["max_tokens"]]])
            with torch.no_grad():
                return math.exp(model(input_ids=ids, labels=ids).loss.item())
        ids = wiki[: mode["max_tokens"]]
        window, stride = mode["window"], mode["stride"]
        total, count, done, begin = 0.0, 0, 1, 0
        with torch.no_grad():
            while True:
                end = min(begin + window, len(ids))
                x = torch.tensor([ids[begin:end]])
                lp = torch.log_softmax(model(input_ids=x).logits[0, :-1].double(), -1)
                nll = -lp.gather(1, x[0, 1:, None])[:, 0]
                for k, l in enumerate(nll.tolist()):
                    if begin + k + 1 >= done:
                        total += l
                        count += 1
                done = end
                if end == len(ids):
                    break
                begin += stride
        return math.exp(total / count)

    tr = exp["train"]
    bs, ebs = tr["batch_size"], tr["eval_batch_size"]
    T = len(tasks)
    acc = [[None] * T for _ in range(T)]
    ppl = [perplexity()]
    log(f"  {cell['id']}: perplexity before {ppl[0]:.3f}")
    heads = []
    for i, task in enumerate(tasks):
        head = nn.Linear(model.config.hidden_size, task["classes"])
        heads.append(head)
        params = adapter_params + list(head.parameters())
        opt = torch.optim.AdamW(params, lr=tr["lr"], betas=(tr["beta1"], tr["beta2"]), eps=tr["eps"], weight_decay=tr["weight_decay"])
        spec = task["spec"]
        n = len(task["train"])
        steps_per_epoch = math.ceil(n / bs)
        total = steps_per_epoch * spec["epochs"]
        step = 0
        model.train()
        for epoch in range(spec["epochs"]):
            order = np_rng.permutation(n) if tr.get("shuffle") else np.arange(n)
            for b in range(0, n, bs):
                items = [task["train"][k] for k in order[b : b + bs]]
                for g in opt.param_groups:
                    g["lr"] = lr_at(spec["schedule"], tr["lr"], step, total, n * spec["epochs"])
                ids, mask, last, labels = batch(items)
                loss = nn.functional.cross_entropy(head(pooled(ids, mask, last)), labels)
                loss.backward()
                if tr.get("grad_clip"):
                    torch.nn.utils.clip_grad_norm_(params, tr["grad_clip"])
                opt.step()
                opt.zero_grad(set_to_none=True)
                step += 1
        model.eval()
        with torch.no_grad():
            for j in range(i + 1):
                data = sorted(tasks[j]["eval"], key=lambda e: len(e[0]))
                correct = 0
                for b in range(0, len(data), ebs):
                    ids, mask, last, labels = batch(data[b : b + ebs])
                    correct += (heads[j](pooled(ids, mask, last)).argmax(-1) == labels).sum().item()
                acc[i][j] = correct / len(data)
        ppl.append(perplexity())
        log(f"  {cell['id']}: after {spec['name']}: accuracy {[a for a in acc[i] if a is not None]}, perplexity {ppl[-1]:.3f}")
    final = acc[T - 1]
    metrics = {
        "acc": sum(final) / T,
        "bwt": sum(final[j] - acc[j][j] for j in range(T - 1)) / (T - 1) if T > 1 else None,
        "forgetting": sum(max(acc[l][j] for l in range(j, T - 1)) - final[j] for j in range(T - 1)) / (T - 1) if T > 1 else None,
        "plasticity": sum(acc[j][j] for j in range(T)) / T,
    }
    return dict(id=cell["id"], method=method, rank=rank, seed=seed, accuracy_matrix=acc, perplexity=ppl,
                metrics=metrics, torch=torch.__version__)


# ---------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------


def mean_sd(v):
    v = [x for x in v if x is not None]
    if not v:
        return "–"
    m = sum(v) / len(v)
    if len(v) == 1:
        return f"{m:.4f} (1 seed)"
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
    return f"{m:.4f} ± {sd:.4f} (n={len(v)})"


def compare(d):
    study = json.load(open(os.path.join(d, "report.json")))
    refdir = os.path.join(d, "reference")
    ref = [json.load(open(os.path.join(refdir, f))) for f in sorted(os.listdir(refdir)) if f.endswith(".json")]
    ours = {c["id"]: c for c in study["cells"]}
    rows = []
    for method in ("frozen", "lora", "curlora"):
        r = [x for x in ref if x["method"] == method]
        o = [ours[x["id"]] for x in r if x["id"] in ours]
        if not r:
            continue
        pc = lambda c: 100 * (c["perplexity"][-1] - c["perplexity"][0]) / c["perplexity"][0]
        for name, f in [("ACC", lambda c: c["metrics"]["acc"]), ("BWT", lambda c: c["metrics"]["bwt"]),
                        ("plasticity", lambda c: c["metrics"]["plasticity"]), ("perplexity change %", pc)]:
            rows.append(f"| {method} | {name} | {mean_sd([f(c) for c in o])} | {mean_sd([f(c) for c in r])} |")
    print("| method | metric | curlora (ours) | PyTorch reference |\n|---|---|---:|---:|")
    print("\n".join(rows))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", help="a curlora study folder (study.json)")
    ap.add_argument("--model", help="HF Llama-family folder")
    ap.add_argument("--cells", help="comma-separated cell ids (default: every frozen, lora and curlora cell)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compare", action="store_true", help="print ours vs PyTorch from DIR/report.json and DIR/reference/")
    args = ap.parse_args()
    if args.compare:
        return compare(args.dir)
    if not args.model:
        raise SystemExit("--model HF_FOLDER is required to run cells")
    import torch

    torch.set_num_threads(args.threads)
    study = json.load(open(os.path.join(args.dir, "study.json")))
    exp = study["experiment"]
    wanted = set(args.cells.split(",")) if args.cells else None
    cells = [c for c in study["cells"] if c["method"] in ("frozen", "lora", "curlora") and (wanted is None or c["id"] in wanted)]
    os.makedirs(os.path.join(args.dir, "reference"), exist_ok=True)
    for c in cells:
        out = os.path.join(args.dir, "reference", c["id"] + ".json")
        if os.path.exists(out):
            log(f"{c['id']}: done already")
            continue
        t = time.perf_counter()
        res = run_cell(exp, c, args.model, None)
        res["seconds"] = time.perf_counter() - t
        with open(out + ".tmp", "w") as f:
            json.dump(res, f, indent=1)
        os.replace(out + ".tmp", out)
        log(f"{c['id']}: done in {res['seconds']:.0f} s")


if __name__ == "__main__":
    main()
