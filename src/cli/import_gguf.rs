//! `curlora import-gguf`: a llama.cpp GGUF file to an HF-style model folder that every command
//! (and transformers) loads.

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ImportGgufArgs {
    /// The .gguf file (llama architecture; F32, F16, BF16, Q8_0, Q4_0 and Q4_1 tensors).
    pub file: PathBuf,
    /// Folder to write config.json, model.safetensors (f32) and tokenizer.json into.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &ImportGgufArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let s = curlora::model::gguf::import(&args.file, &args.out)?;
    let types: Vec<String> = s.types.iter().map(|(t, n)| format!("{t} ×{n}")).collect();
    println!(
        "imported {} ({} tensors: {}; {:.1} M parameters) into {} in {:.1} s",
        s.architecture,
        s.n_tensors,
        types.join(", "),
        s.params as f64 / 1e6,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "quantized weights are dequantized to f32: the folder holds the GGUF's values, \
         not the original checkpoint's"
    );
    Ok(())
}
