//! Grow: the one driver that changes a map's images — the `add` command and the app's watched
//! folder both call [`grow`]. Removed images leave; new ones (already on the map skipped, by
//! canonical path) are analysed with the map's own model and preprocessing, projected with its
//! PCA basis and placed against its fixed embedding; the grid takes them.

use super::{AddParams, AddReport, MapState};
use crate::cache::Cache;
use crate::features::{self, FeatureModel};
use crate::pipeline::Cancelled;
use crate::progress::{Reporter, Stage, StageTimer};
use anyhow::{bail, Result};
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// What [`grow`] is asked to do.
#[derive(Clone, Debug, Default)]
pub struct GrowRequest {
    /// Image files to add (in order; files already on the map are skipped).
    pub add: Vec<PathBuf>,
    /// Indices of images to remove (out-of-range ones are ignored).
    pub remove: Vec<usize>,
    /// Placement and grid settings.
    pub params: AddParams,
    /// Solve a grid when the map has none (a grid the map has always grows with it).
    pub ensure_grid: bool,
}

/// What one [`grow`] did.
#[derive(Clone, Debug, Default)]
pub struct Grown {
    /// Indices (before the change) of the images that left, sorted.
    pub removed: Vec<usize>,
    /// How many of the requested images were not on the map yet.
    pub new: usize,
    /// How many joined (the new ones that could be analysed).
    pub added: usize,
    /// Old images that changed grid cell.
    pub moved: usize,
    /// Images left out, with the reason (already on the map, unreadable…).
    pub skipped: Vec<(PathBuf, String)>,
    /// The placement's report, when images joined.
    pub report: Option<AddReport>,
}

/// Remove, then add, in place: the one way a map's images change. The features come from the
/// cache when it has them; the old images' points never move. A map made with another model or
/// preprocessing than `model` makes refuses new images. Cancelling (through `rep`) leaves the map
/// as it was before the placement.
pub fn grow(
    map: &mut MapState,
    req: GrowRequest,
    model: &FeatureModel,
    cache: &Cache,
    rep: &dyn Reporter,
) -> Result<Grown> {
    let key = features::feature_key(model, &map.preprocess);
    if !req.add.is_empty() && key != map.feature_key {
        bail!(
            "the map's features were made by another model or preprocessing ({}), this run \
             would make {key}",
            map.feature_key
        );
    }
    let mut removed: Vec<usize> = req.remove.into_iter().filter(|&r| r < map.len()).collect();
    removed.sort_unstable();
    removed.dedup();
    map.remove(&removed);

    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let mut seen: HashSet<PathBuf> = map.paths.iter().map(|p| canon(p)).collect();
    let mut skipped = Vec::new();
    let mut new_paths = req.add;
    new_paths.retain(|p| {
        if seen.insert(canon(p)) {
            true
        } else {
            rep.warn(&format!("skipped {}: already on the map", p.display()));
            skipped.push((p.clone(), "already on the map".into()));
            false
        }
    });
    let mut grown = Grown {
        removed,
        new: new_paths.len(),
        skipped,
        ..Grown::default()
    };
    if !new_paths.is_empty() {
        let set = features::extract_features(&new_paths, model, &map.preprocess, cache, rep)?;
        grown.skipped.extend(set.skipped.iter().cloned());
        if !set.paths.is_empty() {
            let timer = StageTimer::start(rep, Stage::Tsne, req.params.transform.iterations as u64);
            let report = map.add(
                set.paths.clone(),
                set.features.view(),
                &req.params,
                Some(rep.cancel_flag()),
                &mut placement_progress(rep),
            )?;
            timer.finish(&format!(
                "{} new images placed on a fixed map of {}",
                report.added.len(),
                report.added.start
            ));
            grown.added = report.added.len();
            if let Some(g) = report.grid {
                grown.moved = g.changed;
                let timer = StageTimer::start(rep, Stage::Grid, 0);
                timer.finish(&format!(
                    "{} × {} cells{}, {} of {} old images changed cell",
                    g.shape.cols,
                    g.shape.rows,
                    if g.grew { " (grown)" } else { "" },
                    g.changed,
                    report.added.start
                ));
            }
            grown.report = Some(report);
        }
    }
    if req.ensure_grid && map.grid.is_none() {
        let timer = StageTimer::start(rep, Stage::Grid, 0);
        map.ensure_grid(rep)?;
        timer.finish("solved anew (the map had no grid)");
    }
    if rep.cancelled() {
        bail!(Cancelled);
    }
    Ok(grown)
}

/// The placement callback of a run reported to `rep`: t-SNE progress per iteration, and
/// `Break` once the run is cancelled.
pub fn placement_progress(
    rep: &dyn Reporter,
) -> impl FnMut(usize, &[[f32; 2]]) -> ControlFlow<()> + '_ {
    move |it, _| {
        rep.advance(Stage::Tsne, it as u64 + 1);
        if rep.cancelled() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}
