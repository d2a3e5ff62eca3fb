#!/usr/bin/env python3
"""Train-step benchmark of the CURLoRA reference layers in PyTorch on the CPU.

What it measures
    One step of a workload, ``--workload``:

    * ``lm`` (the default, as before): one optimizer step (forward with ``labels=input_ids``,
      ``loss.backward()``, ``torch.optim.AdamW`` step at lr 1e-4, ``zero_grad``);
    * ``classify``: what ``curlora run`` trains: the final hidden state of the last position
      (``model.transformer`` / ``model.model`` with an all-ones attention mask) into a fresh
      ``nn.Linear(d, 2)`` head, cross-entropy, AdamW on the adapters and the head;
    * ``perplexity``: forward only under ``torch.no_grad()``, the mean next-token loss read
      back (``.item()``), reported as tokens per second;

    of a model shape with random weights from ``torch.manual_seed(0)``, ``--model``:
    ``gpt2-small`` (``GPT2LMHeadModel(GPT2Config())``: 12 layers, d 768, vocab 50257; adapters
    on every block's ``attn.c_attn`` at r = 8) or ``smollm2-135m`` (``LlamaForCausalLM`` with
    SmolLM2-135M's config: 30 layers, d 576, 9 heads / 3 key-value heads, vocab 49152; adapters
    on ``q_proj k_proj v_proj`` at r = 16). Each method runs one after another in this
    process, each on a fresh deep copy of the same model:

    * ``frozen``: no adapter. ``lm``: every parameter frozen except GPT-2's ``transformer.wpe``
      or Llama's first ``input_layernorm``, so backward still runs through every layer -- the
      floor every method pays. ``classify``: only the head trains (the head-only baseline);
    * ``lora``: the reference LoRA on every block's ``attn.c_attn`` (base frozen):
      ``base(x) + alpha * (x @ A @ B)``, A [in, r] ~ U(-1/sqrt(r), 1/sqrt(r)), B [r, out] = 0;
    * ``curlora-materialized``: the reference CURLoRA layer as the reference code runs it, on the same
      modules: C = W[:, cols] (in x r), R = W[rows, :] (r x out) as plain frozen tensors,
      U = zeros(r, r) the only ``nn.Parameter``, and every forward *materialises*
      ``W_approx = C @ U @ R`` (in x out) and returns ``base(x) + alpha * x @ W_approx``;
    * ``curlora``: the same C, U, R applied the way our Rust crate does by default,
      ``base(x) + alpha * ((x @ C) @ U) @ R``, which never forms the in x out matrix;
    * ``full``: every parameter trainable.

    alpha = 1 (no /r), as in the reference. Columns and rows are drawn with probabilities
    proportional to 1 / (p + 0.001), where p are the squared column/row norms of W over its
    squared Frobenius norm, with replacement, from a seeded ``numpy.random.Generator`` (the
    reference uses numpy's unseeded global RNG). GPT-2 ``Conv1D`` stores W as [in, out], so
    columns are output dims and rows are input dims. An ``nn.Linear`` (Llama) is adapted on
    its ``weight.T`` ([in, out]), the same shapes.

    It also times the adapter path alone: one adapted ``c_attn``-shaped layer (768 -> 2304) on
    an input of [batch * seq, 768] rows, forward + backward with loss = output.sum(), for
    ``lora``, ``curlora-materialized`` and ``curlora`` (factorized), averaged over 20 iterations
    after two warm-up iterations, with the materialised / factorised ratio.

Why
    So users can compare ``curlora bench`` (our Rust implementation, same shapes, same modes,
    same step) with what they would otherwise run: the reference PyTorch layers. The mode names
    are those of ``curlora bench``.

    GPT-2's dropout (0.1) is disabled by default because ``curlora bench`` applies none; pass
    ``--dropout 0.1`` to time the model exactly as ``GPT2Config()`` defines it.

Command
    python3 bench/reference_pytorch.py [--model gpt2-small] [--workload lm] [--steps 3] \\
        [--threads 2] [--layers N] [--batch 8] [--seq 128] [--rank R] [--json | --jsonl]

    Prints markdown tables on stdout. With ``--json`` the tables go to stderr and a JSON object
    goes to stdout; with ``--jsonl``, one JSON object per mode per line, with the keys of
    ``curlora bench --json`` (``model``, ``workload``, ``mode``, ``seconds_per_step``,
    ``tokens_per_second``, ``peak_rss_bytes``). ``peak_rss_bytes`` is the process's peak
    resident memory during the mode's steps (reset through ``/proc/self/clear_refs`` after the
    copy is made; memory an earlier mode freed may still count). Compare with
    ``curlora --device cpu bench`` run with the same model, workload, threads, batch, seq, rank
    and steps, or run both alternately with ``bench/side_by_side.py``.
"""

