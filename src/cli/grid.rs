//! `image-tsne-live grid`: snap a layout JSON onto a grid (solved anew, with this command's
//! aspect and solver) and write it with a `"grid": [col, row]` per entry.

use super::args::{check_cancelled, parse_aspect, reporter, warn_non_utf8, CommonArgs, SolverArg};
use crate::layout_io;
use crate::pipeline;
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
    #[arg(long, value_enum, default_value_t = SolverArg::Auto)]
    pub solver: SolverArg,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Run `grid`.
pub fn run(args: &GridArgs) -> Result<()> {
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
