//! Wall time of each analysis stage, where the feature time goes, and how well the layout groups
//! labelled images (leave-one-out 10-NN category accuracy of the features, the PCA output, the
//! t-SNE points and the grid cells).
//!
//! ```text
//! cargo run --release --example bench_pipeline -- [DATASET] [--max-images 1000] [--threads N]
//!     [--compare-preprocessing] [--no-cache] [--plain-tract]
//! ```
//! DATASET defaults to `../shared/datasets/emoji-google` (a folder with `labels.csv`:
//! `relpath,category`). The feature cache is a fresh temporary folder unless `--cache-dir` is
//! given, so the CNN time is real.

use image_tsne_live::cache::Cache;
use image_tsne_live::features::{Engine, FeatureModel};
use image_tsne_live::grid::GridMethod;
#[path = "../tests/common/metrics.rs"]
mod metrics;
use image_tsne_live::features::{self, FeatureTimes};
use image_tsne_live::images::{Crop, Preprocess};
use image_tsne_live::pipeline::{self, AnalyzeOptions};
use image_tsne_live::progress::SilentReporter;
use metrics::{knn_accuracy, knn_accuracy_nd};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

struct Args {
    dataset: PathBuf,
    max_images: usize,
    threads: Option<usize>,
    compare: bool,
    /// tract's plain plan instead of the one with the fast convolution op (before/after).
    plain: bool,
    cache_dir: Option<PathBuf>,
}

fn parse_args() -> Args {
    let shared = std::env::var_os("IMAGE_TSNE_LIVE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let mut args = Args {
        dataset: shared.join("datasets/emoji-google"),
        max_images: 1000,
        threads: None,
        compare: false,
        plain: false,
        cache_dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--max-images" => {
                args.max_images = it.next().and_then(|v| v.parse().ok()).unwrap_or(1000)
            }
            "--threads" => args.threads = it.next().and_then(|v| v.parse().ok()),
            "--compare-preprocessing" => args.compare = true,
            "--plain-tract" => args.plain = true,
            "--cache-dir" => args.cache_dir = it.next().map(PathBuf::from),
            other if !other.starts_with("--") => args.dataset = PathBuf::from(other),
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    args
}

/// `labels.csv` of the dataset; accuracy needs it, so a missing or empty file is an error (a
/// run without labels would give every image one label and print a perfect accuracy).
fn labels(dataset: &Path) -> anyhow::Result<HashMap<PathBuf, String>> {
    let file = dataset.join("labels.csv");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}; the benchmark reports 10-NN category accuracy and needs the labels",
            file.display()
        )
    })?;
    let labels: HashMap<PathBuf, String> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (rel, cat) = l.rsplit_once(',')?;
            Some((dataset.join(rel).canonicalize().ok()?, cat.to_string()))
        })
        .collect();
    if labels.is_empty() {
        anyhow::bail!("{} names no existing image", file.display());
    }
    Ok(labels)
}

