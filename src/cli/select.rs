//! `image-tsne-live select`: the panel's selection, headless. Images of a layout picked by
//! cluster (`--cluster K`, repeatable: the clusters file beside the layout, found when there is
//! none) and/or by a filter over a metadata CSV and the file names (`--filter WORDS`); then their
//! paths written (`-o`, CSV or JSON), their files copied into a folder (`--copy-to`, never
//! overwriting), and/or a new map of just them (`--new-map`, the whole analysis on the list).

use super::args::{check_cancelled, reporter, usage, CommonArgs};
use super::clusters::{layout_clusters, layout_preprocess, ClusterSource};
use crate::cache::CacheArgs;
use crate::layout_io;
use crate::map::{sidecar_path, MapState};
use crate::metadata::{Metadata, Query};
use crate::pipeline::{self, AnalyzeOptions};
use crate::progress::{Reporter, Stage, StageTimer};
use anyhow::{Context, Result};
use clap::Args;
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SelectArgs {
    /// A layout JSON (ours or ml4a's).
    pub layout: PathBuf,
    /// The images of cluster K (its number in `clusters`' CSV); repeatable: any of them.
    #[arg(long, value_name = "K")]
    pub cluster: Vec<usize>,
    /// Images whose metadata fields or file name hold every one of these words
    /// (case-insensitive); with --cluster, those of the clusters that match.
    #[arg(long, value_name = "WORDS")]
    pub filter: Option<String>,
    /// The metadata CSV the filter searches (first column: path or file name).
    #[arg(long, value_name = "FILE.csv")]
    pub metadata: Option<PathBuf>,
    /// Write the selected paths here (`.json`: a JSON array; anything else: CSV).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Copy the selected files into this folder (made when missing; nothing there is
    /// overwritten: a taken name gets " (2)").
    #[arg(long, value_name = "DIR")]
    pub copy_to: Option<PathBuf>,
    /// Analyze just the selected images and write their own map (layout JSON and its map file).
    #[arg(long, value_name = "LAYOUT.json")]
    pub new_map: Option<PathBuf>,
    /// ONNX feature model (default: the bundled one).
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Run `select`.
pub fn run(args: &SelectArgs) -> Result<()> {
    if args.cluster.is_empty() && args.filter.is_none() {
        return usage("say which images: --cluster K and/or --filter WORDS");
    }
    if args.output.is_none() && args.copy_to.is_none() && args.new_map.is_none() {
        return usage(
            "say what to do with them: -o FILE, --copy-to DIR and/or --new-map LAYOUT.json",
        );
    }
    let rep = reporter(args.common.quiet);
    let loaded = pipeline::open_layout(&args.layout, rep.as_ref())?;
    let paths: Vec<PathBuf> = loaded.entries.iter().map(|e| e.path.clone()).collect();
    let points: Vec<[f32; 2]> = loaded.entries.iter().map(|e| e.point).collect();
    let mut picked: BTreeSet<usize> = (0..paths.len()).collect();
    if !args.cluster.is_empty() {
        let preprocess = layout_preprocess(&args.layout, &loaded.entries);
        let (clustering, _) = layout_clusters(
            &args.layout,
            &paths,
            &points,
            ClusterSource {
                min_size: None,
                fresh: false,
                model: args.model.as_deref(),
                preprocess: &preprocess,
                cache: &args.cache.cache(),
            },
            rep.as_ref(),
        )?;
        for &k in &args.cluster {
            if k >= clustering.clusters.len() {
                return usage(format!(
                    "--cluster {k}: there are {} clusters (0 to {})",
                    clustering.clusters.len(),
                    clustering.clusters.len().saturating_sub(1)
                ));
            }
        }
        picked.retain(|&i| clustering.of[i].is_some_and(|c| args.cluster.contains(&c)));
    }
    if let Some(words) = &args.filter {
        let meta = match &args.metadata {
            Some(file) => {
                let m = Metadata::read(file)?;
                for (line, what) in &m.problems {
                    rep.warn(&format!("{}: line {line}: {what}", file.display()));
                }
                m
            }
            None => Metadata::default(),
        };
        let matched = meta.match_paths(&paths);
        for line in matched.summary(&meta.file) {
            rep.warn(&line);
        }
        let query = Query::new(words);
        picked.retain(|&i| meta.matches(matched.row_of[i], &paths[i], &query));
    }
    let selected: Vec<PathBuf> = picked.iter().map(|&i| paths[i].clone()).collect();
    rep.println(&format!(
        "{:>9} {} of {} images",
        "selected",
        selected.len(),
        paths.len()
    ));
    if selected.is_empty() {
        anyhow::bail!("no image of {} is selected", args.layout.display());
    }
    if let Some(out) = &args.output {
        crate::selection::export_paths(out, &selected)?;
        rep.println(&format!("{:>9} wrote {}", "save", out.display()));
    }
    if let Some(dir) = &args.copy_to {
        let r = crate::selection::copy_files(&selected, dir, &|| rep.cancelled())?;
        for (from, why) in &r.failed {
            rep.warn(&format!("not copied: {}: {why}", from.display()));
        }
        for (from, to) in &r.renamed {
            rep.println(&format!(
                "{:>9} {} as {} (the folder had one by its name)",
                "copy",
                from.display(),
                to.display()
            ));
        }
        rep.println(&format!(
            "{:>9} {} files into {}, {} failed",
            "copy",
            r.copied + r.renamed.len(),
            dir.display(),
            r.failed.len()
        ));
    }
    if let Some(out) = &args.new_map {
        if selected.len() < 2 {
            anyhow::bail!("a new map needs at least two images");
        }
        let opts = AnalyzeOptions {
            model: args.model.clone(),
            cache: args.cache.cache(),
            ..AnalyzeOptions::default()
        };
        let model = crate::features::FeatureModel::load(opts.model.as_deref())?;
        let dir =
            crate::input::watch::common_folder(&selected).unwrap_or_else(|| PathBuf::from("."));
        let analysis = pipeline::analyze_listed(
            &dir,
            selected,
            std::time::Duration::ZERO,
            &opts,
            &model,
            rep.as_ref(),
            &pipeline::NoHooks,
        )?;
        check_cancelled(&rep)?;
        let timer = StageTimer::start(rep.as_ref(), Stage::Save, 0);
        let tsne = Some(layout_io::TsneSettings {
            perplexity: opts.tsne.perplexity,
            theta: opts.tsne.theta,
        });
        layout_io::write_layout(out, &analysis.entries(), tsne)
            .with_context(|| format!("cannot write {}", out.display()))?;
        MapState::from_analysis(&analysis, opts.preprocess, opts.aspect)
            .save(&sidecar_path(out))?;
        timer.finish(&format!(
            "wrote {} ({} images)",
            out.display(),
            analysis.paths.len()
        ));
    }
    Ok(())
}
