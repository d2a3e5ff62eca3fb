use curlora::adapters::linear::Layout;
use curlora::adapters::{SelectionConfig, SelectionMode};
use curlora::core::device::DeviceChoice;
use curlora::core::rng::derive_seed;
use curlora::model::LanguageModel;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SelectArgs {
    /// HF model folder (config.json, model.safetensors) or a .gguf file.
    #[arg(long)]
    pub model: PathBuf,
    /// Module path, e.g. h.0.attn.c_attn (GPT-2) or layers.0.self_attn.q_proj (Llama).
    #[arg(long)]
    pub module: String,
    #[arg(long, default_value_t = 8)]
    pub rank: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = SelectionMode::Inverted)]
    pub mode: SelectionMode,
    /// ε added before inverting (0.001 as in the reference code; 0 = the paper's Eq. 4).
    #[arg(long, default_value_t = 0.001)]
    pub epsilon: f64,
    /// Sample without replacement (the reference samples with replacement).
    #[arg(long)]
    pub no_replacement: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &SelectArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = curlora::core::device::select(choice)?;
    let model = LanguageModel::load(&args.model, &dev.device)?;
    let module = model.module(&args.module)?;
    let config = SelectionConfig {
        rank: args.rank,
        mode: args.mode,
        epsilon: args.epsilon,
        replacement: !args.no_replacement,
    };
    // The same per-module seed and orientation a run with this seed uses, so the indices
    // shown here are the ones training would pick.
    let name = model
        .modules()
        .into_iter()
        .find(|(_, m)| std::ptr::eq(*m, module))
        .map(|(n, _)| n)
        .expect("module found above");
    let sel = module.select(&config, derive_seed(args.seed, &name))?;
    let shape = sel.shape;
    if args.json {
        let v = serde_json::json!({
            "module": name,
            "shape": shape,
            "seed": args.seed,
            "module_seed": sel.seed,
            "mode": args.mode,
            "epsilon": args.epsilon,
            "replacement": config.replacement,
            "rank": args.rank,
            "col_probs": sel.col_probs,
            "row_probs": sel.row_probs,
            "cols": sel.cols,
            "rows": sel.rows,
        });
        println!("{}", serde_json::to_string(&v)?);
        return Ok(());
    }
    eprintln!("device: {}", dev.description);
    let frame = match module.layout {
        Layout::InOut => "weight [in, out] (Conv1D): columns = outputs, rows = inputs",
        Layout::OutIn => "weight [out, in] (nn.Linear): columns = inputs, rows = outputs",
    };
    println!("module: {name}  shape {shape:?}  {frame}");
    println!(
        "mode: {:?}  epsilon: {}  replacement: {}  seed: {} (module seed {})",
        args.mode, args.epsilon, config.replacement, args.seed, sel.seed
    );
    print_probs("col_probs", &sel.col_probs);
    print_probs("row_probs", &sel.row_probs);
    println!("cols: {:?}", sel.cols);
    println!("rows: {:?}", sel.rows);
    Ok(())
}

fn print_probs(name: &str, p: &[f64]) {
    let (min, max) = p
        .iter()
        .fold((f64::INFINITY, 0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    println!(
        "{name}: {} values, min {min:.3e}, max {max:.3e}, max/min {:.2} (--json prints them all)",
        p.len(),
        max / min
    );
}
