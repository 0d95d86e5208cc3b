//! Background work for the live app: analysis, loading a layout, re-running t-SNE, saving,
//! dialogs and the lightbox image — each on its own thread, reporting to the UI over a channel
//! ([`Msg`]) so a frame never waits for disk or computation. Jobs stop promptly when their
//! cancel flag is set.

use super::state::{AnalysisSettings, SharedSettings, Source};
use crate::cache::Cache;
use crate::features::FeatureModel;
use crate::layout_io::{self, LayoutEntry};
use crate::pipeline::{self, AnalyzeOptions};
use crate::progress::{Reporter, Stage};
use crate::render::{prepare_cell, AtlasConfig, AtlasPlan, PreparedCell};
use crate::tsne::TsneParams;
use anyhow::{anyhow, Result};
use image::RgbaImage;
use ndarray::Array2;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Send a live t-SNE frame every this many iterations.
pub const TSNE_FRAME_EVERY: usize = 5;

/// A file/folder chooser the UI can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogKind {
    AnalyzeFolder,
    LoadJson,
    SaveJson,
    SaveScreenshot,
}

impl DialogKind {
    pub fn label(self) -> &'static str {
        match self {
            DialogKind::AnalyzeFolder => "folder to analyze",
            DialogKind::LoadJson => "layout JSON to load",
            DialogKind::SaveJson => "save layout JSON as",
            DialogKind::SaveScreenshot => "save screenshot PNG as",
        }
    }
}

/// A job for a background thread.
#[derive(Debug)]
pub enum JobRequest {
    Analyze {
        job: u64,
        dir: PathBuf,
        settings: SharedSettings,
        cancel: Arc<AtomicBool>,
    },
    Load {
        job: u64,
        path: PathBuf,
        cancel: Arc<AtomicBool>,
    },
    /// Re-run t-SNE and the grid on a scene. `features`: PCA rows and the image index of each
    /// row; without them the features of `paths` (image indices `used`) are extracted first.
    Retsne {
        job: u64,
        features: Option<(Arc<Array2<f32>>, Vec<usize>)>,
        paths: Vec<PathBuf>,
        used: Vec<usize>,
        settings: SharedSettings,
        cancel: Arc<AtomicBool>,
    },
}

/// What background threads tell the UI.
#[derive(Debug)]
pub enum Msg {
    Stage {
        job: u64,
        stage: Stage,
        total: u64,
    },
    Advance {
        job: u64,
        stage: Stage,
        done: u64,
    },
    Warn {
        job: u64,
        text: String,
    },
    /// The images of the new scene (scan result or the layout's entries) and the atlas plan
    /// its thumbnails are prepared for.
    Scanned {
        job: u64,
        paths: Vec<PathBuf>,
        source: Source,
        plan: AtlasPlan,
    },
    /// A loaded layout's points (and stored grid).
    Layout {
        job: u64,
        entries: Vec<LayoutEntry>,
        grid: Option<super::state::GridCells>,
    },
    /// Image `index`'s thumbnail, letterboxed and mipmapped for the atlas (CPU work done here,
    /// off the render thread).
    Thumb {
        job: u64,
        index: usize,
        cell: PreparedCell,
    },
    /// Image `index` is missing or unreadable: draw a placeholder.
    Missing {
        job: u64,
        index: usize,
    },
    /// PCA output; `rows[r]` is the image index of row r (images not listed were skipped).
    Features {
        job: u64,
        features: Arc<Array2<f32>>,
        rows: Vec<usize>,
    },
    /// Current embedding of the used images, normalised into [0,1]².
    TsneFrame {
        job: u64,
        iteration: usize,
        points: Vec<[f32; 2]>,
    },
    TsneDone {
        job: u64,
        points: Vec<[f32; 2]>,
    },
    /// Grid cells of the used images, in order.
    Grid {
        job: u64,
        cols: u32,
        rows: u32,
        cells: Vec<[u32; 2]>,
    },
    Done {
        job: u64,
    },
    Failed {
        job: u64,
        error: String,
    },
    Saved {
        path: PathBuf,
        result: Result<(), String>,
    },
    DialogResult {
        kind: DialogKind,
        result: Result<Option<PathBuf>, String>,
    },
    Lightbox {
        index: usize,
        image: Result<RgbaImage, String>,
    },
}

