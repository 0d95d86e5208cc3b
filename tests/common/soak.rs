//! A soak run of the real app, shared by `examples/soak.rs` (30 minutes, the table in
//! docs/benchmarks.md) and `tests/soak.rs` (2 minutes in CI): the app tours `images` images in gallery
//! mode (`--gallery --toggle-every 2 --capture-every 5 DIR`) under Xvfb, writing a stats line
//! every 10 s (`--stats`), driven over OSC all along as a show controller would (`--osc-in`,
//! `--osc-out`: layout switches, fits, tour on, and a stream of bad packets; the heartbeats are
//! collected). A show file drives it (`--show`), with a mirror as a second output whose frames
//! are captured beside the main window's; at the end it gets SIGTERM. The run is judged on what an unattended
//! installation needs: no panic, memory that does not creep, frames that do not stall, every
//! captured frame a valid PNG, and a heartbeat at least every 2 s.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The second output of the run: a mirror of the main view at this size.
pub const MIRROR: &str = "640x360";
const MIRROR_SIZE: (u32, u32) = (640, 360);

/// What a soak run is asked to do.
pub struct SoakConfig {
    /// The app binary.
    pub app: PathBuf,
    pub dataset: PathBuf,
    pub images: usize,
    pub duration: Duration,
    /// Seconds after the analysis has finished before figures count (caches, first tours).
    pub warmup: f64,
    pub size: String,
    /// Scratch folder: captures, stats, cache (reused across runs when it is kept).
    pub work: PathBuf,
    pub display: String,
}

/// One stats line of the app.
#[derive(Clone, Debug)]
pub struct Sample {
    pub t: f64,
    pub frames: u64,
    pub frame_ms_median: f64,
    pub frame_ms_max: f64,
    pub rss_mb: f64,
    pub gpu_mb: f64,
    pub gpu_errors: u64,
    pub images: u64,
    pub job_running: bool,
}

/// What a soak run measured.
pub struct SoakReport {
    pub samples: Vec<Sample>,
    /// Index of the first sample after the warm-up.
    pub warm_from: Option<usize>,
    pub exit_code: Option<i32>,
    pub panicked: bool,
    pub captures: usize,
    pub valid_captures: usize,
    /// Captures of the second output (the mirror) that are valid PNGs of its size.
    pub mirrored: usize,
    pub expected_captures: usize,
    /// Seconds between the first and the last capture, and seconds the app ran.
    pub capture_span: f64,
    pub ran: f64,
    pub stderr_tail: String,
    /// OSC packets sent to the app (commands and bad packets).
    pub osc_sent: usize,
    /// `/heartbeat` messages received, and the longest gap between two (s).
    pub heartbeats: usize,
    pub heartbeat_max_gap: f64,
}

impl SoakReport {
    fn warm(&self) -> &[Sample] {
        match self.warm_from {
            Some(i) => &self.samples[i..],
            None => &[],
        }
    }

    /// RSS growth after the warm-up, in percent (last sample vs the first warm one).
    pub fn rss_growth_percent(&self) -> Option<f64> {
        let warm = self.warm();
        let (first, last) = (warm.first()?, warm.last()?);
        Some((last.rss_mb - first.rss_mb) / first.rss_mb.max(1e-9) * 100.0)
    }

    /// The longest frame after the warm-up, ms.
    pub fn max_frame_ms(&self) -> Option<f64> {
        self.warm()
            .iter()
            .map(|s| s.frame_ms_max)
            .max_by(|a, b| a.total_cmp(b))
    }

    /// The median of the warm samples' median frame times, ms.
    pub fn median_frame_ms(&self) -> Option<f64> {
        let mut m: Vec<f64> = self.warm().iter().map(|s| s.frame_ms_median).collect();
        m.sort_by(|a, b| a.total_cmp(b));
        m.get(m.len() / 2).copied()
    }

