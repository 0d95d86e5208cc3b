//! `image-tsne-live clusters`: the named clusters of a layout as CSV (`path,cluster,label`,
//! cluster −1 for none). The clusters beside the layout (`LAYOUT.json.clusters.json`, with a
//! curator's names) are used when they were found with this `--min-size`; otherwise they are
//! found anew (keeping the curator's names where the groups agree) and that file is written.
//! Class names need the images' features: from the cache, or computed (a progress bar).

use super::args::{check_cancelled, reporter, CommonArgs};
use crate::cache::CacheArgs;
use crate::clusters::{self, sidecar, Clustering};
use crate::images::Preprocess;
use crate::map::{sidecar_path, MapState};
use crate::pipeline;
use crate::progress::{Reporter, Stage, StageTimer};
use crate::util::atomic::write_atomic;
use anyhow::{Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct ClustersArgs {
    /// A layout JSON (ours or ml4a's).
    pub layout: PathBuf,
    /// Where to write the CSV (`path,cluster,label`).
    #[arg(short, long)]
    pub output: PathBuf,
    /// The smallest group that counts as a cluster (default: the clusters file's, else 20 —
    /// PixPlot's — and a fortieth of the images on maps under 800, at least 5).
    #[arg(long, value_parser = parse_min_size)]
    pub min_size: Option<usize>,
    /// Find the clusters anew even when the layout's clusters file fits (a curator's names
    /// move to the new cluster that shares most of the old one's images).
    #[arg(long)]
    pub fresh: bool,
    /// Name cluster K (its number in the CSV) NAME, as the app's panel does; kept in the
    /// layout's clusters file. `K=` gives it back its automatic name. Repeatable.
    #[arg(long, value_name = "K=NAME", value_parser = parse_rename)]
    pub rename: Vec<(usize, String)>,
    /// ONNX feature model the layout was made with (default: the bundled one).
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `--rename K=NAME`.
fn parse_rename(s: &str) -> Result<(usize, String), String> {
    let (k, name) = s
        .split_once('=')
        .ok_or_else(|| format!("expected K=NAME, got {s:?}"))?;
    let k = k
        .trim()
        .parse::<usize>()
        .map_err(|_| format!("{k:?} is not a cluster number"))?;
    Ok((k, name.to_string()))
}

/// `--min-size`: at least 2.
pub fn parse_min_size(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 2 => Ok(n),
        Ok(_) => Err("must be at least 2".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Run `clusters`.
pub fn run(args: &ClustersArgs) -> Result<()> {
    let rep = reporter(args.common.quiet);
    let loaded = pipeline::open_layout(&args.layout, rep.as_ref())?;
    let paths: Vec<PathBuf> = loaded.entries.iter().map(|e| e.path.clone()).collect();
    let points: Vec<[f32; 2]> = loaded.entries.iter().map(|e| e.point).collect();
    let preprocess = layout_preprocess(&args.layout, &loaded.entries);
    let (mut clustering, min_size) = layout_clusters(
        &args.layout,
        &paths,
        &points,
        ClusterSource {
            min_size: args.min_size,
            fresh: args.fresh,
            model: args.model.as_deref(),
            preprocess: &preprocess,
            cache: &args.cache.cache(),
        },
        rep.as_ref(),
    )?;
    check_cancelled(&rep)?;
    if !args.rename.is_empty() {
        for (k, name) in &args.rename {
            if *k >= clustering.clusters.len() {
                return super::args::usage(format!(
                    "--rename {k}=…: there are {} clusters (0 to {})",
                    clustering.clusters.len(),
                    clustering.clusters.len().saturating_sub(1)
                ));
            }
            clustering.rename(*k, name);
        }
        let file = sidecar::sidecar_path(&args.layout);
        sidecar::save(&file, &paths, &clustering, min_size)?;
    }
    write_csv(&args.output, &paths, &clustering)?;
    report(rep.as_ref(), &args.output, &clustering);
    Ok(())
}

/// The preprocessing the layout's features were made with (its `.map` sidecar's), else the
/// default.
pub fn layout_preprocess(layout: &Path, entries: &[crate::layout_io::LayoutEntry]) -> Preprocess {
    let map = sidecar_path(layout);
    match MapState::load(&map, layout, entries) {
        Ok(state) => state.preprocess,
        Err(_) => Preprocess::default(),
    }
}

/// Where clusters come from and how they are named.
pub struct ClusterSource<'a> {
    /// `None`: the clusters file's, else [`clusters::auto_min_size`].
    pub min_size: Option<usize>,
    pub fresh: bool,
    pub model: Option<&'a Path>,
    pub preprocess: &'a Preprocess,
    pub cache: &'a crate::cache::Cache,
}

/// The layout's clusters and the minimum size they were found with: its clusters file when it
/// fits (same min size, not `fresh`), else found anew, named, the curator's names carried
/// over, and saved beside the layout.
pub fn layout_clusters(
    layout: &Path,
    paths: &[PathBuf],
    points: &[[f32; 2]],
    source: ClusterSource,
    rep: &dyn Reporter,
) -> Result<(Clustering, usize)> {
    let file = sidecar::sidecar_path(layout);
    let saved = match sidecar::load(&file) {
        Ok(s) => s,
        Err(e) => {
            rep.warn(&format!("{e:#}; the clusters are found anew"));
            None
        }
    };
    let fits = |s: &&sidecar::Saved| source.min_size.is_none_or(|m| m == s.min_size);
    if let Some(s) = saved.as_ref().filter(fits).filter(|_| !source.fresh) {
        return Ok((s.apply(paths, points), s.min_size));
    }
    let min_size = source
        .min_size
        .unwrap_or_else(|| clusters::auto_min_size(paths.len()));
    let features =
        clusters::features_for(paths, source.model, source.preprocess, source.cache, rep)?;
    let clustering = find_named(paths, points, &features, min_size, saved.as_ref(), rep)?;
    sidecar::save(&file, paths, &clustering, min_size)?;
    Ok((clustering, min_size))
}

/// Find and name the clusters of a map (a progress stage), carrying names from `saved`.
pub fn find_named(
    paths: &[PathBuf],
    points: &[[f32; 2]],
    features: &clusters::Features,
    min_size: usize,
    saved: Option<&sidecar::Saved>,
    rep: &dyn Reporter,
) -> Result<Clustering> {
    let timer = StageTimer::start(rep, Stage::Clusters, 0);
    let mut clustering =
        clusters::cluster_map(paths, points, Some(features), min_size, &mut || {
            !rep.cancelled()
        })
        .map_err(|_| anyhow::anyhow!(pipeline::Cancelled))?;
    if let Some(s) = saved {
        s.carry_names(paths, &mut clustering);
    }
    timer.finish(&format!(
        "{} clusters, {:.0} % of the images in none",
        clustering.clusters.len(),
        100.0 * clustering.unclustered_share()
    ));
    Ok(clustering)
}

/// Write the CSV atomically.
pub fn write_csv(out: &Path, paths: &[PathBuf], clustering: &Clustering) -> Result<()> {
    write_atomic(out, clusters::to_csv(paths, clustering).as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))
}

/// One line per cluster on the terminal: size and name.
pub fn report(rep: &crate::progress::CliReporter, out: &Path, clustering: &Clustering) {
    for (k, c) in clustering.clusters.iter().enumerate() {
        rep.println(&format!(
            "{:>9} {k:>3}  {:>5} images  {}",
            "cluster",
            c.members.len(),
            c.label
        ));
    }
    rep.println(&format!("{:>9} wrote {}", "save", out.display()));
}
