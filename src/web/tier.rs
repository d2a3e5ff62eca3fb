//! Which of three tiers the browser app runs on, and why, in words for the banner:
//!
//! 1. **WebGPU**: burn's wgpu backend on the browser's GPU.
//! 2. **CPU**: burn's Flex backend compiled to WebAssembly, when there is no `navigator.gpu`, the
//!    browser gives no adapter, or the adapter lacks the limits burn's kernels need.
//! 3. **Replay**: the recorded run, when even that would take too long on this machine (or the
//!    link asks for it). It needs no engine at all, so the page always teaches something.
//!
//! The decisions are plain functions of what the page measured, so they are tested natively.

use super::hash::TierRequest;
use crate::app::setup::Setup;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    WebGpu,
    Cpu,
    Replay,
}

impl Tier {
    pub fn number(self) -> usize {
        match self {
            Tier::WebGpu => 1,
            Tier::Cpu => 2,
            Tier::Replay => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tier::WebGpu => "webgpu",
            Tier::Cpu => "cpu",
            Tier::Replay => "replay",
        }
    }
}

/// The tier the page runs on, with the reason shown in its banner.
#[derive(Clone, Debug, PartialEq)]
pub struct TierChoice {
    pub tier: Tier,
    pub reason: String,
}

impl TierChoice {
    /// The banner's line, e.g. "Tier 1 of 3 · WebGPU: training on …".
    pub fn banner(&self) -> String {
        let what = match self.tier {
            Tier::WebGpu => "training on the GPU through WebGPU",
            Tier::Cpu => "training on the CPU (WebAssembly)",
            Tier::Replay => "replaying a recorded run",
        };
        format!(
            "Tier {} of 3 · {what} — {}",
            self.tier.number(),
            self.reason
        )
    }
}

/// Limits a WebGPU adapter must offer for burn's kernels (the WebGPU defaults; compatibility-mode
/// adapters offer fewer storage buffers).
pub const MIN_STORAGE_BUFFERS: u32 = 8;
pub const MIN_INVOCATIONS: u32 = 256;

/// What the page found out about WebGPU.
#[derive(Clone, Debug, PartialEq)]
pub enum GpuProbe {
    /// `navigator.gpu` is missing (no WebGPU in this browser, or not a secure context).
    NoApi,
    /// WebGPU exists but gave no usable device: the error, as the browser put it.
    Failed(String),
    /// A device started: adapter name and limits.
    Ready {
        adapter: String,
        storage_buffers: u32,
        invocations: u32,
    },
}

/// The tier to start on, from what the link asks and what the probe found. `probe` is `None`
/// when WebGPU was not probed (the link asked for the CPU or the replay).
pub fn choose(request: TierRequest, probe: Option<&GpuProbe>) -> TierChoice {
    let cpu = |reason: String| TierChoice {
        tier: Tier::Cpu,
        reason,
    };
    match request {
        TierRequest::Replay => {
            return TierChoice {
                tier: Tier::Replay,
                reason: "the link asks for the recorded run (tier=replay)".into(),
            };
        }
        TierRequest::Cpu => return cpu("the link asks for the CPU (tier=cpu)".into()),
        TierRequest::Auto | TierRequest::WebGpu => {}
    }
    match probe {
        None => cpu("WebGPU was not tried".into()),
        Some(GpuProbe::NoApi) => cpu(
            "this browser has no WebGPU (navigator.gpu is missing; it needs a recent Chrome, \
             Edge or Safari, over https or localhost)"
                .into(),
        ),
        Some(GpuProbe::Failed(e)) => cpu(format!("WebGPU gave no usable GPU: {e}")),
        Some(GpuProbe::Ready {
            adapter,
            storage_buffers,
            invocations,
        }) => {
            if *storage_buffers < MIN_STORAGE_BUFFERS || *invocations < MIN_INVOCATIONS {
                cpu(format!(
                    "the WebGPU adapter `{adapter}` offers {storage_buffers} storage buffers per \
                     shader stage and {invocations} invocations per workgroup; the kernels need \
                     {MIN_STORAGE_BUFFERS} and {MIN_INVOCATIONS}"
                ))
            } else {
                TierChoice {
                    tier: Tier::WebGpu,
                    reason: format!("adapter `{adapter}`"),
                }
            }
        }
    }
}

