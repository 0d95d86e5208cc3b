//! The live viewer's command-line options and their checks.

use crate::cli::args::{check_perplexity, check_theta, usage, UsageError};
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

/// Options of the live viewer (`image-tsne-live [PATH] [OPTIONS]`).
#[derive(Args, Debug, Clone, Default)]
pub struct AppArgs {
    /// A layout JSON to open, or a folder to analyze. Default: the bundled demo set.
    pub path: Option<PathBuf>,
    /// Start fullscreen.
    #[arg(long)]
    pub fullscreen: bool,
    /// Start with the GUI hidden (H shows it).
    #[arg(long)]
    pub hide_gui: bool,
    /// Draw the clusters' names over the map also with --hide-gui (they are shown with the
    /// panel, and the panel's check box turns them on and off; the main window only).
    #[arg(long)]
    pub cluster_names: bool,
    /// A curator's CSV about the images: the first column a path (absolute or relative to the
    /// CSV) or a file name, the others anything (title, artist, year, tags…). Titles are the
    /// captions, every field shows in the lightbox, the filter searches them, numeric columns
    /// can order the grid.
    #[arg(long, value_name = "FILE.csv")]
    pub metadata: Option<PathBuf>,
    /// Unattended gallery tour: slow camera moves and layout toggles; input takes over.
    #[arg(long)]
    pub gallery: bool,
    /// In gallery mode, toggle t-SNE ⇄ grid every this many seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub toggle_every: f64,
    /// In gallery mode, resume the tour after this many seconds without input (0: never).
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub gallery_resume: f64,
    /// Write the window's frames as numbered PNGs: every SECONDS into DIR (for videos).
    #[arg(long, num_args = 2, value_names = ["SECONDS", "DIR"])]
    pub capture_every: Option<Vec<String>>,
    /// Play the optimizer's frames (analysis, re-run, new images) back over this many seconds,
    /// eased; 0 shows them as fast as they are computed.
    #[arg(long, default_value_t = crate::app::state::DEFAULT_SETTLE_SECONDS, value_name = "SECONDS")]
    pub settle_seconds: f64,
    /// Watch the folder (PATH, else the map's) for new and removed images: new ones join the
    /// map (the others do not move), removed ones leave it. Also a checkbox in the panel.
    #[arg(long)]
    pub watch: bool,
    /// Write the layout JSON (with grid) and its map file here after every change (analysis
    /// done, images added or removed), atomically. If FILE exists at start, the app reopens it
    /// (and with --watch keeps growing it) instead of analysing PATH again.
    #[arg(long, value_name = "FILE")]
    pub autosave: Option<PathBuf>,
    /// Start in grid view (once the grid is ready).
    #[arg(long)]
    pub grid: bool,
    /// `max num images` for analyses.
    #[arg(long, default_value_t = 500)]
    pub max_images: usize,
    /// t-SNE perplexity, a positive number (clamped for small image counts).
    #[arg(long, default_value_t = 50.0, value_parser = crate::cli::args::parse_perplexity)]
    pub perplexity: f32,
    /// t-SNE theta (Barnes-Hut accuracy/speed trade-off), 0 (exact) to 1.
    #[arg(long, default_value_t = 0.3, value_parser = crate::cli::args::parse_theta)]
    pub theta: f32,
    /// Window colour behind the images (#RRGGBB), also behind `S` screenshots; as `render
    /// --background`. (Not `analyze --background`, which is what transparent pixels show to the
    /// CNN; the app composites them onto white for the CNN.)
    #[arg(long, default_value = "#101014", value_parser = crate::cli::args::parse_color_text)]
    pub background: String,
    /// Draw images whose pixels would not stand out against the background (black line art on
    /// dark, white icons on white) on a plate: `auto` decides per image, `always` plates every
    /// image with transparency, `never` draws them straight onto the background.
    #[arg(long, value_enum, default_value_t = crate::render::PlateMode::Auto)]
    pub plates: crate::render::PlateMode,
    /// Window size in points, WxH.
    #[arg(long, default_value = "1280x800")]
    pub size: String,
    /// The windows to draw into, the main one first: comma-separated `KIND[@MONITOR][:WxH]`,
    /// KIND `view` (the whole view; `mirror` is the same), or `wall` (the next slice of a
    /// projector wall, left to right); `@MONITOR` goes fullscreen on that monitor (0, 1, …).
    /// E.g. `view@0,wall@1,wall@2,wall@3`: a control screen and a wall of three projectors.
    #[arg(long, value_name = "LIST")]
    pub outputs: Option<String>,
    /// Pixels by which neighbouring wall slices overlap; the overlap is blended soft-edge.
    #[arg(long, value_name = "PX", default_value_t = 0.0)]
    pub wall_overlap: f32,
    /// The projectors' gamma, for the blend ramp (2.2: sRGB-like, the ramp as it is).
    #[arg(long, value_name = "GAMMA", default_value_t = 2.2)]
    pub wall_gamma: f32,
    /// Folder for screenshots and frame captures (S and P).
    #[arg(long, default_value = ".")]
    pub screenshot_dir: PathBuf,
    /// ONNX feature model instead of the bundled one.
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub cache: crate::cache::CacheArgs,
    /// GPU memory for images in MiB: the base atlas (at most 512 MiB) plus the detail tier
    /// (sharp close-ups) in what is left. The default fits a 2 GB GPU.
    #[arg(long, value_name = "MiB", default_value_t = 1536)]
    pub gpu_memory: u64,
    /// Quit this many frames after the startup analysis/load has finished (for scripts, tests).
    #[arg(long, value_name = "FRAMES")]
    pub quit_after: Option<u64>,
    /// With --quit-after: capture the last frame to this PNG.
    #[arg(long, value_name = "PNG")]
    pub capture_on_quit: Option<PathBuf>,
    /// Press these hotkeys, one every 30 frames, once the startup job has finished
    /// (e.g. `--press gs`: glide to the grid, then save a screenshot). For scripts and tests.
    #[arg(long, value_name = "KEYS")]
    pub press: Option<String>,
    /// Append one JSON line of health figures every 10 s to FILE: frame times (median, max),
    /// resident memory, GPU bytes, GPU errors (for soak tests of installations).
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
    /// Rewrite FILE every 10 s with the latest stats line (atomically), for a watchdog that
    /// restarts the app when the file stops changing (see docs/installation.md).
    #[arg(long, value_name = "FILE")]
    pub heartbeat: Option<PathBuf>,
    /// Start the gallery tour after this many seconds without input (0: never), even when
    /// it was off: an installation attracts visitors when nobody touches it.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    pub attract_after: f64,
    /// Opening hours in local time, `HH:MM-HH:MM[,HH:MM-HH:MM…]` (a range may run past
    /// midnight): outside them the window is black and the app idles; it wakes on time.
    #[arg(long, value_name = "HOURS")]
    pub schedule_hours: Option<String>,
    /// Days the opening hours apply to: `mon-fri`, `tue,thu,sat` (default: every day).
    #[arg(long, value_name = "DAYS")]
    pub schedule_days: Option<String>,
    /// Read the options from a TOML show file (see examples/show.toml); options on the
    /// command line override it.
    #[arg(long, value_name = "FILE")]
    pub show: Option<PathBuf>,
    /// Take show-control commands over OSC (UDP) on this port; a bare port listens on this
    /// machine only (127.0.0.1), `0.0.0.0:PORT` for a controller on the network. The messages
    /// are listed in the README (`/grid i`, `/blend f`, `/tour i`, `/goto i|s`, …).
    #[arg(long, value_name = "[ADDR:]PORT")]
    pub osc_in: Option<String>,
    /// Send a `/heartbeat` every second and events (`/joined`, `/tour/at`, `/layout`) over OSC
    /// to HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub osc_out: Option<String>,
    /// Let `/quit` over OSC end the app (refused otherwise).
    #[arg(long)]
    pub osc_allow_quit: bool,
    /// Test hook: `upload@N` makes frame N after startup send the GPU an invalid upload,
    /// `lost@N` simulates a lost device (the renderers are rebuilt), `oom@N` an out-of-memory
    /// error (the detail tier shrinks, the renderers are rebuilt). May be repeated.
    #[arg(long, value_name = "KIND@FRAME", hide = true)]
    pub inject_gpu_fault: Vec<String>,
}

