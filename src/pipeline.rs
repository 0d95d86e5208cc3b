//! Pipeline: the analysis from a folder to a layout — scan → thumbs/features (decode + CNN, in
//! parallel, cached) → PCA → t-SNE → grid — with progress, warnings and cancellation through a
//! [`Reporter`]. The CLI and the GUI both drive these functions; the GUI calls the stages one by
//! one so it can re-run t-SNE on the kept PCA output.

use crate::cache::{content_key, Cache};
use crate::features::FeatureModel;
use crate::grid::{self, GridAssignment, GridShape, Solver};
use crate::layout_io::{self, normalize_points, LayoutEntry, LoadedLayout};
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
    /// Decoding (a big JPEG DCT-scaled), EXIF orientation included.
    pub decode: Duration,
    /// Cutting and resizing the CNN input.
    pub resize: Duration,
    /// Making the display thumbnail.
    pub thumbnail: Duration,
    pub inference: Duration,
    pub cache: Duration,
    pub wall: Duration,
}

impl FeatureTimes {
    /// Each part's name and time summed over the worker threads, in pipeline order (the
    /// benchmarks' tables).
    pub fn parts(&self) -> [(&'static str, Duration); 6] {
        [
            ("read file", self.read),
            ("decode", self.decode),
            ("CNN input (crop + resize)", self.resize),
            ("thumbnail", self.thumbnail),
            ("CNN (tract)", self.inference),
            ("hash + cache", self.cache),
        ]
    }
}

/// The result of a full analysis.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub paths: Vec<PathBuf>,
    /// PCA output, kept so t-SNE can be re-run with other settings.
    pub reduced: Array2<f32>,
    /// t-SNE positions normalised into [0, 1]².
    pub points: Vec<[f32; 2]>,
    /// The same positions as the t-SNE left them (what a growing map places new images against).
    pub raw_points: Vec<[f32; 2]>,
    /// The fitted PCA (mean and components), so new images can be projected like these.
    pub pca_basis: crate::pca::PcaBasis,
    /// Which model and preprocessing made the features (see [`feature_key`]).
    pub feature_key: String,
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
    let pca_basis = crate::pca::PcaBasis::from_scores(set.features.view(), reduced.view());
    timings.push((Stage::Pca, t.elapsed()));

    let t = Instant::now();
    let raw_points = embed_raw(&reduced, &opts.tsne, rep)?;
    let points = normalize_raw(&raw_points);
    timings.push((Stage::Tsne, t.elapsed()));

    let t = Instant::now();
    let grid = snap_to_grid(&points, opts.aspect, opts.solver, rep)?;
    timings.push((Stage::Grid, t.elapsed()));

