//! Steering a run while it trains: pause, one batch at a time, skip to the next task, slow
//! motion, and a new learning rate or α without starting over. The app's transport controls
//! write here; every run of an experiment (they may train side by side on several threads)
//! reads it before each optimizer step.
//!
//! Commands that must reach every run exactly once (a single step, a skip, a new α) are
//! counters: each run remembers the last value it acted on in its own [`Cursor`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug)]
pub struct Control {
    paused: AtomicBool,
    /// Single steps granted while paused.
    steps: AtomicU64,
    /// Skip requests.
    skips: AtomicU64,
    /// Multiplies the schedule's learning rate (f64 bits).
    lr_scale: AtomicU64,
    /// The latest α requested (f64 bits) and how many times it was set.
    alpha: AtomicU64,
    alphas: AtomicU64,
    /// Pause after each step, in milliseconds (slow motion for a class).
    delay_ms: AtomicU64,
}

impl Default for Control {
    fn default() -> Self {
        Self {
            paused: AtomicBool::new(false),
            steps: AtomicU64::new(0),
            skips: AtomicU64::new(0),
            lr_scale: AtomicU64::new(1f64.to_bits()),
            alpha: AtomicU64::new(1f64.to_bits()),
            alphas: AtomicU64::new(0),
            delay_ms: AtomicU64::new(0),
        }
    }
}

/// What one run has already acted on.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cursor {
    steps: u64,
    skips: u64,
    alphas: u64,
}

impl Cursor {
    /// A cursor that ignores commands issued before the run started.
    pub fn now(c: &Control) -> Self {
        Self {
            steps: c.steps.load(Ordering::SeqCst),
            skips: c.skips.load(Ordering::SeqCst),
            alphas: c.alphas.load(Ordering::SeqCst),
        }
    }
}

impl Control {
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// While paused: let every run take one more optimizer step.
    pub fn step_once(&self) {
        self.steps.fetch_add(1, Ordering::SeqCst);
    }

    /// Ends the current task of every run now (its evaluation still happens).
    pub fn skip_task(&self) {
        self.skips.fetch_add(1, Ordering::SeqCst);
    }

    pub fn set_lr_scale(&self, scale: f64) {
        self.lr_scale.store(scale.to_bits(), Ordering::SeqCst);
    }

    pub fn lr_scale(&self) -> f64 {
        f64::from_bits(self.lr_scale.load(Ordering::SeqCst))
    }

    /// A new adapter scale α for every run (CURLoRA's α; LoRA's scale follows its rule).
    pub fn set_alpha(&self, alpha: f64) {
        self.alpha.store(alpha.to_bits(), Ordering::SeqCst);
        self.alphas.fetch_add(1, Ordering::SeqCst);
    }

    pub fn set_delay(&self, d: Duration) {
        self.delay_ms.store(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// Waits until the run may take its next step. Returns `false` when `cancelled()` became
    /// true while waiting.
    pub async fn wait_turn(&self, cursor: &mut Cursor, cancelled: impl Fn() -> bool) -> bool {
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            crate::core::runtime::sleep(Duration::from_millis(delay)).await;
        }
        loop {
            if cancelled() {
                return false;
            }
            let granted = self.steps.load(Ordering::SeqCst);
            if !self.is_paused() {
                cursor.steps = granted;
                return true;
            }
            if cursor.steps < granted {
                cursor.steps += 1;
                return true;
            }
            crate::core::runtime::sleep(Duration::from_millis(15)).await;
        }
    }

    /// Whether a skip was requested since this run last looked.
    pub fn take_skip(&self, cursor: &mut Cursor) -> bool {
        let s = self.skips.load(Ordering::SeqCst);
        let skip = s > cursor.skips;
        cursor.skips = s;
        skip
    }

    /// A new α, if one was set since this run last looked.
    pub fn take_alpha(&self, cursor: &mut Cursor) -> Option<f64> {
        let n = self.alphas.load(Ordering::SeqCst);
        if n > cursor.alphas {
            cursor.alphas = n;
            Some(f64::from_bits(self.alpha.load(Ordering::SeqCst)))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::runtime::block_on;

    #[test]
    fn single_steps_reach_every_run_once_while_paused() {
        let c = Control::default();
        c.pause();
        let (mut a, mut b) = (Cursor::now(&c), Cursor::now(&c));
        c.step_once();
        c.step_once();
        for cur in [&mut a, &mut b] {
            assert!(block_on(c.wait_turn(cur, || false)));
            assert!(block_on(c.wait_turn(cur, || false)));
            // A third step is not granted: it would block, so cancel to get out.
            assert!(!block_on(c.wait_turn(cur, || true)));
        }
    }

    #[test]
    fn skips_and_alpha_are_seen_once_per_run() {
        let c = Control::default();
        let (mut a, mut b) = (Cursor::now(&c), Cursor::now(&c));
        assert!(!c.take_skip(&mut a));
        c.skip_task();
        assert!(c.take_skip(&mut a) && !c.take_skip(&mut a));
        assert!(c.take_skip(&mut b));
        c.set_alpha(2.5);
        assert_eq!(c.take_alpha(&mut a), Some(2.5));
        assert_eq!(c.take_alpha(&mut a), None);
        assert_eq!(c.take_alpha(&mut b), Some(2.5));
    }

    #[test]
    fn resuming_does_not_leave_stale_steps() {
        let c = Control::default();
        let mut a = Cursor::now(&c);
        c.step_once();
        assert!(block_on(c.wait_turn(&mut a, || false))); // running: syncs to the grant
        c.pause();
        assert!(
            !block_on(c.wait_turn(&mut a, || true)),
            "no step left over from before the pause"
        );
    }
}
