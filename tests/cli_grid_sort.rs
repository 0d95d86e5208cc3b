//! The default grid is sorted by the images' features (issue 21), through the command line on
//! the bundled demo set (360 emoji, 9 categories): `analyze` writes it, `grid` reproduces it from
//! the map beside the layout and — without that file — from the feature cache, on one thread as
//! on all; against the snap alone (`--solver exact`) it keeps feature neighbours closer (DPQ and
//! the t-SNE objective it minimises) without losing category neighbours, and stays near it.

mod common;

use common::metrics::{dpq, knn_accuracy};
use common::{cli as bin, run_ok as run};
use image_tsne_live::grid::{self, refine, GridShape, RefineParams};
use image_tsne_live::layout_io::{self, LoadedLayout};
use image_tsne_live::map::{sidecar_path, MapState};
use std::collections::HashMap;
use std::path::Path;

fn cells(l: &LoadedLayout) -> Vec<[u32; 2]> {
    l.entries
        .iter()
        .map(|e| e.grid.expect("every entry has a cell"))
        .collect()
}

fn points(cells: &[[u32; 2]]) -> Vec<[f32; 2]> {
    cells.iter().map(|c| [c[0] as f32, c[1] as f32]).collect()
}

fn grid_cmd(layout: &Path, out: &Path, cache: &Path, extra: &[&str]) -> LoadedLayout {
    run(bin()
        .arg("grid")
        .arg(layout)
        .arg("-o")
        .arg(out)
        .arg("--cache-dir")
        .arg(cache)
        .arg("--quiet")
        .args(extra));
    layout_io::read_layout(out).unwrap()
}

#[test]
fn the_default_grid_is_sorted_by_features_and_keeps_neighbours() {
    let demo = common::demo_dir();
    let categories = common::labels(&demo);
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let layout = tmp.path().join("demo.json");
    let sorted_file = tmp.path().join("sorted.json");
    run(bin()
        .arg("analyze")
        .arg(&demo)
        .arg("-o")
        .arg(&layout)
        .arg("--grid-output")
        .arg(&sorted_file)
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--quiet"));
    let loaded = layout_io::read_layout(&layout).unwrap();
    let sorted = cells(&layout_io::read_layout(&sorted_file).unwrap());
    let n = sorted.len();
    assert_eq!(n, 360);

    // the snap alone, and the sorted grid again: from the map beside the layout (one thread),
    // and from the cache for a copy without that file
    let exact = cells(&grid_cmd(
        &layout,
        &tmp.path().join("exact.json"),
        &cache,
        &["--solver", "exact"],
    ));
    let again = cells(&grid_cmd(
        &layout,
        &tmp.path().join("again.json"),
        &cache,
        &["--threads", "1"],
    ));
    assert_eq!(again, sorted, "`grid` reproduces the analysis' sorted grid");
    let bare = tmp.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    std::fs::copy(&layout, bare.join("demo.json")).unwrap();
    let from_cache = cells(&grid_cmd(
        &bare.join("demo.json"),
        &tmp.path().join("from-cache.json"),
        &cache,
        &[],
    ));
    assert_eq!(
        from_cache, sorted,
        "features from the cache give the same grid"
    );

    // what the sort measures itself by: the map's features
    let map = MapState::load(&sidecar_path(&layout), &layout, &loaded.entries).unwrap();
    let features = map.reduced.view();
    let shape = GridShape::for_count(n, 1.0);
    let params = RefineParams::default();
    let p = grid::affinities(features, None, params.perplexity, &mut || false).unwrap();
    let objective = |c: &[[u32; 2]]| {
        let none = RefineParams {
            max_sweeps: 0,
            ..params
        };
        refine::refine(&p, shape, c, &none, None, &mut |_, _| {})
            .unwrap()
            .objective_before
    };
    let (e_exact, e_sorted) = (objective(&exact), objective(&sorted));
    assert!(
        e_sorted < e_exact,
        "t-SNE objective {e_exact} -> {e_sorted}"
    );
    let (q_exact, q_sorted) = (
        dpq(features, &points(&exact), 16.0, 1000),
        dpq(features, &points(&sorted), 16.0, 1000),
    );
    assert!(
        q_sorted > q_exact + 0.005,
        "DPQ {q_exact:.3} -> {q_sorted:.3}"
    );

    // category neighbours are kept (the accuracy measure of the benchmarks)
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let y: Vec<u32> = loaded
        .entries
        .iter()
        .map(|e| {
            let c = categories
                .get(&e.path)
                .expect("every demo image has a category");
            let k = ids.len() as u32;
            *ids.entry(c.as_str()).or_insert(k)
        })
        .collect();
    let (a_exact, a_sorted) = (
        knn_accuracy(&points(&exact), &y, 10),
        knn_accuracy(&points(&sorted), &y, 10),
    );
    assert!(
        a_sorted >= a_exact - 0.02,
        "10-NN accuracy {a_exact:.3} -> {a_sorted:.3}"
    );

    // near the snap: a short glide between the two
    let moved = sorted.iter().zip(&exact).filter(|(a, b)| a != b).count();
    let shift: f64 = sorted
        .iter()
        .zip(&exact)
        .map(|(a, b)| {
            let dx = f64::from(a[0]) - f64::from(b[0]);
            let dy = f64::from(a[1]) - f64::from(b[1]);
            (dx * dx + dy * dy).sqrt()
        })
        .sum::<f64>()
        / n as f64;
    eprintln!(
        "demo: objective {e_exact:.4} -> {e_sorted:.4}, DPQ {q_exact:.3} -> {q_sorted:.3}, \
         10-NN {a_exact:.3} -> {a_sorted:.3}, {moved} moved, {shift:.2} cells"
    );
    assert!(moved > n / 20, "only {moved} images moved");
    assert!(shift < 1.0, "mean displacement {shift:.2} cells");
}

#[test]
fn a_layout_whose_images_are_gone_still_gets_the_snap() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("gone.json");
    let entries: Vec<layout_io::LayoutEntry> = (0..30)
        .map(|i| layout_io::LayoutEntry {
            path: tmp.path().join(format!("missing-{i}.jpg")),
            point: [(i % 6) as f32 / 5.0, (i / 6) as f32 / 4.0],
            grid: None,
        })
        .collect();
    layout_io::write_layout(&layout, &entries, None).unwrap();
    let out = tmp.path().join("grid.json");
    let res = run(bin()
        .arg("grid")
        .arg(&layout)
        .arg("-o")
        .arg(&out)
        .arg("--cache-dir")
        .arg(tmp.path().join("cache")));
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(stderr.contains("the grid is the snap alone"), "{stderr}");
    let grid = layout_io::read_layout(&out).unwrap();
    assert_eq!(grid.entries.len(), 30);
    let exact = cells(&grid_cmd(
        &layout,
        &tmp.path().join("exact.json"),
        &tmp.path().join("cache"),
        &["--solver", "exact"],
    ));
    assert_eq!(cells(&grid), exact);
}