    /// The table of samples (markdown).
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| t (s) | frames | frame median (ms) | frame max (ms) | RSS (MiB) | GPU (MiB) | GPU errors |\n|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for (i, s) in self.samples.iter().enumerate() {
            let warm = self.warm_from.is_some_and(|w| i >= w);
            out.push_str(&format!(
                "| {:.0}{} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |\n",
                s.t,
                if warm { "" } else { " (warm-up)" },
                s.frames,
                s.frame_ms_median,
                s.frame_ms_max,
                s.rss_mb,
                s.gpu_mb,
                s.gpu_errors
            ));
        }
        out
    }

    /// Every capture is a valid PNG, one per 5 s without gaps, covering the run (less a minute
    /// for start-up and the analysis).
    pub fn captures_ok(&self) -> bool {
        self.valid_captures == self.captures
            && self.mirrored == self.captures
            && self.captures + 1 >= self.expected_captures
            && self.captures <= self.expected_captures + 1
            && self.capture_span + 60.0 >= self.ran
    }

    /// The verdicts, each with its figure: (what, passed, detail).
    pub fn verdicts(&self) -> Vec<(&'static str, bool, String)> {
        let growth = self.rss_growth_percent();
        let max_frame = self.max_frame_ms();
        vec![
            (
                "exits on SIGTERM with 143, no panic",
                self.exit_code == Some(143) && !self.panicked,
                format!("exit {:?}, panic: {}", self.exit_code, self.panicked),
            ),
            (
                "RSS after warm-up grows < 2 %",
                growth.is_some_and(|g| g < 2.0),
                format!("{growth:.2?} %"),
            ),
            (
                "no frame over 250 ms after warm-up",
                max_frame.is_some_and(|m| m <= 250.0),
                format!("max {max_frame:.1?} ms"),
            ),
            (
                "OSC under traffic: a heartbeat at least every 2 s",
                self.heartbeats > 0 && self.heartbeat_max_gap <= 2.0,
                format!(
                    "{} heartbeats, longest gap {:.2} s, {} packets sent",
                    self.heartbeats, self.heartbeat_max_gap, self.osc_sent
                ),
            ),
            (
                "captures: a valid PNG every 5 s, from start-up to the end",
                self.captures_ok(),
                format!(
                    "{} valid of {} written (and {} of the mirror), {} expected over {:.0} s of {:.0} s",
                    self.valid_captures,
                    self.captures,
                    self.mirrored,
                    self.expected_captures,
                    self.capture_span,
                    self.ran
                ),
            ),
        ]
    }
}

fn sample(v: &Value) -> Option<Sample> {
    let f = |k: &str| v.get(k).and_then(Value::as_f64);
    Some(Sample {
        t: f("t")?,
        frames: f("frames")? as u64,
        frame_ms_median: f("frame_ms_median")?,
        frame_ms_max: f("frame_ms_max")?,
        rss_mb: f("rss_kb")? / 1024.0,
        gpu_mb: f("gpu_bytes")? / (1024.0 * 1024.0),
        gpu_errors: f("gpu_errors")? as u64,
        images: f("images")? as u64,
        job_running: v.get("job_running").and_then(Value::as_bool)?,
    })
}

/// Run the app as an installation for `cfg.duration`, then stop it and judge the run.
pub fn run_soak(cfg: &SoakConfig) -> SoakReport {
    let captures = cfg.work.join("captures");
    let _ = std::fs::remove_dir_all(&captures);
    std::fs::create_dir_all(&captures).expect("capture folder");
    let stats = cfg.work.join("stats.jsonl");
    let _ = std::fs::remove_file(&stats);
    let runtime = cfg.work.join("xdg");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    // the show controller: heartbeats come to `listener`, commands go from `sender`
    let listener = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let report_to = listener.local_addr().expect("udp address");
    let beats = collect_heartbeats(listener);
    let osc_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let app_addr = format!("127.0.0.1:{osc_port}");
    // the show file drives the run, as at an installation: the map, the tour, a mirror as a
    // second output, captures, stats and show control
    let show = cfg.work.join("show.toml");
    // (absolute: a show file's relative paths are relative to its own folder)
    let quote = |p: &Path| {
        let p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        toml::Value::String(p.to_string_lossy().into_owned()).to_string()
    };
    std::fs::write(
        &show,
        format!(
            "path = {}\nmax_images = {}\ngallery = true\ntoggle_every = 2\nhide_gui = true\n\
             size = \"{}\"\noutputs = \"view,mirror:{MIRROR}\"\n\
             capture_every = [5, {}]\nstats = {}\ncache_dir = {}\n\
             osc_in = \"{osc_port}\"\nosc_out = \"{report_to}\"\n",
            quote(&cfg.dataset),
            cfg.images,
            cfg.size,
            quote(&captures),
            quote(&stats),
            quote(&cfg.work.join("cache")),
        ),
    )
    .expect("write the show file");
    let mut child = Command::new(&cfg.app)
        .env("DISPLAY", &cfg.display)
        .env("XDG_RUNTIME_DIR", &runtime)
        .arg("--show")
        .arg(&show)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the app");
    // stderr is drained on a thread so the app never blocks on a full pipe
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut e) = stderr {
            use std::io::Read;
            let _ = e.read_to_string(&mut text);
        }
        text
    });
    let start = Instant::now();
    let mut osc_sent = 0;
    let mut tick = 0u64;
    while start.elapsed() < cfg.duration {
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        for packet in osc_traffic(tick) {
            osc_sent += usize::from(sender.send_to(&packet, &app_addr).is_ok());
        }
        tick += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    let ran = start.elapsed().as_secs_f64();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now();
    let status = loop {
        if let Ok(Some(s)) = child.try_wait() {
            break Some(s);
        }
        if deadline.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = reader.join().unwrap_or_default();
    let samples: Vec<Sample> = std::fs::read_to_string(&stats)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| sample(&v))
        .collect();
    let ready_at = samples
        .iter()
        .find(|s| !s.job_running && s.images > 0)
        .map(|s| s.t);
    let warm_from = ready_at.and_then(|r| samples.iter().position(|s| s.t >= r + cfg.warmup));
    // the main window's captures, and the mirror's beside them (`NAME-1.png`)
    let (mirrored, files): (Vec<PathBuf>, Vec<PathBuf>) = std::fs::read_dir(&captures)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .partition(|p| {
            p.file_stem()
                .is_some_and(|s| s.to_string_lossy().ends_with("-1"))
        });
    let valid = files.iter().filter(|p| is_valid_png(p)).count();
    let valid_mirrored = mirrored
        .iter()
        .filter(|p| image::image_dimensions(p).ok() == Some(MIRROR_SIZE) && is_valid_png(p))
        .count();
    // The app's capture clock starts when its window is up: the expected count follows the
    // span between the first and the last capture (one per 5 s, none lost, none extra).
    let times: Vec<std::time::SystemTime> = files
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect();
    let span = match (times.iter().min(), times.iter().max()) {
        (Some(a), Some(b)) => b.duration_since(*a).unwrap_or_default().as_secs_f64(),
        _ => 0.0,
    };

    let tail: String = {
        let lines: Vec<&str> = stderr.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    };
    SoakReport {
        warm_from,
        exit_code: status.and_then(|s| s.code()),
        panicked: stderr.contains("panicked"),
        captures: files.len(),
        valid_captures: valid,
        mirrored: valid_mirrored,
        expected_captures: if files.is_empty() {
            // nothing captured at all: one per 5 s of the run was expected
            (ran / 5.0).floor() as usize + 1
        } else {
            (span / 5.0).round() as usize + 1
        },
        capture_span: span,
        ran,
        stderr_tail: tail,
        samples,
        osc_sent,
        heartbeats: beats.lock().map(|b| b.len()).unwrap_or(0),
        heartbeat_max_gap: beats
            .lock()
            .map(|b| {
                b.windows(2)
                    .map(|w| (w[1] - w[0]).as_secs_f64())
                    .fold(0.0, f64::max)
            })
            .unwrap_or(f64::NAN),
    }
}

