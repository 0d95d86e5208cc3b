//! Protocol: what the window-free state and the background workers say to each other — the
//! jobs the UI asks for ([`JobRequest`], each variant a request struct), the dialogs it can open
//! ([`DialogKind`]), what background threads tell it ([`Msg`]) and the plain types both carry
//! (analysis settings, a scene's source and grid cells, an autosave). A leaf: it knows neither
//! the state nor the workers, so they do not know each other.

use crate::layout_io::LayoutEntry;
use crate::layout_io::TsneSettings;
use crate::map::MapState;
use crate::pipeline::defaults;
use crate::progress::Stage;
use crate::render::{AtlasConfig, AtlasPlan, PreparedCell};
use anyhow::{anyhow, Result};
use image::RgbaImage;
use ndarray::Array2;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// The original app's analysis parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnalysisSettings {
    pub max_images: usize,
    pub perplexity: f32,
    pub theta: f32,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        AnalysisSettings {
            max_images: defaults::MAX_IMAGES,
            perplexity: defaults::PERPLEXITY,
            theta: defaults::THETA,
        }
    }
}

/// Where a scene's images came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    Folder(PathBuf),
    Json(PathBuf),
}

/// Grid cells of a scene.
#[derive(Clone, Debug, PartialEq)]
pub struct GridCells {
    pub cols: u32,
    pub rows: u32,
    /// One cell per image (index = image index); hidden images have `[0, 0]`.
    pub cells: Vec<[u32; 2]>,
}

/// Analysis settings shared with a running job.
pub type SharedSettings = Arc<Mutex<AnalysisSettings>>;

/// One autosave: the layout (with its grid) and its growing map.
#[derive(Debug)]
pub struct AutosaveRequest {
    pub path: PathBuf,
    pub entries: Vec<LayoutEntry>,
    pub grid_size: Option<[u32; 2]>,
    pub tsne: Option<TsneSettings>,
    pub map: Option<Arc<MapState>>,
    /// The map's clusters, written beside it (`LAYOUT.json.clusters.json`).
    pub clusters: Option<ClustersSnapshot>,
}

/// A map's clusters to write beside a layout: over `paths` (the used images, in the
/// layout's order), found with `min_size`.
#[derive(Clone, Debug)]
pub struct ClustersSnapshot {
    pub paths: Vec<PathBuf>,
    pub clustering: crate::clusters::Clustering,
    pub min_size: usize,
}

impl ClustersSnapshot {
    /// Write it beside `layout` (atomically).
    pub fn save_beside(&self, layout: &std::path::Path) -> Result<()> {
        crate::clusters::sidecar::save(
            &crate::clusters::sidecar::sidecar_path(layout),
            &self.paths,
            &self.clustering,
            self.min_size,
        )
    }
}

/// Find (or carry over) the clusters of a scene's map, off the render thread.
#[derive(Clone, Debug)]
pub struct ClusterRequest {
    pub scene: u64,
    /// The used images and their t-SNE points, in the layout's order.
    pub paths: Vec<PathBuf>,
    pub points: Vec<[f32; 2]>,
    /// The clusters file of the layout the scene was loaded from, if any: used when it is there.
    pub file: Option<PathBuf>,
    /// Clusters the map had before it changed: kept (`keep`: it grew, newcomers join) or only
    /// their curators' names carried onto clusters found anew (its points moved).
    pub previous: Option<(crate::clusters::sidecar::Saved, bool)>,
    /// How the map's features were made (its `.map` file's, else the analysis options').
    pub preprocess: Option<crate::images::Preprocess>,
}

/// A growing scene's atlas capacity for `count` images: a quarter more, at least 16.
pub fn capacity_with_headroom(count: usize) -> usize {
    count + (count / 4).max(16)
}

/// The atlas plan for `count` images. It uses the portable default device limits (every GPU
/// has at least those), so the plan made here fits the window's device.
pub fn atlas_plan(count: usize) -> Result<AtlasPlan> {
    AtlasPlan::new(count, &AtlasConfig::default(), &wgpu::Limits::default())
        .map_err(|e| anyhow!("{e}"))
}

/// A file/folder chooser the UI can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogKind {
    AnalyzeFolder,
    LoadJson,
    SaveJson,
    SaveScreenshot,
    /// Where to write the selection's paths (CSV or JSON).
    ExportSelection,
    /// The folder to copy the selected files into.
    CopySelection,
    /// A metadata CSV to read.
    LoadMetadata,
}

impl DialogKind {
    pub fn label(self) -> &'static str {
        match self {
            DialogKind::AnalyzeFolder => "folder to analyze",
            DialogKind::LoadJson => "layout JSON to load",
            DialogKind::SaveJson => "save layout JSON as",
            DialogKind::SaveScreenshot => "save screenshot PNG as",
            DialogKind::ExportSelection => "export the selection's paths as (CSV or JSON)",
            DialogKind::CopySelection => "folder to copy the selected files into",
            DialogKind::LoadMetadata => "metadata CSV to read",
        }
    }
}

/// A job the UI asks the workers for; each runs on its own thread and stops when `cancel` is set.
#[derive(Debug)]
pub enum JobRequest {
    Analyze(AnalyzeJob),
    Load(LoadJob),
    Retsne(RetsneJob),
    Grow(GrowJob),
}