impl Msg {
    /// The job a message belongs to (None for messages that are not part of a job).
    pub fn job(&self) -> Option<u64> {
        match self {
            Msg::Stage { job, .. }
            | Msg::Advance { job, .. }
            | Msg::Warn { job, .. }
            | Msg::Scanned { job, .. }
            | Msg::Layout { job, .. }
            | Msg::Thumb { job, .. }
            | Msg::Missing { job, .. }
            | Msg::Features { job, .. }
            | Msg::TsneFrame { job, .. }
            | Msg::TsneDone { job, .. }
            | Msg::Grid { job, .. }
            | Msg::Done { job }
            | Msg::Failed { job, .. } => Some(*job),
            Msg::Saved { .. } | Msg::DialogResult { .. } | Msg::Lightbox { .. } => None,
        }
    }
}

/// What all background work shares: the channel, the cache, the model (loaded once).
pub struct Workers {
    tx: Sender<Msg>,
    pub cache: Cache,
    model_path: Option<PathBuf>,
    model: OnceLock<Result<Arc<FeatureModel>, String>>,
    pool: Option<Arc<rayon::ThreadPool>>,
    /// Files being written right now (the app waits for them before it exits).
    saving: Arc<std::sync::atomic::AtomicUsize>,
}

impl Workers {
    pub fn new(tx: Sender<Msg>, cache: Cache, model_path: Option<PathBuf>) -> Arc<Self> {
        // Leave a core for the render loop when there are several.
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(if threads > 2 { threads - 1 } else { threads })
            .thread_name(|i| format!("itl-worker-{i}"))
            .build()
            .ok()
            .map(Arc::new);
        Arc::new(Workers {
            tx,
            cache,
            model_path,
            model: OnceLock::new(),
            pool,
            saving: Default::default(),
        })
    }

    fn model(&self) -> Result<Arc<FeatureModel>> {
        self.model
            .get_or_init(|| {
                FeatureModel::load(self.model_path.as_deref())
                    .map(Arc::new)
                    .map_err(|e| format!("{e:#}"))
            })
            .clone()
            .map_err(|e| anyhow!(e))
    }

    fn send(&self, msg: Msg) {
        // The UI is gone when this fails: nothing to do.
        let _ = self.tx.send(msg);
    }

    fn install<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    /// Start a job on its own thread.
    pub fn start(self: &Arc<Self>, request: JobRequest) {
        let this = self.clone();
        let spawned = std::thread::Builder::new()
            .name("itl-job".into())
            .spawn(move || {
                let job = match &request {
                    JobRequest::Analyze { job, .. }
                    | JobRequest::Load { job, .. }
                    | JobRequest::Retsne { job, .. } => *job,
                };
                let result = this.install(|| match request {
                    JobRequest::Analyze {
                        job,
                        dir,
                        settings,
                        cancel,
                    } => this.analyze(job, &dir, settings, cancel),
                    JobRequest::Load { job, path, cancel } => this.load(job, &path, cancel),
                    JobRequest::Retsne {
                        job,
                        features,
                        paths,
                        used,
                        settings,
                        cancel,
                    } => this.retsne(job, features, &paths, &used, settings, cancel),
                });
                match result {
                    Ok(()) => this.send(Msg::Done { job }),
                    Err(e) if pipeline::is_cancelled(&e) => {}
                    Err(e) => this.send(Msg::Failed {
                        job,
                        error: format!("{e:#}"),
                    }),
                }
            });
        if let Err(e) = spawned {
            log::error!("cannot start a worker thread: {e}");
        }
    }

    fn analyze(
        &self,
        job: u64,
        dir: &Path,
        settings: SharedSettings,
        cancel: Arc<AtomicBool>,
    ) -> Result<()> {
        let snapshot = read(&settings);
        let rep = ChannelReporter::new(self, job, cancel.clone(), settings.clone(), true);
        let opts = AnalyzeOptions {
            max_images: snapshot.max_images.max(1),
            cache: self.cache.clone(),
            ..AnalyzeOptions::default()
        };
        let paths = pipeline::scan_folder(dir, &opts, &rep)?;
        let plan = atlas_plan(paths.len())?;
        rep.set_plan(plan);
        self.send(Msg::Scanned {
            job,
            paths: paths.clone(),
            source: Source::Folder(dir.to_path_buf()),
            plan,
        });
        let model = self.model()?;
        let set = pipeline::extract_features(&paths, &model, &opts.preprocess, &self.cache, &rep)?;
        if set.paths.is_empty() {
            return Err(anyhow!("none of the {} images could be used", paths.len()));
        }
        let rows = set.indices.clone();
        let mut skipped = vec![true; paths.len()];
        for &i in &rows {
            skipped[i] = false;
        }
        for (index, _) in skipped.iter().enumerate().filter(|(_, s)| **s) {
            self.send(Msg::Missing { job, index });
        }
        let reduced = Arc::new(pipeline::reduce(&set.features, opts.pca_dims, &rep));
        self.send(Msg::Features {
            job,
            features: reduced.clone(),
            rows,
        });
        self.embed_and_grid(job, &reduced, &rep, &settings)
    }

