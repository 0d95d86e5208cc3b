//! The jobs: analyze a folder, load a layout, re-run t-SNE on a scene — each on its own thread,
//! streaming what it finds to the UI and stopping promptly when cancelled.

use super::reporter::{read, ChannelReporter};
use super::{Msg, Workers};
use crate::app::state::{AnalysisSettings, GridCells, SharedSettings, Source};
use crate::grid::GridAssignment;
use crate::grow::{Frame, MapState};
use crate::pca::PcaBasis;
use crate::pipeline::{self, AnalyzeOptions};
use crate::progress::{Reporter, Stage};
use crate::render::{AtlasConfig, AtlasPlan};
use anyhow::{anyhow, Result};
use ndarray::Array2;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

impl Workers {
    /// The analysis options of a job: the workers' own, with the sliders' values.
    fn job_options(&self, s: AnalysisSettings) -> AnalyzeOptions {
        let mut opts = self.options.clone();
        opts.max_images = s.max_images.max(1);
        opts.tsne.perplexity = s.perplexity;
        opts.tsne.theta = s.theta;
        opts
    }

    /// Analyze `dir`, or the bundled demo set (unpacked into the cache here, off the render
    /// thread).
    pub(super) fn analyze(
        &self,
        job: u64,
        dir: Option<&Path>,
        settings: SharedSettings,
        cancel: Arc<AtomicBool>,
    ) -> Result<()> {
        let opts = self.job_options(read(&settings));
        let rep = ChannelReporter::new(self, job, cancel.clone(), settings.clone(), true);
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => crate::demo::demo_dir(&self.cache)
                .map_err(|e| anyhow!("cannot unpack the demo set: {e}"))?,
        };
        let paths = pipeline::scan_folder(&dir, &opts, &rep)?;
        let plan = atlas_plan(self.capacity_for(paths.len()))?;
        rep.set_plan(plan);
        self.send(Msg::Scanned {
            job,
            paths: paths.clone(),
            source: Source::Folder(dir.clone()),
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
        let basis = PcaBasis::from_scores(set.features.view(), reduced.view());
        self.send(Msg::Features {
            job,
            features: reduced.clone(),
            rows,
        });
        let (raw, grid) = self.embed_and_grid(job, &reduced, &rep, &settings)?;
        let key = pipeline::feature_key(&model, &opts.preprocess);
        self.send_map(job, set.paths, &reduced, raw, grid, basis, key);
        Ok(())
    }

    /// The growing map of a finished layout (the worker's preprocessing and grid aspect).
    #[allow(clippy::too_many_arguments)]
    fn send_map(
        &self,
        job: u64,
        paths: Vec<PathBuf>,
        reduced: &Array2<f32>,
        raw: Vec<[f32; 2]>,
        grid: GridAssignment,
        basis: PcaBasis,
        feature_key: String,
    ) {
        let frame = Frame::of(&raw);
        let map = MapState {
            known: vec![true; paths.len()],
            paths,
            points: pipeline::normalize_raw(&raw),
            embedding: raw,
            frame,
            reduced: reduced.clone(),
            basis,
            feature_key,
            preprocess: self.options.preprocess,
            aspect: self.options.aspect,
            grid: Some(grid),
        };
        self.send(Msg::Map {
            job,
            map: Arc::new(map),
        });
    }

    /// Open a layout JSON: points (and stored grid, t-SNE settings) first, then thumbnails
    /// streamed in, then the grid when the file has none.
    pub(super) fn load(&self, job: u64, path: &Path, cancel: Arc<AtomicBool>) -> Result<()> {
        let settings = Arc::new(Mutex::new(AnalysisSettings::default()));
        let rep = ChannelReporter::new(self, job, cancel, settings, false);
        let loaded = pipeline::open_layout(path, &rep)?;
        let paths: Vec<PathBuf> = loaded.entries.iter().map(|e| e.path.clone()).collect();
        let plan = atlas_plan(self.capacity_for(paths.len()))?;
        self.send(Msg::Scanned {
            job,
            paths: paths.clone(),
            source: Source::Json(path.to_path_buf()),
            plan,
        });
        let grid = loaded.grid_size.map(|[cols, rows]| GridCells {
            cols,
            rows,
            cells: loaded
                .entries
                .iter()
                .map(|e| e.grid.unwrap_or([0, 0]))
                .collect(),
        });
        self.send(Msg::Layout {
            job,
            entries: loaded.entries.clone(),
            grid,
            tsne: loaded.tsne.map(|t| [t.perplexity, t.theta]),
        });
        // Its growing map, when the sidecar beside it belongs to it.
        let sidecar = crate::grow::sidecar_path(path);
        if sidecar.exists() {
            match MapState::load(&sidecar, path, &loaded.entries) {
                Ok(map) => self.send(Msg::Map {
                    job,
                    map: Arc::new(map),
                }),
                Err(e) => rep.warn(&format!(
                    "{e}; not used (the map grows from the layout's points instead)"
                )),
            }
        }

        // Thumbnails stream in (cache first), in parallel.
        rep.begin(Stage::Thumbs, paths.len() as u64);
        let done = std::sync::atomic::AtomicUsize::new(0);
        paths.par_iter().enumerate().for_each(|(index, p)| {
            if rep.cancelled() {
                return;
            }
            match crate::cells::load_cell(p, &self.cache, &plan) {
                Ok(cell) => self.send(Msg::Thumb { job, index, cell }),
                Err(e) => {
                    // missing files were reported once, in total, by open_layout
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
        if loaded.grid_size.is_none() {
            let mut entries = loaded.entries;
            let size = pipeline::ensure_grid(
                &mut entries,
                None,
                self.options.aspect,
                self.options.solver,
                &rep,
            )?;
            self.send(Msg::Grid {
                job,
                cols: size[0],
                rows: size[1],
                cells: entries.iter().map(|e| e.grid.unwrap_or([0, 0])).collect(),
            });
        }
        Ok(())
    }

    /// Re-run t-SNE and the grid on a scene, extracting the features first when it has none.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn retsne(
        &self,
        job: u64,
        features: Option<(Arc<Array2<f32>>, Vec<usize>)>,
        paths: &[PathBuf],
        used: &[usize],
        map: Option<Arc<MapState>>,
        settings: SharedSettings,
        cancel: Arc<AtomicBool>,
    ) -> Result<()> {
        let rep = ChannelReporter::new(self, job, cancel, settings.clone(), false);
        // what the new map keeps: the old map's basis, or the one fitted here
        let mut fitted: Option<(PcaBasis, String)> = map
            .as_ref()
            .map(|m| (m.basis.clone(), m.feature_key.clone()));
        let mut map_paths: Vec<PathBuf> = paths.to_vec();
        let reduced = match features {
            Some((f, _)) => f,
            None => {
                // A loaded layout has no features yet: extract them (usually from the cache).
                let model = self.model()?;
                let prep = &self.options.preprocess;
                let set = pipeline::extract_features(paths, &model, prep, &self.cache, &rep)?;
                if set.paths.is_empty() {
                    return Err(anyhow!("none of the images could be used"));
                }
                // rows are positions in `paths`; `used` maps them to image indices
                let rows: Vec<usize> = set
                    .indices
                    .iter()
                    .filter_map(|&i| used.get(i).copied())
                    .collect();
                let reduced =
                    Arc::new(pipeline::reduce(&set.features, self.options.pca_dims, &rep));
                fitted = Some((
                    PcaBasis::from_scores(set.features.view(), reduced.view()),
                    pipeline::feature_key(&model, prep),
                ));
                map_paths = set.paths.clone();
                self.send(Msg::Features {
                    job,
                    features: reduced.clone(),
                    rows,
                });
                reduced
            }
        };
        let (raw, grid) = self.embed_and_grid(job, &reduced, &rep, &settings)?;
        if let Some((basis, key)) = fitted {
            if map_paths.len() == reduced.nrows() {
                self.send_map(job, map_paths, &reduced, raw, grid, basis, key);
            }
        }
        Ok(())
    }

    /// t-SNE (restarted whenever the shared perplexity/theta change while it runs), then grid;
    /// settings changed during the grid step start another round.
    fn embed_and_grid(
        &self,
        job: u64,
        reduced: &Array2<f32>,
        rep: &ChannelReporter,
        settings: &SharedSettings,
    ) -> Result<(Vec<[f32; 2]>, GridAssignment)> {
        loop {
            let s = read(settings);
            rep.set_running(Some(s));
            let params = self.job_options(s).tsne;
            let raw = match pipeline::embed_raw(reduced, &params, rep) {
                Ok(raw) => raw,
                Err(e) if pipeline::is_cancelled(&e) && !rep.cancel.load(Ordering::Relaxed) => {
                    continue
                }
                Err(e) => return Err(e),
            };
            rep.set_running(None);
            let points = pipeline::normalize_raw(&raw);
            self.send(Msg::TsneDone {
                job,
                points: points.clone(),
            });
            let grid =
                pipeline::snap_to_grid(&points, self.options.aspect, self.options.solver, rep)?;
            let now = read(settings);
            if now.perplexity != s.perplexity || now.theta != s.theta {
                continue;
            }
            self.send_grid(job, &grid);
            return Ok((raw, grid));
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
}

/// The atlas plan for `count` images. It uses the portable default device limits (every GPU
/// has at least those), so the plan made here fits the window's device.
pub fn atlas_plan(count: usize) -> Result<AtlasPlan> {
    AtlasPlan::new(count, &AtlasConfig::default(), &wgpu::Limits::default())
        .map_err(|e| anyhow!("{e}"))
}