/// Arrival times of the app's `/heartbeat` messages, collected on a thread for the run.
fn collect_heartbeats(
    socket: std::net::UdpSocket,
) -> std::sync::Arc<std::sync::Mutex<Vec<Instant>>> {
    let beats = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = beats.clone();
    let _ = socket.set_read_timeout(Some(Duration::from_millis(500)));
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while std::sync::Arc::strong_count(&sink) > 1 {
            let Ok(n) = socket.recv(&mut buf) else {
                continue;
            };
            if let Ok((_, rosc::OscPacket::Message(m))) = rosc::decoder::decode_udp(&buf[..n]) {
                if m.addr == "/heartbeat" {
                    if let Ok(mut b) = sink.lock() {
                        b.push(Instant::now());
                    }
                }
            }
        }
    });
    beats
}

/// What the show controller sends at tick `k` (every 0.5 s): a layout switch every 4 s, a fit
/// every 7 s, the tour kept on, a fader held and let go, and each tick a few bad packets
/// (random bytes, unknown addresses, wrong types, bundles).
fn osc_traffic(k: u64) -> Vec<Vec<u8>> {
    use rosc::{OscMessage, OscPacket, OscType};
    let msg = |addr: &str, args: Vec<OscType>| {
        rosc::encoder::encode(&OscPacket::Message(OscMessage {
            addr: addr.into(),
            args,
        }))
        .unwrap_or_default()
    };
    let mut out = vec![];
    if k % 8 == 0 {
        out.push(msg("/grid", vec![OscType::Int(((k / 8) % 2) as i32)]));
    }
    if k % 14 == 3 {
        out.push(msg("/fit", vec![]));
    }
    if k % 10 == 5 {
        out.push(msg("/tour", vec![OscType::Int(1)]));
    }
    if k % 20 == 7 {
        out.push(msg("/blend", vec![OscType::Float(0.5)]));
    }
    if k % 20 == 9 {
        out.push(msg("/grid", vec![OscType::Int(0)]));
    }
    // bad packets: they must change nothing and cost nothing
    let mut x = k
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for j in 0..6 {
        let packet = match j % 3 {
            0 => (0..(x % 200) as usize)
                .map(|i| (x.rotate_left(i as u32 % 64) & 0xff) as u8)
                .collect(),
            1 => msg("/nope", vec![OscType::Int(j)]),
            _ => msg("/zoom", vec![OscType::String("far".into())]),
        };
        out.push(packet);
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    out
}

fn is_valid_png(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "png")
        && image::open(p).is_ok_and(|img| img.width() > 0 && img.height() > 0)
}
