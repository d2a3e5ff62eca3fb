//! The few runtime services the engine needs on both platforms: reading tensors back to the host,
//! sleeping and yielding, and running several futures together.
//!
//! The engine is written with `async` reads because WebGPU cannot block: a synchronous read
//! panics in the browser. Natively every future here is driven by `pollster::block_on` on the
//! training thread; in the browser the futures run on the page's event loop and
//! [`yield_now`] gives the UI a frame between optimizer steps.

use crate::core::error::{Error, Result};
use burn::tensor::Tensor;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A tensor's values on the host as `f32`, read asynchronously (works on WebGPU).
pub async fn read_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data_async()
        .await
        .map_err(|e| device_failure(format!("{e:?}")))?
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Numeric(format!("{e:?}")))
}

/// The error for a failed read-back. The device's report is a long chain of skipped kernels;
/// when its root is a buffer the device could not allocate (over its binding or buffer limit,
/// or out of memory), the user is told what to change, with the size it asked for.
pub fn device_failure(report: String) -> Error {
    let lower = report.to_lowercase();
    let memory = [
        "allocate",
        "out of memory",
        "outofmemory",
        "exceeds",
        "max_buffer",
        "binding size",
    ]
    .iter()
    .any(|k| lower.contains(k));
    if !memory {
        return Error::Numeric(format!("reading a tensor back failed: {report}"));
    }
    let size = lower
        .split("size: ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|d| d.parse::<u64>().ok())
        .map(|b| format!(" of {:.0} MB", b as f64 / 1e6))
        .unwrap_or_default();
    Error::Device(format!(
        "the GPU could not allocate a buffer{size} (over its buffer limit, or out of memory). \
         What to change: a smaller batch (--batch-size, or `batch_size` / `eval_batch_size` in \
         the experiment file), shorter inputs (`max_len`), --dtype f16 (half the memory), or \
         --device cpu"
    ))
}

/// A one-element tensor's value, read asynchronously.
pub async fn read_scalar<const D: usize>(t: Tensor<D>) -> Result<f32> {
    read_f32(t)
        .await?
        .first()
        .copied()
        .ok_or_else(|| Error::Numeric("expected one value, got none".into()))
}

/// Runs a future to completion on this thread.
///
/// Natively this blocks (`pollster`). In the browser nothing may block: the future is polled
/// once and must be ready, which holds for the CPU backend (its reads complete at once) and
/// not for WebGPU, whose callers must use the `async` functions instead.
pub fn block_on<F: Future>(f: F) -> F::Output {
    #[cfg(not(target_arch = "wasm32"))]
    {
        pollster::block_on(f)
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!(
                "a blocking call waited on the GPU in the browser; use the async variant \
                 (this is a bug in curlora)"
            ),
        }
    }
}

/// Waits `d` without holding up anything else: a thread sleep natively (each run trains on its
/// own thread), a timer in the browser.
pub async fn sleep(d: Duration) {
    #[cfg(not(target_arch = "wasm32"))]
    std::thread::sleep(d);
    #[cfg(target_arch = "wasm32")]
    browser_timeout(d.as_millis() as i32).await;
}

/// Lets the browser draw a frame and handle input (between optimizer steps). Nothing to do
/// natively, where training has threads of its own.
pub async fn yield_now() {
    #[cfg(target_arch = "wasm32")]
    browser_timeout(0).await;
}

#[cfg(target_arch = "wasm32")]
async fn browser_timeout(ms: i32) {
    use wasm_bindgen::JsCast;
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        let set_timeout = js_sys::Reflect::get(&global, &"setTimeout".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        match set_timeout {
            Some(f) => {
                let _ = f.call2(&global, &resolve, &ms.into());
            }
            None => {
                let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
            }
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// `f`'s output, or `None` when `limit` passes first (e.g. a browser that never answers a WebGPU
/// request: the page must not wait forever). `f` is polled before the timer, so a future that
/// is ready at once always wins.
pub async fn timeout<T>(f: impl Future<Output = T>, limit: Duration) -> Option<T> {
    let mut f = std::pin::pin!(f);
    let mut timer = std::pin::pin!(sleep(limit));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// Polls every future until all are done and returns their outputs in order: several runs
/// training side by side on one thread (the browser), each advancing whenever the others wait.
pub async fn join_all<'a, T>(futures: Vec<Pin<Box<dyn Future<Output = T> + 'a>>>) -> Vec<T> {
    JoinAll {
        futures: futures.into_iter().map(Some).collect(),
        outputs: Vec::new(),
    }
    .await
}

struct JoinAll<'a, T> {
    futures: Vec<Option<Pin<Box<dyn Future<Output = T> + 'a>>>>,
    outputs: Vec<Option<T>>,
}

impl<T> Unpin for JoinAll<'_, T> {}

impl<T> Future for JoinAll<'_, T> {
    type Output = Vec<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<T>> {
        // Every field is Unpin (boxed futures, options).
        let this = self.get_mut();
        if this.outputs.is_empty() {
            this.outputs = this.futures.iter().map(|_| None).collect();
        }
        for (slot, out) in this.futures.iter_mut().zip(this.outputs.iter_mut()) {
            if let Some(f) = slot
                && let Poll::Ready(v) = f.as_mut().poll(cx)
            {
                *out = Some(v);
                *slot = None;
            }
        }
        if this.futures.iter().all(Option::is_none) {
            Poll::Ready(this.outputs.iter_mut().filter_map(Option::take).collect())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A future that is pending `n` times (waking itself) before it returns `v`.
    struct Later {
        n: usize,
        v: usize,
        log: std::rc::Rc<std::cell::RefCell<Vec<usize>>>,
    }

    impl Future for Later {
        type Output = usize;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            self.log.borrow_mut().push(self.v);
            if self.n == 0 {
                Poll::Ready(self.v)
            } else {
                self.n -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    #[test]
    fn join_all_interleaves_and_keeps_order() {
        let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let fs: Vec<Pin<Box<dyn Future<Output = usize>>>> = vec![
            Box::pin(Later {
                n: 2,
                v: 10,
                log: log.clone(),
            }),
            Box::pin(Later {
                n: 0,
                v: 20,
                log: log.clone(),
            }),
            Box::pin(Later {
                n: 1,
                v: 30,
                log: log.clone(),
            }),
        ];
        assert_eq!(block_on(join_all(fs)), vec![10, 20, 30]);
        // Round-robin: the first poll visits all three, later ones only the unfinished.
        assert_eq!(*log.borrow(), vec![10, 20, 30, 10, 30, 10]);
    }

    #[test]
    fn timeout_returns_ready_values_and_gives_up_on_pending_ones() {
        let ready = block_on(timeout(async { 7 }, Duration::from_secs(60)));
        assert_eq!(ready, Some(7));
        let never = block_on(timeout(
            std::future::pending::<u8>(),
            Duration::from_millis(10),
        ));
        assert_eq!(never, None);
    }

    #[test]
    fn reads_match_the_tensor() {
        let d = burn::tensor::Device::flex();
        let t = Tensor::<2>::from_floats([[1.0, -2.0], [3.5, 4.0]], &d);
        assert_eq!(
            block_on(read_f32(t.clone())).unwrap(),
            vec![1.0, -2.0, 3.5, 4.0]
        );
        assert_eq!(block_on(read_scalar(t.sum())).unwrap(), 6.5);
    }
}
