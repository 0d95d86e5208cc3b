//! `image-tsne-live render`: load a layout JSON, build the atlas from the images (thumbnail
//! cache first), render the whole layout offscreen and write a PNG — no window needed.

use crate::cache::thumbnails::load_cell;
use crate::cache::{Cache, CacheArgs};
use crate::cli::args::usage;
use crate::layout_io::LayoutEntry;
use crate::pipeline;
use crate::progress::{CliReporter, Reporter, Stage, StageTimer};
use crate::render::{AtlasConfig, PlateMode, Plates, PreparedCell};
use crate::render::{
    GpuContext, LayoutGeometry, LayoutParams, OffscreenOptions, QuadRenderer, ScreenshotOptions,
    ScreenshotSize, TargetDesc,
};
use anyhow::{anyhow, bail, Result};
use clap::Args;
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Missing images named one by one before the rest are only counted.
const MAX_NAMED_WARNINGS: usize = 10;

#[derive(Args, Debug, Clone)]
pub struct RenderArgs {
    /// A layout JSON (ours or ml4a's).
    pub layout: PathBuf,
    /// Where to write the PNG.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Render the grid layout instead of the t-SNE.
    #[arg(long)]
    pub grid: bool,
    /// Output width in pixels (default: each image at its atlas cell size in grid view).
    #[arg(long)]
    pub width: Option<u32>,
    /// Image size (0–2): long side of an image in t-SNE view, in grid cells.
    #[arg(long, default_value_t = 1.0)]
    pub image_size: f32,
    /// Spread of the t-SNE layout (1–10), as the app's `scale`.
    #[arg(long, default_value_t = 4.0)]
    pub scale: f32,
    /// Colour of the PNG behind the images (#RRGGBB), as the app's window background. (Not
    /// `analyze --background`, which is what transparent pixels show to the CNN.)
    #[arg(long, default_value = "#101014", value_parser = crate::cli::args::parse_color_text)]
    pub background: String,
    /// Images whose pixels would not stand out against the background on a plate: `auto`
    /// decides per image, `always` plates every image with transparency, `never` none (as the
    /// app's --plates).
    #[arg(long, value_enum, default_value_t = PlateMode::Auto)]
    pub plates: PlateMode,
    /// Grid aspect ratio W:H (or a number) when the layout has no grid yet.
    #[arg(long, default_value = "1:1", value_parser = crate::cli::args::parse_aspect)]
    pub aspect: f64,
    /// GPU memory budget for the thumbnail atlas, in MiB.
    #[arg(long, default_value_t = 512)]
    pub atlas_budget_mb: u64,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Worker threads for decoding (default: all cores; at least 1).
    #[arg(long, value_parser = crate::cli::args::parse_threads)]
    pub threads: Option<usize>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Run the `render` subcommand.
pub fn run(args: &RenderArgs) -> Result<()> {
    let background = match crate::render::parse_hex_color(&args.background) {
        Some(c) => c,
        None => {
            return usage(format!(
                "--background: expected a colour like #RRGGBB, got {:?}",
                args.background
            ))
        }
    };
    if !(0.0..=2.0).contains(&args.image_size) {
        return usage("--image-size must be between 0 and 2");
    }
    if !(0.1..=100.0).contains(&args.scale) {
        return usage("--scale must be between 0.1 and 100");
    }
    let cache = args.cache.cache();
    let rep = Arc::new(CliReporter::new(args.quiet));
    rep.install_logger(log::LevelFilter::Warn);
    rep.stop_on_signals();
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.threads {
        // (0 is refused by the value parser, as for the other commands)
        pool = pool.num_threads(n.max(1));
    }
    let pool = pool
        .build()
        .map_err(|e| anyhow!("cannot start worker threads: {e}"))?;

    let loaded = pipeline::open_layout(&args.layout, rep.as_ref())?;
    // a layout without a stored grid gets the default one, sorted by the features of the map
    // beside it (the snap alone when it has none: `render` computes no features)
    let consequence = "not used: the grid is the snap alone";
    let map =
        crate::map::MapState::beside(&args.layout, &loaded.entries, consequence, rep.as_ref());
    let mut entries = loaded.entries;
    let grid_size = pool.install(|| {
        pipeline::ensure_grid(
            &mut entries,
            loaded.grid_size,
            map.as_ref().map(crate::map::MapState::grid_features),
            args.aspect,
            crate::grid::GridMethod::default(),
            rep.as_ref(),
        )
    })?;

    let timer = StageTimer::start(rep.as_ref(), Stage::Render, 0);
    let gpu = GpuContext::new_headless()?;
    let atlas = AtlasConfig {
        budget_bytes: args
            .atlas_budget_mb
            .clamp(1, 1 << 30)
            .saturating_mul(1024 * 1024),
        ..AtlasConfig::default()
    };
    let mut renderer =
        QuadRenderer::new(&gpu.device, TargetDesc::OFFSCREEN, entries.len(), &atlas)?;
    let composite = crate::images::Preprocess::default().background;
    renderer.set_plates(&gpu.queue, Plates::new(args.plates, background, composite));
    timer.finish(&format!(
        "{} on {}",
        renderer.atlas_plan(),
        gpu.adapter_summary()
    ));

    let missing = pool.install(|| {
        fill_renderer(
            &mut renderer,
            &gpu.queue,
            &entries,
            grid_size,
            &cache,
            rep.as_ref(),
        )
    })?;

    let timer = StageTimer::start(rep.as_ref(), Stage::Render, 0);
    let layout = LayoutParams {
        t: if args.grid { 1.0 } else { 0.0 },
        tsne_scale: args.scale,
        image_size: args.image_size,
        ..LayoutParams::default()
    };
    let opts = ScreenshotOptions {
        size: match args.width {
            Some(w) => ScreenshotSize::Width(w.max(1)),
            None => ScreenshotOptions::default().size,
        },
        offscreen: OffscreenOptions {
            background: [background[0], background[1], background[2], 255],
            ..OffscreenOptions::default()
        },
        ..ScreenshotOptions::default()
    };
    let plan =
        renderer.plan_screenshot(&layout, &opts, gpu.device.limits().max_texture_dimension_2d)?;
    let image = renderer.screenshot(&gpu.device, &gpu.queue, &layout, &opts)?;
    let elapsed = timer.elapsed();
    if rep.cancelled() {
        bail!(pipeline::Cancelled);
    }
    crate::util::atomic::write_png(&args.output, &image)?;
    let summary = format!(
        "{} layout of {} images ({} missing, drawn as placeholders) → {} ({}×{}, {} tile{})",
        if args.grid { "grid" } else { "t-SNE" },
        entries.len(),
        missing,
        args.output.display(),
        image.width(),
        image.height(),
        plan.tiles[0] * plan.tiles[1],
        if plan.tiles[0] * plan.tiles[1] == 1 {
            ""
        } else {
            "s"
        },
    );
    rep.finish(Stage::Render, &summary, elapsed);
    Ok(())
}

/// Upload every entry's thumbnail (decoded in parallel, cache first), the t-SNE points and the
/// grid cells. Returns how many images are missing or undecodable (drawn as placeholders).
pub fn fill_renderer(
    renderer: &mut QuadRenderer,
    queue: &wgpu::Queue,
    entries: &[LayoutEntry],
    grid_size: [u32; 2],
    cache: &Cache,
    rep: &dyn Reporter,
) -> Result<usize> {
    let timer = StageTimer::start(rep, Stage::Thumbs, entries.len() as u64);
    let plan = *renderer.atlas_plan();
    let done = AtomicUsize::new(0);
    let cells: Vec<Result<PreparedCell, String>> = entries
        .par_iter()
        .map(|e| {
            let result = load_cell(&e.path, cache, &plan);
            rep.advance(
                Stage::Thumbs,
                done.fetch_add(1, Ordering::Relaxed) as u64 + 1,
            );
            result
        })
        .collect();
    let mut missing = 0;
    for (i, (cell, entry)) in cells.iter().zip(entries).enumerate() {
        match cell {
            Ok(cell) => renderer.set_prepared_image(queue, i, cell)?,
            Err(why) => {
                // Name the first few; a layout from another machine may miss them all. Files
                // that do not exist were already counted when the layout was opened.
                if missing < MAX_NAMED_WARNINGS && entry.path.exists() {
                    rep.warn(&format!(
                        "{}: {why}; drawn as a placeholder",
                        entry.path.display()
                    ));
                }
                renderer.set_placeholder(queue, i, None)?;
                missing += 1;
            }
        }
    }
    if missing > MAX_NAMED_WARNINGS {
        rep.warn(&format!(
            "… and {} more images missing or unreadable",
            missing - MAX_NAMED_WARNINGS
        ));
    }
    let points: Vec<[f32; 2]> = entries.iter().map(|e| e.point).collect();
    renderer.update_tsne_positions(queue, &points)?;
    let cells: Vec<[u32; 2]> = entries.iter().map(|e| e.grid.unwrap_or([0, 0])).collect();
    renderer.set_grid(
        queue,
        LayoutGeometry::new(grid_size[0], grid_size[1]),
        &cells,
    )?;
    timer.finish(&format!(
        "{} thumbnails loaded, {missing} missing or unreadable",
        entries.len() - missing
    ));
    Ok(missing)
}