    fn load(&self, job: u64, path: &Path, cancel: Arc<AtomicBool>) -> Result<()> {
        let settings = Arc::new(Mutex::new(AnalysisSettings::default()));
        let rep = ChannelReporter::new(self, job, cancel, settings, false);
        let loaded = layout_io::read_layout(path)?;
        if loaded.entries.is_empty() {
            return Err(anyhow!("{} has no usable entries", path.display()));
        }
        for w in &loaded.warnings {
            rep.warn(&format!("{}: {w}", path.display()));
        }
        if !loaded.missing.is_empty() {
            rep.warn(&format!(
                "{} of {} images are missing, shown as placeholders",
                loaded.missing.len(),
                loaded.entries.len()
            ));
        }
        let paths: Vec<PathBuf> = loaded.entries.iter().map(|e| e.path.clone()).collect();
        let plan = atlas_plan(paths.len())?;
        self.send(Msg::Scanned {
            job,
            paths: paths.clone(),
            source: Source::Json(path.to_path_buf()),
            plan,
        });
        let grid = loaded
            .grid_size
            .map(|[cols, rows]| super::state::GridCells {
                cols,
                rows,
                cells: loaded
                    .entries
                    .iter()
                    .map(|e| e.grid.unwrap_or([0, 0]))
                    .collect(),
            });
        let has_grid = grid.is_some();
        self.send(Msg::Layout {
            job,
            entries: loaded.entries.clone(),
            grid,
        });
        let points: Vec<[f32; 2]> = loaded.entries.iter().map(|e| e.point).collect();

        // Thumbnails stream in (cache first), in parallel.
        rep.begin(Stage::Thumbs, paths.len() as u64);
        let done = std::sync::atomic::AtomicUsize::new(0);
        paths.par_iter().enumerate().for_each(|(index, p)| {
            if rep.cancelled() {
                return;
            }
            match crate::render::cli::load_cell(p, &self.cache, &plan) {
                Ok(cell) => self.send(Msg::Thumb { job, index, cell }),
                Err(e) => {
                    // missing files were reported once, in total, above
                    if p.exists() {
                        rep.warn(&format!("{}: {e}", p.display()));
                    }
                    self.send(Msg::Missing { job, index });
                }
            }
            rep.advance(
                Stage::Thumbs,
                done.fetch_add(1, Ordering::Relaxed) as u64 + 1,
            );
        });
        if rep.cancelled() {
            return Err(pipeline::Cancelled.into());
        }
        if !has_grid {
            let grid = pipeline::snap_to_grid(&points, 1.0, crate::grid::Solver::Auto, &rep)?;
            self.send_grid(job, &grid);
        }
        Ok(())
    }

    fn retsne(
        &self,
        job: u64,
        features: Option<(Arc<Array2<f32>>, Vec<usize>)>,
        paths: &[PathBuf],
        used: &[usize],
        settings: SharedSettings,
        cancel: Arc<AtomicBool>,
    ) -> Result<()> {
        let rep = ChannelReporter::new(self, job, cancel, settings.clone(), false);
        let reduced = match features {
            Some((f, _)) => f,
            None => {
                // A loaded layout has no features yet: extract them (usually from the cache).
                let model = self.model()?;
                let prep = crate::thumbs::Preprocess::default();
                let set = pipeline::extract_features(paths, &model, &prep, &self.cache, &rep)?;
                if set.paths.is_empty() {
                    return Err(anyhow!("none of the images could be used"));
                }
                // rows are positions in `paths`; `used` maps them to image indices
                let rows: Vec<usize> = set
                    .indices
                    .iter()
                    .filter_map(|&i| used.get(i).copied())
                    .collect();
                let reduced = Arc::new(pipeline::reduce(&set.features, 50, &rep));
                self.send(Msg::Features {
                    job,
                    features: reduced.clone(),
                    rows,
                });
                reduced
            }
        };
        self.embed_and_grid(job, &reduced, &rep, &settings)
    }