import argparse
import copy
import gc
import json
import math
import platform
import sys
import time

import numpy as np
import torch
import transformers
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

MODES = ["frozen", "lora", "curlora-materialized", "curlora", "full"]
LAYER_MODES = ["lora", "curlora-materialized", "curlora"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Adapters (written from the reference semantics in shared/docs/curlora-reference.md §1-2).
# All wrap a GPT-2 Conv1D (or anything with a frozen weight W of shape [in, out]).
# ---------------------------------------------------------------------------------------------


def conv1d_weight(base):
    """The frozen weight as [in, out]: a GPT-2 Conv1D stores it so, an nn.Linear transposed."""
    if isinstance(base, nn.Linear):
        return base.weight.detach().t()
    return base.weight.detach()


class LoRAConv1D(nn.Module):
    """Reference LoRA: base(x) + alpha * (x @ A @ B)."""

    def __init__(self, base, rank, alpha=1.0, generator=None):
        super().__init__()
        self.base = base
        n_in, n_out = conv1d_weight(base).shape
        self.A = nn.Parameter(torch.empty(n_in, rank))
        # kaiming_uniform_(a=sqrt(5)) on an [in, r] tensor has fan_in = r: U(-1/sqrt(r), 1/sqrt(r)).
        bound = 1.0 / math.sqrt(rank)
        with torch.no_grad():
            self.A.uniform_(-bound, bound, generator=generator)
        self.B = nn.Parameter(torch.zeros(rank, n_out))
        self.alpha = alpha

    def forward(self, x):
        return self.base(x) + self.alpha * (x @ self.A @ self.B)


def inverted_probs(norms_sq, total):
    p = norms_sq / total
    inv = 1.0 / (p + 0.001)
    inv = inv / inv.sum()
    return inv


def sample_cur(w, rank, rng):
    """Reference CUR selection on W [in, out]: columns (out dims) and rows (in dims) drawn with
    replacement with probabilities proportional to 1 / (p + 0.001)."""
    a = w.detach().to(torch.float64).cpu().numpy()
    sq = a * a
    total = sq.sum()
    col_p = inverted_probs(sq.sum(axis=0), total)
    row_p = inverted_probs(sq.sum(axis=1), total)
    cols = rng.choice(len(col_p), size=rank, replace=True, p=col_p)
    rows = rng.choice(len(row_p), size=rank, replace=True, p=row_p)
    c = w[:, torch.as_tensor(cols)].detach() * 1.0  # in x r
    r = w[torch.as_tensor(rows), :].detach() * 1.0  # r x out
    return c, r


class CURLoRAConv1D(nn.Module):
    """CURLoRA on a Conv1D. C and R are plain tensor attributes (not parameters, not buffers);
    U = zeros(r, r) is the only trainable parameter.

    materialize=True is the reference forward: W_approx = C @ U @ R every call, then
    base(x) + alpha * x @ W_approx. materialize=False is ours: base(x) + alpha * ((x @ C) @ U) @ R.
    """

    def __init__(self, base, rank, rng, alpha=1.0, materialize=True):
        super().__init__()
        self.base = base
        self.C, self.R = sample_cur(conv1d_weight(base), rank, rng)
        self.U = nn.Parameter(torch.zeros(rank, rank))
        self.alpha = alpha
        self.materialize = materialize

    def forward(self, x):
        if self.materialize:
            w_approx = torch.matmul(torch.matmul(self.C, self.U), self.R)
            return self.base(x) + self.alpha * torch.matmul(x, w_approx)
        return self.base(x) + self.alpha * (((x @ self.C) @ self.U) @ self.R)


def make_adapter(base, mode, rank, rng, generator):
    if mode == "lora":
        return LoRAConv1D(base, rank, generator=generator)
    if mode == "curlora-materialized":
        return CURLoRAConv1D(base, rank, rng, materialize=True)
    if mode == "curlora":
        return CURLoRAConv1D(base, rank, rng, materialize=False)
    raise ValueError(mode)


# ---------------------------------------------------------------------------------------------
# Whole-model train step
# ---------------------------------------------------------------------------------------------


SMOLLM2_135M = dict(
    vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
    num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
    rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True, hidden_act="silu",
)


def build_model(name, layers, dropout):
    """The model shape with random weights (torch.manual_seed(0)), and its adapter targets."""
    torch.manual_seed(0)
    if name == "gpt2-small":
        config = GPT2Config(resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout)
        if layers:
            config.n_layer = layers
        return GPT2LMHeadModel(config), 8
    config = LlamaConfig(**SMOLLM2_135M)
    if layers:
        config.num_hidden_layers = layers
    return LlamaForCausalLM(config), 16


def blocks(model):
    return model.transformer.h if hasattr(model, "transformer") else model.model.layers


def targets(block):
    """(parent module, attribute) of each adapted projection in a block."""
    if hasattr(block, "attn"):
        return [(block.attn, "c_attn")]
    return [(block.self_attn, n) for n in ("q_proj", "k_proj", "v_proj")]


def floor_param(model):
    """What ``frozen`` trains on the lm workload: an early tensor, so backward runs through every block."""
    if hasattr(model, "transformer"):
        return model.transformer.wpe.weight
    return model.model.layers[0].input_layernorm.weight


def prepare(base_model, mode, rank, workload):
    model = copy.deepcopy(base_model)
    model.train()
    if mode == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    for p in model.parameters():
        p.requires_grad_(False)
    if mode == "frozen":
        if workload == "lm":
            floor_param(model).requires_grad_(True)
        return model
    rng = np.random.default_rng(0)
    gen = torch.Generator().manual_seed(0)
    for block in blocks(model):
        for parent, name in targets(block):
            setattr(parent, name, make_adapter(getattr(parent, name), mode, rank, rng, gen))
    return model


def peak_rss_reset():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def time_mode(base_model, mode, ids, rank, steps, workload):
    model = prepare(base_model, mode, rank, workload)
    head = None
    if workload == "classify":
        d = model.config.hidden_size if hasattr(model.config, "hidden_size") else model.config.n_embd
        head = nn.Linear(d, 2)
    params = [p for p in model.parameters() if p.requires_grad]
    if head is not None:
        params += list(head.parameters())
    trainable = sum(p.numel() for p in params)
    optim = torch.optim.AdamW(params, lr=1e-4) if params else None
    backbone = model.transformer if hasattr(model, "transformer") else model.model
    mask = torch.ones_like(ids)
    labels = torch.arange(ids.shape[0]) % 2

    def step():
        if workload == "perplexity":
            with torch.no_grad():
                return model(input_ids=ids, labels=ids).loss.item()
        if workload == "classify":
            hidden = backbone(input_ids=ids, attention_mask=mask).last_hidden_state
            loss = nn.functional.cross_entropy(head(hidden[:, -1, :]), labels)
        else:
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optim.step()
        optim.zero_grad(set_to_none=True)
        return loss.item()

    if workload == "perplexity":
        model.eval()
    step()  # warm-up
    peak_rss_reset()
    start = time.perf_counter()
    loss = float("nan")
    for _ in range(steps):
        loss = step()
    sec = (time.perf_counter() - start) / steps
    rss = peak_rss_bytes()
    del model, optim, params
    gc.collect()
    tokens = ids.shape[0] * ids.shape[1]
    return {"mode": mode, "seconds_per_step": sec, "tokens_per_second": tokens / sec, "steps": steps,
            "trainable_params": trainable if workload != "perplexity" else 0, "last_loss": loss,
            "peak_rss_bytes": rss}


# ---------------------------------------------------------------------------------------------
# Adapter path alone
# ---------------------------------------------------------------------------------------------


def time_layer(mode, n_in, n_out, rows, rank, iters):
    from transformers.pytorch_utils import Conv1D

    gen = torch.Generator().manual_seed(3)
    base = Conv1D(n_out, n_in)
    with torch.no_grad():
        base.weight.copy_(torch.randn(n_in, n_out, generator=gen) * 0.02)
        base.bias.zero_()
    for p in base.parameters():
        p.requires_grad_(False)
    layer = make_adapter(base, mode, rank, np.random.default_rng(0), gen)
    if isinstance(layer, CURLoRAConv1D):
        # Non-zero U (as `curlora bench` does); the cost is the same either way in PyTorch.
        with torch.no_grad():
            layer.U.copy_(torch.randn(rank, rank, generator=gen) * 0.1)
    x = torch.randn(rows, n_in, generator=gen)
    params = [p for p in layer.parameters() if p.requires_grad]

    def run():
        layer(x).sum().backward()
        for p in params:
            p.grad = None

    run()
    run()
    start = time.perf_counter()
    for _ in range(iters):
        run()
    return (time.perf_counter() - start) * 1000.0 / iters


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=3, help="timed steps per mode (after one warm-up step)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--model", default="gpt2-small", choices=["gpt2-small", "smollm2-135m"])
    ap.add_argument("--workload", default="lm", choices=["classify", "lm", "perplexity"])
    ap.add_argument("--layers", type=int, default=0, help="number of blocks (default: the model's; GPT-2 small has 12)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--rank", type=int, default=0, help="adapter rank (default: 8 for gpt2-small, 16 for smollm2-135m)")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of: " + ", ".join(MODES))
    ap.add_argument("--layer-iters", type=int, default=20, help="iterations of the adapter-path benchmark (0 skips it)")
    ap.add_argument("--dropout", type=float, default=0.0, help="GPT-2 dropout (GPT2Config() default 0.1; curlora bench uses none)")
    ap.add_argument("--json", action="store_true", help="print JSON on stdout (tables go to stderr)")
    ap.add_argument("--jsonl", action="store_true", help="print one JSON object per mode per line on stdout (tables go to stderr)")
    args = ap.parse_args()

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in MODES:
            ap.error(f"unknown mode {m!r}: expected one of {', '.join(MODES)}")
    if args.steps < 1 or args.batch < 1 or args.rank < 0 or args.layers < 0:
        ap.error("--steps and --batch must be >= 1, --rank and --layers >= 0")
    if not 2 <= args.seq <= 1024:
        ap.error("--seq must be in 2..1024")

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(args.threads)
    except RuntimeError:
        pass

    base_model, default_rank = build_model(args.model, args.layers, args.dropout)
    args.rank = args.rank or default_rank
    config = base_model.config
    args.layers = getattr(config, "n_layer", None) or config.num_hidden_layers
    base_model.train()
    attn_impl = getattr(base_model.config, "_attn_implementation", None)
    ids = torch.randint(0, config.vocab_size, (args.batch, args.seq), generator=torch.Generator().manual_seed(1))

    results = []
    for mode in modes:
        log(f"bench {args.model} {args.workload} {mode}: {args.layers} layers, batch {args.batch}, seq {args.seq}, rank {args.rank}, {args.threads} threads...")
        results.append(time_mode(base_model, mode, ids, args.rank, args.steps, args.workload))
    del base_model
    gc.collect()

    layer = []
    n_in, n_out = (768, 2304) if args.model == "gpt2-small" else (576, 576)
    rows = args.batch * args.seq
    if args.layer_iters > 0:
        for mode in LAYER_MODES:
            log(f"layer {mode}: [{n_in}, {n_out}], {rows} rows, {args.layer_iters} iterations...")
            layer.append({"mode": mode, "ms_per_iter": time_layer(mode, n_in, n_out, rows, args.rank, args.layer_iters)})

    lora = next((r["seconds_per_step"] for r in results if r["mode"] == "lora"), None)
    frozen = next((r["seconds_per_step"] for r in results if r["mode"] == "frozen"), None)
    for r in results:
        r["ratio_to_lora"] = r["seconds_per_step"] / lora if lora else None
        r["ratio_to_frozen"] = r["seconds_per_step"] / frozen if frozen else None
    fact = next((l["ms_per_iter"] for l in layer if l["mode"] == "curlora"), None)
    mat = next((l["ms_per_iter"] for l in layer if l["mode"] == "curlora-materialized"), None)
    for l in layer:
        l["ratio_to_factorized"] = l["ms_per_iter"] / fact if fact else None
    mat_over_fact = mat / fact if mat and fact else None

    meta = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "device": "cpu",
        "cpu": platform.processor() or platform.machine(),
        "attn_implementation": attn_impl,
        "model": args.model,
        "workload": args.workload,
        "layers": args.layers,
        "batch": args.batch,
        "seq": args.seq,
        "rank": args.rank,
        "steps": args.steps,
        "dropout": args.dropout,
    }

    out = sys.stderr if args.json or args.jsonl else sys.stdout
    fmt = lambda v, spec: "–" if v is None else format(v, spec)  # noqa: E731
    print(
        f"PyTorch reference (CPU): torch {meta['torch']}, transformers {meta['transformers']}, "
        f"{meta['threads']} threads, attention {attn_impl}; {args.model} {args.workload}, {args.layers} layers, "
        f"batch {args.batch}, seq {args.seq}, rank {args.rank}, {args.steps} timed steps, dropout {args.dropout}",
        file=out,
    )
    print("| mode | s/step | × LoRA | × frozen | trainable |", file=out)
    print("|---|---:|---:|---:|---:|", file=out)
    for r in results:
        print(
            f"| {r['mode']} | {r['seconds_per_step']:.3f} | {fmt(r['ratio_to_lora'], '.3f')} | "
            f"{fmt(r['ratio_to_frozen'], '.3f')} | {r['trainable_params']:,} |",
            file=out,
        )
    if layer:
        print(file=out)
        print(f"adapter path alone: one [{n_in}, {n_out}] layer, {rows} rows, forward + backward, "
              f"{args.layer_iters} iterations", file=out)
        print("| mode | ms/iter | × curlora (factorized) |", file=out)
        print("|---|---:|---:|", file=out)
        for l in layer:
            print(f"| {l['mode']} | {l['ms_per_iter']:.3f} | {fmt(l['ratio_to_factorized'], '.2f')} |", file=out)
        print(f"\nmaterialized / factorized: {fmt(mat_over_fact, '.2f')}×", file=out)

    if args.jsonl:
        for r in results:
            print(json.dumps({"model": args.model, "workload": args.workload, "device": "pytorch-cpu", **r}))
        for l in layer:
            print(json.dumps({"model": args.model, "workload": "adapter-layer", "device": "pytorch-cpu", **l}))
    if args.json:
        print(json.dumps({"meta": meta, "steps": results, "layer_ms": layer,
                          "materialized_over_factorized": mat_over_fact}, indent=2))


if __name__ == "__main__":
    main()
