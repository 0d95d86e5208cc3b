//! Pipeline: the analysis from a folder to a layout — scan ([`crate::input`]) → features
//! (decode + CNN, in parallel, cached: [`crate::features`]) → PCA → t-SNE → grid — with
//! progress, warnings and cancellation through a [`Reporter`]. [`analyze_with`] is the one
//! analyze driver: the `analyze` command runs it plain, the app with [`AnalysisHooks`] that stream
//! each step to the window. The stage functions ([`features_and_pca`], [`embed_raw`],
//! [`lay_out_grid`]) also serve a re-run of t-SNE and the layout commands.

use crate::cache::Cache;
use crate::features::{extract_features, feature_key, FeatureModel, FeatureSet, FeatureTimes};
use crate::grid::{self, GridAssignment, GridMethod, GridShape, Solver};
use crate::images::Preprocess;
use crate::input::scan;
use crate::layout_io::{self, normalize_points, LayoutEntry, LoadedLayout};
use crate::pca::PcaBasis;
use crate::progress::{Reporter, Stage, StageTimer};
use crate::tsne::{self, TsneParams};
use anyhow::{bail, Context, Result};
use ndarray::{Array2, ArrayView2};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The analysis settings' defaults (the original app's), defined once for the CLI, the app and
/// the library.
pub mod defaults {
    /// Images used at most (a seeded random subset of a bigger folder).
    pub const MAX_IMAGES: usize = 500;
    pub const PERPLEXITY: f32 = 50.0;
    pub const THETA: f32 = 0.3;
    pub const ITERATIONS: usize = 1000;
    /// Seed of the subset and the t-SNE.
    pub const SEED: u64 = 42;
    /// PCA output dimension (the t-SNE input).
    pub const PCA_DIMS: usize = 50;
}

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
    /// The snap's solver, and the neighbour sort by features (the default).
    pub grid: GridMethod,
    /// An ONNX model instead of the bundled one.
    pub model: Option<PathBuf>,
    pub cache: Cache,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            max_images: defaults::MAX_IMAGES,
            seed: defaults::SEED,
            include_hidden: false,
            pca_dims: defaults::PCA_DIMS,
            tsne: TsneParams {
                perplexity: defaults::PERPLEXITY,
                theta: defaults::THETA,
                iterations: defaults::ITERATIONS,
                seed: defaults::SEED,
                ..TsneParams::default()
            },
            preprocess: Preprocess::default(),
            aspect: 1.0,
            grid: GridMethod::default(),
            model: None,
            cache: Cache::default_location(),
        }
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
    /// The model's raw feature vectors, one row per image (what names the clusters).
    pub features: Array2<f32>,
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

/// What a front end hears from [`analyze_with`] between the stages. The CLI needs none of it
/// ([`NoHooks`]); the app streams each step to the window and re-runs t-SNE when its sliders
/// move.
pub trait AnalysisHooks {
    /// The images chosen (before any is decoded).
    fn scanned(&self, _dir: &Path, _paths: &[PathBuf]) -> Result<()> {
        Ok(())
    }

    /// The features are in and reduced: row i of `reduced` is image `rows[i]` of the scanned list.
    fn reduced(&self, _reduced: &Array2<f32>, _rows: &[usize], _scanned: usize) {}

    /// Run t-SNE and then the grid; the default runs each once with `opts` and records both
    /// stages' times.
    fn embed_and_grid(
        &self,
        reduced: &Array2<f32>,
        opts: &AnalyzeOptions,
        rep: &dyn Reporter,
        timings: &mut Vec<(Stage, Duration)>,
    ) -> Result<(Vec<[f32; 2]>, GridAssignment)> {
        let t = Instant::now();
        let raw = embed_raw(reduced, &opts.tsne, rep)?;
        timings.push((Stage::Tsne, t.elapsed()));
        let t = Instant::now();
        let grid = lay_out_grid(
            &normalize_raw(&raw),
            Some(GridFeatures::all(reduced)),
            opts.aspect,
            opts.grid,
            rep,
        )?;
        timings.push((Stage::Grid, t.elapsed()));
        Ok((raw, grid))
    }
}

