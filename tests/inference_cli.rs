//! The inference commands as a person runs them: `generate`, `classify` (text and CSV),
//! `eval --adapter`, `export-peft`, `merge` and `import-peft` through the binary, on the tiny
//! fixtures and the adapters of `tests/fixtures/peft/`.

mod common;

use common::fixture;
use std::path::PathBuf;
use std::process::Command;

fn curlora(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_curlora"))
        .arg("--device")
        .arg("cpu")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("curlora-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn generate_json_gives_transformers_greedy_tokens_with_the_adapter() {
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("peft/gpt2-golden.json")).unwrap())
            .unwrap();
    // The prompt as text: decode the golden prompt ids with the fixture's tokenizer.
    let tok = curlora::model::load_tokenizer(&fixture("tiny-gpt2")).unwrap();
    let ids: Vec<u32> = golden["prompt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect();
    let prompt = tok.decode(&ids, false).unwrap();
    // Text does not always re-encode to the ids it came from (BPE picks the canonical split),
    // so the reference here is the library's greedy decoding of what the text encodes to,
    // itself checked against transformers token for token (tests/generate.rs).
    let enc = curlora::model::encode(&tok, &prompt, std::path::Path::new("p")).unwrap();
    let lm = common::peft::adapted("gpt2", "tiny-gpt2", "curlora").model;
    let opts = curlora::model::generate::Options {
        max_new_tokens: 16,
        sampling: Default::default(),
        ignore_eos: false,
    };
    let want = curlora::core::runtime::block_on(curlora::model::generate::generate(
        &lm,
        &enc,
        &opts,
        &mut |_| {},
    ))
    .unwrap()
    .tokens;
    let (ok, out, err) = curlora(&[
        "generate",
        "--model",
        s(&fixture("tiny-gpt2")),
        "--adapter",
        s(&fixture("peft/gpt2-curlora.safetensors")),
        "--prompt",
        &prompt,
        "--max-new-tokens",
        "16",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["tokens"], serde_json::json!(want));
    assert_eq!(v["prompt_tokens"], serde_json::json!(enc.len()));
    assert!(v["tokens_per_second"].as_f64().unwrap() > 0.0);
    // Streaming prints the prompt and the text as it comes, the rate on stderr.
    let (ok, out, err) = curlora(&[
        "generate",
        "--model",
        s(&fixture("tiny-gpt2")),
        "--prompt",
        &prompt,
        "--max-new-tokens",
        "8",
    ]);
    assert!(ok, "{err}");
    assert!(out.starts_with(&prompt), "{out}");
    assert!(
        err.contains("tokens/s") && err.contains("stopped by"),
        "{err}"
    );
}

#[test]
fn classify_prints_labels_and_writes_a_csv_that_names_its_columns() {
    let dir = tmp("classify");
    let csv = dir.join("in.csv");
    std::fs::write(&csv, "id,text\n1,a grape in we\n2,\"rock, this of\"\n").unwrap();
    let model = fixture("tiny-gpt2");
    let adapter = fixture("peft/gpt2-curlora.safetensors");
    let out_csv = dir.join("out.csv");
    let (ok, _, err) = curlora(&[
        "classify",
        "--model",
        s(&model),
        "--adapter",
        s(&adapter),
        "--file",
        s(&csv),
        "--out",
        s(&out_csv),
    ]);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&out_csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "line,text,fruit_label,fruit_p_no,fruit_p_yes,mood_label,mood_p_no,mood_p_yes"
    );
    assert_eq!(lines.len(), 3);
    assert!(lines[2].starts_with("3,\"rock, this of\","), "{}", lines[2]);
    for l in &lines[1..] {
        let f: Vec<&str> = l.rsplitn(7, ',').collect();
        let (p_no, p_yes): (f64, f64) = (f[4].parse().unwrap(), f[3].parse().unwrap());
        assert!((p_no + p_yes - 1.0).abs() < 1e-5, "{l}");
        let label = if p_yes > p_no { "yes" } else { "no" };
        assert_eq!(f[5], label, "{l}");
    }
    // One text, one task.
    let (ok, out, err) = curlora(&[
        "classify",
        "--model",
        s(&model),
        "--adapter",
        s(&adapter),
        "--task",
        "mood",
        "--text",
        "and glad this see",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("mood: ") && !out.contains("fruit:"), "{out}");
    // A missing column names the columns there are; an unknown task names the tasks.
    let (ok, _, err) = curlora(&[
        "classify",
        "--model",
        s(&model),
        "--adapter",
        s(&adapter),
        "--file",
        s(&csv),
        "--column",
        "sentence",
    ]);
    assert!(
        !ok && err.contains("no column `sentence`") && err.contains("`id`, `text`"),
        "{err}"
    );
    let (ok, _, err) = curlora(&[
        "classify",
        "--model",
        s(&model),
        "--adapter",
        s(&adapter),
        "--task",
        "x",
        "--text",
        "a",
    ]);
    assert!(!ok && err.contains("fruit, mood"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn export_merge_and_import_round_trip_through_the_cli() {
    let dir = tmp("roundtrip");
    let model = fixture("tiny-llama");
    let adapter = fixture("peft/llama-lora.safetensors");
    let text = fixture("tiny-gpt2/sample.txt");
    let ppl = |args: &[&str]| -> f64 {
        let mut a = vec!["eval", "--text", s(&text), "--max-tokens", "40", "--json"];
        a.extend_from_slice(args);
        let (ok, out, err) = curlora(&a);
        assert!(ok, "{err}");
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["perplexity"]
            .as_f64()
            .unwrap()
    };
    let base = ppl(&["--model", s(&model)]);
    let adapted = ppl(&["--model", s(&model), "--adapter", s(&adapter)]);
    assert!(
        (adapted - base).abs() > 1e-3,
        "the adapter changes perplexity"
    );
    // Merged: the same perplexity from a plain HF folder.
    let merged = dir.join("merged");
    let (ok, _, err) = curlora(&[
        "merge",
        s(&adapter),
        "--model",
        s(&model),
        "--out",
        s(&merged),
    ]);
    assert!(ok, "{err}");
    assert!((ppl(&["--model", s(&merged)]) - adapted).abs() < 1e-3 * adapted);
    // Exported to PEFT and imported back: the same again.
    let peft = dir.join("peft");
    let (ok, out, err) = curlora(&[
        "export-peft",
        s(&adapter),
        "--model",
        s(&model),
        "--out",
        s(&peft),
    ]);
    assert!(ok && out.contains("r = 4"), "{out}{err}");
    let back = dir.join("back.safetensors");
    let (ok, _, err) = curlora(&[
        "import-peft",
        s(&peft),
        "--model",
        s(&model),
        "--out",
        s(&back),
    ]);
    assert!(ok, "{err}");
    assert!((ppl(&["--model", s(&model), "--adapter", s(&back)]) - adapted).abs() < 1e-3 * adapted);
    // An adapter onto the wrong base is refused.
    let (ok, _, err) = curlora(&[
        "eval",
        "--model",
        s(&fixture("tiny-gpt2")),
        "--adapter",
        s(&adapter),
        "--text",
        s(&text),
    ]);
    assert!(!ok && err.contains("other base weights"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
