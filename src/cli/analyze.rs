//! `image-tsne-live analyze`: a folder of images → an ml4a layout JSON (t-SNE points in [0, 1]),
//! its `.map` sidecar (so it can grow) and optionally the grid layout — the whole
//! [`pipeline::analyze`] with a progress bar per stage.

use super::args::{
    check_cancelled, parse_aspect, parse_color, parse_iterations, parse_perplexity, parse_theta,
    reporter, validate_tsne, warn_non_utf8, CommonArgs, CropArg, SolverArg,
};
use crate::cache::CacheArgs;
use crate::images::Preprocess;
use crate::layout_io;
use crate::map::{sidecar_path, MapState};
use crate::pipeline::{self, defaults, AnalyzeOptions};
use crate::progress::{Stage, StageTimer};
use crate::tsne::TsneParams;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Folder to scan recursively for images.
    pub dir: PathBuf,
    /// Where to write the layout JSON.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write the grid layout (as `grid` does) to this file.
    #[arg(long)]
    pub grid_output: Option<PathBuf>,
    /// Also find the map's clusters, named from the images, and write them as CSV
    /// (`path,cluster,label`, as `clusters` does); they are kept beside the layout too.
    #[arg(long)]
    pub clusters_output: Option<PathBuf>,
    /// The smallest group that counts as a cluster, with --clusters-output (default: 20, and a
    /// fortieth of the images on maps under 800, at least 5).
    #[arg(long, value_parser = super::clusters::parse_min_size)]
    pub min_size: Option<usize>,
    /// Use at most this many images (a seeded random subset when there are more).
    #[arg(long, default_value_t = defaults::MAX_IMAGES)]
    pub max_images: usize,
    /// t-SNE perplexity, a positive number (clamped for small image counts).
    #[arg(long, default_value_t = defaults::PERPLEXITY, value_parser = parse_perplexity)]
    pub perplexity: f32,
    /// Barnes-Hut accuracy/speed trade-off, 0 (exact) to 1.
    #[arg(long, default_value_t = defaults::THETA, value_parser = parse_theta)]
    pub theta: f32,
    /// t-SNE iterations.
    #[arg(long, default_value_t = defaults::ITERATIONS, value_parser = parse_iterations)]
    pub iterations: usize,
    /// Seed for the image subset and the t-SNE.
    #[arg(long, default_value_t = defaults::SEED)]
    pub seed: u64,
    /// ONNX feature model instead of the bundled EfficientNet-Lite0 (see models/README.md).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// PCA dimensions before t-SNE.
    #[arg(long, default_value_t = defaults::PCA_DIMS)]
    pub pca_dims: usize,
    /// Grid aspect ratio W:H (or a number).
    #[arg(long, default_value = "1:1", value_parser = parse_aspect)]
    pub aspect: f64,
    /// How the grid is made: `sorted` (the default) snaps the map onto the grid and then sorts
    /// it by the images' features; `exact`, `auto`, `fast`, `hungarian` only snap.
    #[arg(long, value_enum, default_value_t = SolverArg::Sorted)]
    pub solver: SolverArg,
    /// Colour that transparent pixels are composited onto before the CNN sees them (#RRGGBB):
    /// it changes the features, not any picture. (The app's and `render`'s --background are
    /// the colour behind the drawn images.)
    #[arg(long, default_value = "#ffffff", value_parser = parse_color)]
    pub background: [u8; 3],
    /// How the square CNN input is cut from each image.
    #[arg(long, value_enum, default_value_t = CropArg::Center)]
    pub crop: CropArg,
    /// Include hidden files and folders (names starting with '.').
    #[arg(long)]
    pub include_hidden: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl AnalyzeArgs {
    /// The analysis these arguments ask for.
    pub fn options(&self) -> AnalyzeOptions {
        AnalyzeOptions {
            max_images: self.max_images,
            seed: self.seed,
            include_hidden: self.include_hidden,
            pca_dims: self.pca_dims,
            tsne: TsneParams {
                perplexity: self.perplexity,
                theta: self.theta,
                iterations: self.iterations,
                seed: self.seed,
                ..TsneParams::default()
            },
            preprocess: Preprocess {
                background: self.background,
                crop: self.crop.into(),
                ..Preprocess::default()
            },
            aspect: self.aspect,
            grid: self.solver.into(),
            model: self.model.clone(),
            cache: self.cache.cache(),
        }
    }
}

/// Run `analyze`: analyse, then write the layout, its sidecar and the grid layout atomically.
pub fn run(args: &AnalyzeArgs) -> Result<()> {
    let rep = reporter(args.common.quiet);
    let opts = args.options();
    validate_tsne(&opts.tsne)?;
    let mut analysis = pipeline::analyze(&args.dir, &opts, rep.as_ref())?;
    let entries = analysis.entries();
    check_cancelled(&rep)?;
    warn_non_utf8(&rep, &entries);
    let tsne = Some(layout_io::TsneSettings {
        perplexity: opts.tsne.perplexity,
        theta: opts.tsne.theta,
    });
    let timer = StageTimer::start(rep.as_ref(), Stage::Save, 0);
    layout_io::write_layout(&args.output, &entries, tsne)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    let sidecar = sidecar_path(&args.output);
    MapState::from_analysis(&analysis, opts.preprocess, opts.aspect).save(&sidecar)?;
    let mut written = vec![
        args.output.display().to_string(),
        sidecar.display().to_string(),
    ];
    if let Some(grid_out) = &args.grid_output {
        let size = [
            analysis.grid.shape.cols as u32,
            analysis.grid.shape.rows as u32,
        ];
        layout_io::write_grid_layout(grid_out, &entries, size, tsne)
            .with_context(|| format!("cannot write {}", grid_out.display()))?;
        written.push(grid_out.display().to_string());
    }
    timer.finish(&format!("wrote {}", written.join(" and ")));
    if let Some(out) = &args.clusters_output {
        let min_size = args
            .min_size
            .unwrap_or_else(|| crate::clusters::auto_min_size(analysis.paths.len()));
        let features = crate::clusters::Features {
            matrix: std::mem::take(&mut analysis.features),
            row_of: (0..analysis.paths.len()).map(Some).collect(),
            head: crate::clusters::naming::ClassHead::of_model(args.model.as_deref())?,
        };
        let clustering = super::clusters::find_named(
            &analysis.paths,
            &analysis.points,
            &features,
            min_size,
            None,
            rep.as_ref(),
        )?;
        check_cancelled(&rep)?;
        let file = crate::clusters::sidecar::sidecar_path(&args.output);
        crate::clusters::sidecar::save(&file, &analysis.paths, &clustering, min_size)?;
        super::clusters::write_csv(out, &analysis.paths, &clustering)?;
        super::clusters::report(rep.as_ref(), out, &clustering);
    }
    let total: f64 = analysis.timings.iter().map(|(_, d)| d.as_secs_f64()).sum();
    rep.println(&format!(
        "{:>9} {} images used, {} skipped, {:.1} s in all",
        "done",
        analysis.paths.len(),
        analysis.skipped.len(),
        total
    ));
    if args.common.quiet {
        return Ok(());
    }
    for (path, why) in &analysis.skipped {
        rep.println(&format!("{:>9} {}: {why}", "skipped", path.display()));
    }
    Ok(())
}
