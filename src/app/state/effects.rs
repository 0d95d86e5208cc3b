//! Effects: work for the glue (GPU, threads, window) that the state cannot do itself.

use super::AppState;
use crate::app::protocol::{DialogKind, JobRequest};
use crate::layout_io::{LayoutEntry, TsneSettings};
use crate::render::{AtlasPlan, PreparedCell};
use std::path::PathBuf;

/// Work for the glue (GPU, threads, window) that the state cannot do itself.
#[derive(Debug)]
pub enum Effect {
    /// Make GPU resources (atlas, buffers) for a scene, with this atlas plan.
    CreateScene {
        scene: u64,
        plan: AtlasPlan,
    },
    DropScene {
        scene: u64,
    },
    /// A thumbnail, already letterboxed and mipmapped for the scene's atlas (on a worker).
    Thumb {
        scene: u64,
        index: usize,
        cell: PreparedCell,
    },
    Placeholder {
        scene: u64,
        index: usize,
    },
    /// Show or hide image `index` (skipped images are hidden).
    Visibility {
        scene: u64,
        index: usize,
        visible: bool,
    },
    /// Draw one image at this opacity (a removed image fading out).
    Opacity {
        scene: u64,
        index: usize,
        opacity: f32,
    },
    /// Re-upload the scene's t-SNE positions (`Scene::points`).
    Positions {
        scene: u64,
    },
    /// Re-upload the scene's grid cells.
    Grid {
        scene: u64,
    },
    StartJob(JobRequest),
    /// Look at a path off the render thread (folder or file?) and answer with `Msg::Opened`.
    Open(PathBuf),
    Dialog(DialogKind),
    /// Whole-layout screenshot of the shown scene.
    Screenshot {
        path: PathBuf,
    },
    /// Capture the window's next frame into `path` (the glue checks its folder first, see
    /// [`super::capture`]).
    CaptureFrame {
        path: PathBuf,
    },
    /// Make a capture folder on a worker (answered by `Msg::CaptureFolder`).
    MakeCaptureFolder {
        dir: PathBuf,
    },
    /// Write these entries as ml4a JSON (atomically, off the render thread), and the map beside
    /// it when there is one (`LAYOUT.json.map`: the features that sort its grid when it is
    /// opened again, and let it grow).
    SaveJson {
        path: PathBuf,
        entries: Vec<LayoutEntry>,
        /// The t-SNE settings that made the points, when known (stored in the file).
        tsne: Option<TsneSettings>,
        map: Option<std::sync::Arc<crate::map::MapState>>,
    },
    LoadLightbox {
        index: usize,
        path: PathBuf,
    },
    SetFullscreen(bool),
    /// Load these images' atlas cells (thumbnail cache first) on a worker.
    LoadCells {
        scene: u64,
        cells: Vec<(usize, PathBuf)>,
    },
    /// Watch a folder on a thread until `stop` is set.
    StartWatch {
        dir: PathBuf,
        known: Vec<PathBuf>,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    },
    /// Write the `--autosave` layout and its map file (on the autosave thread).
    Autosave(crate::app::protocol::AutosaveRequest),
    /// Draw scene `scene`'s selection rings and filter dimming anew ([`AppState::marks`]).
    Marks {
        scene: u64,
    },
    /// Write these paths (a selection) as CSV or JSON, atomically, on a thread.
    ExportPaths {
        file: PathBuf,
        paths: Vec<PathBuf>,
    },
    /// Copy these files into `dir` on a thread, never overwriting (answered by `Msg::Copied`).
    CopyFiles {
        dir: PathBuf,
        paths: Vec<PathBuf>,
    },
    /// Read a metadata CSV on a thread (answered by `Msg::Metadata`).
    ReadMetadata(PathBuf),
    /// Find a scene's clusters on a worker (answered by `Msg::Clusters`).
    FindClusters(crate::app::protocol::ClusterRequest),
    /// Write the clusters beside `layout` (`LAYOUT.json.clusters.json`, atomically, on a thread).
    SaveClusters {
        layout: PathBuf,
        snapshot: crate::app::protocol::ClustersSnapshot,
    },
    Quit,
}

impl AppState {
    /// Take the queued effects.
    pub fn drain_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }
}
