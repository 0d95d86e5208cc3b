//! `image-tsne-live grid`: lay a layout JSON out on a grid (solved anew, with this command's
//! aspect and solver) and write it with a `"grid": [col, row]` per entry. The default grid is
//! sorted by the images' features: those of the map beside the layout (`LAYOUT.json.map`), else
//! from the feature cache, computing what is missing (a progress bar).

use super::args::{check_cancelled, parse_aspect, reporter, warn_non_utf8, CommonArgs, SolverArg};
use crate::cache::CacheArgs;
use crate::features::FeatureModel;
use crate::grid::GridMethod;
use crate::layout_io;
use crate::map::MapState;
use crate::pipeline;
use crate::progress::Reporter;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct GridArgs {
    /// A layout JSON (ours or ml4a's).
    pub layout: PathBuf,
    /// Where to write the grid layout.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Grid aspect ratio W:H (or a number).
    #[arg(long, default_value = "1:1", value_parser = parse_aspect)]
    pub aspect: f64,
    /// `sorted` (the default): snapped, then sorted by the images' features; `exact`, `auto`,
    /// `fast`, `hungarian`: the snap alone.
    #[arg(long, value_enum, default_value_t = SolverArg::Sorted)]
    pub solver: SolverArg,
    /// ONNX feature model the layout was made with (default: the bundled one), for the sort
    /// when the layout has no map beside it.
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// A curator's CSV about the images (first column: path or file name), for --sort-by.
    #[arg(long, value_name = "FILE.csv", requires = "sort_by")]
    pub metadata: Option<PathBuf>,
    /// Order the grid by this numeric metadata column, row by row (images without a value
    /// last), instead of by similarity.
    #[arg(long, value_name = "COLUMN", requires = "metadata")]
    pub sort_by: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Run `grid`.
pub fn run(args: &GridArgs) -> Result<()> {
    let rep = reporter(args.common.quiet);
    let loaded = pipeline::open_layout(&args.layout, rep.as_ref())?;
    let mut entries = loaded.entries.clone();
    // `grid` always solves anew (with this command's aspect and solver)
    for e in &mut entries {
        e.grid = None;
    }
    let method: GridMethod = args.solver.into();
    let map = match method.sort {
        Some(_) => {
            let model = FeatureModel::load(args.model.as_deref())?;
            match MapState::of_layout(
                &args.layout,
                &loaded,
                &model,
                &args.cache.cache(),
                pipeline::defaults::PCA_DIMS,
                args.aspect,
                rep.as_ref(),
            ) {
                Ok((map, _)) => Some(map),
                Err(e) if pipeline::is_cancelled(&e) => return Err(e),
                // e.g. none of the images is there any more: the points can still be snapped
                Err(e) => {
                    rep.warn(&format!("{e:#}; the grid is the snap alone"));
                    None
                }
            }
        }
        None => None,
    };
    check_cancelled(&rep)?;
    let size = pipeline::ensure_grid(
        &mut entries,
        None,
        map.as_ref().map(MapState::grid_features),
        args.aspect,
        method,
        rep.as_ref(),
    )?;
    check_cancelled(&rep)?;
    if let (Some(file), Some(column)) = (&args.metadata, &args.sort_by) {
        use crate::metadata::{fill_rows, numeric_column, sorted_order, Metadata};
        let meta = Metadata::read(file)?;
        let c = numeric_column(&meta, column)?;
        let paths: Vec<PathBuf> = entries.iter().map(|e| e.path.clone()).collect();
        let matched = meta.match_paths(&paths);
        for line in matched.summary(file) {
            rep.warn(&line);
        }
        let all: Vec<usize> = (0..entries.len()).collect();
        let order = sorted_order(&all, |i| matched.row_of[i].and_then(|r| meta.number(r, c)));
        let mut cells: Vec<[u32; 2]> = entries.iter().map(|e| e.grid.unwrap_or([0, 0])).collect();
        fill_rows(&order, size[0], &mut cells);
        for (e, cell) in entries.iter_mut().zip(cells) {
            e.grid = Some(cell);
        }
    }
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