    Ok(Analysis {
        paths: set.paths,
        reduced,
        points,
        raw_points,
        pca_basis,
        feature_key: feature_key(&model, &opts.preprocess),
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

/// The key of the feature vectors a model makes with these preprocessing settings (the cache's
/// folder name; a grown map refuses features made with another key).
pub fn feature_key(model: &FeatureModel, prep: &Preprocess) -> String {
    let prep = Preprocess {
        input_size: model.input_size(),
        ..*prep
    };
    format!("{}-{}", &model.hash()[..16], prep.cache_tag())
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
    let model_key = feature_key(model, prep);
    let prep = Preprocess {
        input_size: model.input_size(),
        ..*prep
    };
    let timer = StageTimer::start(rep, Stage::Features, paths.len() as u64);
    let done = AtomicUsize::new(0);
    let [read_ns, decode_ns, resize_ns, thumb_ns, infer_ns, cache_ns] =
        std::array::from_fn(|_| AtomicU64::new(0));
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
            // the header is checked (size, pixel count) before the file is read whole
            let bytes = match thumbs::read_image_file(path) {
                Ok(b) => b,
                Err(e) => {
                    rep.warn(&format!("skipped {}: {e}", path.display()));
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    rep.advance(Stage::Features, n as u64);
                    return Some(Outcome::Skipped(e.to_string()));
                }
            };
            add(&read_ns, t);
            let t = Instant::now();
            // the content hash only names cache entries: without a cache it is not needed
            let key = match cache.root() {
                Some(_) => content_key(&bytes),
                None => String::new(),
            };
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
                    // a thumbnail is made only for someone: the cache or the reporter (the app)
                    let thumb_size =
                        (wants_thumbs || cache.root().is_some()).then_some(prep.thumb_size);
                    match prepare_timed(
                        &bytes,
                        &prep,
                        thumb_size,
                        [&decode_ns, &resize_ns, &thumb_ns],
                    ) {
                        Err(e) => Outcome::Skipped(e.to_string()),
                        Ok(prepared) => {
                            if wants_thumbs {
                                rep.image_ready(index, path, &prepared.thumb);
                            }
                            if thumb_size.is_some() {
                                let t = Instant::now();
                                let _ = cache.store_thumb(prep.thumb_size, &key, &prepared.thumb);
                                add(&cache_ns, t);
                            }
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
        resize: ns(&resize_ns),
        thumbnail: ns(&thumb_ns),
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

/// [`thumbs::prepare_bytes`] with each step's time added to its counter (decode, CNN input,
/// thumbnail): one decode, covering both products, feeds both. `thumb_size: None` skips the
/// thumbnail (an empty one is returned): `analyze --no-cache` has no use for it.
fn prepare_timed(
    bytes: &[u8],
    prep: &Preprocess,
    thumb_size: Option<u32>,
    [decode_ns, resize_ns, thumb_ns]: [&AtomicU64; 3],
) -> Result<thumbs::Prepared, thumbs::DecodeError> {
    let add = |acc: &AtomicU64, since: Instant| {
        acc.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed)
    };
    let t = Instant::now();
    let img = thumbs::decode_covering(bytes, prep.cover())?;
    add(decode_ns, t);
    let t = Instant::now();
    let cnn_input = thumbs::cnn_input(&img, prep);
    add(resize_ns, t);
    let t = Instant::now();
    let thumb = match thumb_size {
        Some(size) => thumbs::thumbnail(&img, size),
        None => image::RgbaImage::new(0, 0),
    };
    add(thumb_ns, t);
    Ok(thumbs::Prepared {
        cnn_input,
        thumb,
        width: img.width(),
        height: img.height(),
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
    Ok(normalize_raw(&embed_raw(reduced, params, rep)?))
}

/// [`normalize_points`] of a raw t-SNE result.
pub fn normalize_raw(raw: &[[f32; 2]]) -> Vec<[f32; 2]> {
    normalize_points(
        &raw.iter()
            .map(|p| [p[0] as f64, p[1] as f64])
            .collect::<Vec<_>>(),
    )
}

/// Run t-SNE; the positions as it left them (unnormalised).
pub fn embed_raw(
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
    let kl = last_kl
        .map(|kl| format!(", KL ≈ {kl:.3}"))
        .unwrap_or_default();
    timer.finish(&format!(
        "{} points, perplexity {}, theta {}, {} iterations{kl}",
        raw.len(),
        params.perplexity,
        params.theta,
        params.iterations
    ));
    Ok(raw)
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

/// Read a layout JSON for use: its reading notes and missing files become warnings (the
/// missing ones named up to a few, then counted), and a layout with no usable entry is an error.
/// Every front end (the `grid` and `render` commands, the app) opens layouts here.
pub fn open_layout(path: &Path, rep: &dyn Reporter) -> Result<LoadedLayout> {
    let loaded = layout_io::read_layout(path)?;
    for w in &loaded.warnings {
        rep.warn(&format!("{}: {w}", path.display()));
    }
    if !loaded.missing.is_empty() {
        let named: Vec<String> = loaded
            .missing
            .iter()
            .take(3)
            .map(|p| p.display().to_string())
            .collect();
        rep.warn(&format!(
            "{}: {} of {} image files are missing (kept, drawn as placeholders): {}{}",
            path.display(),
            loaded.missing.len(),
            loaded.entries.len(),
            named.join(", "),
            if loaded.missing.len() > named.len() {
                ", …"
            } else {
                ""
            }
        ));
    }
    if loaded.entries.is_empty() {
        bail!("{} has no usable entries", path.display());
    }
    Ok(loaded)
}

/// Make sure every entry has a grid cell: the stored grid when the layout has a complete one
/// (`grid_size`), else a new assignment of the t-SNE points. Returns `[cols, rows]`.
pub fn ensure_grid(
    entries: &mut [LayoutEntry],
    grid_size: Option<[u32; 2]>,
    aspect: f64,
    solver: Solver,
    rep: &dyn Reporter,
) -> Result<[u32; 2]> {
    if let Some(size) = grid_size {
        if entries.iter().all(|e| e.grid.is_some()) {
            return Ok(size);
        }
    }
    let points: Vec<[f32; 2]> = entries.iter().map(|e| e.point).collect();
    let grid = snap_to_grid(&points, aspect, solver, rep)?;
    for (e, c) in entries.iter_mut().zip(&grid.cells) {
        e.grid = Some(*c);
    }
    Ok([grid.shape.cols as u32, grid.shape.rows as u32])
}

/// The run was cancelled by the user.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// Whether an error is (or wraps) a cancellation.
pub fn is_cancelled(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Cancelled>().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::SilentReporter;

    /// A folder of small solid-colour images in two colour families, plus a broken file.
    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..6u8 {
            let reddish =
                image::RgbImage::from_pixel(32, 32, image::Rgb([200 + i * 5, 20 * i, 10]));
            reddish
                .save(dir.path().join(format!("red{i}.png")))
                .unwrap();
            let bluish = image::RgbImage::from_pixel(32, 32, image::Rgb([10, 20 * i, 200 + i * 5]));
            bluish
                .save(dir.path().join(format!("blue{i}.png")))
                .unwrap();
        }
        std::fs::write(dir.path().join("broken.png"), b"\x89PNG but not really").unwrap();
        dir
    }

    #[test]
    fn analyze_a_small_folder_end_to_end() {
        let dir = folder();
        let rep = SilentReporter::default();
        let opts = AnalyzeOptions {
            cache: Cache::disabled(),
            ..AnalyzeOptions::default()
        };
        let a = analyze(dir.path(), &opts, &rep).unwrap();
        assert_eq!(a.paths.len(), 12);
        assert_eq!(a.skipped.len(), 1);
        assert!(a.skipped[0].0.ends_with("broken.png"));
        assert!(rep.warnings().iter().any(|w| w.contains("broken.png")));
        assert_eq!(a.points.len(), 12);
        assert!(a.points.iter().flatten().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(a.grid.cells.len(), 12);
        let stages: Vec<Stage> = a.timings.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            stages,
            [
                Stage::Scan,
                Stage::Features,
                Stage::Pca,
                Stage::Tsne,
                Stage::Grid
            ]
        );
        // reds sit with reds: each image's nearest neighbour is of its own colour family
        let red = |i: usize| {
            a.paths[i]
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("red")
        };
        for i in 0..12 {
            let nearest = (0..12)
                .filter(|&j| j != i)
                .min_by(|&j, &k| {
                    let d = |m: usize| {
                        (a.points[i][0] - a.points[m][0]).powi(2)
                            + (a.points[i][1] - a.points[m][1]).powi(2)
                    };
                    d(j).total_cmp(&d(k))
                })
                .unwrap();
            assert_eq!(red(i), red(nearest), "image {i}");
        }
        let entries = a.entries();
        assert_eq!(entries.len(), 12);
        assert!(entries.iter().all(|e| e.grid.is_some()));
    }

    #[test]
    fn a_cancelled_analysis_stops_with_cancelled() {
        let dir = folder();
        let rep = SilentReporter::default();
        rep.cancel();
        let opts = AnalyzeOptions {
            cache: Cache::disabled(),
            ..AnalyzeOptions::default()
        };
        let err = analyze(dir.path(), &opts, &rep).unwrap_err();
        assert!(is_cancelled(&err), "{err:#}");
    }

    #[test]
    fn the_cache_is_used_the_second_time() {
        let dir = folder();
        let cache_dir = tempfile::tempdir().unwrap();
        let rep = SilentReporter::default();
        let model = FeatureModel::bundled().unwrap();
        let cache = Cache::at(cache_dir.path());
        let paths = scan_folder(dir.path(), &AnalyzeOptions::default(), &rep).unwrap();
        let first = extract_features(&paths, &model, &Preprocess::default(), &cache, &rep).unwrap();
        assert_eq!(first.from_cache, 0);
        let second =
            extract_features(&paths, &model, &Preprocess::default(), &cache, &rep).unwrap();
        assert_eq!(second.from_cache, 12);
        assert_eq!(first.features, second.features);
        // other preprocessing, other cache entries
        let grey = Preprocess {
            background: [128, 128, 128],
            ..Preprocess::default()
        };
        assert_eq!(
            extract_features(&paths, &model, &grey, &cache, &rep)
                .unwrap()
                .from_cache,
            0
        );
    }
}
