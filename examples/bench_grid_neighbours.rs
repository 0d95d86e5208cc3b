//! Does the grid keep neighbours? On labelled sets: the leave-one-out 10-NN category accuracy
//! and the Distance Preservation Quality (DPQ₁₆, Barthel et al. 2023) of the t-SNE map, of the
//! snap (the grid of `--solver exact`/`auto`: exact up to 20 000 images, the certified fast mode
//! above) and of the default grid (the snap, then sorted by the features: `grid::refine`); the
//! sorted grid's mean displacement from the snap, the time of each step and the sort's extra
//! memory. Printed as a markdown table; all rows from the same run.
//!
//! ```text
//! cargo run --release --example bench_grid_neighbours -- [--sets emoji1000,emoji,digits,blobs10k,blobs50k] [--dpq-rows N]
//! ```
//! * `emoji1000`, `emoji`: the shared `emoji-google` set (a seeded 1 000, all 3 786) analysed by
//!   our pipeline (features from the default cache), categories from its `labels.csv`.
//! * `digits`, `blobs10k`, `blobs50k`: the shared PCA-50 inputs with labels, mapped by our t-SNE.
//! * `--dpq-rows N` (default 2 000): DPQ averages over N evenly spaced images on bigger sets (all
//!   images below; exact there). Every row is O(n log n), so the full measure at 50 000 would take
//!   hours.
//!
//! The features column is the accuracy of the PCA-50 features themselves (what a perfect
//! arrangement could reach at best, roughly). The accuracy is measured exactly as the issue's
//! table and `bench_pipeline` do (tests/common/metrics.rs).

#[path = "../tests/common/metrics.rs"]
mod metrics;
#[path = "support/sets.rs"]
mod sets;

use image_tsne_live::grid::{self, GridShape, RefineParams, Solver};
use metrics::{dpq, knn_accuracy, knn_accuracy_nd};
use sets::Set;
use std::collections::HashMap;
use std::time::Instant;

struct Row {
    n: usize,
    shape: GridShape,
    acc: [f64; 4],
    dpq: [f64; 3],
    displacement: f64,
    moved: f64,
    snap_s: f64,
    affinities_s: f64,
    sort_s: f64,
    sweeps: usize,
    extra_mb: f64,
}

fn labels(set: &Set) -> Vec<u32> {
    let mut ids = HashMap::new();
    set.labels
        .iter()
        .map(|l| {
            let k = ids.len() as u32;
            *ids.entry(l.clone()).or_insert(k)
        })
        .collect()
}

fn as_points(cells: &[[u32; 2]]) -> Vec<[f32; 2]> {
    cells.iter().map(|c| [c[0] as f32, c[1] as f32]).collect()
}

fn measure(set: &Set, dpq_rows: usize) -> anyhow::Result<Row> {
    let y = labels(set);
    let n = set.points.len();
    let shape = GridShape::for_count(n, 1.0);
    let pts: Vec<[f64; 2]> = set
        .points
        .iter()
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect();
    let t = Instant::now();
    let snap = grid::assign(&pts, shape, Solver::Auto, None)?;
    let snap_s = t.elapsed().as_secs_f64();
    let params = RefineParams::default();
    let t = Instant::now();
    let p = grid::affinities(set.features.view(), None, params.perplexity, &mut || false)?;
    let affinities_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let sorted = grid::refine::refine(&p, shape, &snap.cells, &params, None, &mut |_, _| {})?;
    let sort_s = t.elapsed().as_secs_f64();
    // what the sort holds besides its input: P (CSR), the board (x, y, dirty per image,
    // occupant per cell) and the ln(1 + d²) table
    let cells = shape.cols * shape.rows;
    let max_d2 = ((shape.cols - 1).pow(2) + (shape.rows - 1).pow(2)).min(1 << 17);
    let extra = p.nnz() * 8 + (n + 1) * 8 + n * 9 + cells * 4 + (max_d2 + 1) * 4;
    let (mut moved, mut shift) = (0usize, 0f64);
    for (a, b) in sorted.cells.iter().zip(&snap.cells) {
        let (dx, dy) = (
            f64::from(a[0]) - f64::from(b[0]),
            f64::from(a[1]) - f64::from(b[1]),
        );
        if a != b {
            moved += 1;
        }
        shift += (dx * dx + dy * dy).sqrt();
    }
    let (snap_pts, sorted_pts) = (as_points(&snap.cells), as_points(&sorted.cells));
    Ok(Row {
        n,
        shape,
        acc: [
            knn_accuracy_nd(set.features.view(), &y, 10),
            knn_accuracy(&set.points, &y, 10),
            knn_accuracy(&snap_pts, &y, 10),
            knn_accuracy(&sorted_pts, &y, 10),
        ],
        dpq: [
            dpq(set.features.view(), &set.points, 16.0, dpq_rows),
            dpq(set.features.view(), &snap_pts, 16.0, dpq_rows),
            dpq(set.features.view(), &sorted_pts, 16.0, dpq_rows),
        ],
        displacement: shift / n as f64,
        moved: moved as f64 / n as f64,
        snap_s,
        affinities_s,
        sort_s,
        sweeps: sorted.sweeps,
        extra_mb: extra as f64 / (1 << 20) as f64,
    })
}

fn main() -> anyhow::Result<()> {
    let mut names = "emoji1000,emoji,digits,blobs10k".to_string();
    let mut dpq_rows = 2000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sets" => names = args.next().unwrap_or_default(),
            "--dpq-rows" => dpq_rows = args.next().and_then(|v| v.parse().ok()).unwrap_or(2000),
            other => anyhow::bail!("unknown argument {other}; see the doc comment"),
        }
    }
    let mut rows = Vec::new();
    for name in names.split(',').filter(|s| !s.is_empty()) {
        let set = sets::by_name(name)?;
        eprintln!("measuring {} ({} images)…", set.name, set.points.len());
        rows.push((set.name.clone(), measure(&set, dpq_rows)?));
    }
    println!(
        "| set | n | grid | 10-NN: features | map | snap | sorted | sorted − map | \
         DPQ₁₆: map | snap | sorted | displacement (moved) | snap s | sort s (affinities + \
         sweeps) | sort memory |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|");
    for (name, r) in rows {
        println!(
            "| {name} | {} | {}×{} | {:.3} | {:.3} | {:.3} | **{:.3}** | {:+.3} | {:.3} | {:.3} | \
             **{:.3}** | {:.2} cells ({:.0} %) | {:.2} | {:.2} ({:.2} + {:.2}, {} sweeps) | \
             {:.1} MB |",
            r.n,
            r.shape.cols,
            r.shape.rows,
            r.acc[0],
            r.acc[1],
            r.acc[2],
            r.acc[3],
            r.acc[3] - r.acc[1],
            r.dpq[0],
            r.dpq[1],
            r.dpq[2],
            r.displacement,
            100.0 * r.moved,
            r.snap_s,
            r.affinities_s + r.sort_s,
            r.affinities_s,
            r.sort_s,
            r.sweeps,
            r.extra_mb,
        );
    }
    Ok(())
}