/// No hooks: the plain analysis.
pub struct NoHooks;
impl AnalysisHooks for NoHooks {}

/// Run the whole analysis on a folder (the bundled model or `opts.model`).
pub fn analyze(dir: &Path, opts: &AnalyzeOptions, rep: &dyn Reporter) -> Result<Analysis> {
    let model = FeatureModel::load(opts.model.as_deref())?;
    analyze_with(dir, opts, &model, rep, &NoHooks)
}

/// The analysis — scan → features → PCA → t-SNE → grid — with a loaded model, telling `hooks`
/// as it goes. The one analyze driver: the `analyze` command and the app both run it.
pub fn analyze_with(
    dir: &Path,
    opts: &AnalyzeOptions,
    model: &FeatureModel,
    rep: &dyn Reporter,
    hooks: &dyn AnalysisHooks,
) -> Result<Analysis> {
    let t = Instant::now();
    let paths = scan_folder(dir, opts, rep)?;
    let scanned = t.elapsed();
    analyze_listed(dir, paths, scanned, opts, model, rep, hooks)
}

/// The analysis of a given list of images (a selection made into a new map): features → PCA →
/// t-SNE → grid, as [`analyze_with`] after its scan. `dir` names where they are (their common
/// folder); `scanned` is the time the list took.
pub fn analyze_listed(
    dir: &Path,
    paths: Vec<PathBuf>,
    scanned: Duration,
    opts: &AnalyzeOptions,
    model: &FeatureModel,
    rep: &dyn Reporter,
    hooks: &dyn AnalysisHooks,
) -> Result<Analysis> {
    let mut timings = vec![(Stage::Scan, scanned)];
    hooks.scanned(dir, &paths)?;

    let t = Instant::now();
    let features = features_and_pca(&paths, model, opts, rep)
        .with_context(|| format!("analysing {}", dir.display()))?;
    timings.push((
        Stage::Features,
        t.elapsed().saturating_sub(features.pca_time),
    ));
    timings.push((Stage::Pca, features.pca_time));
    hooks.reduced(&features.reduced, &features.set.indices, paths.len());

    let (raw_points, grid) = hooks.embed_and_grid(&features.reduced, opts, rep, &mut timings)?;
    let set = features.set;
    Ok(Analysis {
        paths: set.paths,
        points: normalize_raw(&raw_points),
        reduced: features.reduced,
        raw_points,
        pca_basis: features.basis,
        feature_key: features.feature_key,
        features: set.features,
        grid,
        skipped: set.skipped,
        timings,
        feature_times: set.time,
    })
}

/// Features of a list of images, reduced by PCA: where t-SNE starts (the analysis, and a re-run
/// of t-SNE on a loaded layout).
pub struct ReducedFeatures {
    /// The extraction's result (which images were used, skipped, timings).
    pub set: FeatureSet,
    /// PCA output, one row per used image.
    pub reduced: Array2<f32>,
    /// The fitted PCA, so new images can be projected like these.
    pub basis: PcaBasis,
    /// Model and preprocessing of the features ([`feature_key`]).
    pub feature_key: String,
    /// Time the PCA took (of the whole).
    pub pca_time: Duration,
}

