//! Growing a map against re-analysing it: analyze 1 000 emoji, add 200 more (one at a time and
//! in batches of 20) and compare with a full analysis of all 1 200 — 10-NN category accuracy of
//! the t-SNE points and grid cells, how far the original 1 000 moved (t-SNE points, grid cells)
//! and the time to place one image after its features at maps of 1k, 10k and 50k points (the
//! `datasets/tsne` blobs for 10k/50k) against the full re-run's t-SNE + grid time.
//!
//! ```text
//! cargo run --release --example bench_grow -- [--base 1000] [--add 200] [--batch 20]
//!     [--sizes 10000,50000] [--cache-dir DIR] [--threads N]
//! ```
//! Features come from the feature cache (the default location unless `--cache-dir`), so a rerun
//! skips the CNN.

use image_tsne_live::cache::Cache;
use image_tsne_live::features::{self, FeatureModel};
use image_tsne_live::grid::GridMethod;
use image_tsne_live::grid::GrowParams;
use image_tsne_live::map::{AddParams, Frame, MapState};
#[path = "../tests/common/metrics.rs"]
mod metrics;
use image_tsne_live::images::Preprocess;
use image_tsne_live::input::scan;
use image_tsne_live::pca::PcaBasis;
use image_tsne_live::pipeline::{self, AnalyzeOptions};
use image_tsne_live::progress::SilentReporter;
use image_tsne_live::tsne::transform::TransformParams;
use image_tsne_live::tsne::TsneParams;
use metrics::knn_accuracy;
use ndarray::{s, Array2};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Args {
    base: usize,
    add: usize,
    batch: usize,
    sizes: Vec<usize>,
    cache_dir: Option<PathBuf>,
    threads: Option<usize>,
    grid: GrowParams,
}

