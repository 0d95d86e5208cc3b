//! Pipeline: the analysis from a folder to a layout — scan → thumbs/features (decode + CNN, in
//! parallel, cached) → PCA → t-SNE → grid — with progress, warnings and cancellation through a
//! [`Reporter`]. The CLI and the GUI both drive these functions; the GUI calls the stages one by
//! one so it can re-run t-SNE on the kept PCA output.

use crate::cache::{content_key, Cache};
use crate::features::FeatureModel;
use crate::grid::{self, GridAssignment, GridShape, Solver};
use crate::layout_io::{normalize_points, LayoutEntry};
use crate::progress::{Reporter, Stage, StageTimer};
use crate::scan;
use crate::thumbs::{self, Preprocess};
use crate::tsne::{self, TsneParams};
use anyhow::{bail, Context, Result};
use ndarray::Array2;
use rayon::prelude::*;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Everything `analyze` needs to know. Defaults are the original app's.
#[derive(Clone, Debug)]
pub struct AnalyzeOptions {
    /// Use at most this many images (a seeded random subset when there are more).
    pub max_images: usize,
    /// Seed for the subset and the t-SNE.
    pub seed: u64,
    pub include_hidden: bool,
    /// PCA output dimension (the t-SNE input).
    pub pca_dims: usize,
    pub tsne: TsneParams,
    pub preprocess: Preprocess,
    /// Width / height of the grid.
    pub aspect: f64,
    pub solver: Solver,
    /// An ONNX model instead of the bundled one.
    pub model: Option<PathBuf>,
    pub cache: Cache,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            max_images: 500,
            seed: 42,
            include_hidden: false,
            pca_dims: 50,
            tsne: TsneParams {
                perplexity: 50.0,
                theta: 0.3,
                iterations: 1000,
                seed: 42,
                ..TsneParams::default()
            },
            preprocess: Preprocess::default(),
            aspect: 1.0,
            solver: Solver::Auto,
            model: None,
            cache: Cache::default_location(),
        }
    }
}

/// Feature vectors of the images that could be used.
#[derive(Clone, Debug)]
pub struct FeatureSet {
    /// Images that were used, in order; row i of `features` belongs to `paths[i]`.
    pub paths: Vec<PathBuf>,
    /// For each row, its position in the list given to [`extract_features`] (the list may name
    /// a file twice, so positions, not paths, identify images).
    pub indices: Vec<usize>,
    pub features: Array2<f32>,
    /// Images that were skipped, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// How many came from the cache.
    pub from_cache: usize,
    /// Where the time went (summed over workers).
    pub time: FeatureTimes,
}

/// Per-part time of feature extraction, summed over all worker threads.
#[derive(Clone, Copy, Debug, Default)]
pub struct FeatureTimes {
    pub read: Duration,
    pub decode: Duration,
    pub inference: Duration,
    pub cache: Duration,
    pub wall: Duration,
}

/// The result of a full analysis.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub paths: Vec<PathBuf>,
    /// PCA output, kept so t-SNE can be re-run with other settings.
    pub reduced: Array2<f32>,
    /// t-SNE positions normalised into [0, 1]².
    pub points: Vec<[f32; 2]>,
    pub grid: GridAssignment,
    pub skipped: Vec<(PathBuf, String)>,
    /// Wall time per stage, in order.
    pub timings: Vec<(Stage, Duration)>,
    pub feature_times: FeatureTimes,
}

impl Analysis {
    /// Layout entries with t-SNE points and grid cells.
    pub fn entries(&self) -> Vec<LayoutEntry> {
        entries(&self.paths, &self.points, Some(&self.grid))
    }
}

/// Zip paths, points and (optionally) grid cells into layout entries.
pub fn entries(
    paths: &[PathBuf],
    points: &[[f32; 2]],
    grid: Option<&GridAssignment>,
) -> Vec<LayoutEntry> {
    paths
        .iter()
        .zip(points)
        .enumerate()
        .map(|(i, (path, point))| LayoutEntry {
            path: path.clone(),
            point: *point,
            grid: grid.and_then(|g| g.cells.get(i).copied()),
        })
        .collect()
}

/// Run the whole analysis on a folder.
pub fn analyze(dir: &Path, opts: &AnalyzeOptions, rep: &dyn Reporter) -> Result<Analysis> {
    let mut timings = Vec::new();
    let t = Instant::now();
    let paths = scan_folder(dir, opts, rep)?;
    timings.push((Stage::Scan, t.elapsed()));

    let model = FeatureModel::load(opts.model.as_deref())?;
    let t = Instant::now();
    let set = extract_features(&paths, &model, &opts.preprocess, &opts.cache, rep)?;
    timings.push((Stage::Features, t.elapsed()));
    if set.paths.is_empty() {
        bail!(
            "none of the {} images in {} could be used",
            paths.len(),
            dir.display()
        );
    }

    let t = Instant::now();
    let reduced = reduce(&set.features, opts.pca_dims, rep);
    timings.push((Stage::Pca, t.elapsed()));

    let t = Instant::now();
    let points = embed(&reduced, &opts.tsne, rep)?;
    timings.push((Stage::Tsne, t.elapsed()));

    let t = Instant::now();
    let grid = snap_to_grid(&points, opts.aspect, opts.solver, rep)?;
    timings.push((Stage::Grid, t.elapsed()));

    Ok(Analysis {
        paths: set.paths,
        reduced,
        points,
        grid,
        skipped: set.skipped,
        timings,
        feature_times: set.time,
    })
}

