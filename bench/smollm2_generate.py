#!/usr/bin/env python3
"""Greedy generation on SmolLM2-135M-Instruct: transformers' tokens (the fixture
tests/real_model.rs checks `curlora generate` against) and tokens/s of both, side by side.

The model is our import of the GGUF (`curlora import-gguf`, the HF folder every curlora command
loads; its weights match transformers' own GGUF dequantization, tests/real_model.rs), so both
sides read the same float32 weights and the same tokenizer.json.

  1. transformers `generate(do_sample=False, max_new_tokens=N)` from the prompt: the tokens,
     and the smallest top-1/top-2 logit gap on the way (a near-tie would make greedy
     decoding implementation-defined) -> tests/fixtures/smollm2/generate.json;
  2. speed, batch 1, on the CPU with --threads threads: transformers (KV cache, its default
     attention) and `curlora --device cpu generate --json`, both made to produce exactly N
     tokens (min_new_tokens / --ignore-eos), best of --repeats, the prompt included in the
     time; printed as tokens/s and their ratio.

Run:  python3 bench/smollm2_generate.py --model ~/.cache/curlora/gguf-SmolLM2-... \\
          --curlora $CARGO_TARGET_DIR/release/curlora [--threads 2] [--tokens 32]
Needs: torch, transformers.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import json
import subprocess
import time
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPT = "The history of the printing press began"
ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--curlora", required=True)
    ap.add_argument("--gguf", help="what curlora loads (default: --model)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "tests/fixtures/smollm2/generate.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    ids = tok(PROMPT, add_special_tokens=False, return_tensors="pt").input_ids
    with torch.no_grad():
        g = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                           max_new_tokens=args.tokens, output_scores=True,
                           return_dict_in_generate=True, pad_token_id=tok.eos_token_id)
    new = g.sequences[0, ids.shape[1]:].tolist()
    gaps = [float(torch.topk(s[0], 2).values[0] - torch.topk(s[0], 2).values[1]) for s in g.scores]
    out = {
        "prompt": PROMPT,
        "prompt_ids": ids[0].tolist(),
        "max_new_tokens": args.tokens,
        "tokens": new,
        "text": tok.decode(new),
        "min_gap": min(gaps),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"transformers greedy: {tok.decode(new)!r} (min top-1/top-2 gap {min(gaps):.4f}) -> {args.out}")

    def hf_once():
        t = time.perf_counter()
        with torch.no_grad():
            model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                           max_new_tokens=args.tokens, min_new_tokens=args.tokens,
                           pad_token_id=tok.eos_token_id)
        return args.tokens / (time.perf_counter() - t)

    hf_once()  # warm-up
    hf = max(hf_once() for _ in range(args.repeats))
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    ours = []
    for _ in range(args.repeats + 1):
        r = subprocess.run([args.curlora, "--device", "cpu", "generate", "--model", args.gguf or args.model,
                            "--prompt", PROMPT, "--max-new-tokens", str(args.tokens), "--ignore-eos", "--json"],
                           check=True, capture_output=True, text=True, env=env)
        ours.append(json.loads(r.stdout.strip().splitlines()[-1]))
    best = max(o["tokens_per_second"] for o in ours[1:])
    print(f"tokens/s, batch 1, {args.threads} threads, {args.tokens} new tokens, prompt included, best of {args.repeats}:")
    print(f"  transformers {hf:.1f}   curlora {best:.1f}   ratio curlora/transformers {best / hf:.2f}")


if __name__ == "__main__":
    main()
