//! End to end through the command line on real data: `analyze` 300 of the 360 bundled demo
//! emoji (`assets/demo`, 9 categories) → a valid ml4a JSON in which images of the same category
//! sit together (10-NN category accuracy of the t-SNE points and of the grid cells), the feature
//! cache makes a second run skip the CNN, and `grid` reads it back.

mod common;

use common::metrics::knn_accuracy;
use image_tsne_live::layout_io;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_image-tsne-live"))
}

fn label_ids(paths: &[PathBuf], labels: &HashMap<PathBuf, String>) -> Vec<u32> {
    let mut ids: HashMap<&str, u32> = HashMap::new();
    paths
        .iter()
        .map(|p| {
            let cat = labels
                .get(p)
                .unwrap_or_else(|| panic!("no label for {}", p.display()));
            let next = ids.len() as u32;
            *ids.entry(cat.as_str()).or_insert(next)
        })
        .collect()
}

/// How many of the demo set's 360 images the analysis uses: fewer than all, so that the seeded
/// subset is exercised (a second run must pick the same ones).
const USED: usize = 300;

/// N in "300 images used (N from cache)".
fn from_cache(stderr: &str) -> usize {
    let rest = stderr
        .split("images used (")
        .nth(1)
        .expect("features summary");
    rest.split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run image-tsne-live");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "failed: {stderr}");
    stderr
}

#[test]
fn analyze_300_emoji_groups_categories_and_caches_features() {
    let dataset = common::demo_dir();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("emoji.json");
    let grid_out = tmp.path().join("emoji-grid.json");
    let stderr = run(bin()
        .arg("analyze")
        .arg(&dataset)
        .arg("-o")
        .arg(&out)
        .arg("--grid-output")
        .arg(&grid_out)
        .args(["--max-images", &USED.to_string(), "--cache-dir"])
        .arg(&cache));
    // The demo set has no byte-identical files: every feature vector is computed.
    assert!(
        stderr.contains(&format!("{USED} images used (")),
        "{stderr}"
    );
    assert_eq!(from_cache(&stderr), 0, "{stderr}");

    // Valid ml4a JSON: an array of {path, point} with absolute paths and points in [0,1].
    let text = std::fs::read_to_string(&out).unwrap();
    let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
    let arr = raw.as_array().unwrap();
    assert_eq!(arr.len(), USED);
    for e in arr {
        let obj = e.as_object().unwrap();
        // path and point (what ml4a reads), and the t-SNE settings that made the point
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["path", "perplexity", "point", "theta"], "{obj:?}");
        assert_eq!(obj["perplexity"], 50.0);
        assert!(Path::new(obj["path"].as_str().unwrap()).is_absolute());
        let p = obj["point"].as_array().unwrap();
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|v| (0.0..=1.0).contains(&v.as_f64().unwrap())));
    }

    let layout = layout_io::read_layout(&out).unwrap();
    let labels = common::labels(&dataset);
    let paths: Vec<PathBuf> = layout
        .entries
        .iter()
        .map(|e| e.path.canonicalize().unwrap())
        .collect();
    let labels: HashMap<PathBuf, String> = labels
        .into_iter()
        .map(|(p, c)| (p.canonicalize().unwrap(), c))
        .collect();
    let ids = label_ids(&paths, &labels);
    let points: Vec<[f32; 2]> = layout.entries.iter().map(|e| e.point).collect();
    let point_acc = knn_accuracy(&points, &ids, 10);

    let grid = layout_io::read_layout(&grid_out).unwrap();
    let [cols, rows] = grid.grid_size.expect("grid file has a complete grid");
    assert!(
        cols * rows >= USED as u32 && cols * rows < USED as u32 + cols.max(rows),
        "{cols} x {rows}"
    );
    let cells: Vec<[f32; 2]> = grid
        .entries
        .iter()
        .map(|e| {
            let g = e.grid.unwrap();
            [g[0] as f32, g[1] as f32]
        })
        .collect();
    let grid_acc = knn_accuracy(&cells, &ids, 10);
    eprintln!("10-NN category accuracy: t-SNE points {point_acc:.3}, grid cells {grid_acc:.3}");
    // Measured on the 300 demo emoji (seed 42, deterministic): 0.603 for the t-SNE points and
    // 0.493 for the grid cells, where a layout that ignored the pictures would score about 0.11
    // (9 categories of equal size). The bounds leave a little room for other CPUs.
    assert!(point_acc >= 0.55, "t-SNE 10-NN accuracy {point_acc}");
    assert!(grid_acc >= 0.45, "grid 10-NN accuracy {grid_acc}");

    // Second run with other t-SNE settings: every feature vector comes from the cache.
    let out2 = tmp.path().join("emoji2.json");
    let stderr = run(bin()
        .arg("analyze")
        .arg(&dataset)
        .arg("-o")
        .arg(&out2)
        .args([
            "--max-images",
            &USED.to_string(),
            "--perplexity",
            "20",
            "--theta",
            "0.5",
            "--cache-dir",
        ])
        .arg(&cache));
    assert_eq!(from_cache(&stderr), USED, "{stderr}");
    let second = layout_io::read_layout(&out2).unwrap();
    let same: Vec<_> = second.entries.iter().map(|e| e.path.clone()).collect();
    assert_eq!(
        same,
        layout
            .entries
            .iter()
            .map(|e| e.path.clone())
            .collect::<Vec<_>>(),
        "same seeded subset"
    );
    assert_ne!(second.entries[0].point, layout.entries[0].point);

    // `grid` on our own output reproduces the analysis' grid.
    let regrid = tmp.path().join("regrid.json");
    run(bin()
        .arg("grid")
        .arg(&out)
        .arg("-o")
        .arg(&regrid)
        .arg("--quiet"));
    let regrid = layout_io::read_layout(&regrid).unwrap();
    assert_eq!(regrid.grid_size, Some([cols, rows]));
    // The same points (the file holds them bit-for-bit), the same features (the map beside the
    // layout) and a deterministic snap and sort: the same cost to 1e-9, and the same cells.
    let shape = image_tsne_live::grid::GridShape {
        cols: cols as usize,
        rows: rows as usize,
    };
    let pts: Vec<[f64; 2]> = layout
        .entries
        .iter()
        .map(|e| [e.point[0] as f64, e.point[1] as f64])
        .collect();
    let norm = image_tsne_live::grid::normalized_points(&pts, shape).unwrap();
    let cost = |l: &layout_io::LoadedLayout| -> f64 {
        l.entries
            .iter()
            .zip(&norm)
            .map(|(e, q)| {
                let [c, r] = e.grid.expect("every entry has a cell");
                let g = shape.cell_position(c as usize, r as usize);
                (g[0] - q[0]).powi(2) + (g[1] - q[1]).powi(2)
            })
            .sum()
    };
    let (analysis_cost, regrid_cost) = (cost(&grid), cost(&regrid));
    assert!(
        (analysis_cost - regrid_cost).abs() <= 1e-9 * analysis_cost.max(1.0),
        "analysis grid cost {analysis_cost} vs `grid` {regrid_cost}"
    );
    let same = grid
        .entries
        .iter()
        .zip(&regrid.entries)
        .filter(|(a, b)| a.grid == b.grid)
        .count();
    assert_eq!(same, grid.entries.len(), "the same cells");
}