fn ids(paths: &[PathBuf], labels: &HashMap<PathBuf, String>) -> Vec<u32> {
    let mut map: HashMap<String, u32> = HashMap::new();
    paths
        .iter()
        .map(|p| {
            let cat = p
                .canonicalize()
                .ok()
                .and_then(|c| labels.get(&c).cloned())
                .unwrap_or_else(|| format!("unlabelled:{}", p.display()));
            let next = map.len() as u32;
            *map.entry(cat).or_insert(next)
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args = parse_args();
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.threads {
        pool = pool.num_threads(n);
    }
    let pool = pool.build()?;
    pool.install(|| run(&args))
}

fn run(args: &Args) -> anyhow::Result<()> {
    let labels = labels(&args.dataset)?;
    let tmp = tempfile::tempdir()?;
    let cache = Cache::at(
        args.cache_dir
            .clone()
            .unwrap_or_else(|| tmp.path().to_path_buf()),
    );
    let rep = SilentReporter::default();
    let opts = AnalyzeOptions {
        max_images: args.max_images,
        cache: cache.clone(),
        ..AnalyzeOptions::default()
    };
    println!(
        "dataset {} · max {} images · {} threads\n",
        args.dataset.display(),
        args.max_images,
        rayon::current_num_threads()
    );

    let t = Instant::now();
    let paths = pipeline::scan_folder(&args.dataset, &opts, &rep)?;
    let scan = t.elapsed();
    let t = Instant::now();
    let model = if args.plain {
        FeatureModel::bundled_with(Engine::Plain)?
    } else {
        FeatureModel::load(None)?
    };
    let load = t.elapsed();
    let t = Instant::now();
    let set = features::extract_features(&paths, &model, &opts.preprocess, &cache, &rep)?;
    let features = t.elapsed();
    let t = Instant::now();
    let reduced = pipeline::reduce(&set.features, opts.pca_dims, &rep);
    let pca = t.elapsed();
    let t = Instant::now();
    let points = pipeline::embed(&reduced, &opts.tsne, &rep)?;
    let tsne = t.elapsed();
    let t = Instant::now();
    let grid = pipeline::lay_out_grid(
        &points,
        Some(pipeline::GridFeatures::all(&reduced)),
        1.0,
        GridMethod::default(),
        &rep,
    )?;
    let grid_time = t.elapsed();

    let n = set.paths.len();
    println!("| stage | wall s | notes |\n|---|---:|---|");
    println!(
        "| scan | {:.3} | {} images listed |",
        scan.as_secs_f64(),
        paths.len()
    );
    println!(
        "| model load + optimize | {:.3} | tract plan, fixed input [1,3,224,224] |",
        load.as_secs_f64()
    );
    println!(
        "| features | {:.3} | {n} used, {} skipped; {:.1} ms/image wall |",
        features.as_secs_f64(),
        set.skipped.len(),
        features.as_secs_f64() * 1000.0 / n.max(1) as f64
    );
    println!(
        "| pca | {:.3} | 1280 → {} |",
        pca.as_secs_f64(),
        reduced.ncols()
    );
    println!(
        "| t-SNE | {:.3} | perplexity {}, theta {}, {} iterations |",
        tsne.as_secs_f64(),
        opts.tsne.perplexity,
        opts.tsne.theta,
        opts.tsne.iterations
    );
    println!(
        "| grid | {:.3} | {}×{}, {} |",
        grid_time.as_secs_f64(),
        grid.shape.cols,
        grid.shape.rows,
        if grid.optimal {
            "proven optimal"
        } else {
            "not proven optimal"
        }
    );
    let total = scan + load + features + pca + tsne + grid_time;
    println!("| **total** | **{:.3}** | |\n", total.as_secs_f64());
    print_feature_times(&set.time, n);

    let y = ids(&set.paths, &labels);
    let cells = grid.cell_points();
    println!(
        "\n10-NN leave-one-out category accuracy ({} categories):",
        y.iter().max().map(|m| m + 1).unwrap_or(0)
    );
    println!("| space | accuracy |\n|---|---:|");
    println!(
        "| CNN features (1280-d) | {:.3} |",
        knn_accuracy_nd(set.features.view(), &y, 10)
    );
    println!(
        "| PCA ({}-d) | {:.3} |",
        reduced.ncols(),
        knn_accuracy_nd(reduced.view(), &y, 10)
    );
    println!("| t-SNE points | {:.3} |", knn_accuracy(&points, &y, 10));
    println!("| grid cells | {:.3} |", knn_accuracy(&cells, &y, 10));

    if args.compare {
        println!("\npreprocessing comparison (same images, same t-SNE settings):");
        println!("| background | crop | features | t-SNE | grid |\n|---|---|---:|---:|---:|");
        for (bg, name) in [
            ([255, 255, 255], "white"),
            ([128, 128, 128], "mid-grey"),
            ([0, 0, 0], "black"),
        ] {
            for crop in [Crop::Center, Crop::Squash] {
                let prep = Preprocess {
                    background: bg,
                    crop,
                    ..Preprocess::default()
                };
                let set = features::extract_features(&paths, &model, &prep, &cache, &rep)?;
                let reduced = pipeline::reduce(&set.features, opts.pca_dims, &rep);
                let points = pipeline::embed(&reduced, &opts.tsne, &rep)?;
                let grid = pipeline::lay_out_grid(
                    &points,
                    Some(pipeline::GridFeatures::all(&reduced)),
                    1.0,
                    GridMethod::default(),
                    &rep,
                )?;
                let y = ids(&set.paths, &labels);
                let cells = grid.cell_points();
                println!(
                    "| {name} | {crop:?} | {:.3} | {:.3} | {:.3} |",
                    knn_accuracy_nd(set.features.view(), &y, 10),
                    knn_accuracy(&points, &y, 10),
                    knn_accuracy(&cells, &y, 10)
                );
            }
        }
    }
    Ok(())
}

fn print_feature_times(t: &FeatureTimes, n: usize) {
    let parts = t.parts();
    let sum = parts
        .iter()
        .map(|(_, d)| d.as_secs_f64())
        .sum::<f64>()
        .max(1e-9);
    let per = |d: std::time::Duration| d.as_secs_f64() * 1000.0 / n.max(1) as f64;
    println!("where the feature time goes (summed over worker threads):");
    println!("| part | thread-s | share | ms/image |\n|---|---:|---:|---:|");
    for (name, d) in parts {
        println!(
            "| {name} | {:.2} | {:.0} % | {:.1} |",
            d.as_secs_f64(),
            d.as_secs_f64() / sum * 100.0,
            per(d)
        );
    }
}
