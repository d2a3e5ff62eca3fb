//! Built-in experiments. Paths are relative to a data directory laid out like `../shared/data`
//! (`mrpc/`, `sst2/`, `sentiment140/`, `wikitext-2-raw/`).

use crate::adapters::{CurSource, LoraScaling, Method, SelectionMode, UInit};
use crate::core::error::{Error, Result};
use crate::experiment::{ExperimentSpec, PerplexitySpec, TaskFormat, TaskSpec};
use crate::train::perplexity::PerplexityMode;
use crate::train::{Pooling, Schedule, TrainConfig};
use std::path::Path;

pub const NAMES: [&str; 4] = [
    "paper-gpt2",
    "paper-gpt2-fixed",
    "paper-mistral",
    "smollm2-continual",
];

pub fn preset(name: &str, data: &Path) -> Result<ExperimentSpec> {
    match name {
        "paper-gpt2" => Ok(paper_gpt2(data)),
        "paper-gpt2-fixed" => Ok(paper_gpt2_fixed(data)),
        "paper-mistral" => Ok(paper_mistral(data)),
        "smollm2-continual" => Ok(smollm2_continual(data)),
        other => Err(Error::config(format!(
            "unknown preset `{other}`: expected one of {}",
            NAMES.join(", ")
        ))),
    }
}

/// The reference protocol for GPT-2 (see `curlora-reference.md`): MRPC (full train, 3 epochs)
/// → SST-2 (first 5,024 rows, 3 epochs) → Sentiment140 (the 498-row manual test set as
/// training data, 5 epochs, 3-way head with `polarity // 4` labels, evaluated on the first
/// 1,024 rows of the training file, as `range(0, 1000, 128)` does); batch 32; AdamW lr 2.5e-4 (eps 1e-6, no decay) with the
/// reference's warm-up schedule over examples (so it never leaves warm-up) and a constant rate
/// for Sentiment140; last-position pooling; `c_attn`; α = 1; ranks 8/16/24; perplexity on the
/// first 256 tokens of WikiText-2 test.
pub fn paper_gpt2(data: &Path) -> ExperimentSpec {
    let reference = Schedule::Reference { warmup_steps: 500 };
    ExperimentSpec {
        preset: Some("paper-gpt2".into()),
        model: None,
        methods: vec![Method::Lora, Method::CurLora],
        ranks: vec![8, 16, 24],
        seeds: vec![1311],
        alpha: 1.0,
        targets: vec!["attn.c_attn".into()],
        selection_mode: SelectionMode::Inverted,
        epsilon: 0.001,
        replacement: true,
        lora_scaling: LoraScaling::Reference,
        u_init: UInit::Zero,
        cur_source: CurSource::Weights,
        olora_lambda: crate::adapters::default_olora_lambda(),
        max_len: 256,
        pair_separator: None,
        train: TrainConfig {
            batch_size: 32,
            eval_batch_size: 32,
            lr: 2.5e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-6,
            weight_decay: 0.0,
            grad_clip: None,
            pooling: Pooling::LastPosition,
            shuffle: false,
            snapshot_every: 0,
            eval_every: 0,
            perplexity: PerplexityMode::FirstWindow { max_tokens: 256 },
        },
        perplexity: PerplexitySpec {
            text: data.join("wikitext-2-raw/wiki.test.raw"),
            wikitext_rule: true,
            mode: PerplexityMode::FirstWindow { max_tokens: 256 },
        },
        tasks: vec![
            TaskSpec::new(
                "mrpc",
                TaskFormat::Mrpc,
                data.join("mrpc/train.tsv"),
                data.join("mrpc/dev.tsv"),
            )
            .with_epochs(3)
            .with_schedule(reference.clone()),
            TaskSpec::new(
                "sst2",
                TaskFormat::Sst2,
                data.join("sst2/train.tsv"),
                data.join("sst2/dev.tsv"),
            )
            .with_train_rows(5024)
            .with_epochs(3)
            .with_schedule(reference),
            TaskSpec::new(
                "sentiment140",
                TaskFormat::Sentiment140,
                data.join("sentiment140/testdata/testdata.manual.2009.06.14.csv"),
                data.join("sentiment140/head10k/sentiment140_sample.csv"),
            )
            .with_eval_rows(1024)
            .with_epochs(5)
            .with_schedule(Schedule::Constant)
            .with_sentiment140_labels("reference"),
        ],
        skip_bad_rows: false,
        notes: vec![
            "Reference protocol, reproduced with its quirks: last-position pooling with right padding (often a pad token), a schedule that never leaves warm-up, Sentiment140 labels `polarity // 4` (neutral counted as negative), and a Sentiment140 evaluation set that is all label 0 (its accuracy measures how often class 0 is predicted).".into(),
            "Differences from the reference code: sampling is seeded (the reference's numpy RNG is unseeded); heads are initialised from our own seeded generator rather than torch.manual_seed(1311); GPT-2's dropout is not applied during training; evaluation runs in padded batches of 32 (the reference evaluates MRPC and SST-2 one example at a time, so with last-position pooling our padded MRPC/SST-2 evaluation pools pad tokens where the reference did not); AdamW adds ε to the bias-corrected √v̂ (burn) rather than to √v (transformers.AdamW).".into(),
        ],
    }
}

