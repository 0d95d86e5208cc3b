//! The jobs: analyze a folder, load a layout, re-run t-SNE on a scene — each on its own thread,
//! streaming what it finds to the UI and stopping promptly when cancelled.

use super::reporter::{read, ChannelReporter};
use super::Workers;
use crate::app::protocol::{
    atlas_plan, AnalysisSettings, GridCells, Msg, RetsneJob, SharedSettings, Source,
};
use crate::grid::GridAssignment;
use crate::map::{Frame, MapState};
use crate::pca::PcaBasis;
use crate::pipeline::{self, AnalysisHooks, AnalyzeOptions};
use crate::progress::{Reporter, Stage};
use anyhow::{anyhow, Result};
use ndarray::Array2;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// thread): [`pipeline::analyze_with`], each step streamed to the window.
    pub(super) fn analyze(
        &self,
        job: u64,
        dir: Option<&Path>,
        paths: Option<Vec<PathBuf>>,
        settings: SharedSettings,
        cancel: Arc<AtomicBool>,
    ) -> Result<()> {
        let opts = self.job_options(read(&settings));
        let rep = ChannelReporter::new(self, job, cancel.clone(), settings.clone(), true);
        let model = self.model()?;
        let hooks = AppHooks {
            workers: self,
            job,
            rep: &rep,
            settings: &settings,
        };
        let analysis = match paths {
            // a selection made into a new map: these images, wherever they are
            Some(paths) => {
                let dir = crate::input::watch::common_folder(&paths)
                    .unwrap_or_else(|| PathBuf::from("."));
                pipeline::analyze_listed(
                    &dir,
                    paths,
                    std::time::Duration::ZERO,
                    &opts,
                    &model,
                    &rep,
                    &hooks,
                )?
            }
            None => {
                let dir = match dir {
                    Some(d) => d.to_path_buf(),
                    None => crate::input::demo::demo_dir(&self.cache)
                        .map_err(|e| anyhow!("cannot unpack the demo set: {e}"))?,
                };
                pipeline::analyze_with(&dir, &opts, &model, &rep, &hooks)?
            }
        };
        let map = MapState::from_analysis(&analysis, self.options.preprocess, self.options.aspect);
        self.send(Msg::Map {
            job,
            map: Arc::new(map),
        });
        Ok(())
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
        let consequence = "not used (the map grows from the layout's points instead)";
        let map = MapState::beside(path, &loaded.entries, consequence, &rep).map(Arc::new);
        if let Some(map) = &map {
            self.send(Msg::Map {
                job,
                map: map.clone(),
            });
        }

        // Thumbnails stream in (cache first), in parallel.
        rep.begin(Stage::Thumbs, paths.len() as u64);
        let done = std::sync::atomic::AtomicUsize::new(0);
        paths.par_iter().enumerate().for_each(|(index, p)| {
            if rep.cancelled() {
                return;
            }
            match crate::cache::thumbnails::load_cell(p, &self.cache, &plan) {
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
            // the map's grid when it was made for this aspect (as it was shown: sorted, or grown),
            // else the default grid: sorted by the map's features when there is a map, the snap
            // alone when not
            let kept = map
                .as_ref()
                .filter(|m| (m.aspect - self.options.aspect).abs() < 1e-9)
                .and_then(|m| m.grid.as_ref())
                .filter(|g| g.cells.len() == loaded.entries.len());
            let (size, cells) = match kept {
                Some(g) => ([g.shape.cols as u32, g.shape.rows as u32], g.cells.clone()),
                None => {
                    let mut entries = loaded.entries;
                    let size = pipeline::ensure_grid(
                        &mut entries,
                        None,
                        map.as_deref().map(MapState::grid_features),
                        self.options.aspect,
                        self.options.grid,
                        &rep,
                    )?;
                    (
                        size,
                        entries.iter().map(|e| e.grid.unwrap_or([0, 0])).collect(),
                    )
                }
            };
            self.send(Msg::Grid {
                job,
                cols: size[0],
                rows: size[1],
                cells,
            });
        }
        Ok(())
    }

    /// Re-run t-SNE and the grid on a scene, extracting the features first when it has none.
    pub(super) fn retsne(&self, req: RetsneJob) -> Result<()> {
        let RetsneJob {
            job,
            features,
            paths,
            used,
            map,
            settings,
            cancel,
        } = req;
        let rep = ChannelReporter::new(self, job, cancel, settings.clone(), false);
        // what the new map keeps: the old map's basis, or the one fitted here
        let mut fitted: Option<(PcaBasis, String)> = map
            .as_ref()
            .map(|m| (m.basis.clone(), m.feature_key.clone()));
        let mut map_paths: Vec<PathBuf> = paths.clone();
        let reduced = match features {
            Some(f) => f.reduced,
            None => {
                // A loaded layout has no features yet: extract them (usually from the cache).
                let model = self.model()?;
                let f = pipeline::features_and_pca(&paths, &model, &self.options, &rep)?;
                // rows are positions in `paths`; `used` maps them to image indices
                let rows: Vec<usize> = f
                    .set
                    .indices
                    .iter()
                    .filter_map(|&i| used.get(i).copied())
                    .collect();
                let reduced = Arc::new(f.reduced);
                fitted = Some((f.basis, f.feature_key));
                map_paths = f.set.paths;
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
                let map = MapState {
                    known: vec![true; map_paths.len()],
                    paths: map_paths,
                    points: pipeline::normalize_raw(&raw),
                    frame: Frame::of(&raw),
                    embedding: raw,
                    reduced: (*reduced).clone(),
                    basis,
                    feature_key: key,
                    preprocess: self.options.preprocess,
                    aspect: self.options.aspect,
                    grid: Some(grid),
                };
                self.send(Msg::Map {
                    job,
                    map: Arc::new(map),
                });
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
            let grid = pipeline::lay_out_grid(
                &points,
                Some(pipeline::GridFeatures::all(reduced)),
                self.options.aspect,
                self.options.grid,
                rep,
            )?;
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

/// The app's side of the one analyze driver: the scanned list and its atlas plan, the reduced
/// features, images that could not be used, and t-SNE restarted while the sliders move.
struct AppHooks<'a> {
    workers: &'a Workers,
    job: u64,
    rep: &'a ChannelReporter<'a>,
    settings: &'a SharedSettings,
}

impl AnalysisHooks for AppHooks<'_> {
    fn scanned(&self, dir: &Path, paths: &[PathBuf]) -> Result<()> {
        let plan = atlas_plan(self.workers.capacity_for(paths.len()))?;
        self.rep.set_plan(plan);
        self.workers.send(Msg::Scanned {
            job: self.job,
            paths: paths.to_vec(),
            source: Source::Folder(dir.to_path_buf()),
            plan,
        });
        Ok(())
    }

    fn reduced(&self, reduced: &Array2<f32>, rows: &[usize], scanned: usize) {
        let mut skipped = vec![true; scanned];
        for &i in rows {
            skipped[i] = false;
        }
        for (index, _) in skipped.iter().enumerate().filter(|(_, s)| **s) {
            self.workers.send(Msg::Missing {
                job: self.job,
                index,
            });
        }
        self.workers.send(Msg::Features {
            job: self.job,
            features: Arc::new(reduced.clone()),
            rows: rows.to_vec(),
        });
    }

    fn embed_and_grid(
        &self,
        reduced: &Array2<f32>,
        _opts: &AnalyzeOptions,
        _rep: &dyn Reporter,
        timings: &mut Vec<(Stage, Duration)>,
    ) -> Result<(Vec<[f32; 2]>, GridAssignment)> {
        let t = Instant::now();
        let result = self
            .workers
            .embed_and_grid(self.job, reduced, self.rep, self.settings);
        timings.push((Stage::Tsne, t.elapsed()));
        result
    }
}
