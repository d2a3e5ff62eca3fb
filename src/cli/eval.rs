use curlora::device::DeviceChoice;
use curlora::error::Error;
use curlora::model::{self, Gpt2};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// HF model folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Text file, tokenized as is.
    #[arg(long)]
    pub text: PathBuf,
    /// Evaluate the first N tokens in one window (the reference code's perplexity).
    #[arg(long, default_value_t = 1024)]
    pub max_tokens: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &EvalArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = curlora::device::select(choice)?;
    let model = Gpt2::load(&args.model, &dev.device)?;
    let tokenizer = model::load_tokenizer(&args.model)?;
    let bytes = std::fs::read(&args.text).map_err(|e| Error::io(&args.text, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::format(
            &args.text,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let ids = model::encode(&tokenizer, &text, &args.text)?;
    let r = curlora::eval::first_window(&model, &ids, args.max_tokens)?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("device: {}", dev.description);
        println!("tokens: {}", r.tokens);
        println!("loss: {:.6}", r.loss);
        println!("perplexity: {:.4}", r.perplexity);
    }
    Ok(())
}