/// Scan a folder and take the seeded random subset.
pub fn scan_folder(dir: &Path, opts: &AnalyzeOptions, rep: &dyn Reporter) -> Result<Vec<PathBuf>> {
    let timer = StageTimer::start(rep, Stage::Scan, 0);
    let found = scan::scan(dir, opts.include_hidden)
        .with_context(|| format!("cannot scan {}", dir.display()))?;
    for (path, why) in &found.problems {
        rep.warn(&format!("{}: {why}", path.display()));
    }
    let total = found.images.len();
    let paths = scan::random_subset(found.images, opts.max_images, opts.seed);
    let summary = if paths.len() < total {
        format!(
            "{total} images found in {}, using a random {} (seed {})",
            dir.display(),
            paths.len(),
            opts.seed
        )
    } else {
        format!("{total} images found in {}", dir.display())
    };
    timer.finish(&summary);
    if paths.is_empty() {
        bail!(
            "no images found in {} (looked for {})",
            dir.display(),
            scan::IMAGE_EXTENSIONS.join(", ")
        );
    }
    Ok(paths)
}

enum Outcome {
    Used(Vec<f32>, bool),
    Skipped(String),
}

/// Decode every image and run the CNN, in parallel on the current rayon pool; cached results are
/// reused and new ones stored. Unusable images are skipped with a warning naming the file.
pub fn extract_features(
    paths: &[PathBuf],
    model: &FeatureModel,
    prep: &Preprocess,
    cache: &Cache,
    rep: &dyn Reporter,
) -> Result<FeatureSet> {
    let prep = Preprocess {
        input_size: model.input_size(),
        ..*prep
    };
    let model_key = format!("{}-{}", &model.hash()[..16], prep.cache_tag());
    let timer = StageTimer::start(rep, Stage::Features, paths.len() as u64);
    let done = AtomicUsize::new(0);
    let (read_ns, decode_ns, infer_ns, cache_ns) = (
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
    );
    let add = |acc: &AtomicU64, since: Instant| {
        acc.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed)
    };
    let wants_thumbs = rep.wants_thumbnails();

    let outcomes: Vec<Option<Outcome>> = paths
        .par_iter()
        .enumerate()
        .map(|(index, path)| {
            if rep.cancelled() {
                return None;
            }
            let t = Instant::now();
            let bytes = match std::fs::read(path) {
                Ok(b) => b,
                Err(e) => return Some(Outcome::Skipped(format!("cannot read the file: {e}"))),
            };
            add(&read_ns, t);
            let t = Instant::now();
            let key = content_key(&bytes);
            let cached = cache.load_features(&model_key, &key);
            let cached_thumb = match (&cached, wants_thumbs) {
                (Some(_), true) => cache.load_thumb(prep.thumb_size, &key),
                _ => None,
            };
            add(&cache_ns, t);
            let outcome = match (cached, cached_thumb) {
                (Some(f), Some(thumb)) => {
                    rep.image_ready(index, path, &thumb);
                    Outcome::Used(f, true)
                }
                (Some(f), None) if !wants_thumbs => Outcome::Used(f, true),
                (cached, _) => {
                    let t = Instant::now();
                    match thumbs::prepare_bytes(&bytes, &prep) {
                        Err(e) => Outcome::Skipped(e.to_string()),
                        Ok(prepared) => {
                            add(&decode_ns, t);
                            if wants_thumbs {
                                rep.image_ready(index, path, &prepared.thumb);
                            }
                            let t = Instant::now();
                            let _ = cache.store_thumb(prep.thumb_size, &key, &prepared.thumb);
                            add(&cache_ns, t);
                            match cached {
                                Some(f) => Outcome::Used(f, true),
                                None => {
                                    let t = Instant::now();
                                    let result = model.features(&prepared.cnn_input);
                                    add(&infer_ns, t);
                                    match result {
                                        Ok(f) => {
                                            let t = Instant::now();
                                            if let Err(e) =
                                                cache.store_features(&model_key, &key, &f)
                                            {
                                                log::debug!("cannot write the feature cache: {e}");
                                            }
                                            add(&cache_ns, t);
                                            Outcome::Used(f, false)
                                        }
                                        Err(e) => {
                                            Outcome::Skipped(format!("the CNN failed on it: {e}"))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            };
            if let Outcome::Skipped(why) = &outcome {
                rep.warn(&format!("skipped {}: {why}", path.display()));
            }
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            rep.advance(Stage::Features, n as u64);
            Some(outcome)
        })
        .collect();
    if rep.cancelled() {
        bail!(Cancelled);
    }

    let dim = model.feature_len();
    let mut used = Vec::new();
    let mut indices = Vec::new();
    let mut skipped = Vec::new();
    let mut data = Vec::with_capacity(paths.len() * dim);
    let mut from_cache = 0;
    for (i, (path, outcome)) in paths.iter().zip(outcomes).enumerate() {
        match outcome {
            Some(Outcome::Used(f, hit)) if f.len() == dim && f.iter().all(|v| v.is_finite()) => {
                data.extend_from_slice(&f);
                used.push(path.clone());
                indices.push(i);
                from_cache += hit as usize;
            }
            Some(Outcome::Used(..)) => {
                rep.warn(&format!(
                    "skipped {}: the CNN gave an invalid feature vector",
                    path.display()
                ));
                skipped.push((path.clone(), "invalid feature vector".into()));
            }
            Some(Outcome::Skipped(why)) => skipped.push((path.clone(), why)),
            None => skipped.push((path.clone(), "cancelled".into())),
        }
    }
    let features = Array2::from_shape_vec((used.len(), dim), data)?;
    let ns = |a: &AtomicU64| Duration::from_nanos(a.load(Ordering::Relaxed));
    let time = FeatureTimes {
        read: ns(&read_ns),
        decode: ns(&decode_ns),
        inference: ns(&infer_ns),
        cache: ns(&cache_ns),
        wall: timer.elapsed(),
    };
    let computed = used.len() - from_cache;
    let per_image = if computed > 0 {
        format!(
            ", CNN {:.1} ms/image/thread",
            time.inference.as_secs_f64() * 1000.0 / computed as f64
        )
    } else {
        String::new()
    };
    timer.finish(&format!(
        "{} images used ({} from cache), {} skipped, {dim}-d {}{per_image}",
        used.len(),
        from_cache,
        skipped.len(),
        model.name()
    ));
    Ok(FeatureSet {
        paths: used,
        indices,
        features,
        skipped,
        from_cache,
        time,
    })
}

/// PCA to at most `dims` dimensions.
pub fn reduce(features: &Array2<f32>, dims: usize, rep: &dyn Reporter) -> Array2<f32> {
    let timer = StageTimer::start(rep, Stage::Pca, 0);
    let p = crate::pca::pca(features.view(), dims);
    timer.finish(&format!(
        "{} → {} dimensions, {:.0} % of the variance",
        features.ncols(),
        p.scores.ncols(),
        p.explained * 100.0
    ));
    p.scores
}

/// Run t-SNE and normalise the result into [0, 1]² (same scale on both axes).
pub fn embed(
    reduced: &Array2<f32>,
    params: &TsneParams,
    rep: &dyn Reporter,
) -> Result<Vec<[f32; 2]>> {
    let timer = StageTimer::start(rep, Stage::Tsne, params.iterations as u64);
    let every = rep.tsne_frame_every();
    let mut last_kl = None;
    let mut on_progress = |p: &tsne::Progress| {
        if let tsne::Phase::Optimize = p.phase {
            rep.advance(Stage::Tsne, p.iteration as u64 + 1);
            if p.kl.is_some() {
                last_kl = p.kl;
            }
            if every > 0 && (p.iteration.is_multiple_of(every) || p.iteration + 1 == p.iterations) {
                rep.tsne_frame(p.iteration, p.iterations, p.embedding, p.kl);
            }
        }
        if rep.cancelled() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let raw = match tsne::tsne(reduced.view(), params, &mut on_progress) {
        Ok(raw) => raw,
        Err(tsne::TsneError::Cancelled) => bail!(Cancelled),
        Err(e) => return Err(e.into()),
    };
    let points = normalize_points(
        &raw.iter()
            .map(|p| [p[0] as f64, p[1] as f64])
            .collect::<Vec<_>>(),
    );
    let kl = last_kl
        .map(|kl| format!(", KL ≈ {kl:.3}"))
        .unwrap_or_default();
    timer.finish(&format!(
        "{} points, perplexity {}, theta {}, {} iterations{kl}",
        points.len(),
        params.perplexity,
        params.theta,
        params.iterations
    ));
    Ok(points)
}

/// Assign every point its own grid cell (rows × cols chosen for the count and the aspect).
pub fn snap_to_grid(
    points: &[[f32; 2]],
    aspect: f64,
    solver: Solver,
    rep: &dyn Reporter,
) -> Result<GridAssignment> {
    let timer = StageTimer::start(rep, Stage::Grid, 0);
    let shape = GridShape::for_count(points.len(), aspect);
    let pts: Vec<[f64; 2]> = points.iter().map(|p| [p[0] as f64, p[1] as f64]).collect();
    let result = match grid::assign(&pts, shape, solver, Some(rep.cancel_flag())) {
        Ok(g) => g,
        Err(grid::GridError::Cancelled) => bail!(Cancelled),
        Err(e) => return Err(e.into()),
    };
    timer.finish(&format!(
        "{} × {} cells for {} images, cost {:.4}{}",
        result.shape.cols,
        result.shape.rows,
        points.len(),
        result.cost,
        if result.optimal {
            " (proven optimal)"
        } else {
            ""
        }
    ));
    Ok(result)
}

/// The run was cancelled by the user.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// Whether an error is (or wraps) a cancellation.
pub fn is_cancelled(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Cancelled>().is_some()
}
