use curlora::core::device::DeviceChoice;
use curlora::core::error::Error;
use curlora::core::fsutil::write_atomic;
use curlora::model::{self, Architecture, Gpt2, Gpt2Config};
use curlora::train::pretrain::{self, PretrainConfig, PretrainState};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct PretrainArgs {
    /// Text files to train on (UTF-8).
    #[arg(long, num_args = 1.., required = true)]
    pub corpus: Vec<PathBuf>,
    /// Output model folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Hold out the last N bytes (at a line boundary) of the corpus file given by --holdout:
    /// written to OUT/heldout.txt and never trained on.
    #[arg(long)]
    pub holdout: Option<PathBuf>,
    #[arg(long, default_value_t = 60_000)]
    pub holdout_bytes: usize,
    #[arg(long, default_value_t = 4096)]
    pub vocab: usize,
    #[arg(long, default_value_t = 4)]
    pub layers: usize,
    #[arg(long, default_value_t = 128)]
    pub d_model: usize,
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    #[arg(long, default_value_t = 128)]
    pub ctx: usize,
    #[arg(long, default_value_t = 3000)]
    pub steps: usize,
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 250)]
    pub checkpoint_every: usize,
    /// Store weights as f16 (half the size; computed in f32).
    #[arg(long)]
    pub f16: bool,
    /// Continue from the checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
}

pub fn run(args: &PretrainArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = curlora::core::device::select(choice)?;
    eprintln!("device: {}", dev.description);
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let texts = read_corpus(args)?;
    let cfg = PretrainConfig {
        steps: args.steps,
        batch_size: args.batch_size,
        lr: args.lr,
        warmup_steps: (args.steps / 20).max(1),
        weight_decay: 0.01,
        seed: args.seed,
        checkpoint_every: args.checkpoint_every,
        f16: args.f16,
    };
    let device = dev.device.clone().autodiff();
    let state_path = args.out.join("pretrain_state.json");
    let (model, tokenizer, start) = start_model(args, &texts, &device, &state_path)?;
    let eos = tokenizer.token_to_id(pretrain::EOS).unwrap_or(0);
    let mut tokens = Vec::new();
    for (t, path) in texts.iter().zip(&args.corpus) {
        tokens.extend(model::encode(&tokenizer, t, path)?);
        tokens.push(eos);
    }
    let params: usize = burn::module::Module::num_params(&model);
    eprintln!(
        "model: {} layers, d {}, {} heads, ctx {}, vocab {}: {params} parameters; corpus {} tokens",
        model.config.n_layer,
        model.config.n_embd,
        model.config.n_head,
        model.config.n_positions,
        model.config.vocab_size,
        tokens.len()
    );
    let bar = indicatif::ProgressBar::new(cfg.steps as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "[{bar:40}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    bar.set_position(start as u64);
    let mut ema = f64::NAN;
    let out = args.out.clone();
    pretrain::train(
        model,
        &tokens,
        &cfg,
        start,
        |_, loss, lr| {
            ema = if ema.is_nan() {
                loss
            } else {
                0.98 * ema + 0.02 * loss
            };
            bar.set_message(format!("loss {ema:.3} lr {lr:.1e}"));
            bar.inc(1);
        },
        |step, m, loss| {
            pretrain::save_model(&out, &burn::module::Module::valid(m), &tokenizer, cfg.f16)?;
            let st = PretrainState {
                step,
                config: cfg.clone(),
                train_tokens: tokens.len(),
                last_loss: loss,
            };
            write_atomic(
                &state_path,
                serde_json::to_string_pretty(&st).expect("json").as_bytes(),
            )?;
            bar.println(format!(
                "checkpoint at step {step}: loss {loss:.4} → {}",
                out.display()
            ));
            Ok(())
        },
    )?;
    bar.finish();
    Ok(())
}

/// The corpus files' texts, with the held-out slice cut off and written to `OUT/heldout.txt`.
fn read_corpus(args: &PretrainArgs) -> anyhow::Result<Vec<String>> {
    let mut texts = Vec::new();
    for path in &args.corpus {
        let mut text = curlora::data::read_text(path)?;
        if args.holdout.as_ref() == Some(path) {
            let cut = text.len().saturating_sub(args.holdout_bytes);
            let cut = text[..cut].rfind('\n').map_or(cut, |i| i + 1);
            let held = text.split_off(cut);
            write_atomic(&args.out.join("heldout.txt"), held.as_bytes())?;
            eprintln!(
                "held out the last {} bytes of {} → {}",
                held.len(),
                path.display(),
                args.out.join("heldout.txt").display()
            );
        }
        texts.push(text);
    }
    Ok(texts)
}

/// The model to train (every weight trainable), its tokenizer and the step to start at: from
/// the checkpoint in `OUT` with `--resume`, else a fresh tokenizer and model.
fn start_model(
    args: &PretrainArgs,
    texts: &[String],
    device: &burn::tensor::Device,
    state_path: &std::path::Path,
) -> anyhow::Result<(Gpt2, tokenizers::Tokenizer, usize)> {
    let started = if args.resume {
        let state: PretrainState = serde_json::from_str(
            &std::fs::read_to_string(state_path).map_err(|e| Error::io(state_path, e))?,
        )
        .map_err(|e| Error::format(state_path, e.to_string()))?;
        let m = Gpt2::load(&args.out, device)?;
        let (m, _) = m.with_adapters(&curlora::adapters::AdapterConfig::new(
            curlora::adapters::Method::Full,
            1,
            0,
        ))?;
        eprintln!(
            "resuming at step {} (optimizer moments restart)",
            state.step
        );
        (m, model::load_tokenizer(&args.out)?, state.step)
    } else {
        eprintln!("training a {}-token byte-level BPE tokenizer…", args.vocab);
        let tok = pretrain::train_tokenizer(texts, args.vocab)?;
        let config = Gpt2Config {
            model_type: Some("gpt2".into()),
            vocab_size: tok.get_vocab_size(true),
            n_positions: args.ctx,
            n_embd: args.d_model,
            n_layer: args.layers,
            n_head: args.heads,
            n_inner: None,
            activation_function: "gelu_new".into(),
            layer_norm_epsilon: 1e-5,
            tie_word_embeddings: true,
            eos_token_id: tok.token_to_id(pretrain::EOS),
        };
        let m = pretrain::init_model(&config, args.seed, device)?;
        let (m, _) = m.with_adapters(&curlora::adapters::AdapterConfig::new(
            curlora::adapters::Method::Full,
            1,
            0,
        ))?;
        (m, tok, 0)
    };
    Ok(started)
}
