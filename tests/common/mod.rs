//! Helpers shared by the integration tests: the fixtures in the repository (`tests/fixtures`,
//! the bundled demo emoji in `assets/demo`), label files, displays and child processes.
//!
//! Tests read only what the repository holds, so `cargo test` passes on a fresh clone. The big
//! shared sets are for the benchmarks and examples (`examples/support/shared.rs`).
#![allow(dead_code)]

pub mod metrics;
pub mod osc;
pub mod soak;
pub mod tract_models;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A file or folder of the repository's test fixtures (`tests/fixtures/<rel>`), canonical.
/// Panics when it is missing: a test never passes by skipping its data.
/// The program under test, as a command.
pub fn cli() -> Command {
    let Some(bin) = option_env!("CARGO_BIN_EXE_image-tsne-live") else {
        panic!("cli() is for integration tests (cargo sets the binary's path for them)")
    };
    Command::new(bin)
}

/// Run `cmd`; fails the test with its stderr unless it succeeds.
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("run image-tsne-live");
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn fixture(rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    path.canonicalize().unwrap_or_else(|e| {
        panic!(
            "test fixture {} is missing ({e}); see tests/fixtures/README.md",
            path.display()
        )
    })
}

/// The bundled demo set (`assets/demo`: 360 Noto emoji, 40 in each of 9 categories, with a
/// `labels.csv`), canonical like the paths the scan reports.
pub fn demo_dir() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    assert!(
        path.join("labels.csv").is_file(),
        "the demo set is missing at {}",
        path.display()
    );
    path.canonicalize().unwrap_or(path)
}

/// The demo set's images in one category folder (e.g. `smileys-and-emotion`), sorted.
pub fn demo_images(category: &str) -> Vec<PathBuf> {
    let dir = demo_dir().join(category);
    let mut all: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    all.sort();
    assert!(!all.is_empty(), "no images in {}", dir.display());
    all
}

/// `relpath -> category` from a dataset's `labels.csv` (header `relpath,category[,...]`;
/// quoted fields may hold commas, as the demo set's `name` column does).
pub fn labels(dataset: &Path) -> HashMap<PathBuf, String> {
    let text = std::fs::read_to_string(dataset.join("labels.csv")).expect("labels.csv");
    let mut lines = text.lines();
    let header = csv_fields(lines.next().expect("a header line"));
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("labels.csv has no {name} column: {header:?}"))
    };
    let (rel, cat) = (col("relpath"), col("category"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f = csv_fields(line);
            (dataset.join(&f[rel]), f[cat].clone())
        })
        .collect()
}

/// Fill `dir` with `n` distinct images made from the demo emoji: the 360 originals, then
/// mirrored, flipped and rotated copies (each a different picture for the CNN), in a fixed
/// order. For runs that need more images than the demo set has (a long analysis, the soak).
pub fn demo_variants(dir: &Path, n: usize) -> Vec<PathBuf> {
    use image::imageops;
    let mut sources: Vec<PathBuf> = labels(&demo_dir()).into_keys().collect();
    sources.sort();
    let variants = 6;
    assert!(
        n <= sources.len() * variants,
        "at most {} variants",
        sources.len() * variants
    );
    std::fs::create_dir_all(dir).unwrap();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (v, src) = (i / sources.len(), &sources[i % sources.len()]);
        let img = image::open(src).unwrap().to_rgba8();
        let img = match v {
            0 => img,
            1 => imageops::flip_horizontal(&img),
            2 => imageops::flip_vertical(&img),
            3 => imageops::rotate180(&img),
            4 => imageops::rotate90(&img),
            _ => imageops::rotate270(&img),
        };
        let stem = src.file_stem().unwrap().to_string_lossy();
        let path = dir.join(format!("v{v}-{stem}.png"));
        img.save(&path).unwrap();
        out.push(path);
    }
    out
}

/// Parse a simple CSV line with optional double-quoted fields.
pub fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

/// An Xvfb started for a test (killed when dropped), or none when `$DISPLAY` was set.
pub struct Xvfb(Option<Child>);

impl Drop for Xvfb {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            // SIGTERM first: Xvfb then removes its socket and lock file (after SIGKILL they
            // stay, and enough of them used up every display number)
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(3) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Whether display `n` is taken: its lock file names a process that is still running (a lock
/// left by a killed server is stale; Xvfb replaces it).
fn display_taken(n: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/tmp/.X{n}-lock")) else {
        return Path::new(&format!("/tmp/.X11-unix/X{n}")).exists();
    };
    match text.trim().parse::<u32>() {
        Ok(pid) => Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => true,
    }
}

/// A display to use: `$DISPLAY`, or a fresh Xvfb on a free display number.
pub fn display() -> (String, Xvfb) {
    if let Some(d) = std::env::var_os("DISPLAY").filter(|d| !d.is_empty()) {
        return (d.to_string_lossy().into_owned(), Xvfb(None));
    }
    // one start at a time in this process: a server being started has no lock file yet
    static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _starting = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    for n in 90..120 {
        if display_taken(n) {
            continue;
        }
        let child = Command::new("Xvfb")
            .arg(format!(":{n}"))
            .args(["-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is needed for this test (apt-get install xvfb), or set DISPLAY");
        let start = Instant::now();
        // listening (a stale socket file from a killed server may exist before it is replaced)
        while std::os::unix::net::UnixStream::connect(format!("/tmp/.X11-unix/X{n}")).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "Xvfb :{n} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        return (format!(":{n}"), Xvfb(Some(child)));
    }
    panic!("no free X display number");
}

/// Number of distinct colours (5 bits per channel) and the luminance spread: a blank frame
/// has few of both.
pub fn spread(img: &image::RgbaImage) -> (usize, f64) {
    let mut colours = std::collections::HashSet::new();
    let mut sum = 0.0;
    let mut sum2 = 0.0;
    for p in img.pixels() {
        colours.insert([p[0] >> 3, p[1] >> 3, p[2] >> 3]);
        let l = (p[0] as f64 + p[1] as f64 + p[2] as f64) / 3.0;
        sum += l;
        sum2 += l * l;
    }
    let n = (img.width() * img.height()) as f64;
    (
        colours.len(),
        (sum2 / n - (sum / n).powi(2)).max(0.0).sqrt(),
    )
}

/// Wait (at most `limit`) for a child to exit; kill it and panic when it does not.
pub fn wait_for(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the process did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Send a signal (`TERM`, `INT`) to a process.
pub fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -{name} failed");
}

/// The app binary with a display, a private runtime dir and cache.
pub fn app_command(display: &str, tmp: &Path) -> Command {
    let Some(app) = option_env!("CARGO_BIN_EXE_image-tsne-live") else {
        panic!("app_command is for integration tests (cargo sets the binary's path for them)")
    };
    let mut cmd = Command::new(app);
    cmd.env("DISPLAY", display)
        .env("XDG_RUNTIME_DIR", tmp)
        .arg("--cache-dir")
        .arg(tmp.join("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Wait (at most a few minutes: a hang fails, a slow machine does not) until `done` holds.
pub fn wait_until(what: &str, log: &Path, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(300) {
            let stderr = std::fs::read_to_string(log).unwrap_or_default();
            panic!("waited in vain for {what}; stderr:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