impl AppArgs {
    /// Check everything that can be checked before a window opens, so a typo is a clear
    /// error, not a running installation that ignores it. Creates the capture folders.
    pub fn check(&self) -> Result<()> {
        if let Some(p) = &self.path {
            if !p.exists() {
                bail!("{} does not exist", p.display());
            }
        }
        if let Some(f) = &self.autosave {
            if f.is_dir() {
                bail!(
                    "--autosave: {} is a folder; give a JSON file name",
                    f.display()
                );
            }
        }
        // a bad value is a usage error (exit status 2), as clap's own
        let bad = |e: anyhow::Error| UsageError(e.to_string());
        if crate::render::parse_hex_color(&self.background).is_none() {
            return usage(format!(
                "--background: expected #RRGGBB, got {:?}",
                self.background
            ));
        }
        // (clap checks these when parsing; the same rules, with the CLI's words, for arguments
        // made in code, before an analysis could start with them)
        if let Err(rule) = check_perplexity(self.perplexity) {
            return usage(format!("--perplexity {rule}"));
        }
        if let Err(rule) = check_theta(self.theta) {
            return usage(format!("--theta {rule}"));
        }
        parse_size(&self.size).map_err(bad)?;
        if let Some(o) = &self.outputs {
            super::outputs::parse_outputs(o).map_err(bad)?;
        }
        if !self.wall_overlap.is_finite() || !(0.0..=8192.0).contains(&self.wall_overlap) {
            return usage(format!(
                "--wall-overlap: expected 0 to 8192 pixels, got {}",
                self.wall_overlap
            ));
        }
        if !self.wall_gamma.is_finite() || !(1.0..=4.0).contains(&self.wall_gamma) {
            return usage(format!(
                "--wall-gamma: expected 1 to 4, got {}",
                self.wall_gamma
            ));
        }
        if !self.settle_seconds.is_finite() || !(0.0..=600.0).contains(&self.settle_seconds) {
            return usage(format!(
                "--settle-seconds: expected 0 to 600, got {}",
                self.settle_seconds
            ));
        }
        if let Some(c) = &self.capture_every {
            let (_, dir) = parse_capture_every(c).map_err(bad)?;
            std::fs::create_dir_all(&dir).map_err(|e| {
                anyhow::anyhow!("--capture-every: cannot create {}: {e}", dir.display())
            })?;
        }
        // nannou writes frame captures and panics when it cannot make their folder: make the
        // folders now (a clear error before the window opens)
        if let Some(dir) = self
            .capture_on_quit
            .as_ref()
            .and_then(|p| p.parent())
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow::anyhow!("--capture-on-quit: cannot create {}: {e}", dir.display())
            })?;
        }
        // `P` captures are written by nannou, which needs the folder to exist
        std::fs::create_dir_all(&self.screenshot_dir).map_err(|e| {
            anyhow::anyhow!(
                "--screenshot-dir: cannot create {}: {e}",
                self.screenshot_dir.display()
            )
        })?;
        for f in &self.inject_gpu_fault {
            parse_fault(f).map_err(bad)?;
        }
        if self.schedule_days.is_some() && self.schedule_hours.is_none() {
            return usage("--schedule-days needs --schedule-hours".to_string());
        }
        if let Some(hours) = &self.schedule_hours {
            crate::app::schedule::Schedule::parse(hours, self.schedule_days.as_deref())
                .map_err(|e| UsageError(format!("--schedule-hours / --schedule-days: {e}")))?;
        }
        if let Some(spec) = &self.osc_in {
            crate::app::osc::listen_address(spec).map_err(bad)?;
        }
        if let Some(spec) = &self.osc_out {
            crate::app::osc::send_address(spec).map_err(bad)?;
        }
        Ok(())
    }
}