    /// t-SNE (restarted whenever the shared perplexity/theta change while it runs), then grid;
    /// settings changed during the grid step start another round.
    fn embed_and_grid(
        &self,
        job: u64,
        reduced: &Array2<f32>,
        rep: &ChannelReporter,
        settings: &SharedSettings,
    ) -> Result<()> {
        loop {
            let s = read(settings);
            rep.set_running(Some(s));
            let params = TsneParams {
                perplexity: s.perplexity,
                theta: s.theta,
                iterations: 1000,
                seed: 42,
                ..TsneParams::default()
            };
            let points = match pipeline::embed(reduced, &params, rep) {
                Ok(points) => points,
                Err(e) if pipeline::is_cancelled(&e) && !rep.cancel.load(Ordering::Relaxed) => {
                    continue
                }
                Err(e) => return Err(e),
            };
            rep.set_running(None);
            self.send(Msg::TsneDone {
                job,
                points: points.clone(),
            });
            let grid = pipeline::snap_to_grid(&points, 1.0, crate::grid::Solver::Auto, rep)?;
            let now = read(settings);
            if now.perplexity != s.perplexity || now.theta != s.theta {
                continue;
            }
            self.send_grid(job, &grid);
            return Ok(());
        }
    }

    fn send_grid(&self, job: u64, grid: &crate::grid::GridAssignment) {
        self.send(Msg::Grid {
            job,
            cols: grid.shape.cols as u32,
            rows: grid.shape.rows as u32,
            cells: grid.cells.clone(),
        });
    }

    /// Write a layout JSON on a thread.
    pub fn save_json(self: &Arc<Self>, path: PathBuf, entries: Vec<LayoutEntry>) {
        self.save(path, move |p| {
            layout_io::write_layout(p, &entries).map_err(|e| e.to_string())
        });
    }

    /// Encode and write a PNG on a thread.
    pub fn save_png(self: &Arc<Self>, path: PathBuf, image: RgbaImage) {
        self.save(path, move |p| {
            crate::render::cli::write_png(p, &image).map_err(|e| format!("{e:#}"))
        });
    }

    fn save(
        self: &Arc<Self>,
        path: PathBuf,
        write: impl FnOnce(&Path) -> Result<(), String> + Send + 'static,
    ) {
        let this = self.clone();
        this.saving.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("itl-save".into())
            .spawn(move || {
                let result = write(&path);
                this.saving.fetch_sub(1, Ordering::SeqCst);
                this.send(Msg::Saved { path, result });
            });
        if let Err(e) = spawned {
            self.saving.fetch_sub(1, Ordering::SeqCst);
            log::error!("cannot start a thread to save: {e}");
        }
    }

    /// Wait (at most `timeout`) until no file is being written; false on timeout.
    pub fn wait_for_saves(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        while self.saving.load(Ordering::SeqCst) > 0 {
            if start.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Decode an image for the lightbox (at most 2048 px) on a thread.
    pub fn load_lightbox(self: &Arc<Self>, index: usize, path: PathBuf) {
        let this = self.clone();
        let _ = std::thread::Builder::new()
            .name("itl-lightbox".into())
            .spawn(move || {
                let image = crate::thumbs::decode_file(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))
                    .map(|img| {
                        let img = if img.width().max(img.height()) > 2048 {
                            img.resize(2048, 2048, image::imageops::FilterType::Triangle)
                        } else {
                            img
                        };
                        img.to_rgba8()
                    });
                this.send(Msg::Lightbox { index, image });
            });
    }

    /// Show a native file dialog on a thread (zenity/kdialog on Linux). Without a dialog
    /// program the result is an error and the UI falls back to a path field.
    pub fn dialog(self: &Arc<Self>, kind: DialogKind, location: Option<PathBuf>) {
        let this = self.clone();
        let _ = std::thread::Builder::new()
            .name("itl-dialog".into())
            .spawn(move || {
                let result = run_dialog(kind, location.as_deref());
                this.send(Msg::DialogResult { kind, result });
            });
    }
}

fn run_dialog(kind: DialogKind, location: Option<&Path>) -> Result<Option<PathBuf>, String> {
    use native_dialog::DialogBuilder;
    let mut builder = DialogBuilder::file().set_title(kind.label());
    if let Some(loc) = location {
        builder = builder.set_location(loc);
    }
    let result = match kind {
        DialogKind::AnalyzeFolder => builder.open_single_dir().show(),
        DialogKind::LoadJson => builder
            .add_filter("layout JSON", ["json"])
            .open_single_file()
            .show(),
        DialogKind::SaveJson => builder
            .add_filter("layout JSON", ["json"])
            .set_filename("layout.json")
            .save_single_file()
            .show(),
        DialogKind::SaveScreenshot => builder
            .add_filter("PNG image", ["png"])
            .set_filename("layout.png")
            .save_single_file()
            .show(),
    };
    result.map_err(|e| match e {
        native_dialog::Error::MissingDep => {
            "no file dialog available (install zenity or kdialog); type a path in the panel instead"
                .to_string()
        }
        other => format!("file dialog failed: {other}; type a path in the panel instead"),
    })
}

/// The atlas plan for `count` images. It uses the portable default device limits (every GPU
/// has at least those), so the plan made here fits the window's device.
pub fn atlas_plan(count: usize) -> Result<AtlasPlan> {
    AtlasPlan::new(count, &AtlasConfig::default(), &wgpu::Limits::default())
        .map_err(|e| anyhow!("{e}"))
}

fn read(settings: &SharedSettings) -> AnalysisSettings {
    settings.lock().map(|s| *s).unwrap_or_default()
}

/// A [`Reporter`] that forwards progress to the UI channel. `cancelled()` is also true when the
/// shared perplexity/theta changed under a running t-SNE, which then restarts.
struct ChannelReporter<'a> {
    workers: &'a Workers,
    job: u64,
    cancel: Arc<AtomicBool>,
    restart: AtomicBool,
    settings: SharedSettings,
    running: Mutex<Option<AnalysisSettings>>,
    thumbs: bool,
    /// The scene's atlas plan, once known: thumbnails are prepared for it.
    plan: Mutex<Option<AtlasPlan>>,
    last_advance: Mutex<Instant>,
}

