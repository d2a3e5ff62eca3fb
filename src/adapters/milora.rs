//! MiLoRA (Wang et al. 2024, "MiLoRA: Harnessing Minor Singular Components for
//! Parameter-Efficient LLM Finetuning", arXiv 2406.09044): a LoRA whose factors start as the
//! `r` smallest singular components of `W`, with `W` replaced by the frozen residual. It is the
//! SVD counterpart of CURLoRA's inverted (low-energy) sampling: if starting in `W`'s minor
//! subspace is what protects against forgetting, MiLoRA should keep as well. See
//! [`super::svd`].

super::svd::svd_method!(
    Milora,
    "milora",
    "MiLoRA",
    "LoRA started on W's r smallest singular components, W → residual",
    super::svd::Components::Minor
);