#[test]
fn cli_errors_are_clear_and_not_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        "[\n {\"path\": \"a.png\", \"point\": [0, 1]},\n {\"path\": \n]",
    )
    .unwrap();
    let out = bin()
        .arg("grid")
        .arg(&bad)
        .arg("-o")
        .arg(tmp.path().join("g.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("bad.json") && stderr.contains("line 4, column 1"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = bin()
        .arg("analyze")
        .arg(tmp.path().join("missing-folder"))
        .arg("-o")
        .arg(tmp.path().join("x.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("missing-folder"), "{stderr}");

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = bin()
        .arg("analyze")
        .arg(&empty)
        .arg("-o")
        .arg(tmp.path().join("x.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no images found"));
    assert!(!tmp.path().join("x.json").exists());
}

#[test]
fn tiny_folders_work_one_two_three_images_and_duplicates() {
    let samples = common::fixture("samples");
    let tmp = tempfile::tempdir().unwrap();
    for n in 1..=3usize {
        let dir = tmp.path().join(format!("n{n}"));
        std::fs::create_dir(&dir).unwrap();
        for i in 0..n {
            // duplicates: the same photo under several names
            std::fs::copy(samples.join("coffee.png"), dir.join(format!("copy{i}.png"))).unwrap();
        }
        let out = tmp.path().join(format!("n{n}.json"));
        run(bin()
            .arg("analyze")
            .arg(&dir)
            .arg("-o")
            .arg(&out)
            .arg("--no-cache")
            .arg("--quiet"));
        let l = layout_io::read_layout(&out).unwrap();
        assert_eq!(l.entries.len(), n);
        assert!(l
            .entries
            .iter()
            .all(|e| e.point.iter().all(|v| (0.0..=1.0).contains(v))));
    }
}