impl<'a> ChannelReporter<'a> {
    fn new(
        workers: &'a Workers,
        job: u64,
        cancel: Arc<AtomicBool>,
        settings: SharedSettings,
        thumbs: bool,
    ) -> Self {
        ChannelReporter {
            workers,
            job,
            cancel,
            restart: AtomicBool::new(false),
            settings,
            running: Mutex::new(None),
            thumbs,
            plan: Mutex::new(None),
            last_advance: Mutex::new(Instant::now()),
        }
    }

    fn set_plan(&self, plan: AtlasPlan) {
        if let Ok(mut p) = self.plan.lock() {
            *p = Some(plan);
        }
    }

    /// t-SNE starts with these settings (a change of perplexity/theta restarts it), or ends.
    fn set_running(&self, s: Option<AnalysisSettings>) {
        self.restart.store(false, Ordering::Relaxed);
        if let Ok(mut r) = self.running.lock() {
            *r = s;
        }
    }

    fn settings_changed(&self) -> bool {
        let running = self.running.lock().map(|r| *r).unwrap_or(None);
        match running {
            Some(r) => {
                let now = read(&self.settings);
                now.perplexity != r.perplexity || now.theta != r.theta
            }
            None => false,
        }
    }
}

impl Reporter for ChannelReporter<'_> {
    fn begin(&self, stage: Stage, total: u64) {
        self.workers.send(Msg::Stage {
            job: self.job,
            stage,
            total,
        });
    }
    fn advance(&self, stage: Stage, done: u64) {
        // At most ~30 updates a second.
        if let Ok(mut last) = self.last_advance.lock() {
            if last.elapsed() < Duration::from_millis(33) {
                return;
            }
            *last = Instant::now();
        }
        self.workers.send(Msg::Advance {
            job: self.job,
            stage,
            done,
        });
    }
    fn finish(&self, _stage: Stage, summary: &str, _elapsed: Duration) {
        log::info!("{summary}");
    }
    fn warn(&self, message: &str) {
        self.workers.send(Msg::Warn {
            job: self.job,
            text: message.to_string(),
        });
    }
    fn cancel_flag(&self) -> &AtomicBool {
        if self.settings_changed() {
            self.restart.store(true, Ordering::Relaxed);
            return &self.restart;
        }
        &self.cancel
    }
    fn wants_thumbnails(&self) -> bool {
        self.thumbs
    }
    fn image_ready(&self, index: usize, path: &Path, thumb: &RgbaImage) {
        let Some(plan) = self.plan.lock().ok().and_then(|p| *p) else {
            return;
        };
        match prepare_cell(&plan, thumb) {
            Ok(cell) => self.workers.send(Msg::Thumb {
                job: self.job,
                index,
                cell,
            }),
            Err(e) => self.warn(&format!(
                "{}: cannot make its thumbnail: {e}",
                path.display()
            )),
        }
    }
    fn tsne_frame_every(&self) -> usize {
        TSNE_FRAME_EVERY
    }
    fn tsne_frame(
        &self,
        iteration: usize,
        _iterations: usize,
        embedding: &[[f32; 2]],
        _kl: Option<f32>,
    ) {
        let raw: Vec<[f64; 2]> = embedding
            .iter()
            .map(|p| [p[0] as f64, p[1] as f64])
            .collect();
        let points = layout_io::normalize_points(&raw);
        self.workers.send(Msg::TsneFrame {
            job: self.job,
            iteration,
            points,
        });
    }
}
