use curlora::core::device::DeviceChoice;
use curlora::model;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// HF model folder (config.json, model.safetensors or shards, tokenizer.json) or a .gguf file.
    #[arg(long)]
    pub model: PathBuf,
    /// An adapter file to apply (trained on this base: refused otherwise).
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Text file, tokenized as is.
    #[arg(long)]
    pub text: PathBuf,
    /// Evaluate the first N tokens in one window (the reference code's perplexity).
    #[arg(long, default_value_t = 1024)]
    pub max_tokens: usize,
    /// Read the text as WikiText-2 the way the reference code does (drop empty rows, join the
    /// rest): `--text wiki.test.raw --wikitext` is the paper's perplexity text.
    #[arg(long)]
    pub wikitext: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &EvalArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = curlora::core::device::select(choice)?;
    let started = std::time::Instant::now();
    let a = super::adapted::load(
        &super::adapted::ModelArgs {
            model: args.model.clone(),
            adapter: args.adapter.clone(),
        },
        &dev.device,
    )?;
    let (model, tokenizer) = (a.model, a.tokenizer);
    let load_seconds = started.elapsed().as_secs_f64();
    let text = if args.wikitext {
        curlora::data::read_wikitext_reference(&args.text)?
    } else {
        curlora::data::read_text(&args.text)?
    };
    let ids = model::encode(&tokenizer, &text, &args.text)?;
    let r = curlora::train::perplexity::first_window(&model, &ids, args.max_tokens)?;
    let rss = curlora::experiment::bench::peak_rss();
    if args.json {
        let mut v = serde_json::to_value(&r)?;
        v["load_seconds"] = serde_json::json!(load_seconds);
        v["peak_rss_bytes"] = serde_json::json!(rss);
        v["architecture"] = serde_json::json!(model.arch());
        if let Some((meta, _)) = &a.adapter {
            v["adapter"] = serde_json::json!({
                "path": args.adapter,
                "method": meta.config.method.name(),
                "rank": meta.config.rank,
            });
        }
        println!("{v}");
    } else {
        println!("device: {}", dev.description);
        println!(
            "model: {} ({} layers), loaded in {load_seconds:.2} s",
            model.arch(),
            model.num_layers()
        );
        if let Some(b) = rss {
            println!("peak memory (RSS): {:.1} MiB", b as f64 / 1048576.0);
        }
        if let Some((meta, _)) = &a.adapter {
            println!(
                "adapter: {} ({} r = {})",
                args.adapter.as_ref().expect("loaded").display(),
                meta.config.method.label(),
                meta.config.rank
            );
        }
        println!("tokens: {}", r.tokens);
        println!("loss: {:.6}", r.loss);
        println!("perplexity: {:.4}", r.perplexity);
    }
    Ok(())
}
