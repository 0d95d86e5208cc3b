//! How well the map's clusters agree with known categories: adjusted mutual information (AMI)
//! of our clusters against PixPlot's recipe (HDBSCAN, min cluster size 20, on the 2-D points,
//! noise left as noise) and k-means told the true number of categories, on the same map, in
//! the same run. Printed as a markdown table, with the cluster names of the emoji maps.
//!
//! ```text
//! cargo run --release --example bench_clusters -- [--peer-python PYTHON] [--sets demo,emoji1000,emoji,digits,blobs10k,blobs50k]
//! ```
//! * emoji sets: `emoji-google` analysed by our pipeline (features from the default cache),
//!   categories from its `labels.csv`; `emoji1000` is the seeded 1 000-image subset.
//! * `digits`, `blobs10k`, `blobs50k` (not in the default list: its t-SNE takes minutes): the
//!   shared PCA-50 inputs with labels, mapped by our t-SNE.
//! * `--peer-python`: a Python with scikit-learn runs `sklearn.cluster.HDBSCAN(min_cluster_size=20)`
//!   and `KMeans(k, n_init=10)` on the same points, as a cross-check of our rows.
//!
//! Rows: `ours` (the product default: HDBSCAN on the map, min size 20 (a fortieth of the
//! images under 800), no cluster over a quarter of the map, outliers within reach joined);
//! `ours, features` (the same on the PCA-50 features: which space groups best); `PixPlot
//! recipe` (HDBSCAN 20 on the map, noise as its own group); `k-means (true k)` on the map and on
//! the features (best of 10 seeded k-means++ runs).

#[path = "support/sets.rs"]
mod sets;

use image_tsne_live::clusters::{self, agreement::adjusted_mutual_info, hdbscan, Clustering};
use ndarray::ArrayView2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sets::Set;
use std::collections::HashMap;
use std::time::Instant;

/// Best of `restarts` k-means++ runs (lowest inertia), Lloyd to convergence.
fn kmeans(x: ArrayView2<f32>, k: usize, restarts: u64) -> Vec<usize> {
    let (n, d) = x.dim();
    let dist2 = |a: usize, c: &[f32]| -> f32 {
        x.row(a).iter().zip(c).map(|(p, q)| (p - q) * (p - q)).sum()
    };
    let mut best = (f64::INFINITY, vec![0; n]);
    for seed in 0..restarts {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut centres: Vec<Vec<f32>> = vec![x.row(rng.random_range(0..n)).to_vec()];
        let mut near: Vec<f32> = (0..n).map(|i| dist2(i, &centres[0])).collect();
        while centres.len() < k {
            let total: f64 = near.iter().map(|&v| f64::from(v)).sum();
            let mut t = rng.random::<f64>() * total;
            let mut pick = n - 1;
            for (i, &v) in near.iter().enumerate() {
                t -= f64::from(v);
                if t <= 0.0 {
                    pick = i;
                    break;
                }
            }
            centres.push(x.row(pick).to_vec());
            for (i, v) in near.iter_mut().enumerate() {
                *v = v.min(dist2(i, centres.last().unwrap()));
            }
        }
        let mut assign = vec![usize::MAX; n];
        for _ in 0..300 {
            let mut changed = false;
            for i in 0..n {
                let c = (0..k)
                    .min_by(|&a, &b| dist2(i, &centres[a]).total_cmp(&dist2(i, &centres[b])))
                    .unwrap();
                if assign[i] != c {
                    assign[i] = c;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
            let mut sums = vec![vec![0f64; d]; k];
            let mut counts = vec![0usize; k];
            for i in 0..n {
                counts[assign[i]] += 1;
                for (s, v) in sums[assign[i]].iter_mut().zip(x.row(i)) {
                    *s += f64::from(*v);
                }
            }
            for c in 0..k {
                if counts[c] > 0 {
                    centres[c] = sums[c]
                        .iter()
                        .map(|s| (s / counts[c] as f64) as f32)
                        .collect();
                }
            }
        }
        let inertia: f64 = (0..n)
            .map(|i| f64::from(dist2(i, &centres[assign[i]])))
            .sum();
        if inertia < best.0 {
            best = (inertia, assign);
        }
    }
    best.1
}

fn labels_of(c: &Clustering) -> Vec<i64> {
    c.of.iter().map(|l| l.map_or(-1, |v| v as i64)).collect()
}

struct Row {
    method: String,
    clusters: usize,
    none: f64,
    ami: f64,
    seconds: f64,
}

fn peer(python: &str, set: &Set, k: usize) -> anyhow::Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let pts = dir.path().join("points.txt");
    let mut text = String::new();
    for (p, l) in set.points.iter().zip(&set.labels) {
        text.push_str(&format!("{} {} {}\n", p[0], p[1], l.replace(' ', "_")));
    }
    std::fs::write(&pts, text)?;
    let script = format!(
        r#"
import time, numpy as np
from sklearn.cluster import HDBSCAN, KMeans
from sklearn.metrics import adjusted_mutual_info_score as ami
rows = [l.split() for l in open({pts:?})]
x = np.array([[float(a), float(b)] for a, b, _ in rows]); y = [c for _, _, c in rows]
t = time.time(); h = HDBSCAN(min_cluster_size=20).fit_predict(x); th = time.time() - t
t = time.time(); km = KMeans({k}, n_init=10, random_state=0).fit_predict(x); tk = time.time() - t
print(len(set(h)) - (1 if -1 in h else 0), (h == -1).mean(), ami(y, h), th)
print({k}, 0.0, ami(y, km), tk)
"#,
        pts = pts.display().to_string()
    );
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout)?;
    let mut rows = Vec::new();
    for (line, method) in text.lines().zip([
        "scikit-learn HDBSCAN 20 (peer)",
        "scikit-learn KMeans true k (peer)",
    ]) {
        let v: Vec<f64> = line
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        anyhow::ensure!(v.len() == 4, "unexpected peer output {line:?}");
        rows.push(Row {
            method: method.into(),
            clusters: v[0] as usize,
            none: v[1],
            ami: v[2],
            seconds: v[3],
        });
    }
    Ok(rows)
}

