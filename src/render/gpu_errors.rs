//! GPU errors that nobody captured: wgpu's default handler panics, which would end an
//! installation on the first validation or out-of-memory error. [`GpuErrorLog`] is installed
//! on every device we use (the window's and the headless one); it counts the errors, logs
//! each kind once (not every frame), and tells the app when the device looks lost or out of
//! memory so it can rebuild its GPU resources.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// How bad an uncaptured error is for the resources we hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuErrorKind {
    /// A rejected call (bad upload, bad draw): that call did nothing, the rest is fine.
    Validation,
    /// The device ran out of memory: resources may be gone.
    OutOfMemory,
    /// The device is lost: every resource on it is gone.
    DeviceLost,
}

#[derive(Default, Debug)]
struct Inner {
    total: u64,
    /// Errors not yet taken by [`GpuErrorLog::take_new`].
    fresh: Vec<(GpuErrorKind, String)>,
    /// First lines of the messages already logged (each kind is logged once).
    logged: HashSet<String>,
    /// An out-of-memory or device-lost error since the last [`GpuErrorLog::take_rebuild`].
    rebuild: bool,
}

/// A shared, cheap-to-clone sink for a device's uncaptured errors.
#[derive(Clone, Default, Debug)]
pub struct GpuErrorLog {
    inner: Arc<Mutex<Inner>>,
}

/// At most this many kinds are remembered (and logged); later kinds are only counted.
const MAX_KINDS: usize = 256;

/// At most this many fresh errors are kept between two reads (a broken frame can report the
/// same error thousands of times).
const MAX_FRESH: usize = 64;

impl GpuErrorLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Route `device`'s uncaptured errors here instead of wgpu's panicking default.
    pub fn install(&self, device: &wgpu::Device) {
        let log = self.clone();
        device.on_uncaptured_error(Box::new(move |e| log.record_error(&e)));
    }

    /// Record a wgpu error.
    pub fn record_error(&self, e: &wgpu::Error) {
        let kind = match e {
            wgpu::Error::OutOfMemory { .. } => GpuErrorKind::OutOfMemory,
            wgpu::Error::Validation { description, .. } => classify(description),
        };
        self.record(kind, &e.to_string());
    }

    /// Record an error of our renderer (an effect that failed): a wrapped wgpu error keeps its
    /// kind (out of memory or a lost device asks for a rebuild), anything else is a rejected call.
    pub fn record_render_error(&self, e: &super::RenderError) {
        let kind = match e {
            super::RenderError::Gpu { message, .. } => classify(message),
            _ => GpuErrorKind::Validation,
        };
        self.record(kind, &e.to_string());
    }

    /// Record an error by kind and message (also the test hook for simulated faults).
    pub fn record(&self, kind: GpuErrorKind, message: &str) {
        // wgpu's messages span lines ("Validation Error\n\nCaused by: …"): one line, so a log
        // line and the panel say what failed.
        let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.total += 1;
        if kind != GpuErrorKind::Validation {
            inner.rebuild = true;
        }
        // "once per kind": numbers (indices, offsets, sizes) do not make a new kind
        let kind_key: String = message
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect();
        if inner.logged.len() < MAX_KINDS && inner.logged.insert(kind_key) {
            log::error!("GPU error ({kind:?}), the app goes on: {message}");
        }
        if inner.fresh.len() < MAX_FRESH {
            inner.fresh.push((kind, message));
        }
    }

    /// Errors so far.
    pub fn total(&self) -> u64 {
        self.inner.lock().map(|i| i.total).unwrap_or(0)
    }

    /// The errors recorded since the last call.
    pub fn take_new(&self) -> Vec<(GpuErrorKind, String)> {
        self.inner
            .lock()
            .map(|mut i| std::mem::take(&mut i.fresh))
            .unwrap_or_default()
    }

    /// Whether an out-of-memory or device-lost error happened since the last call: the GPU
    /// resources should be rebuilt from the data the app keeps.
    pub fn take_rebuild(&self) -> bool {
        self.inner
            .lock()
            .map(|mut i| std::mem::take(&mut i.rebuild))
            .unwrap_or(false)
    }
}

/// wgpu 0.17 reports a lost device as a validation error whose text says so.
fn classify(description: &str) -> GpuErrorKind {
    let d = description.to_ascii_lowercase();
    if d.contains("device is lost") || d.contains("device lost") || d.contains("parent device") {
        GpuErrorKind::DeviceLost
    } else if d.contains("out of memory") {
        GpuErrorKind::OutOfMemory
    } else {
        GpuErrorKind::Validation
    }
}

/// Test hook: make `queue` report a validation error (a write past the end of `buffer`), the
/// way a broken upload would. Used by the tests and the app's `--inject-gpu-fault upload`.
pub fn inject_invalid_upload(queue: &wgpu::Queue, buffer: &wgpu::Buffer) {
    let size = buffer.size();
    queue.write_buffer(buffer, size.saturating_sub(4) & !3, &[0u8; 64]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_logged_once_and_counted_every_time() {
        let log = GpuErrorLog::new();
        for _ in 0..1000 {
            log.record(
                GpuErrorKind::Validation,
                "Copy would overrun the buffer\nmore",
            );
        }
        assert_eq!(log.total(), 1000);
        assert_eq!(log.take_new().len(), MAX_FRESH, "bounded between reads");
        assert!(log.take_new().is_empty());
        assert!(!log.take_rebuild(), "a validation error needs no rebuild");
        log.record(GpuErrorKind::DeviceLost, "lost");
        assert!(log.take_rebuild());
        assert!(!log.take_rebuild(), "taken once");
        assert_eq!(classify("Parent device is lost"), GpuErrorKind::DeviceLost);
        assert_eq!(
            classify("Copy of 0..64 would end up overrunning"),
            GpuErrorKind::Validation
        );
    }
}
