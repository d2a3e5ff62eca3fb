//! PiSSA (Meng, Wang & Zhang 2024, "PiSSA: Principal Singular Values and Singular Vectors
//! Adaptation of Large Language Models", arXiv 2404.02948): a LoRA whose factors start as the
//! `r` largest singular components of `W`, with `W` replaced by the frozen residual. The
//! adapter trains the directions `W` uses most: the opposite bet to CURLoRA's low-energy
//! columns, and the baseline that says whether "minor" matters. See [`super::svd`].

super::svd::svd_method!(
    Pissa,
    "pissa",
    "PiSSA",
    "LoRA started on W's r largest singular components, W → residual",
    super::svd::Components::Principal
);
