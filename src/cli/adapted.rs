//! Loading a base model with an adapter file on it: what `eval`, `generate`, `classify`,
//! `merge` and `export-peft` share.

use curlora::model::Head;
use curlora::model::store::{self, AdapterMeta, Loaded};
use curlora::model::{self, LanguageModel};
use std::path::PathBuf;

/// The `--model` / `--adapter` pair of the inference commands.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// HF model folder or .gguf file: the base the adapter was trained on.
    #[arg(long)]
    pub model: PathBuf,
    /// An adapter file written by `curlora run` or `import-peft` (a `.safetensors` with
    /// `curlora` metadata); refused if it was trained on other base weights.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
}

/// The model, with the adapter attached when one is given, and its tokenizer.
pub struct Adapted {
    pub model: LanguageModel,
    /// The adapter file's metadata and task heads.
    pub adapter: Option<(AdapterMeta, Vec<(String, Head)>)>,
    pub tokenizer: tokenizers::Tokenizer,
    /// The folder the model loaded from (a GGUF file's import).
    pub dir: PathBuf,
}

pub fn load(args: &ModelArgs, device: &burn::tensor::Device) -> anyhow::Result<Adapted> {
    load_loaded(args, device).map(|(a, loaded)| match loaded {
        None => a,
        Some(Loaded { model, meta, heads }) => Adapted {
            model,
            adapter: Some((meta, heads)),
            ..a
        },
    })
}

/// The base (in `Adapted`, its model unadapted when an adapter is given) and the adapter file
/// loaded onto it, as [`store::load`] returns it.
pub fn load_loaded(
    args: &ModelArgs,
    device: &burn::tensor::Device,
) -> anyhow::Result<(Adapted, Option<Loaded>)> {
    let base = LanguageModel::load(&args.model, device)?;
    let dir = model::lm::resolve(&args.model)?;
    let tokenizer = model::load_tokenizer(&dir)?;
    match &args.adapter {
        None => Ok((
            Adapted {
                model: base,
                adapter: None,
                tokenizer,
                dir,
            },
            None,
        )),
        Some(path) => {
            let hash = base.weights_hash().to_string();
            let loaded = store::load(path, base.clone(), &hash)?;
            Ok((
                Adapted {
                    model: base,
                    adapter: None,
                    tokenizer,
                    dir,
                },
                Some(loaded),
            ))
        }
    }
}