fn parse_args() -> Args {
    let mut a = Args {
        base: 1000,
        add: 200,
        batch: 20,
        sizes: vec![10_000, 50_000],
        cache_dir: None,
        threads: None,
        grid: GrowParams::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let mut num = || it.next().and_then(|v| v.parse::<usize>().ok());
        match x.as_str() {
            "--base" => a.base = num().unwrap_or(1000),
            "--add" => a.add = num().unwrap_or(200),
            "--batch" => a.batch = num().unwrap_or(20).max(1),
            "--threads" => a.threads = num(),
            "--sizes" => {
                a.sizes = it
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|v| v.trim().parse().ok())
                    .collect()
            }
            "--move-penalty" => {
                a.grid.move_penalty = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(a.grid.move_penalty)
            }
            "--min-free" => {
                a.grid.min_free = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(a.grid.min_free)
            }
            "--reach" => a.grid.reach = num().unwrap_or(a.grid.reach),
            "--step" => a.grid.step = num().unwrap_or(a.grid.step),
            "--cache-dir" => a.cache_dir = it.next().map(PathBuf::from),
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    a
}

fn shared() -> PathBuf {
    std::env::var_os("IMAGE_TSNE_LIVE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

fn label_ids(names: &[String]) -> Vec<u32> {
    let mut ids: HashMap<&str, u32> = HashMap::new();
    names
        .iter()
        .map(|c| {
            let next = ids.len() as u32;
            *ids.entry(c.as_str()).or_insert(next)
        })
        .collect()
}

/// A map built the way `analyze` builds one (PCA 50, t-SNE with the analyze defaults, exact grid).
fn build_map(
    paths: &[PathBuf],
    features: &Array2<f32>,
    opts: &AnalyzeOptions,
    rep: &SilentReporter,
) -> (MapState, Duration, Duration) {
    let reduced = pipeline::reduce(features, opts.pca_dims, rep);
    let basis = PcaBasis::from_scores(features.view(), reduced.view());
    let t = Instant::now();
    let raw = pipeline::embed_raw(&reduced, &opts.tsne, rep).expect("t-SNE");
    let tsne_time = t.elapsed();
    let points = pipeline::normalize_raw(&raw);
    let t = Instant::now();
    let by = Some(pipeline::GridFeatures::all(&reduced));
    let grid = pipeline::lay_out_grid(&points, by, opts.aspect, opts.grid, rep).expect("grid");
    let grid_time = t.elapsed();
    let map = MapState {
        paths: paths.to_vec(),
        frame: Frame::of(&raw),
        points,
        embedding: raw,
        known: vec![true; paths.len()],
        reduced,
        basis,
        feature_key: String::new(),
        preprocess: opts.preprocess,
        aspect: opts.aspect,
        grid: Some(grid),
    };
    (map, tsne_time, grid_time)
}

fn add(
    map: &mut MapState,
    paths: &[PathBuf],
    features: ndarray::ArrayView2<f32>,
    grid: &GrowParams,
) -> image_tsne_live::map::AddReport {
    map.add(
        paths.to_vec(),
        features,
        &AddParams {
            transform: TransformParams::default(),
            grid: *grid,
        },
        None,
        &mut |_, _| ControlFlow::Continue(()),
    )
    .expect("add")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

fn main() {
    let args = parse_args();
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.threads {
        pool = pool.num_threads(n);
    }
    pool.build().expect("threads").install(|| run(&args));
}

fn run(args: &Args) {
    let rep = SilentReporter::default();
    let dataset = shared().join("datasets/emoji-google");
    let dataset = dataset.canonicalize().unwrap_or(dataset);
    let labels: HashMap<PathBuf, String> = std::fs::read_to_string(dataset.join("labels.csv"))
        .expect("labels.csv")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (rel, cat) = l.rsplit_once(',')?;
            Some((dataset.join(rel), cat.trim_matches('"').to_string()))
        })
        .collect();
    let found = scan::scan(&dataset, false).expect("scan");
    let paths = scan::random_subset(found.images, args.base + args.add, 42);
    let cache = args
        .cache_dir
        .as_ref()
        .map(Cache::at)
        .unwrap_or_else(Cache::default_location);
    let model = FeatureModel::bundled().expect("model");
    let t = Instant::now();
    let set = features::extract_features(&paths, &model, &Preprocess::default(), &cache, &rep)
        .expect("features");
    eprintln!(
        "features of {} images in {:.1} s ({} from cache)",
        set.paths.len(),
        t.elapsed().as_secs_f64(),
        set.from_cache
    );
    let n = set.paths.len();
    let base = args.base.min(n);
    let cats: Vec<String> = set
        .paths
        .iter()
        .map(|p| labels.get(p).cloned().unwrap_or_default())
        .collect();
    let ids = label_ids(&cats);
    let opts = AnalyzeOptions::default();

    // The map of the first `base` images.
    let (map0, _, _) = build_map(
        &set.paths[..base],
        &set.features.slice(s![..base, ..]).to_owned(),
        &opts,
        &rep,
    );
    // Full re-run on all images.
    let (full, full_tsne, full_grid) = build_map(&set.paths, &set.features, &opts, &rep);
    eprintln!(
        "own t-SNE median nearest-neighbour distance: {:.3} (base map), {:.3} (full)",
        image_tsne_live::map::median_nn_distance(&map0.embedding),
        image_tsne_live::map::median_nn_distance(&full.embedding)
    );

    let acc = |m: &MapState| {
        (
            knn_accuracy(&m.points, &ids, 10),
            knn_accuracy(&m.grid.as_ref().unwrap().cell_points(), &ids, 10),
        )
    };
    let moved = |m: &MapState| {
        m.points[..base]
            .iter()
            .zip(&map0.points)
            .map(|(a, b)| ((a[0] - b[0]).abs()).max((a[1] - b[1]).abs()))
            .fold(0f32, f32::max)
    };

    // One at a time.
    let mut single = map0.clone();
    let mut single_place = Vec::new();
    let mut single_grid = Vec::new();
    let mut single_changed = Vec::new();
    for i in base..n {
        let r = add(
            &mut single,
            &set.paths[i..i + 1],
            set.features.slice(s![i..i + 1, ..]),
            &args.grid,
        );
        single_place.push(ms(r.place_time));
        single_grid.push(ms(r.grid_time));
        let g = r.grid.unwrap();
        single_changed.push((g.changed, g.changed_index, g.grew, r.added.start));
    }
    // As if the layout had been made elsewhere: only its [0, 1] points are known (scaled the way
    // `MapState::from_layout` scales them), one at a time.
    let mut foreign = map0.clone();
    let scale = image_tsne_live::map::TYPICAL_NN_DISTANCE
        / image_tsne_live::map::median_nn_distance(&map0.points).max(1e-9);
    foreign.embedding = map0
        .points
        .iter()
        .map(|p| [(p[0] as f64 * scale) as f32, (p[1] as f64 * scale) as f32])
        .collect();
    foreign.frame = Frame {
        lo: [0.0; 2],
        offset: [0.0; 2],
        extent: scale,
    };
    for i in base..n {
        add(
            &mut foreign,
            &set.paths[i..i + 1],
            set.features.slice(s![i..i + 1, ..]),
            &args.grid,
        );
    }
    // In batches.
    let mut batched = map0.clone();
    let mut batches = Vec::new();
    let mut i = base;
    while i < n {
        let j = (i + args.batch).min(n);
        let r = add(
            &mut batched,
            &set.paths[i..j],
            set.features.slice(s![i..j, ..]),
            &args.grid,
        );
        let g = r.grid.unwrap();
        batches.push((r.added.start, j - i, g, r.place_time, r.grid_time));
        i = j;
    }

    let (a_full, g_full) = acc(&full);
    let (a_one, g_one) = acc(&single);
    let (a_bat, g_bat) = acc(&batched);
    let (a_base, g_base) = {
        let ids0 = &ids[..base];
        (
            knn_accuracy(&map0.points, ids0, 10),
            knn_accuracy(&map0.grid.as_ref().unwrap().cell_points(), ids0, 10),
        )
    };
    println!(
        "\n## Growing {base} emoji by {} (seeded subset 42 of emoji-google)\n",
        n - base
    );
    println!("| map | 10-NN acc. t-SNE | 10-NN acc. grid | old points moved (max) | grid |");
    println!("|---|---:|---:|---:|---|");
    let shape = |m: &MapState| {
        let g = m.grid.as_ref().unwrap();
        format!("{}×{}", g.shape.cols, g.shape.rows)
    };
    println!(
        "| base ({base}) | {a_base:.3} | {g_base:.3} | — | {} |",
        shape(&map0)
    );
    println!(
        "| grown one at a time ({n}) | {a_one:.3} | {g_one:.3} | {} | {} |",
        moved(&single),
        shape(&single)
    );
    println!(
        "| grown in batches of {} ({n}) | {a_bat:.3} | {g_bat:.3} | {} | {} |",
        args.batch,
        moved(&batched),
        shape(&batched)
    );
    let (a_for, g_for) = acc(&foreign);
    println!(
        "| grown one at a time from the layout's points only, no map file ({n}) | {a_for:.3} | {g_for:.3} | {} | {} |",
        moved(&foreign),
        shape(&foreign)
    );
    println!(
        "| full re-run ({n}) | {a_full:.3} | {g_full:.3} | (all) | {} |",
        shape(&full)
    );
    println!(
        "\naccuracy gap to the full re-run: t-SNE {:+.3} (one at a time), {:+.3} (batches); grid {:+.3}, {:+.3}",
        a_one - a_full,
        a_bat - a_full,
        g_one - g_full,
        g_bat - g_full
    );

    println!(
        "\n### Grid churn per batch of {} (move penalty {} cells², reach {}, step {}, min free {})\n",
        args.batch, args.grid.move_penalty, args.grid.reach, args.grid.step, args.grid.min_free
    );
    println!("| batch | map size before | grid | grew | old images that changed cell | share | [col,row] changed | place ms | grid ms |");
    println!("|---:|---:|---|---|---:|---:|---:|---:|---:|");
    for (k, (start, _m, g, pt, gt)) in batches.iter().enumerate() {
        println!(
            "| {} | {start} | {}×{} | {} | {} | {:.1} % | {} | {:.1} | {:.1} |",
            k + 1,
            g.shape.cols,
            g.shape.rows,
            if g.grew { "yes" } else { "" },
            g.changed,
            100.0 * g.changed as f64 / *start as f64,
            g.changed_index,
            ms(*pt),
            ms(*gt)
        );
    }
    let worst_single = single_changed
        .iter()
        .filter(|c| !c.2)
        .map(|c| c.0 as f64 / c.3 as f64)
        .fold(0f64, f64::max);
    let total_single: usize = single_changed.iter().map(|c| c.0).sum();
    println!(
        "\none at a time: {} adds, {} grid growths; cell changes per add: max {:.2} % (without growth), {} in all; median place {:.2} ms, grid {:.2} ms",
        single_changed.len(),
        single_changed.iter().filter(|c| c.2).count(),
        100.0 * worst_single,
        total_single,
        median(single_place.clone()),
        median(single_grid.clone())
    );

    // Time to place one image after its features, by map size.
    println!("\n### Time to place one image (after its features) vs a full re-run\n");
    println!("| map | place (t-SNE transform), median of 20 | grid cell, median | full re-run t-SNE | full re-run grid |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| emoji {base} | {:.2} ms | {:.2} ms | {:.2} s ({n} points) | {:.2} s |",
        median(single_place.iter().take(20).copied().collect()),
        median(single_grid.iter().take(20).copied().collect()),
        full_tsne.as_secs_f64(),
        full_grid.as_secs_f64()
    );
    for &size in &args.sizes {
        let name = if size <= 10_000 {
            "blobs10k"
        } else {
            "blobs50k"
        };
        let total = if size <= 10_000 { 10_000 } else { 50_000 };
        let path = shared().join(format!("datasets/tsne/{name}_pca50.f32"));
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("skipping {name}: cannot read {}", path.display());
            continue;
        };
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let data = Array2::from_shape_vec((total, 50), values).expect("shape");
        let m = size.min(total) - 20;
        let fake_paths: Vec<PathBuf> = (0..size.min(total))
            .map(|i| PathBuf::from(format!("{i}")))
            .collect();
        // The map: the blobs' PCA-50 rows are the features (identity basis).
        let feats = data.slice(s![..m, ..]).to_owned();
        let params = AnalyzeOptions {
            pca_dims: 50,
            tsne: TsneParams {
                perplexity: 30.0,
                theta: 0.5,
                ..opts.tsne.clone()
            },
            grid: GridMethod::default(),
            ..AnalyzeOptions::default()
        };
        let (mut map, tsne_time, grid_time) = build_map(&fake_paths[..m], &feats, &params, &rep);
        let mut place = Vec::new();
        let mut grid = Vec::new();
        for i in m..m + 20 {
            let r = add(
                &mut map,
                &fake_paths[i..i + 1],
                data.slice(s![i..i + 1, ..]),
                &args.grid,
            );
            place.push(ms(r.place_time));
            grid.push(ms(r.grid_time));
        }
        println!(
            "| {name} {m} | {:.2} ms | {:.2} ms | {:.2} s | {:.2} s |",
            median(place),
            median(grid),
            tsne_time.as_secs_f64(),
            grid_time.as_secs_f64()
        );
    }
}