fn measure(set: &Set, python: Option<&str>) -> anyhow::Result<Vec<Row>> {
    let k = set
        .labels
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    let map = clusters::points_matrix(&set.points);
    let mut rows = Vec::new();
    let t = Instant::now();
    let min_size: usize = std::env::var("MIN_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| clusters::auto_min_size(set.points.len()));
    let ours = clusters::find(map.view(), min_size, &mut || true)?;
    rows.push(Row {
        method: "ours (map, outliers joined)".into(),
        clusters: ours.clusters.len(),
        none: ours.unclustered_share(),
        ami: adjusted_mutual_info(&set.labels, &labels_of(&ours)),
        seconds: t.elapsed().as_secs_f64(),
    });
    let t = Instant::now();
    let feat = clusters::find(set.features.view(), min_size, &mut || true)?;
    rows.push(Row {
        method: "ours on PCA-50 features".into(),
        clusters: feat.clusters.len(),
        none: feat.unclustered_share(),
        ami: adjusted_mutual_info(&set.labels, &labels_of(&feat)),
        seconds: t.elapsed().as_secs_f64(),
    });
    let t = Instant::now();
    let pix = hdbscan::hdbscan(
        map.view(),
        hdbscan::HdbscanParams::with_min_size(20),
        &mut || true,
    )?;
    let pix_labels: Vec<i64> = pix
        .labels
        .iter()
        .map(|l| l.map_or(-1, |v| v as i64))
        .collect();
    rows.push(Row {
        method: "PixPlot recipe (HDBSCAN 20 on the map)".into(),
        clusters: pix.clusters,
        none: pix_labels.iter().filter(|&&l| l < 0).count() as f64 / pix_labels.len() as f64,
        ami: adjusted_mutual_info(&set.labels, &pix_labels),
        seconds: t.elapsed().as_secs_f64(),
    });
    for (what, selection, min_samples) in [
        ("HDBSCAN 20 leaf on the map", hdbscan::Selection::Leaf, 20),
        (
            "HDBSCAN 20, min samples 5, on the map",
            hdbscan::Selection::Eom,
            5,
        ),
        (
            "HDBSCAN 20 leaf, min samples 5, on the map",
            hdbscan::Selection::Leaf,
            5,
        ),
    ] {
        let t = Instant::now();
        let h = hdbscan::hdbscan(
            map.view(),
            hdbscan::HdbscanParams {
                min_cluster_size: 20,
                min_samples,
                selection,
                max_cluster_size: 0,
            },
            &mut || true,
        )?;
        let l: Vec<i64> = h
            .labels
            .iter()
            .map(|l| l.map_or(-1, |v| v as i64))
            .collect();
        rows.push(Row {
            method: what.into(),
            clusters: h.clusters,
            none: l.iter().filter(|&&v| v < 0).count() as f64 / l.len() as f64,
            ami: adjusted_mutual_info(&set.labels, &l),
            seconds: t.elapsed().as_secs_f64(),
        });
    }
    for (what, space) in [
        ("map", map.view()),
        ("PCA-50 features", set.features.view()),
    ] {
        let t = Instant::now();
        let km = kmeans(space, k, 10);
        rows.push(Row {
            method: format!("k-means, true k = {k}, on the {what}"),
            clusters: k,
            none: 0.0,
            ami: adjusted_mutual_info(&set.labels, &km),
            seconds: t.elapsed().as_secs_f64(),
        });
    }
    if let Some(py) = python {
        match peer(py, set, k) {
            Ok(r) => rows.extend(r),
            Err(e) => eprintln!("peer failed on {}: {e:#}", set.name),
        }
    }
    Ok(rows)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let python = value("--peer-python");
    let sets = value("--sets").unwrap_or_else(|| "demo,emoji1000,emoji,digits,blobs10k".into());
    println!("| set | n | method | clusters | in none | AMI | time (s) |");
    println!("|---|---:|---|---:|---:|---:|---:|");
    let mut names = Vec::new();
    for s in sets.split(',') {
        let set = sets::by_name(s)?;
        for r in measure(&set, python.as_deref())? {
            println!(
                "| {} | {} | {} | {} | {:.1} % | {:.3} | {:.2} |",
                set.name,
                set.points.len(),
                r.method,
                r.clusters,
                100.0 * r.none,
                r.ami,
                r.seconds
            );
        }
        if let Some(raw) = &set.raw {
            let features = clusters::Features {
                matrix: raw.clone(),
                row_of: (0..set.paths.len()).map(Some).collect(),
                head: clusters::naming::ClassHead::of_model(None)?,
            };
            let t = Instant::now();
            let min_size = clusters::auto_min_size(set.paths.len());
            let named = clusters::cluster_map(
                &set.paths,
                &set.points,
                Some(&features),
                min_size,
                &mut || true,
            )?;
            let took = t.elapsed().as_secs_f64();
            let top: Vec<String> = named
                .clusters
                .iter()
                .map(|cl| {
                    let Some(head) = &features.head else {
                        return String::new();
                    };
                    let Ok(mean) = head.mean_probabilities(raw.view(), &cl.members) else {
                        return String::new();
                    };
                    let mut order: Vec<usize> = (0..mean.len()).collect();
                    order.sort_by(|&a, &b| mean[b].total_cmp(&mean[a]));
                    order[..3]
                        .iter()
                        .map(|&k| format!("{} {:.2}", head.class_name(k), mean[k]))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .collect();
            names.push((set.name.clone(), named, set.labels.clone(), took, top));
        }
    }
    for (set, c, labels, took, top) in names {
        let by_class = c.clusters.iter().filter(|k| !k.classes.is_empty()).count();
        println!(
            "\n**{set}**: {} clusters, {by_class} named by class, found and named in {took:.2} s\n",
            c.clusters.len()
        );
        println!(
            "| cluster | images | name | most common category | top classes (mean probability) |"
        );
        println!("|---:|---:|---|---|---|");
        for (k, cl) in c.clusters.iter().enumerate() {
            let mut count: HashMap<&str, usize> = HashMap::new();
            for &i in &cl.members {
                *count.entry(labels[i].as_str()).or_default() += 1;
            }
            let (cat, n) = count
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .unwrap_or(("", 0));
            println!(
                "| {k} | {} | {} | {cat} ({:.0} %) | {} |",
                cl.members.len(),
                cl.label,
                100.0 * n as f64 / cl.members.len() as f64,
                top[k]
            );
        }
    }
    Ok(())
}
