//! `image-tsne-live`: the command line. With no subcommand it opens the live viewer; the
//! subcommands do every computing or saving action headless (analyze, add, grid, render).

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use image_tsne_live::cache::CacheArgs;
use image_tsne_live::cli::args::{
    is_usage_error, parse_aspect, parse_color, parse_iterations, parse_perplexity, parse_theta,
    parse_threads,
};
use image_tsne_live::grid::Solver;
use image_tsne_live::grow;
use image_tsne_live::layout_io;
use image_tsne_live::pipeline::{self, AnalyzeOptions};
use image_tsne_live::progress::{CliReporter, Reporter, Stage, StageTimer};
use image_tsne_live::thumbs::{Crop, Preprocess};
use image_tsne_live::tsne::TsneParams;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "image-tsne-live",
    version,
    about = "Lay out a folder of images by visual similarity and show it live",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    app: image_tsne_live::app::AppArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Analyze a folder of images and write an ml4a layout JSON (t-SNE points in [0,1]).
    Analyze(AnalyzeArgs),
    /// Add images to a finished layout: they find their place, the old images stay where they are.
    Add(AddArgs),
    /// Snap a layout JSON onto a grid and write it with a "grid": [col, row] per entry.
    Grid(GridArgs),
    /// Render a layout JSON to a PNG offscreen (the whole layout, any size).
    Render(image_tsne_live::cli::render::RenderArgs),
}