/// Optimizer steps the whole session will take (every method, every task), from the setup and
/// the number of training rows of each task.
pub fn planned_steps(setup: &Setup, train_rows: &[usize]) -> usize {
    // The app trains with the engine's default batch size.
    let batch = crate::train::TrainConfig::default().batch_size;
    let per_run: usize = train_rows
        .iter()
        .map(|&n| {
            let n = setup.max_rows.map_or(n, |m| m.min(n));
            n.div_ceil(batch) * setup.epochs
        })
        .sum();
    per_run * setup.methods().len()
}

/// Longest a session may be expected to take before the page replays the recording instead.
pub const MAX_MINUTES: f64 = 20.0;

/// After some live steps: `Some(reason)` when the rest of the session would take longer than
/// [`MAX_MINUTES`] at the measured pace.
pub fn too_slow(seconds_per_step: f64, steps_done: usize, planned: usize) -> Option<String> {
    let left = planned.saturating_sub(steps_done) as f64 * seconds_per_step;
    (left > MAX_MINUTES * 60.0).then(|| {
        format!(
            "training here takes {seconds_per_step:.1} s per step, so the remaining {} steps \
             would take about {:.0} minutes; showing the recorded run instead (fewer rows per \
             task, e.g. #rows=64, make a live run feasible)",
            planned.saturating_sub(steps_done),
            left / 60.0
        )
    })
}

/// Training rows of each embedded task (data lines of its CSV, header excluded; quoted fields
/// never span lines in these files).
pub fn embedded_train_rows() -> Vec<usize> {
    crate::core::embedded::FILES
        .iter()
        .filter(|(name, _)| name.ends_with("-train.csv"))
        .map(|(_, bytes)| {
            bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count()
                .saturating_sub(1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(buffers: u32) -> GpuProbe {
        GpuProbe::Ready {
            adapter: "SwiftShader".into(),
            storage_buffers: buffers,
            invocations: 256,
        }
    }

    #[test]
    fn webgpu_when_a_capable_adapter_started() {
        let c = choose(TierRequest::Auto, Some(&ready(8)));
        assert_eq!(c.tier, Tier::WebGpu);
        assert!(c.banner().starts_with("Tier 1 of 3"), "{}", c.banner());
        assert!(c.banner().contains("SwiftShader"));
    }

    #[test]
    fn cpu_with_the_reason_when_webgpu_is_missing_or_weak() {
        let c = choose(TierRequest::Auto, Some(&GpuProbe::NoApi));
        assert_eq!(c.tier, Tier::Cpu);
        assert!(c.reason.contains("navigator.gpu"));
        let c = choose(
            TierRequest::WebGpu,
            Some(&GpuProbe::Failed("no adapter".into())),
        );
        assert_eq!(c.tier, Tier::Cpu);
        assert!(c.reason.contains("no adapter"));
        let c = choose(TierRequest::Auto, Some(&ready(4)));
        assert_eq!(c.tier, Tier::Cpu);
        assert!(c.reason.contains("4 storage buffers"), "{}", c.reason);
    }

    #[test]
    fn the_link_can_force_a_tier() {
        assert_eq!(choose(TierRequest::Cpu, Some(&ready(8))).tier, Tier::Cpu);
        let c = choose(TierRequest::Replay, None);
        assert_eq!(c.tier, Tier::Replay);
        assert!(c.banner().starts_with("Tier 3 of 3"));
    }

    #[test]
    fn planned_steps_count_batches_epochs_and_methods() {
        // LoRA + CURLoRA, 2 epochs.
        let mut s = Setup {
            max_rows: Some(40),
            ..Setup::default()
        };
        // min(100, 40) = 40 → 3 batches; min(20, 40) = 20 → 2 batches; × 2 epochs × 2 methods.
        assert_eq!(planned_steps(&s, &[100, 20]), (3 + 2) * 2 * 2);
        s.max_rows = None;
        assert_eq!(planned_steps(&s, &[100]), 7 * 2 * 2);
    }

    #[test]
    fn replay_only_when_the_rest_would_take_too_long() {
        assert_eq!(too_slow(1.0, 10, 100), None); // 90 s left
        let r = too_slow(30.0, 2, 100).expect("49 minutes left");
        assert!(
            r.contains("30.0 s per step") && r.contains("98 steps"),
            "{r}"
        );
    }

    #[test]
    fn embedded_tasks_have_rows() {
        let rows = embedded_train_rows();
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|&n| n > 100), "{rows:?}");
    }
}
