//! Messages: the jobs the UI asks for ([`JobRequest`]), the dialogs it can open
//! ([`DialogKind`]) and what background threads tell it ([`Msg`]).

use crate::app::state::{GridCells, SharedSettings, Source};
use crate::grow::MapState;
use crate::layout_io::LayoutEntry;
use crate::progress::Stage;
use crate::render::{AtlasPlan, PreparedCell};
use image::RgbaImage;
use ndarray::Array2;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

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
    /// Analyze a folder; `dir: None` is the bundled demo set (unpacked by the job).
    Analyze {
        job: u64,
        dir: Option<PathBuf>,
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
        /// The scene's growing map, whose PCA basis the new map keeps.
        map: Option<Arc<MapState>>,
        settings: SharedSettings,
        cancel: Arc<AtomicBool>,
    },
    /// Grow a map: remove rows `remove` of it, then add the images `add` (those not on it
    /// already). Without a map (a layout made elsewhere) it is made from `layout` first.
    Grow {
        job: u64,
        map: Option<Arc<MapState>>,
        layout: Vec<LayoutEntry>,
        grid_size: Option<[u32; 2]>,
        add: Vec<PathBuf>,
        remove: Vec<usize>,
        cancel: Arc<AtomicBool>,
    },
}

impl JobRequest {
    /// The job's id.
    pub fn job(&self) -> u64 {
        match self {
            JobRequest::Analyze { job, .. }
            | JobRequest::Load { job, .. }
            | JobRequest::Retsne { job, .. }
            | JobRequest::Grow { job, .. } => *job,
        }
    }
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
            | Msg::CaptureFolder { .. } => None,
        }
    }
}