/// A simulated GPU fault (test hook): what, and how many frames after startup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// An upload the GPU rejects (validation error).
    InvalidUpload,
    /// The device is reported lost.
    DeviceLost,
    /// The device reports it ran out of memory.
    OutOfMemory,
}

/// `upload@N` / `lost@N` / `oom@N`.
pub fn parse_fault(s: &str) -> Result<(Fault, u64)> {
    let (kind, frame) = s
        .split_once('@')
        .ok_or_else(|| anyhow::anyhow!("--inject-gpu-fault: expected KIND@FRAME, got {s:?}"))?;
    let fault = match kind {
        "upload" => Fault::InvalidUpload,
        "lost" => Fault::DeviceLost,
        "oom" => Fault::OutOfMemory,
        _ => bail!("--inject-gpu-fault: unknown kind {kind:?} (upload, lost, oom)"),
    };
    let frame = frame
        .parse()
        .map_err(|_| anyhow::anyhow!("--inject-gpu-fault: bad frame number in {s:?}"))?;
    Ok((fault, frame))
}

pub fn parse_size(s: &str) -> Result<(u32, u32)> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| anyhow::anyhow!("--size: expected WxH, got {s:?}"))?;
    let (w, h): (u32, u32) = (w.trim().parse()?, h.trim().parse()?);
    if w < 100 || h < 100 || w > 16384 || h > 16384 {
        bail!("--size {s} is out of range");
    }
    Ok((w, h))
}

