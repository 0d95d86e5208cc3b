//! Health figures of a running app, for soak tests and installations (`--stats FILE`, and
//! `--heartbeat FILE` for a watchdog: the latest line only, rewritten atomically): every
//! 10 s one JSON line with the frame times of the interval (median, max), resident memory,
//! GPU bytes, GPU errors and rebuilds. The line is written by its own thread (the render
//! thread never touches the disk).

use serde_json::json;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};
use std::time::Instant;

/// Seconds between two stats lines.
pub const STATS_EVERY_SECONDS: f64 = 10.0;

/// Figures of the app that the stats line reports besides frame times.
pub struct Figures {
    pub images: usize,
    /// Whether a background job (analysis, load, re-run) is running.
    pub job_running: bool,
    pub gpu_bytes: u64,
    pub gpu_errors: u64,
    pub rebuilds: u64,
    pub warnings: usize,
}

/// Frame timing and the periodic stats line.
pub struct Stats {
    sink: Option<Sender<serde_json::Value>>,
    next: f64,
    last_frame: Option<Instant>,
    /// Frame intervals (ms) since the last line.
    frame_ms: Vec<f32>,
    frames: u64,
}

impl Stats {
    /// Stats appended to `path` and/or the latest line kept in `heartbeat` (rewritten
    /// atomically each time: a watchdog reads a whole line or the one before); only counted
    /// when both are `None`.
    pub fn new(path: Option<PathBuf>, heartbeat: Option<PathBuf>) -> Self {
        let sink = (path.is_some() || heartbeat.is_some())
            .then(|| {
                let (tx, rx) = channel::<serde_json::Value>();
                let spawned = std::thread::Builder::new()
                    .name("itl-stats".into())
                    .spawn(move || write_lines(rx, path, heartbeat));
                match spawned {
                    Ok(_) => Some(tx),
                    Err(e) => {
                        log::error!("--stats / --heartbeat: cannot start its thread: {e}");
                        None
                    }
                }
            })
            .flatten();
        Stats {
            sink,
            next: STATS_EVERY_SECONDS,
            last_frame: None,
            frame_ms: Vec::new(),
            frames: 0,
        }
    }

    /// A frame is being made: record the time since the previous one.
    pub fn frame(&mut self) {
        let now = Instant::now();
        if let Some(last) = self.last_frame.replace(now) {
            self.frame_ms
                .push((now - last).as_secs_f64() as f32 * 1000.0);
        }
        self.frames += 1;
    }

    /// Frames so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// At `now` (seconds since start), write a line when one is due.
    pub fn maybe_report(&mut self, now: f64, figures: impl FnOnce() -> Figures) {
        if now < self.next {
            return;
        }
        self.next = now + STATS_EVERY_SECONDS;
        let mut ms = std::mem::take(&mut self.frame_ms);
        let Some(sink) = &self.sink else {
            return;
        };
        ms.sort_by(|a, b| a.total_cmp(b));
        let median = ms.get(ms.len() / 2).copied().unwrap_or(0.0);
        let max = ms.last().copied().unwrap_or(0.0);
        let f = figures();
        let line = json!({
            "t": (now * 10.0).round() / 10.0,
            "frames": self.frames,
            "frames_in_interval": ms.len(),
            "frame_ms_median": median,
            "frame_ms_max": max,
            "images": f.images,
            "job_running": f.job_running,
            "gpu_bytes": f.gpu_bytes,
            "gpu_errors": f.gpu_errors,
            "rebuilds": f.rebuilds,
            "warnings": f.warnings,
        });
        // the writer thread is gone only if its file failed (already logged)
        let _ = sink.send(line);
    }
}

/// The writer thread: each line appended to the stats file and put whole in the heartbeat
/// file. A file that fails is told once and left; the other goes on.
fn write_lines(
    rx: std::sync::mpsc::Receiver<serde_json::Value>,
    stats: Option<PathBuf>,
    heartbeat: Option<PathBuf>,
) {
    use std::io::Write;
    let mut file = stats.and_then(|path| {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            Ok(f) => Some((f, path)),
            Err(e) => {
                log::error!("--stats: cannot open {}: {e}", path.display());
                None
            }
        }
    });
    let mut heartbeat_failed = false;
    for mut line in rx {
        line["rss_kb"] = json!(resident_kb());
        if let Some((f, path)) = &mut file {
            if let Err(e) = writeln!(f, "{line}").and_then(|_| f.flush()) {
                log::error!("--stats: cannot write {}: {e}", path.display());
                file = None;
            }
        }
        if let Some(path) = &heartbeat {
            match crate::util::atomic::write_atomic(path, format!("{line}\n").as_bytes()) {
                Ok(()) => heartbeat_failed = false,
                Err(e) if !heartbeat_failed => {
                    log::error!("--heartbeat: cannot write {}: {e}", path.display());
                    heartbeat_failed = true;
                }
                Err(_) => {}
            }
        }
    }
}

/// Resident memory of this process in KiB (Linux; 0 elsewhere).
pub fn resident_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}
