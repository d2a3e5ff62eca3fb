//! Continual-learning metrics.
