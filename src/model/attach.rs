//! The one loop over a model's target modules: attaching adapters, counting what trains, and
//! reading the weights an adapter draws from — written once for every [`Architecture`].

use super::HostWeights;
use super::arch::{Architecture, Selections};
use crate::adapters::{AdapterConfig, Method};
use crate::core::error::Result;
use burn::module::Module;
use burn::tensor::Tensor;

/// Attaches `config`'s method to every targeted module of `model` (every module, for a method
/// that trains the base weights; the others get [`Method::Frozen`]) and sets which of the other
/// weights train. `host` holds host copies of the weights by module path (see
/// [`target_weights`]); modules missing from it are read back synchronously if the method
/// needs them. Modules are visited in block order, so the selections come in that order.
pub fn adapt<A: Architecture + Module>(
    model: A,
    config: &AdapterConfig,
    host: &HostWeights,
) -> Result<(A, Selections)> {
    model.check_targets(&config.targets)?;
    let trains_base = config.method.trains_base();
    let mut model = model.with_base_trainable(trains_base);
    let targeted: Vec<bool> = model
        .modules()
        .iter()
        .map(|(path, _)| trains_base || model.is_target(path, config))
        .collect();
    let mut selections = Vec::new();
    for ((path, layer), targeted) in model.modules_mut().into_iter().zip(targeted) {
        let method = if targeted {
            config.method
        } else {
            Method::Frozen
        };
        let w = host.get(&path);
        if let Some(sel) = layer.attach_method(method, &path, config, w)? {
            selections.push((path, sel));
        }
    }
    Ok((model, selections))
}

/// Trained parameters under the current adapters (heads excluded, as in the paper's counts).
/// For a method that trains the base weights: every weight of the model, including the token
/// embedding that may also serve as the tied LM head.
pub fn trainable_params<A: Architecture + Module>(model: &A, method: Method) -> usize {
    if method.trains_base() {
        model.num_params()
    } else {
        adapter_params(model)
    }
}

/// The adapters' trained parameters, summed over the modules.
pub fn adapter_params(model: &dyn Architecture) -> usize {
    model
        .modules()
        .iter()
        .map(|(_, m)| m.trainable_params())
        .sum()
}

/// What `config`'s method reads of the target weights when attaching, read asynchronously:
/// nothing for methods that read none, only the targeted modules, and on a GPU only their
/// squared norms ([`WeightRead`](crate::adapters::WeightRead)): a 7B model's weights stay where
/// they are.
pub async fn target_weights(
    model: &dyn Architecture,
    config: &AdapterConfig,
) -> Result<HostWeights> {
    let mut out = HostWeights::new();
    let reads = config.method.reads();
    if reads == crate::adapters::Reads::Nothing {
        return Ok(out);
    }
    for (path, layer) in model.modules() {
        if model.is_target(&path, config) {
            let w = crate::adapters::WeightRead::read(layer.weight.val(), reads).await?;
            out.insert(path, w);
        }
    }
    Ok(out)
}

/// The sum of the terms the adapters add to the training loss, if any adds one.
pub fn adapter_loss(model: &dyn Architecture) -> Option<Tensor<1>> {
    model
        .modules()
        .iter()
        .filter_map(|(_, m)| m.adapter.get().loss())
        .reduce(|a, b| a.add(b))
}

/// Tells every adapter that task `task` starts.
pub fn start_task(model: &mut dyn Architecture, task: usize) {
    for (_, m) in model.modules_mut() {
        m.adapter.get_mut().start_task(task);
    }
}
