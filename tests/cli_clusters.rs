//! Named clusters through the command line, on the bundled demo set (360 emoji, 9 categories):
//! `analyze --clusters-output` and `clusters` write `path,cluster,label` for every image once,
//! the clusters agree with the categories at least as well as PixPlot's recipe on the same map,
//! the clusters file beside the layout keeps a curator's names (`--rename`) through `--fresh`
//! and through `add`, where a newcomer joins the cluster beside it.

mod common;

use image_tsne_live::clusters::{agreement::adjusted_mutual_info, hdbscan, points_matrix};
use image_tsne_live::layout_io;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use common::{cli as bin, run_ok as run};

/// `path -> (cluster, label)` from a clusters CSV, checking its header and that no path repeats.
fn read_csv(path: &Path) -> HashMap<PathBuf, (i64, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("path,cluster,label"));
    let mut out = HashMap::new();
    for line in lines {
        let f = common::csv_fields(line);
        assert_eq!(f.len(), 3, "{line}");
        let id: i64 = f[1].parse().unwrap();
        assert!(
            out.insert(PathBuf::from(&f[0]), (id, f[2].clone()))
                .is_none(),
            "{} twice",
            f[0]
        );
    }
    out
}

#[test]
fn clusters_of_the_demo_set_are_named_kept_and_grow() {
    let demo = common::demo_dir();
    let categories = common::labels(&demo);
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let layout = tmp.path().join("demo.json");
    let csv = tmp.path().join("clusters.csv");
    run(bin()
        .arg("analyze")
        .arg(&demo)
        .arg("-o")
        .arg(&layout)
        .arg("--clusters-output")
        .arg(&csv)
        .arg("--cache-dir")
        .arg(&cache));
    let loaded = layout_io::read_layout(&layout).unwrap();
    let paths: Vec<PathBuf> = loaded.entries.iter().map(|e| e.path.clone()).collect();
    let points: Vec<[f32; 2]> = loaded.entries.iter().map(|e| e.point).collect();
    assert_eq!(paths.len(), 360);

    // every image once, every cluster named, at most a fifth in none
    let rows = read_csv(&csv);
    assert_eq!(rows.len(), 360);
    assert_eq!(rows.keys().collect::<HashSet<_>>(), paths.iter().collect());
    let ids: HashSet<i64> = rows.values().map(|r| r.0).collect();
    let k = ids.iter().filter(|&&c| c >= 0).count() as i64;
    assert!(k >= 3, "{k} clusters");
    assert!(ids.iter().all(|&c| c >= -1 && c < k), "{ids:?}");
    for (p, (id, label)) in &rows {
        assert_eq!(
            *id >= 0,
            !label.is_empty(),
            "{}: {id} {label:?}",
            p.display()
        );
    }
    let none = rows.values().filter(|r| r.0 < 0).count();
    assert!(none * 5 <= 360, "{none} images in no cluster");
    // one name per cluster
    let mut names: HashMap<i64, &str> = HashMap::new();
    for (id, label) in rows.values() {
        assert_eq!(*names.entry(*id).or_insert(label), label.as_str());
    }

    // agreement with the categories: at least PixPlot's recipe (HDBSCAN 20 on the same points)
    let truth: Vec<&String> = paths.iter().map(|p| &categories[p]).collect();
    let ours: Vec<i64> = paths.iter().map(|p| rows[p].0).collect();
    let pix = hdbscan::hdbscan(
        points_matrix(&points).view(),
        hdbscan::HdbscanParams::with_min_size(20),
        &mut || true,
    )
    .unwrap();
    let pix: Vec<i64> = pix
        .labels
        .iter()
        .map(|l| l.map_or(-1, |v| v as i64))
        .collect();
    let (ami, ami_pix) = (
        adjusted_mutual_info(&truth, &ours),
        adjusted_mutual_info(&truth, &pix),
    );
    assert!(
        ami >= ami_pix && ami > 0.3,
        "AMI {ami:.3}, PixPlot's recipe {ami_pix:.3}"
    );

    // the clusters file beside the layout: `clusters` gives the same CSV again
    let sidecar = tmp.path().join("demo.json.clusters.json");
    assert!(sidecar.is_file());
    let again = tmp.path().join("again.csv");
    run(bin()
        .arg("clusters")
        .arg(&layout)
        .arg("-o")
        .arg(&again)
        .arg("--cache-dir")
        .arg(&cache));
    assert_eq!(
        std::fs::read_to_string(&again).unwrap(),
        std::fs::read_to_string(&csv).unwrap()
    );

    // a curator names cluster 0; the name is kept, and survives finding the clusters anew
    let renamed = tmp.path().join("renamed.csv");
    run(bin()
        .arg("clusters")
        .arg(&layout)
        .arg("-o")
        .arg(&renamed)
        .args(["--rename", "0=Round, \"friendly\" faces", "--cache-dir"])
        .arg(&cache));
    let members0: Vec<&PathBuf> = rows.iter().filter(|r| r.1 .0 == 0).map(|r| r.0).collect();
    let after = read_csv(&renamed);
    for p in &members0 {
        assert_eq!(after[*p], (0, "Round, \"friendly\" faces".to_string()));
    }
    let fresh = tmp.path().join("fresh.csv");
    run(bin()
        .arg("clusters")
        .arg(&layout)
        .arg("-o")
        .arg(&fresh)
        .args(["--fresh", "--cache-dir"])
        .arg(&cache));
    assert_eq!(
        std::fs::read_to_string(&fresh).unwrap(),
        std::fs::read_to_string(&renamed).unwrap()
    );

    // the map grows: a mirrored copy of cluster 0's most typical image joins cluster 0
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sidecar).unwrap()).unwrap();
    let typical = saved["clusters"][0]["typical"]
        .as_str()
        .unwrap()
        .to_string();
    let typical = layout_io::resolve_path(&typical, tmp.path()).0;
    assert!(members0.contains(&&typical), "{}", typical.display());
    let newcomer = tmp.path().join("newcomer.png");
    image::imageops::flip_horizontal(&image::open(&typical).unwrap())
        .save(&newcomer)
        .unwrap();
    let grown = tmp.path().join("grown.json");
    run(bin()
        .arg("add")
        .arg(&layout)
        .arg(&newcomer)
        .arg("-o")
        .arg(&grown)
        .arg("--cache-dir")
        .arg(&cache));
    assert!(tmp.path().join("grown.json.clusters.json").is_file());
    let grown_csv = tmp.path().join("grown.csv");
    run(bin()
        .arg("clusters")
        .arg(&grown)
        .arg("-o")
        .arg(&grown_csv)
        .arg("--cache-dir")
        .arg(&cache));
    let grown_rows = read_csv(&grown_csv);
    assert_eq!(grown_rows.len(), 361);
    let newcomer = std::path::absolute(&newcomer).unwrap();
    let new_row = grown_rows
        .iter()
        .find(|(p, _)| p.file_name() == newcomer.file_name())
        .map(|(_, r)| r.clone())
        .expect("the newcomer is in the CSV");
    // it takes the cluster of its nearest neighbour on the grown map
    let g = layout_io::read_layout(&grown).unwrap();
    let at = g
        .entries
        .iter()
        .position(|e| e.path.file_name() == newcomer.file_name())
        .unwrap();
    let nearest = (0..g.entries.len())
        .filter(|&j| j != at)
        .min_by(|&a, &b| {
            let d = |j: usize| {
                let (p, q) = (g.entries[j].point, g.entries[at].point);
                (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)
            };
            d(a).total_cmp(&d(b))
        })
        .unwrap();
    assert_eq!(new_row, grown_rows[&g.entries[nearest].path]);
    assert_eq!(new_row, (0, "Round, \"friendly\" faces".to_string()));
    // the old images keep their clusters
    for (p, r) in &after {
        assert_eq!(&grown_rows[p], r, "{}", p.display());
    }
}

#[test]
fn bad_cluster_options_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("l.json");
    let paths = common::demo_images("smileys-and-emotion");
    let entries: Vec<layout_io::LayoutEntry> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| layout_io::LayoutEntry {
            path: p.clone(),
            point: [(i % 7) as f32 / 7.0, (i / 7) as f32 / 7.0],
            grid: None,
        })
        .collect();
    layout_io::write_layout(&layout, &entries, None).unwrap();
    for args in [vec!["--min-size", "1"], vec!["--rename", "zero=x"]] {
        let out = bin()
            .arg("clusters")
            .arg(&layout)
            .args(["-o", "x.csv"])
            .args(&args)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    // a cluster number that does not exist names the range
    let out = bin()
        .arg("clusters")
        .arg(&layout)
        .args(["-o", "x.csv", "--rename", "99=x", "--no-cache"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--rename 99") && err.contains("clusters"),
        "{err}"
    );
    assert!(!tmp.path().join("x.csv").exists());
}