pub fn parse_capture_every(v: &[String]) -> Result<(f64, PathBuf)> {
    let [secs, dir] = v else {
        bail!("--capture-every takes SECONDS DIR")
    };
    let secs: f64 = secs
        .parse()
        .map_err(|_| anyhow::anyhow!("--capture-every: {secs:?} is not a number of seconds"))?;
    if secs.is_nan() || secs <= 0.0 {
        bail!("--capture-every: seconds must be positive");
    }
    Ok((secs, PathBuf::from(dir)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_parsing() {
        assert_eq!(parse_size("1280x800").unwrap(), (1280, 800));
        assert!(parse_size("10x10").is_err());
        assert!(parse_size("big").is_err());
        assert_eq!(
            parse_capture_every(&["2.5".into(), "/tmp/f".into()]).unwrap(),
            (2.5, PathBuf::from("/tmp/f"))
        );
        assert!(parse_capture_every(&["0".into(), "/tmp/f".into()]).is_err());
        assert_eq!(parse_fault("lost@60").unwrap(), (Fault::DeviceLost, 60));
        assert_eq!(parse_fault("oom@7").unwrap(), (Fault::OutOfMemory, 7));
        assert!(parse_fault("boom@1").is_err());
        assert!(parse_fault("upload").is_err());
    }

    /// The app refuses the t-SNE settings the CLI refuses, with the CLI's words, before any
    /// analysis starts — as a usage error (exit status 2).
    #[test]
    fn tsne_settings_are_checked_before_the_app_starts() {
        let dir = tempfile::tempdir().unwrap();
        let ok = AppArgs {
            perplexity: 50.0,
            theta: 0.3,
            background: "#101014".into(),
            size: "1280x800".into(),
            settle_seconds: 4.0,
            screenshot_dir: dir.path().join("shots"),
            wall_gamma: 2.2,
            ..Default::default()
        };
        ok.check().unwrap();
        for (args, words) in [
            (
                AppArgs {
                    perplexity: 0.0,
                    ..ok.clone()
                },
                "--perplexity must be a positive number",
            ),
            (
                AppArgs {
                    perplexity: f32::NAN,
                    ..ok.clone()
                },
                "--perplexity must be a positive number",
            ),
            (
                AppArgs {
                    theta: 1.5,
                    ..ok.clone()
                },
                "--theta must be between 0 and 1",
            ),
            (
                AppArgs {
                    outputs: Some("view,wall".into()),
                    ..ok.clone()
                },
                "--outputs: a wall needs at least two `wall` windows (one is a `view`)",
            ),
            (
                AppArgs {
                    wall_gamma: 9.0,
                    ..ok.clone()
                },
                "--wall-gamma: expected 1 to 4, got 9",
            ),
        ] {
            let e = args.check().unwrap_err();
            assert_eq!(e.to_string(), words);
            assert!(crate::cli::args::is_usage_error(&e));
        }
    }
}