#[derive(Args, Debug)]
struct CommonArgs {
    /// Worker threads (default: all cores; at least 1).
    #[arg(long, value_parser = parse_threads)]
    threads: Option<usize>,
    /// No progress bars or summaries (warnings are still printed).
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct AnalyzeArgs {
    /// Folder to scan recursively for images.
    dir: PathBuf,
    /// Where to write the layout JSON.
    #[arg(short, long)]
    output: PathBuf,
    /// Also write the grid layout (as `grid` does) to this file.
    #[arg(long)]
    grid_output: Option<PathBuf>,
    /// Use at most this many images (a seeded random subset when there are more).
    #[arg(long, default_value_t = 500)]
    max_images: usize,
    /// t-SNE perplexity, a positive number (clamped for small image counts).
    #[arg(long, default_value_t = 50.0, value_parser = parse_perplexity)]
    perplexity: f32,
    /// Barnes-Hut accuracy/speed trade-off, 0 (exact) to 1.
    #[arg(long, default_value_t = 0.3, value_parser = parse_theta)]
    theta: f32,
    /// t-SNE iterations.
    #[arg(long, default_value_t = 1000, value_parser = parse_iterations)]
    iterations: usize,
    /// Seed for the image subset and the t-SNE.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// ONNX feature model instead of the bundled EfficientNet-Lite0 (see models/README.md).
    #[arg(long)]
    model: Option<PathBuf>,
    /// PCA dimensions before t-SNE.
    #[arg(long, default_value_t = 50)]
    pca_dims: usize,
    /// Grid aspect ratio W:H (or a number).
    #[arg(long, default_value = "1:1", value_parser = parse_aspect)]
    aspect: f64,
    /// Grid solver.
    #[arg(long, value_enum, default_value_t = SolverArg::Auto)]
    solver: SolverArg,
    /// Colour that transparent pixels are composited onto before the CNN sees them (#RRGGBB):
    /// it changes the features, not any picture. (The app's and `render`'s --background are
    /// the colour behind the drawn images.)
    #[arg(long, default_value = "#ffffff", value_parser = parse_color)]
    background: [u8; 3],
    /// How the square CNN input is cut from each image.
    #[arg(long, value_enum, default_value_t = CropArg::Center)]
    crop: CropArg,
    /// Include hidden files and folders (names starting with '.').
    #[arg(long)]
    include_hidden: bool,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct AddArgs {
    /// The layout JSON to grow (ours, with its LAYOUT.json.map sidecar, or any ml4a layout).
    layout: PathBuf,
    /// Image files and folders (scanned recursively) to add.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Where to write the grown layout (its sidecar is written beside it).
    #[arg(short, long)]
    output: PathBuf,
    /// Also write the grid layout to this file.
    #[arg(long)]
    grid_output: Option<PathBuf>,
    /// ONNX feature model (must be the one the layout was made with).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Grid aspect W:H for a layout without a sidecar or stored grid.
    #[arg(long, value_parser = parse_aspect)]
    aspect: Option<f64>,
    /// PCA dimensions for a layout without a sidecar.
    #[arg(long, default_value_t = 50)]
    pca_dims: usize,
    /// Include hidden files and folders (names starting with '.').
    #[arg(long)]
    include_hidden: bool,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct GridArgs {
    /// A layout JSON (ours or ml4a's).
    layout: PathBuf,
    /// Where to write the grid layout.
    #[arg(short, long)]
    output: PathBuf,
    /// Grid aspect ratio W:H (or a number).
    #[arg(long, default_value = "1:1", value_parser = parse_aspect)]
    aspect: f64,
    #[arg(long, value_enum, default_value_t = SolverArg::Auto)]
    solver: SolverArg,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SolverArg {
    /// Exact up to 20 000 images, the fast mode above.
    Auto,
    /// Always exact (slow above 20 000).
    Exact,
    /// Near-optimal, for very large sets.
    Fast,
    /// pathfinding's Hungarian (reference; slow, dense).
    Hungarian,
}

impl From<SolverArg> for Solver {
    fn from(s: SolverArg) -> Self {
        match s {
            SolverArg::Auto => Solver::Auto,
            SolverArg::Exact => Solver::Exact,
            SolverArg::Fast => Solver::Fast,
            SolverArg::Hungarian => Solver::Hungarian,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CropArg {
    Center,
    Squash,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Analyze(args)) => with_threads(args.common.threads, || analyze(&args)),
        Some(Command::Add(args)) => with_threads(args.common.threads, || add(&args)),
        Some(Command::Grid(args)) => with_threads(args.common.threads, || grid(&args)),
        Some(Command::Render(args)) => image_tsne_live::cli::render::run(&args),
        None => image_tsne_live::app::run(cli.app),
    };
    if let Err(e) = result {
        if pipeline::is_cancelled(&e) {
            eprintln!("cancelled");
            // 130 for Ctrl-C, 143 for SIGTERM (the shell's convention)
            std::process::exit(image_tsne_live::signals::received().unwrap_or(130));
        }
        eprintln!("error: {e:#}");
        // a bad command line found after parsing exits like clap's own usage errors
        std::process::exit(if is_usage_error(&e) { 2 } else { 1 });
    }
    if let Some(status) = image_tsne_live::signals::received() {
        // the signal came after the last cancellable step: the output is complete
        eprintln!("interrupted after the output was written");
        std::process::exit(status);
    }
}

fn with_threads<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        // (0 is refused by the value parser)
        builder = builder.num_threads(n.max(1));
    }
    let pool = builder
        .build()
        .map_err(|e| anyhow!("cannot start worker threads: {e}"))?;
    pool.install(f)
}

fn reporter(quiet: bool) -> Arc<CliReporter> {
    let rep = Arc::new(CliReporter::new(quiet));
    rep.install_logger(log::LevelFilter::Warn);
    rep.stop_on_signals();
    rep
}

/// Stop before writing when Ctrl-C / SIGTERM came in during the last step.
fn check_cancelled(rep: &CliReporter) -> Result<()> {
    if rep.cancelled() {
        bail!(pipeline::Cancelled);
    }
    Ok(())
}

/// Warn about paths that JSON cannot hold exactly.
fn warn_non_utf8(rep: &CliReporter, entries: &[layout_io::LayoutEntry]) {
    if let Some(w) = layout_io::non_utf8_warning(entries) {
        rep.warn(&w);
    }
}

fn analyze(args: &AnalyzeArgs) -> Result<()> {
    let rep = reporter(args.common.quiet);
    let cache = args.cache.cache();
    let opts = AnalyzeOptions {
        max_images: args.max_images,
        seed: args.seed,
        include_hidden: args.include_hidden,
        pca_dims: args.pca_dims,
        tsne: TsneParams {
            perplexity: args.perplexity,
            theta: args.theta,
            iterations: args.iterations,
            seed: args.seed,
            ..TsneParams::default()
        },
        preprocess: Preprocess {
            background: args.background,
            crop: match args.crop {
                CropArg::Center => Crop::Center,
                CropArg::Squash => Crop::Squash,
            },
            ..Preprocess::default()
        },
        aspect: args.aspect,
        solver: args.solver.into(),
        model: args.model.clone(),
        cache,
    };
    validate_tsne(&opts.tsne)?;
    let analysis = pipeline::analyze(&args.dir, &opts, rep.as_ref())?;
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
    let sidecar = grow::sidecar_path(&args.output);
    grow::MapState::from_analysis(&analysis, opts.preprocess, opts.aspect).save(&sidecar)?;
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

fn add(args: &AddArgs) -> Result<()> {
    let rep = reporter(args.common.quiet);
    let opts = grow::AddOptions {
        layout: args.layout.clone(),
        inputs: args.images.clone(),
        output: args.output.clone(),
        grid_output: args.grid_output.clone(),
        model: args.model.clone(),
        cache: args.cache.cache(),
        include_hidden: args.include_hidden,
        aspect: args.aspect,
        pca_dims: args.pca_dims,
        params: Default::default(),
    };
    let done = grow::run_add(&opts, rep.as_ref())?;
    rep.println(&format!(
        "{:>9} {} images added ({} on the map now), {} skipped{}",
        "done",
        done.added,
        done.total,
        done.skipped.len(),
        if done.used_sidecar {
            ""
        } else {
            "; the old images' features were computed (no usable map file)"
        }
    ));
    if !args.common.quiet {
        for (path, why) in &done.skipped {
            rep.println(&format!("{:>9} {}: {why}", "skipped", path.display()));
        }
    }
    Ok(())
}

/// The t-SNE settings once more (clap's value parsers check each on the command line).
fn validate_tsne(p: &TsneParams) -> Result<()> {
    use image_tsne_live::cli::args::{check_perplexity, check_theta, usage};
    if let Err(rule) = check_perplexity(p.perplexity) {
        return usage(format!("--perplexity {rule}"));
    }
    if let Err(rule) = check_theta(p.theta) {
        return usage(format!("--theta {rule}"));
    }
    if p.iterations == 0 {
        return usage("--iterations must be at least 1");
    }
    Ok(())
}

fn grid(args: &GridArgs) -> Result<()> {
    let rep = reporter(args.common.quiet);
    let loaded = pipeline::open_layout(&args.layout, rep.as_ref())?;
    let mut entries = loaded.entries;
    // `grid` always solves anew (with this command's aspect and solver)
    for e in &mut entries {
        e.grid = None;
    }
    let size = pipeline::ensure_grid(
        &mut entries,
        None,
        args.aspect,
        args.solver.into(),
        rep.as_ref(),
    )?;
    check_cancelled(&rep)?;
    warn_non_utf8(&rep, &entries);
    layout_io::write_grid_layout(&args.output, &entries, size, loaded.tsne)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    rep.println(&format!(
        "{:>9} wrote {} ({} entries)",
        "save",
        args.output.display(),
        entries.len()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli =
            Cli::try_parse_from(["x", "analyze", "dir", "-o", "o.json", "--max-images", "10"])
                .unwrap();
        assert!(
            matches!(cli.command, Some(Command::Analyze(ref a)) if a.max_images == 10 && a.perplexity == 50.0 && a.theta == 0.3)
        );
        // the same rules for the app and every subcommand, at parsing
        for bad in [
            &["x", "--perplexity", "0"][..],
            &["x", "--theta", "1.5"],
            &["x", "analyze", "d", "-o", "o", "--perplexity", "-3"],
            &["x", "analyze", "d", "-o", "o", "--threads", "0"],
            &["x", "render", "l.json", "-o", "o.png", "--threads", "0"],
            &["x", "render", "l.json", "-o", "o.png", "--aspect", "0:1"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
        let cli = Cli::try_parse_from(["x", "render", "l.json", "-o", "o.png", "--aspect", "16:9"])
            .unwrap();
        assert!(
            matches!(cli.command, Some(Command::Render(ref r)) if (r.aspect - 16.0 / 9.0).abs() < 1e-12)
        );
    }
}
