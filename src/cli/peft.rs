//! `curlora export-peft`, `curlora import-peft` and `curlora merge`: adapters that leave the
//! tool (as a PEFT LoRA, or merged into an HF model folder) and PEFT adapters that come in.

use super::adapted::{self, ModelArgs};
use curlora::core::device::DeviceChoice;
use curlora::model::{LanguageModel, peft, store};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ExportPeftArgs {
    /// The adapter file (from `curlora run`).
    pub adapter: PathBuf,
    /// The base model it was trained on (HF folder or .gguf).
    #[arg(long)]
    pub model: PathBuf,
    /// The PEFT folder to write (adapter_config.json, adapter_model.safetensors, heads).
    #[arg(long)]
    pub out: PathBuf,
    /// `base_model_name_or_path` in adapter_config.json (default: the base's folder).
    #[arg(long)]
    pub base_name: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ImportPeftArgs {
    /// A PEFT LoRA folder (adapter_config.json + adapter_model.safetensors).
    pub dir: PathBuf,
    /// The base model it adapts (HF folder or .gguf).
    #[arg(long)]
    pub model: PathBuf,
    /// The curlora adapter file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed saved with the adapter (it draws nothing here: A and B come from the file).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The adapter file (from `curlora run` or `import-peft`).
    pub adapter: PathBuf,
    /// The base model it was trained on (HF folder or .gguf).
    #[arg(long)]
    pub model: PathBuf,
    /// The HF model folder to write.
    #[arg(long)]
    pub out: PathBuf,
}

fn kib(bytes: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

pub fn export(args: &ExportPeftArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = curlora::core::device::select(choice)?;
    let margs = ModelArgs {
        model: args.model.clone(),
        adapter: Some(args.adapter.clone()),
    };
    let (a, loaded) = adapted::load_loaded(&margs, &dev.device)?;
    let loaded = loaded.expect("an adapter was given");
    let base_name = args.base_name.clone().unwrap_or_else(|| {
        std::fs::canonicalize(&a.dir)
            .unwrap_or(a.dir.clone())
            .display()
            .to_string()
    });
    let e = peft::export::export(&loaded, &a.model, &base_name, &args.out)?;
    println!(
        "{}: a PEFT LoRA of {} modules, r = {}, lora_alpha = {} ({}), {} task head(s) beside it",
        args.out.display(),
        e.modules,
        e.rank,
        e.lora_alpha,
        kib(e.bytes),
        e.heads
    );
    println!(
        "load it with: PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(\"{base_name}\"), \"{}\")",
        args.out.display()
    );
    Ok(())
}

pub fn import(args: &ImportPeftArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = curlora::core::device::select(choice)?;
    let base = LanguageModel::load(&args.model, &dev.device)?;
    let hash = base.weights_hash().to_string();
    let imp = peft::import::import(&args.dir, base, args.seed)?;
    let bytes = store::save(&args.out, &imp.model, &imp.config, &hash, &[])?;
    println!(
        "{}: LoRA r = {} on {} modules ({}), scale {} (lora_alpha / r); from {}{}",
        args.out.display(),
        imp.config.rank,
        imp.modules,
        imp.config.targets.join(", "),
        imp.config.alpha / imp.config.rank as f64,
        args.dir.display(),
        imp.base_name
            .map(|b| format!(" (made for {b})"))
            .unwrap_or_default()
    );
    println!("({}; evaluate with `curlora eval --adapter`)", kib(bytes));
    Ok(())
}

pub fn merge(args: &MergeArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = curlora::core::device::select(choice)?;
    let margs = ModelArgs {
        model: args.model.clone(),
        adapter: Some(args.adapter.clone()),
    };
    let a = adapted::load(&margs, &dev.device)?;
    let m = curlora::model::merge::merge(a.model, &a.dir, &args.out)?;
    println!(
        "{}: {} modules merged, {} tensors in {} ({:.1} MiB); an HF model folder for \
         transformers and every curlora command",
        args.out.display(),
        m.modules,
        m.tensors,
        m.dtype,
        m.bytes as f64 / 1048576.0
    );
    Ok(())
}