impl JobRequest {
    /// The job's id.
    pub fn job(&self) -> u64 {
        match self {
            JobRequest::Analyze(r) => r.job,
            JobRequest::Load(r) => r.job,
            JobRequest::Retsne(r) => r.job,
            JobRequest::Grow(r) => r.job,
        }
    }
}

/// Analyze a folder; `dir: None` is the bundled demo set (unpacked by the job).
#[derive(Debug)]
pub struct AnalyzeJob {
    pub job: u64,
    /// The folder to scan (`None`: the bundled demo set).
    pub dir: Option<PathBuf>,
    /// Instead of a scan, these images (a selection made into a new map).
    pub paths: Option<Vec<PathBuf>>,
    /// The sliders' values, read again while t-SNE runs (a change restarts it).
    pub settings: SharedSettings,
    pub cancel: Arc<AtomicBool>,
}

/// Open a layout JSON.
#[derive(Debug)]
pub struct LoadJob {
    pub job: u64,
    pub path: PathBuf,
    pub cancel: Arc<AtomicBool>,
}

/// A scene's PCA-reduced features: row i belongs to image `rows[i]`.
#[derive(Clone, Debug)]
pub struct SceneFeatures {
    pub reduced: Arc<Array2<f32>>,
    pub rows: Vec<usize>,
}

/// Re-run t-SNE and the grid on a scene. Without `features` the features of `paths` (image
/// indices `used`) are extracted first.
#[derive(Debug)]
pub struct RetsneJob {
    pub job: u64,
    pub features: Option<SceneFeatures>,
    pub paths: Vec<PathBuf>,
    pub used: Vec<usize>,
    /// The scene's growing map, whose PCA basis the new map keeps.
    pub map: Option<Arc<MapState>>,
    pub settings: SharedSettings,
    pub cancel: Arc<AtomicBool>,
}

/// Grow a map: remove rows `remove` of it, then add the images `add` (those not on it
/// already). Without a map (a layout made elsewhere) it is made from `layout` first.
#[derive(Debug)]
pub struct GrowJob {
    pub job: u64,
    pub map: Option<Arc<MapState>>,
    pub layout: Vec<LayoutEntry>,
    pub grid_size: Option<[u32; 2]>,
    pub add: Vec<PathBuf>,
    pub remove: Vec<usize>,
    pub cancel: Arc<AtomicBool>,
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
    /// A loaded layout's points, its stored grid and the t-SNE settings it records
    /// (`[perplexity, theta]`).
    Layout {
        job: u64,
        entries: Vec<LayoutEntry>,
        grid: Option<GridCells>,
        tsne: Option<[f32; 2]>,
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
        /// Iterations of the whole run (for the settle playback's pace).
        iterations: usize,
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
    /// The growing map of the scene the job built (its rows are the used images, in order).
    Map {
        job: u64,
        map: Arc<MapState>,
    },
    /// A grow job's result: the new map; `removed` are rows of the old map (sorted), the last
    /// `added` rows are new; `moved`: old images that changed grid cell.
    Grown {
        job: u64,
        map: Arc<MapState>,
        removed: Vec<usize>,
        added: usize,
        moved: usize,
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
    /// Image `index` of scene `scene`, reloaded after the GPU resources were rebuilt (an error
    /// says why it cannot be shown: it is drawn as a placeholder).
    Cell {
        scene: u64,
        index: usize,
        cell: Result<PreparedCell, String>,
    },
    /// A warning that belongs to no job (e.g. from saving).
    Warning {
        text: String,
    },
    /// A path to open was looked at: a folder (analyze it) or a file (load it).
    Opened {
        path: PathBuf,
        is_dir: bool,
    },
    /// The watched folder changed: complete new image files, and files that are gone.
    Watched {
        added: Vec<PathBuf>,
        removed: Vec<PathBuf>,
    },
    /// An autosave was written (or not: the error says why).
    Autosaved {
        path: PathBuf,
        result: Result<(), String>,
    },
    /// A capture folder was made (or not: the error says why).
    CaptureFolder {
        dir: PathBuf,
        result: Result<(), String>,
    },
    /// Selected files were copied into `dir` (what happened to each), or not at all.
    Copied {
        dir: PathBuf,
        result: Result<crate::selection::CopyReport, String>,
    },
    /// A metadata CSV was read (or not: the error says why).
    Metadata {
        path: PathBuf,
        result: Result<crate::metadata::Metadata, String>,
    },
    /// A scene's clusters were found (over the request's images, with their min size), or not.
    Clusters {
        scene: u64,
        result: Result<ClustersSnapshot, String>,
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
            | Msg::Map { job, .. }
            | Msg::Grown { job, .. }
            | Msg::Done { job }
            | Msg::Failed { job, .. } => Some(*job),
            Msg::Saved { .. }
            | Msg::DialogResult { .. }
            | Msg::Lightbox { .. }
            | Msg::Warning { .. }
            | Msg::Cell { .. }
            | Msg::Opened { .. }
            | Msg::Watched { .. }
            | Msg::Autosaved { .. }
            | Msg::CaptureFolder { .. }
            | Msg::Clusters { .. }
            | Msg::Copied { .. }
            | Msg::Metadata { .. } => None,
        }
    }
}