/// Extract the features of `paths` (cache first) and reduce them with a PCA fitted on them; an
/// error when none of the images can be used.
pub fn features_and_pca(
    paths: &[PathBuf],
    model: &FeatureModel,
    opts: &AnalyzeOptions,
    rep: &dyn Reporter,
) -> Result<ReducedFeatures> {
    let set = extract_features(paths, model, &opts.preprocess, &opts.cache, rep)?;
    if set.paths.is_empty() {
        bail!("none of the {} images could be used", paths.len());
    }
    let t = Instant::now();
    let reduced = reduce(&set.features, opts.pca_dims, rep);
    let basis = PcaBasis::from_scores(set.features.view(), reduced.view());
    Ok(ReducedFeatures {
        feature_key: feature_key(model, &opts.preprocess),
        set,
        reduced,
        basis,
        pca_time: t.elapsed(),
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

/// What a grid is sorted by: the PCA-reduced features, one row per image; rows whose
/// `usable` flag is false have no real features (the sort leaves them to the snap).
#[derive(Clone, Copy, Debug)]
pub struct GridFeatures<'a> {
    pub reduced: ArrayView2<'a, f32>,
    pub usable: Option<&'a [bool]>,
}

impl<'a> GridFeatures<'a> {
    /// Features for every image (an analysis has them all).
    pub fn all(reduced: &'a Array2<f32>) -> Self {
        GridFeatures {
            reduced: reduced.view(),
            usable: None,
        }
    }
}

/// The grid for `points`: the snap with `method.solver`, then — when `method.sort` asks for it
/// and `features` are given — the neighbour sort ([`grid::refine`]), one stage with one summary.
pub fn lay_out_grid(
    points: &[[f32; 2]],
    features: Option<GridFeatures>,
    aspect: f64,
    method: GridMethod,
    rep: &dyn Reporter,
) -> Result<GridAssignment> {
    let (Some(params), Some(features)) = (method.sort, features) else {
        return snap_to_grid(points, aspect, method.solver, rep);
    };
    let timer = StageTimer::start(rep, Stage::Grid, 0);
    let shape = GridShape::for_count(points.len(), aspect);
    let (result, sorted) = sorted_grid(points, features, shape, params, method.solver, rep)?;
    timer.finish(&format!(
        "{} × {} cells for {} images, sorted by their features: {} moves in {} sweeps, \
         mean ln(1 + d²) of neighbours {:.3} → {:.3}",
        result.shape.cols,
        result.shape.rows,
        points.len(),
        sorted.moves,
        sorted.sweeps,
        sorted.objective_before,
        sorted.objective_after
    ));
    Ok(result)
}

/// The snap with `solver` on `shape`, then the neighbour sort by `features` with `params` (no
/// stage timer: [`lay_out_grid`] and a growing map's re-solve call it).
pub fn sorted_grid(
    points: &[[f32; 2]],
    features: GridFeatures,
    shape: GridShape,
    params: grid::RefineParams,
    solver: Solver,
    rep: &dyn Reporter,
) -> Result<(GridAssignment, grid::Refinement)> {
    if features.reduced.nrows() != points.len() {
        bail!(
            "internal: {} feature rows for {} points",
            features.reduced.nrows(),
            points.len()
        );
    }
    let cancelled = |e: grid::GridError| match e {
        grid::GridError::Cancelled => anyhow::Error::new(Cancelled),
        e => e.into(),
    };
    let pts: Vec<[f64; 2]> = points.iter().map(|p| [p[0] as f64, p[1] as f64]).collect();
    let p = grid::affinities(
        features.reduced,
        features.usable,
        params.perplexity,
        &mut || rep.cancelled(),
    )
    .map_err(cancelled)?;
    grid::assign_sorted(
        &pts,
        shape,
        solver,
        &p,
        &params,
        Some(rep.cancel_flag()),
        &mut |_, _| {},
    )
    .map_err(cancelled)
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
/// (`grid_size`), else a new grid of the t-SNE points ([`lay_out_grid`], sorted when `features`
/// are given). Returns `[cols, rows]`.
pub fn ensure_grid(
    entries: &mut [LayoutEntry],
    grid_size: Option<[u32; 2]>,
    features: Option<GridFeatures>,
    aspect: f64,
    method: GridMethod,
    rep: &dyn Reporter,
) -> Result<[u32; 2]> {
    if let Some(size) = grid_size {
        if entries.iter().all(|e| e.grid.is_some()) {
            return Ok(size);
        }
    }
    let points: Vec<[f32; 2]> = entries.iter().map(|e| e.point).collect();
    let grid = lay_out_grid(&points, features, aspect, method, rep)?;
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