/// `paper-gpt2` with honest fixes.
pub fn paper_gpt2_fixed(data: &Path) -> ExperimentSpec {
    let mut s = paper_gpt2(data);
    s.preset = Some("paper-gpt2-fixed".into());
    let cosine = Schedule::WarmupCosine {
        warmup_fraction: 0.1,
    };
    s.train.pooling = Pooling::LastNonPad;
    s.train.shuffle = true;
    s.train.grad_clip = Some(1.0);
    s.perplexity.mode = PerplexityMode::Sliding {
        window: 1024,
        stride: 512,
        max_tokens: 8192,
    };
    s.train.perplexity = s.perplexity.mode.clone();
    for t in &mut s.tasks {
        t.schedule = cosine.clone();
    }
    let s140 = &mut s.tasks[2];
    s140.sentiment140_labels = Some("three-class".into());
    s140.eval = data.join("sentiment140/random20k/sentiment140_sample.csv");
    let inherited = s.notes[1].clone();
    s.notes = vec![
        inherited,
        "Pooling: last non-pad token (the reference pools the last position, often a pad token).".into(),
        "Schedule: 10% linear warm-up then cosine over optimizer steps, for every task (the reference never leaves warm-up; Sentiment140 had a constant rate).".into(),
        "Training examples are shuffled each epoch (seeded); the reference walks them in file order.".into(),
        "Gradient norm clipped at 1.0 per parameter tensor (the reference does not clip).".into(),
        "Sentiment140: a true 3-class head (negative / neutral / positive) instead of `polarity // 4`, evaluated on the first 1,024 rows of a random 20k sample (about half negative, half positive; like all Sentiment140 training data it has no neutral tweets) instead of the first 1,024 rows of the training file, which are all negative.".into(),
        "Perplexity: sliding window of 1,024 tokens with stride 512 over the first 8,192 tokens of WikiText-2 test, instead of one window of the first 256 tokens.".into(),
    ];
    s
}

/// The reference protocol for Mistral-7B (`curlora-reference.md`), for any Llama-family model
/// passed with `--model` (a GPU is advisable): the first 1,000 rows of MRPC and SST-2 and the
/// 498-row Sentiment140 test split as training data, 3 epochs each, batch 8, the reference's
/// warm-up schedule for all three tasks, q/k/v at rank 16, α = 1, and perplexity on the first
/// 1,024 tokens of WikiText-2 test in one window.
pub fn paper_mistral(data: &Path) -> ExperimentSpec {
    let mut s = paper_gpt2(data);
    s.preset = Some("paper-mistral".into());
    s.ranks = vec![16];
    s.targets = vec!["q_proj".into(), "k_proj".into(), "v_proj".into()];
    s.max_len = 512;
    s.train.batch_size = 8;
    s.train.eval_batch_size = 8;
    // LlamaTokenizerFast pads on the left, so the reference's last position is the last real
    // token: with our right padding that is last-non-pad pooling.
    s.train.pooling = Pooling::LastNonPad;
    let window = PerplexityMode::FirstWindow { max_tokens: 1024 };
    s.perplexity.mode = window.clone();
    s.train.perplexity = window;
    let reference = Schedule::Reference { warmup_steps: 500 };
    for t in &mut s.tasks {
        t.epochs = 3;
        t.schedule = reference.clone();
    }
    s.tasks[0].train_rows = Some(1000);
    s.tasks[1].train_rows = Some(1000);
    s.notes = vec![
        "Reference protocol for Mistral-7B-v0.3: the first 1,000 training rows of MRPC and SST-2, the Sentiment140 test split (498 rows) as training data, 3 epochs each, batch 8, AdamW lr 2.5e-4 with the reference's warm-up schedule over examples for all three tasks (it never leaves warm-up), q/k/v projections at rank 16, Sentiment140 labels `polarity // 4`, evaluated on the first 1,024 rows of the training file (all negative).".into(),
        "Differences from the reference code: perplexity on the first 1,024 tokens in one window without a BOS token (the reference used 10,000 tokens with BOS; raise it with a config file if memory allows); weights computed in f32; sampling and heads seeded from our own generator; evaluation in padded batches with last-non-pad pooling, which is what the reference's left padding pools.".into(),
    ];
    s
}

