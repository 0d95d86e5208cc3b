//! `image-tsne-live add`: a finished layout + new images → the grown layout. The layout's map
//! comes from its `.map` sidecar (or is rebuilt from its points when it has none), the images
//! join through [`map::grow`](crate::map::grow()) — the same driver the app's watched folder
//! uses — and the grown layout, its sidecar and optionally the grid layout are written
//! atomically. The old images do not move.

use super::args::{check_cancelled, parse_aspect, reporter, warn_non_utf8, CommonArgs};
use crate::cache::CacheArgs;
use crate::clusters;
use crate::features::FeatureModel;
use crate::input::scan;
use crate::layout_io::{self, LayoutEntry};
use crate::map::{self, sidecar_path, GrowRequest, MapState};
use crate::pipeline::{self, defaults};
use crate::progress::{Reporter, Stage, StageTimer};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct AddArgs {
    /// The layout JSON to grow (ours, with its LAYOUT.json.map sidecar, or any ml4a layout).
    pub layout: PathBuf,
    /// Image files and folders (scanned recursively) to add.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Where to write the grown layout (its sidecar is written beside it).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write the grid layout to this file.
    #[arg(long)]
    pub grid_output: Option<PathBuf>,
    /// ONNX feature model (must be the one the layout was made with).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Grid aspect W:H for a layout without a sidecar or stored grid.
    #[arg(long, value_parser = parse_aspect)]
    pub aspect: Option<f64>,
    /// PCA dimensions for a layout without a sidecar.
    #[arg(long, default_value_t = defaults::PCA_DIMS)]
    pub pca_dims: usize,
    /// Include hidden files and folders (names starting with '.').
    #[arg(long)]
    pub include_hidden: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Run `add`.
pub fn run(args: &AddArgs) -> Result<()> {
    let rep = reporter(args.common.quiet);
    let cache = args.cache.cache();
    let loaded = pipeline::open_layout(&args.layout, rep.as_ref())?;
    let model = FeatureModel::load(args.model.as_deref())?;
    let aspect = args.aspect.unwrap_or_else(|| {
        loaded
            .grid_size
            .map_or(1.0, |[c, r]| c as f64 / r.max(1) as f64)
    });
    let (mut state, used_sidecar) = MapState::of_layout(
        &args.layout,
        &loaded,
        &model,
        &cache,
        args.pca_dims,
        aspect,
        rep.as_ref(),
    )?;

    // The new images: files as given, folders scanned.
    let mut new_paths = Vec::new();
    for input in &args.images {
        if input.is_dir() {
            let found = scan::scan(input, args.include_hidden)
                .with_context(|| format!("cannot scan {}", input.display()))?;
            for (path, why) in found.problems {
                rep.warn(&format!("{}: {why}", path.display()));
            }
            new_paths.extend(found.images);
        } else {
            new_paths.push(std::path::absolute(input).unwrap_or_else(|_| input.clone()));
        }
    }
    if new_paths.is_empty() {
        bail!("no images to add in {}", display_list(&args.images));
    }
    let count = new_paths.len();
    let req = GrowRequest {
        add: new_paths,
        ensure_grid: args.grid_output.is_some(),
        ..GrowRequest::default()
    };
    let grown = map::grow(&mut state, req, &model, &cache, rep.as_ref())
        .with_context(|| format!("cannot grow {}", args.layout.display()))?;
    if grown.new == 0 {
        bail!("no new images to add");
    }
    if grown.added == 0 {
        bail!("none of the {count} new images could be used");
    }

    check_cancelled(&rep)?;
    let timer = StageTimer::start(rep.as_ref(), Stage::Save, 0);
    let entries = state.entries();
    warn_non_utf8(&rep, &entries);
    let plain: Vec<LayoutEntry> = entries
        .iter()
        .map(|e| LayoutEntry {
            grid: None,
            ..e.clone()
        })
        .collect();
    // the map keeps the t-SNE settings of the layout it grew from
    layout_io::write_layout(&args.output, &plain, loaded.tsne)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    state.save(&sidecar_path(&args.output))?;
    let mut written = vec![args.output.display().to_string()];
    // the layout's clusters (and a curator's names) grow with it: newcomers join the cluster
    // of their nearest neighbour
    match clusters::sidecar::load(&clusters::sidecar::sidecar_path(&args.layout)) {
        Ok(Some(saved)) => {
            let paths: Vec<PathBuf> = entries.iter().map(|e| e.path.clone()).collect();
            let points: Vec<[f32; 2]> = entries.iter().map(|e| e.point).collect();
            let grown_clusters = saved.apply(&paths, &points);
            let file = clusters::sidecar::sidecar_path(&args.output);
            clusters::sidecar::save(&file, &paths, &grown_clusters, saved.min_size)?;
            written.push(file.display().to_string());
        }
        Ok(None) => {}
        Err(e) => rep.warn(&format!("{e:#}; the clusters were not carried over")),
    }
    if let (Some(out), Some(g)) = (&args.grid_output, &state.grid) {
        let size = [g.shape.cols as u32, g.shape.rows as u32];
        layout_io::write_grid_layout(out, &entries, size, loaded.tsne)
            .with_context(|| format!("cannot write {}", out.display()))?;
        written.push(out.display().to_string());
    }
    timer.finish(&format!("wrote {}", written.join(" and ")));

    rep.println(&format!(
        "{:>9} {} images added ({} on the map now), {} skipped{}",
        "done",
        grown.added,
        state.len(),
        grown.skipped.len(),
        if used_sidecar {
            ""
        } else {
            "; the old images' features were computed (no usable map file)"
        }
    ));
    if !args.common.quiet {
        for (path, why) in &grown.skipped {
            rep.println(&format!("{:>9} {}: {why}", "skipped", path.display()));
        }
    }
    Ok(())
}

fn display_list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
