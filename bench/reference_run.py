#!/usr/bin/env python3
"""One real-model task in PyTorch, the work `curlora run --config bench/real-task.toml` does.

What it does, timed as a whole process (load included), as `curlora run` is timed:
    * loads an HF Llama-family folder (the folder `curlora import-gguf` writes for SmolLM2, or
      any other) with ``LlamaForCausalLM.from_pretrained`` in f32, and its ``tokenizer.json``;
    * perplexity on WikiText-2's first 1,024 tokens in one window (``torch.no_grad``);
    * attaches the reference LoRA (``x @ A @ B``, A ~ U(-1/sqrt(r), 1/sqrt(r)), B = 0, alpha 1)
      or the reference CURLoRA layer (materialised ``C @ U @ R``) on every ``q_proj``,
      ``k_proj``, ``v_proj`` at r = 16, and a fresh ``nn.Linear(d, 2)`` head;
    * trains on SST-2's first 240 training rows once: 30 AdamW steps (lr 2.5e-4, betas 0.9 /
      0.999, eps 1e-6, no weight decay) of batch 8, right-padded with an attention mask,
      the last real token pooled, cross-entropy;
    * evaluates SST-2's first 256 dev rows in batches of 8 (accuracy);
    * perplexity again.

It prints one JSON line with the phases' seconds and the whole wall time. The adapter layers
are those of ``bench/reference_pytorch.py``.

Command
    python3 bench/reference_run.py --model DIR [--method lora|curlora] [--threads 2] \\
        [--data-dir ../shared/data]
"""

import argparse
import json
import os
import sys
import time

T0 = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_pytorch as ref  # noqa: E402


def read_sst2(path, n):
    rows = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            if len(rows) == n:
                break
            text, label = line.rstrip("\n").rsplit("\t", 1)
            rows.append((text, int(label)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="HF Llama-family folder (config.json, model.safetensors, tokenizer.json)")
    ap.add_argument("--method", default="lora", choices=["lora", "curlora"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from tokenizers import Tokenizer
    from transformers import LlamaForCausalLM

    phases = {}
    t = time.perf_counter()
    model = LlamaForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32)
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    train = read_sst2(os.path.join(args.data_dir, "sst2", "train.tsv"), 240)
    dev = read_sst2(os.path.join(args.data_dir, "sst2", "dev.tsv"), 256)
    with open(os.path.join(args.data_dir, "wikitext-2-raw", "wiki.test.raw"), encoding="utf-8") as f:
        wiki = tok.encode(f.read()[:200_000]).ids[:1024]
    phases["load"] = time.perf_counter() - t
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else 0

    def perplexity():
        t = time.perf_counter()
        ids = torch.tensor([wiki])
        with torch.no_grad():
            loss = model(input_ids=ids, labels=ids).loss.item()
        return float(np.exp(loss)), time.perf_counter() - t

    ppl0, phases["perplexity_before"] = perplexity()

    t = time.perf_counter()
    for p in model.parameters():
        p.requires_grad_(False)
    rng = np.random.default_rng(0)
    gen = torch.Generator().manual_seed(0)
    mode = "lora" if args.method == "lora" else "curlora-materialized"
    for block in model.model.layers:
        for name in ("q_proj", "k_proj", "v_proj"):
            setattr(block.self_attn, name, ref.make_adapter(getattr(block.self_attn, name), mode, 16, rng, gen))
    head = nn.Linear(model.config.hidden_size, 2)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    optim = torch.optim.AdamW(params, lr=2.5e-4, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0)
    phases["attach"] = time.perf_counter() - t

    def batch(rows):
        enc = [tok.encode(text).ids[:512] or [pad] for text, _ in rows]
        t = max(len(e) for e in enc)
        ids = torch.tensor([e + [pad] * (t - len(e)) for e in enc])
        mask = torch.tensor([[1] * len(e) + [0] * (t - len(e)) for e in enc])
        last = torch.tensor([len(e) - 1 for e in enc])
        labels = torch.tensor([label for _, label in rows])
        return ids, mask, last, labels

    def logits(ids, mask, last):
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        return head(hidden[torch.arange(ids.shape[0]), last])

    model.train()
    t = time.perf_counter()
    losses = []
    for i in range(0, len(train), 8):
        ids, mask, last, labels = batch(train[i:i + 8])
        loss = nn.functional.cross_entropy(logits(ids, mask, last), labels)
        loss.backward()
        optim.step()
        optim.zero_grad(set_to_none=True)
        losses.append(loss.item())
    phases["train_30_steps"] = time.perf_counter() - t

    model.eval()
    t = time.perf_counter()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(dev), 8):
            ids, mask, last, labels = batch(dev[i:i + 8])
            correct += (logits(ids, mask, last).argmax(-1) == labels).sum().item()
    phases["eval_256"] = time.perf_counter() - t

    ppl1, phases["perplexity_after"] = perplexity()
    out = {
        "side": "pytorch", "method": args.method, "threads": torch.get_num_threads(),
        "wall_seconds": time.perf_counter() - T0, "phases": phases, "accuracy": correct / len(dev),
        "perplexity": [ppl0, ppl1], "first_loss": losses[0], "last_loss": losses[-1],
        "torch": torch.__version__,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