/// Training rows per task of [`smollm2_continual`], balanced.
pub const SMOLLM2_TRAIN_ROWS: usize = 512;
/// Evaluation rows per task of [`smollm2_continual`], balanced and held out: at 1,000 rows an
/// accuracy near 0.5 has a binomial sd of 0.016, so differences of a few points can be told.
pub const SMOLLM2_EVAL_ROWS: usize = 1000;

/// A real pretrained model with honest evaluation sets, sized for a 2-core CPU: SmolLM2-135M-
/// Instruct (Apache-2.0; `--model` its GGUF or folder, or any Llama-family model) with the
/// head-only baseline, LoRA, CURLoRA and the two SVD-initialised baselines (PiSSA, MiLoRA) at
/// rank 16 on q/k/v, three seeds, on MRPC → SST-2 → Sentiment140 (binary). Every task trains on
/// 512 balanced rows for one epoch and is evaluated on 1,000 balanced rows it never trained
/// on; perplexity is measured on WikiText-2 test in 512-token windows.
pub fn smollm2_continual(data: &Path) -> ExperimentSpec {
    let mut s = paper_mistral(data);
    s.preset = Some("smollm2-continual".into());
    s.methods = vec![
        Method::Frozen,
        Method::Lora,
        Method::CurLora,
        Method::Pissa,
        Method::Milora,
    ];
    s.seeds = vec![1, 2, 3];
    s.max_len = 128;
    s.train.batch_size = 8;
    s.train.eval_batch_size = 16;
    s.train.lr = 1e-3;
    s.train.shuffle = true;
    s.train.grad_clip = None;
    let ppl = PerplexityMode::Sliding {
        window: 512,
        stride: 256,
        max_tokens: 4096,
    };
    s.perplexity.mode = ppl.clone();
    s.train.perplexity = ppl;
    let schedule = Schedule::WarmupCosine {
        warmup_fraction: 0.1,
    };
    let task = |name: &str, format, train: &str, eval: &str| {
        TaskSpec::new(name, format, data.join(train), data.join(eval))
            .with_train_rows(SMOLLM2_TRAIN_ROWS)
            .with_eval_rows(SMOLLM2_EVAL_ROWS)
            .with_schedule(schedule.clone())
            .balanced()
    };
    s.tasks = vec![
        task(
            "mrpc",
            TaskFormat::Mrpc,
            "mrpc/train.tsv",
            "mrpc/msr_paraphrase_test.txt",
        ),
        // SST-2's labelled dev split has 872 rows: evaluate on training rows far past the
        // ones trained on instead.
        task("sst2", TaskFormat::Sst2, "sst2/train.tsv", "sst2/train.tsv").with_eval_skip(50_000),
        task(
            "sentiment140",
            TaskFormat::Sentiment140,
            "sentiment140/random20k/sentiment140_sample.csv",
            "sentiment140/random20k/sentiment140_sample.csv",
        )
        .with_eval_skip(10_000)
        .with_sentiment140_labels("binary"),
    ];
    s.notes = vec![
        "Honest evaluation sets: every task is evaluated on 1,000 balanced rows held out from its training rows (MRPC: its labelled test split; SST-2: training rows after row 50,000; Sentiment140: rows after 10,000 of a random 20k sample, positive vs negative), so the majority baseline is 0.5 and a constant predictor scores 0.5.".into(),
        "Training: 512 balanced rows per task, one epoch, shuffled (seeded), batch 8, AdamW lr 1e-3 (eps 1e-6, no decay, no clipping, as the reference), 10% warm-up then cosine; last-real-token pooling; a fresh linear head per task; q/k/v at rank 16, α = 1 (LoRA-family output scale α, the reference's, not α/r).".into(),
        "Perplexity: held-out WikiText-2 test, sliding 512-token windows with stride 256 over the first 4,096 tokens, with the model's original LM head.".into(),
    ];
    s
}
