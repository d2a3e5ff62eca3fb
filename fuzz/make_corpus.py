#!/usr/bin/env python3
"""Writes the fuzz seed corpora in fuzz/corpus/<target>/: small valid inputs of every format,
so that libFuzzer starts inside each parser instead of at its magic bytes. Standard library
only. Run from the repository root: `python3 fuzz/make_corpus.py --curlora BIN` (the binary
writes the experiment TOMLs with `--print-config`)."""

import argparse, base64, json, os, shutil, struct, subprocess

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    header, blobs, off = {}, b"", 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs += data
        off += len(data)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blobs


def gguf(kvs, tensors):
    """GGUF v3: kvs = [(key, type_id, packed value)], tensors = [(name, dims, ggml_type, data)]."""
    s = lambda t: struct.pack("<Q", len(t)) + t.encode()
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += s(k) + struct.pack("<I", t) + v
    off, data = 0, b""
    for name, dims, ty, blob in tensors:
        out += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ty, off)
        pad = -len(blob) % 32
        data += blob + b"\0" * pad
        off += len(blob) + pad
    out += b"\0" * (-len(out) % 32)
    return out + data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--curlora", help="the curlora binary (for --print-config)")
    args = ap.parse_args()
    here = os.path.dirname(ROOT)
    repo = os.path.dirname(here)
    shutil.rmtree(ROOT, ignore_errors=True)

    # GGUF: the tiny Llama fixture (gguf-py wrote it) and two hand-built files.
    shutil.copy(os.path.join(repo, "tests/fixtures/tiny-gguf/tiny-llama.gguf"),
                os.path.join(os.makedirs(os.path.join(ROOT, "gguf"), exist_ok=True) or ROOT, "gguf", "tiny-llama.gguf"))
    f32 = struct.pack("<4f", 1.0, -2.0, 0.5, 3.0)
    arr = struct.pack("<IQ", 8, 2) + b"".join(struct.pack("<Q", len(x)) + x for x in (b"a", b"b"))
    put("gguf", "small.gguf", gguf([("general.architecture", 8, struct.pack("<Q", 5) + b"llama"),
                                    ("names", 9, arr), ("n", 4, struct.pack("<I", 7))],
                                   [("t", [2, 2], 0, f32), ("h", [4], 1, struct.pack("<4e", 1, 2, 3, 4))]))

    # Weights: every float dtype our loader reads, and an integer one it refuses.
    st = safetensors([("a", "F32", [2, 2], f32), ("b", "F16", [3], struct.pack("<3e", 1, -1, 0.5)),
                      ("c", "BF16", [2], b"\x80\x3f\x00\xc0"), ("d", "I64", [1], struct.pack("<q", 7))],
                     {"format": "pt"})
    put("safetensors", "dtypes.safetensors", st)
    put("safetensors", "empty.safetensors", safetensors([]))

    # Adapter files: the recording's checkpoints are real adapter files of the embedded base.
    seen = set()
    with open(os.path.join(repo, "assets/recorded-run.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            # CURLoRA's (5 KB); LoRA's is 150 KB, which would slow every mutation.
            if e.get("event") == "checkpoint" and e["after_task"] == 0 and e["run"] not in seen \
                    and len(e["adapter"]) < 40000:
                seen.add(e["run"])
                put("adapter", f"run{e['run']}-task0.safetensors", base64.b64decode(e["adapter"]))

    # Tables: the first byte picks the reader (see fuzz_targets/table.rs).
    put("table", "csv", b"\x00text,label\n\"a, \"\"quoted\"\" one\",pos\nplain,neg\n")
    put("table", "csv-pair", b"\x40text,text_b,label\nx,\"multi\nline\",1\ny,z,0\n")
    put("table", "tsv", b"\x01text\tlabel\nhello\t1\nbye\t0\n")
    put("table", "jsonl", b'\x02{"text":"a","label":"x"}\n{"text":"b","label":1}\n')
    put("table", "mrpc", b"\x03Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tA b.\tA c.\n")
    put("table", "sst2", b"\x04sentence\tlabel\nfine film \t1\n")
    put("table", "s140", b'\x85"0","1","d","q","u","sad day"\n"4","2","d","q","u","yay"\n')

    # Experiments and studies.
    if args.curlora:
        for preset in ["default", "paper-gpt2", "smollm2-continual"]:
            out = subprocess.run([args.curlora, "run", "--preset", preset, "--print-config"],
                                 check=True, capture_output=True).stdout
            put("experiment", f"{preset}.toml", b"\x00" + out)
    for name in ["smollm2-study.toml"]:
        with open(os.path.join(repo, "bench", name), "rb") as f:
            put("experiment", name, b"\x01" + f.read())
    put("experiment", "study-inline.toml", b'\x01preset = "default"\nmethods = ["lora", "curlora"]\nseeds = [1, 2]\nranks = [4]\n')

    # Recordings: the first run's start, a few steps, a task's end, a checkpoint is too big.
    with open(os.path.join(repo, "assets/recorded-run.jsonl")) as f:
        lines = [l for l in f if '"checkpoint"' not in l]
    put("events", "head.jsonl", "".join(lines[:12]))
    put("events", "ends.jsonl", "".join([lines[0]] + [l for l in lines if '"task_end"' in l or '"run_end"' in l][:4]))

    put("url_hash", "quick", "#preset=quick&seed=1&methods=lora,curlora&rank=8&alpha=1&lr=0.006&epochs=2&rows=160&classroom=1")
    put("url_hash", "ablation", "#sampling=standard&u_init=normal:0.02&cur=gaussian&tier=cpu&tab=accuracy&rows=all")
    put("url_hash", "bad", "#rank=x&unknown=1&methods=lora,,nope&%zz")

    shutil.copy(os.path.join(repo, "tests/fixtures/tiny-gpt2/tokenizer.json"),
                os.path.join(os.makedirs(os.path.join(ROOT, "tokenizer"), exist_ok=True) or ROOT, "tokenizer", "tiny-gpt2.json"))


if __name__ == "__main__":
    main()
