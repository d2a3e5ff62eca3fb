//! `curlora generate`: continue a prompt with the base model or an adapted one, streaming the
//! tokens as they come.

use super::adapted::{self, ModelArgs};
use curlora::core::device::DeviceChoice;
use curlora::model::generate::{self, Options, Sampling, Stop};
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The text to continue (tokenized as is, no special tokens added).
    #[arg(long)]
    pub prompt: String,
    #[arg(long, default_value_t = 64)]
    pub max_new_tokens: usize,
    /// 0 is greedy decoding (transformers' `do_sample=False`); above 0, sampling.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    /// Sample only among the k most likely tokens.
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Sample only among the most likely tokens whose probability reaches p.
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Seed of the sampling stream (saved in --json output).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep generating past the end-of-text token.
    #[arg(long)]
    pub ignore_eos: bool,
    /// Print one JSON object (text, token ids, timings) instead of streaming.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &GenerateArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    if args.temperature < 0.0 || !args.temperature.is_finite() {
        anyhow::bail!(
            "--temperature must be ≥ 0 (0 is greedy), got {}",
            args.temperature
        );
    }
    if let Some(p) = args.top_p
        && !(p > 0.0 && p <= 1.0)
    {
        anyhow::bail!("--top-p must be in (0, 1], got {p}");
    }
    let dev = curlora::core::device::select(choice)?;
    let a = adapted::load(&args.model, &dev.device)?;
    let prompt =
        curlora::model::encode(&a.tokenizer, &args.prompt, std::path::Path::new("--prompt"))?;
    let opts = Options {
        max_new_tokens: args.max_new_tokens,
        sampling: Sampling {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            seed: args.seed,
        },
        ignore_eos: args.ignore_eos,
    };
    let context = a.model.max_positions();
    let (_, dropped) = generate::fit_prompt(&prompt, args.max_new_tokens, context);
    if dropped > 0 {
        eprintln!(
            "note: the prompt has {} tokens and the model's context {context}: its first \
             {dropped} tokens were dropped",
            prompt.len()
        );
    }
    // Streaming: decode everything so far and print what is new, so that a character split
    // across tokens appears once it is whole.
    let mut ids = Vec::new();
    let mut shown = 0usize;
    let tokenizer = a.tokenizer.clone();
    let stream = !args.json;
    if stream {
        print!("{}", args.prompt);
        let _ = std::io::stdout().flush();
    }
    let mut on_token = |t: u32| {
        if !stream {
            return;
        }
        ids.push(t);
        if let Ok(text) = tokenizer.decode(&ids, false)
            && !text.ends_with('\u{fffd}')
            && text.len() > shown
        {
            print!("{}", &text[shown..]);
            let _ = std::io::stdout().flush();
            shown = text.len();
        }
    };
    let g = curlora::core::runtime::block_on(generate::generate(
        &a.model,
        &prompt,
        &opts,
        &mut on_token,
    ))?;
    let text = a
        .tokenizer
        .decode(&g.tokens, false)
        .map_err(|e| anyhow::anyhow!("cannot decode the generated tokens: {e}"))?;
    if args.json {
        let v = serde_json::json!({
            "prompt": args.prompt,
            "prompt_tokens": g.prompt_tokens,
            "truncated_prompt_tokens": g.truncated,
            "text": text,
            "tokens": g.tokens,
            "stop": g.stop,
            "sampling": opts.sampling,
            "prefill_seconds": g.prefill_seconds,
            "decode_seconds": g.decode_seconds,
            "tokens_per_second": g.tokens_per_second(),
            "device": dev.description,
        });
        println!("{v}");
        return Ok(());
    }
    println!();
    let why = match g.stop {
        Stop::Eos => "end of text",
        Stop::Length => "--max-new-tokens",
        Stop::Context => "the context is full",
    };
    let decode_rate = g.tokens.len().saturating_sub(1) as f64 / g.decode_seconds.max(1e-9);
    eprintln!(
        "{} tokens in {:.2} s ({:.1} tokens/s; first token after {:.2} s, then {:.1} tokens/s); \
         stopped by {why}; {}",
        g.tokens.len(),
        g.prefill_seconds + g.decode_seconds,
        g.tokens_per_second(),
        g.prefill_seconds,
        decode_rate,
        dev.description
    );
    Ok(())
}
