//! Saving: layout JSON and PNG files are written on their own threads (atomically); the app
//! waits for them before it exits, so nothing the user saved is lost.

use super::{Msg, Workers};
use crate::layout_io::{self, LayoutEntry, TsneSettings};
use crate::map::{sidecar_path, MapState};
use image::RgbaImage;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Workers {
    /// Write a layout JSON on a thread, with the t-SNE settings that made it when known, then
    /// its map beside it (`LAYOUT.json.map`) when given — in that order, like the autosave: a
    /// cut between the two leaves a map file that no longer matches, which loading detects.
    /// Paths that JSON cannot hold exactly are reported as a warning.
    pub fn save_json(
        self: &Arc<Self>,
        path: PathBuf,
        entries: Vec<LayoutEntry>,
        tsne: Option<TsneSettings>,
        map: Option<Arc<MapState>>,
    ) {
        if let Some(w) = layout_io::non_utf8_warning(&entries) {
            self.send(Msg::Warning {
                text: format!("{}: {w}", path.display()),
            });
        }
        self.save(path, move |p| {
            layout_io::write_layout(p, &entries, tsne).map_err(|e| e.to_string())?;
            match &map {
                Some(m) => m.save(&sidecar_path(p)).map_err(|e| format!("{e:#}")),
                None => Ok(()),
            }
        });
    }

    /// Write a map's clusters beside `layout` on a thread.
    pub fn save_clusters(
        self: &Arc<Self>,
        layout: PathBuf,
        snapshot: crate::app::protocol::ClustersSnapshot,
    ) {
        let file = crate::clusters::sidecar::sidecar_path(&layout);
        self.save(file, move |_| {
            snapshot.save_beside(&layout).map_err(|e| format!("{e:#}"))
        });
    }

    /// Write a selection's paths (CSV, or JSON for a `.json` file) on a thread.
    pub fn export_paths(self: &Arc<Self>, file: PathBuf, paths: Vec<PathBuf>) {
        self.save(file, move |p| {
            crate::selection::export_paths(p, &paths).map_err(|e| format!("{e:#}"))
        });
    }

    /// Copy files into a folder on a thread (never overwriting); answers with `Msg::Copied`.
    pub fn copy_files(self: &Arc<Self>, dir: PathBuf, paths: Vec<PathBuf>) {
        self.write_on_thread(
            dir,
            move |d| {
                crate::selection::copy_files(&paths, d, &|| false).map_err(|e| format!("{e:#}"))
            },
            |dir, result| Msg::Copied { dir, result },
        );
    }

    /// Read a metadata CSV on a thread; answers with `Msg::Metadata`.
    pub fn read_metadata(self: &Arc<Self>, path: PathBuf) {
        let this = self.clone();
        let fallback = path.clone();
        let spawned = self.spawn("itl-metadata", move || {
            let result = crate::metadata::Metadata::read(&path).map_err(|e| format!("{e:#}"));
            this.send(Msg::Metadata { path, result });
        });
        if let Err(e) = spawned {
            self.send(Msg::Metadata {
                path: fallback,
                result: Err(format!("cannot start a thread to read it: {e}")),
            });
        }
    }

    /// Encode and write a PNG on a thread.
    pub fn save_png(self: &Arc<Self>, path: PathBuf, image: RgbaImage) {
        self.save(path, move |p| {
            crate::util::atomic::write_png(p, &image).map_err(|e| format!("{e:#}"))
        });
    }

    fn save(
        self: &Arc<Self>,
        path: PathBuf,
        write: impl FnOnce(&Path) -> Result<(), String> + Send + 'static,
    ) {
        self.write_on_thread(path, write, |path, result| Msg::Saved { path, result });
    }

    /// Write to `path` on a thread the app waits for before it exits, and answer with
    /// `reply(path, result)` (also when no thread can be started, or the writer panics).
    fn write_on_thread<T: Send + 'static>(
        self: &Arc<Self>,
        path: PathBuf,
        write: impl FnOnce(&Path) -> Result<T, String> + Send + 'static,
        reply: impl FnOnce(PathBuf, Result<T, String>) -> Msg + Send + Clone + 'static,
    ) {
        let this = self.clone();
        self.saving.fetch_add(1, Ordering::SeqCst);
        let target = path.clone();
        let answer = reply.clone();
        let spawned = self.spawn("itl-save", move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write(&path)))
                .unwrap_or_else(|_| Err("internal error while writing".into()));
            this.saving.fetch_sub(1, Ordering::SeqCst);
            this.send(answer(path, result));
        });
        if let Err(e) = spawned {
            self.saving.fetch_sub(1, Ordering::SeqCst);
            log::error!("cannot start a thread to write {}: {e}", target.display());
            self.send(reply(
                target,
                Err(format!("cannot start a thread to write it: {e}")),
            ));
        }
    }

    /// Make a frame-capture folder (and its parents) on a thread, never on the render thread;
    /// answers with `Msg::CaptureFolder`.
    pub fn make_capture_folder(self: &Arc<Self>, dir: PathBuf) {
        let this = self.clone();
        let target = dir.clone();
        let spawned = self.spawn("itl-capture-dir", move || {
            let result = std::fs::create_dir_all(&dir)
                .and_then(|_| {
                    if dir.is_dir() {
                        Ok(())
                    } else {
                        Err(std::io::Error::other("not a folder"))
                    }
                })
                .map_err(|e| e.to_string());
            this.send(Msg::CaptureFolder { dir, result });
        });
        if let Err(e) = spawned {
            self.send(Msg::CaptureFolder {
                dir: target,
                result: Err(format!("cannot start a thread to make it: {e}")),
            });
        }
    }

    /// Files being written right now.
    pub fn saves_in_flight(&self) -> usize {
        self.saving.load(Ordering::SeqCst)
    }

    /// Wait (at most `timeout`) until no file is being written; false on timeout.
    pub fn wait_for_saves(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        while self.saves_in_flight() > 0 {
            if start.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}
