//! Clusters: the groups a curator sees on the map, found and named from the images alone.
//!
//! 1. [`hdbscan`] finds dense groups of the 2-D map (the space that groups best: see
//!    `bench_clusters`), with noise; an outlier close to a cluster (within the reach of the
//!    cluster's own members, [`find`]) joins it, so few images are left in none.
//! 2. [`naming`] names each group by the bundled model's ImageNet head (the mean class
//!    probabilities of its members), else by its most typical member's file name.
//! 3. [`sidecar`] keeps the clusters and a curator's names beside the layout
//!    (`LAYOUT.json.clusters.json`); newcomers of a growing map join the cluster of their
//!    nearest neighbour.
//!
//! [`agreement`] scores a clustering against known categories (adjusted mutual information).

pub mod agreement;
pub mod hdbscan;
pub mod naming;
pub mod sidecar;

use crate::pipeline::Cancelled;
use hdbscan::HdbscanParams;
use naming::ClassHead;
use ndarray::{Array2, ArrayView2};
use std::path::{Path, PathBuf};

/// PixPlot's `min_cluster_size`, and ours from 800 images up.
pub const DEFAULT_MIN_SIZE: usize = 20;

/// The smallest cluster for a map of `n` images when none is asked for: 20 (PixPlot's), less
/// on small maps (a fortieth of the images, at least 5), where 20 leaves a few large groups.
pub fn auto_min_size(n: usize) -> usize {
    ((n as f64 / 40.0).round() as usize).clamp(5, DEFAULT_MIN_SIZE)
}

/// No cluster holds more than this share of the map (a larger group is shown as its parts: a
/// curator gets groups, not halves of the collection).
pub const MAX_SHARE: f64 = 0.25;

/// An outlier joins the cluster of its nearest clustered neighbour when it is within this many
/// times that neighbour's core distance (the radius that holds its `min_size` nearest).
pub const JOIN_REACH: f32 = 2.0;

/// One named group of images.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    /// What the map and the panel show: the curator's name, else [`Cluster::auto_label`].
    pub label: String,
    /// The name found from the images (classes or typical member).
    pub auto_label: String,
    /// Whether a curator named it (a rename survives re-clustering).
    pub renamed: bool,
    /// Indices of its images, ascending.
    pub members: Vec<usize>,
    /// The classes its name comes from, with their mean probabilities (empty: named by file).
    pub classes: Vec<(String, f32)>,
    /// Its most typical member.
    pub typical: usize,
}

/// Every image's cluster (or none) and the clusters, largest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Clustering {
    /// `of[i]`: the cluster of image `i`.
    pub of: Vec<Option<usize>>,
    pub clusters: Vec<Cluster>,
}

impl Clustering {
    /// Build from per-image labels (renumbered largest first, ties by first member); names
    /// empty until [`Clustering::name`].
    pub fn from_labels(labels: &[Option<usize>]) -> Clustering {
        let k = labels.iter().flatten().max().map_or(0, |m| m + 1);
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
        for (i, l) in labels.iter().enumerate() {
            if let Some(l) = l {
                members[*l].push(i);
            }
        }
        members.retain(|m| !m.is_empty());
        members.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
        let mut of = vec![None; labels.len()];
        for (c, m) in members.iter().enumerate() {
            for &i in m {
                of[i] = Some(c);
            }
        }
        let clusters = members
            .into_iter()
            .map(|members| Cluster {
                label: String::new(),
                auto_label: String::new(),
                renamed: false,
                typical: members[0],
                members,
                classes: Vec::new(),
            })
            .collect();
        Clustering { of, clusters }
    }

    /// Share of images in no cluster.
    pub fn unclustered_share(&self) -> f64 {
        if self.of.is_empty() {
            return 0.0;
        }
        self.of.iter().filter(|c| c.is_none()).count() as f64 / self.of.len() as f64
    }

    /// The mean map point of cluster `c`'s members.
    pub fn centre(&self, c: usize, points: &[[f32; 2]]) -> [f32; 2] {
        let m = &self.clusters[c].members;
        let mut s = [0f64; 2];
        for &i in m {
            s[0] += f64::from(points[i][0]);
            s[1] += f64::from(points[i][1]);
        }
        let n = m.len().max(1) as f64;
        [(s[0] / n) as f32, (s[1] / n) as f32]
    }

    /// Name every cluster that a curator has not: by the classes of `features` under `head`
    /// when they are clear, else by the file name of the member nearest the cluster's mean
    /// (in `features`, else on the map).
    pub fn name(&mut self, paths: &[PathBuf], points: &[[f32; 2]], features: Option<&Features>) {
        let map = points_matrix(points);
        // the whole collection's mean class probabilities, against which a class is distinct
        let overall = features.and_then(|f| {
            let head = f.head.as_ref()?;
            let all: Vec<usize> = (0..f.matrix.nrows()).collect();
            head.mean_probabilities(f.matrix.view(), &all).ok()
        });
        for c in &mut self.clusters {
            // the feature rows of the members that have features
            let rows: Vec<usize> = match features {
                Some(f) => c.members.iter().filter_map(|&i| f.row_of[i]).collect(),
                None => Vec::new(),
            };
            c.typical = match features {
                Some(f) if !rows.is_empty() => naming::most_typical(f.matrix.view(), &rows)
                    .and_then(|row| f.row_of.iter().position(|r| *r == Some(row)))
                    .unwrap_or(c.members[0]),
                _ => naming::most_typical(map.view(), &c.members).unwrap_or(c.members[0]),
            };
            let by_class = match features {
                Some(Features {
                    matrix,
                    head: Some(head),
                    ..
                }) if !rows.is_empty() => head
                    .mean_probabilities(matrix.view(), &rows)
                    .ok()
                    .zip(overall.as_ref())
                    .and_then(|(mean, overall)| {
                        naming::name_from_classes(&mean, overall, |k| {
                            head.class_name(k).to_string()
                        })
                    }),
                _ => None,
            };
            (c.auto_label, c.classes) = match by_class {
                Some((name, classes)) => (name, classes),
                None => (naming::file_label(&paths[c.typical]), Vec::new()),
            };
            if !c.renamed {
                c.label = c.auto_label.clone();
            }
        }
        disambiguate(&mut self.clusters);
    }
}

/// Two clusters with the same automatic name get "2", "3"… after the second and later ones.
fn disambiguate(clusters: &mut [Cluster]) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for c in clusters.iter_mut() {
        let n = seen.entry(c.auto_label.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            c.auto_label = format!("{} {}", c.auto_label, n);
            if !c.renamed {
                c.label = c.auto_label.clone();
            }
        }
    }
}

/// The images' raw feature vectors for naming: `matrix` rows, `row_of[i]` the row of image
/// `i` (`None`: it could not be analysed), and the class head when the model has one.
pub struct Features {
    pub matrix: Array2<f32>,
    pub row_of: Vec<Option<usize>>,
    pub head: Option<ClassHead>,
}

/// n × 2 matrix of map points.
pub fn points_matrix(points: &[[f32; 2]]) -> Array2<f32> {
    Array2::from_shape_fn((points.len(), 2), |(i, a)| points[i][a])
}

/// Clusters of the rows of `space` (the map's points, or features): HDBSCAN with `min_size`,
/// then every outlier within [`JOIN_REACH`] core distances of a clustered image joins that
/// image's cluster. Deterministic; `poll()` returning `false` cancels.
pub fn find(
    space: ArrayView2<f32>,
    min_size: usize,
    poll: &mut dyn FnMut() -> bool,
) -> Result<Clustering, Cancelled> {
    let params = HdbscanParams {
        max_cluster_size: ((space.nrows() as f64 * MAX_SHARE).ceil() as usize).max(min_size),
        ..HdbscanParams::with_min_size(min_size)
    };
    let h = hdbscan::hdbscan(space, params, poll)?;
    let mut labels = h.labels.clone();
    join_outliers(space, &h, &mut labels);
    Ok(Clustering::from_labels(&labels))
}

/// Give each outlier the cluster of its nearest clustered row when it is within
/// [`JOIN_REACH`] times that row's core distance.
fn join_outliers(space: ArrayView2<f32>, h: &hdbscan::Hdbscan, labels: &mut [Option<usize>]) {
    use rayon::prelude::*;
    let clustered: Vec<usize> = (0..labels.len()).filter(|&i| labels[i].is_some()).collect();
    if clustered.is_empty() {
        return;
    }
    let joins: Vec<(usize, usize)> = (0..labels.len())
        .into_par_iter()
        .filter(|&i| labels[i].is_none())
        .filter_map(|i| {
            let row = space.row(i);
            let (d2, j) = clustered
                .iter()
                .map(|&j| {
                    let d2: f32 = row
                        .iter()
                        .zip(space.row(j))
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum();
                    (d2, j)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))?;
            let reach = JOIN_REACH * h.core[j];
            (d2.sqrt() <= reach).then(|| (i, labels[j].unwrap_or(0)))
        })
        .collect();
    for (i, l) in joins {
        labels[i] = Some(l);
    }
}

/// Clusters of a layout's map, named: the one call `clusters`, `analyze --clusters-output` and
/// the app make. `features` (raw, per image) name them by class when given.
pub fn cluster_map(
    paths: &[PathBuf],
    points: &[[f32; 2]],
    features: Option<&Features>,
    min_size: usize,
    poll: &mut dyn FnMut() -> bool,
) -> Result<Clustering, Cancelled> {
    let mut c = find(points_matrix(points).view(), min_size, poll)?;
    c.name(paths, points, features);
    Ok(c)
}

/// `path,cluster,label` rows (cluster −1: none), one per image in layout order, quoted where a
/// field needs it.
pub fn to_csv(paths: &[PathBuf], clustering: &Clustering) -> String {
    let mut out = String::from("path,cluster,label\n");
    for (i, p) in paths.iter().enumerate() {
        let (id, label) = match clustering.of.get(i).copied().flatten() {
            Some(c) => (c as i64, clustering.clusters[c].label.as_str()),
            None => (-1, ""),
        };
        out.push_str(&format!(
            "{},{},{}\n",
            csv_field(&p.to_string_lossy()),
            id,
            csv_field(label)
        ));
    }
    out
}

/// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The raw features of `paths` for naming, from the cache (computing what is missing), with
/// the model's class head.
pub fn features_for(
    paths: &[PathBuf],
    model_path: Option<&Path>,
    preprocess: &crate::images::Preprocess,
    cache: &crate::cache::Cache,
    rep: &dyn crate::progress::Reporter,
) -> anyhow::Result<Features> {
    let model = crate::features::FeatureModel::load(model_path)?;
    let set = crate::features::extract_features(paths, &model, preprocess, cache, rep)?;
    let mut row_of = vec![None; paths.len()];
    for (row, &i) in set.indices.iter().enumerate() {
        row_of[i] = Some(row);
    }
    Ok(Features {
        matrix: set.features,
        row_of,
        head: naming::ClassHead::of_model(model_path)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disc(c: [f32; 2], n: usize, r: f32, seed: u32) -> Vec<[f32; 2]> {
        (0..n)
            .map(|i| {
                let t = (i as f32 * 2.399_963 + seed as f32) % std::f32::consts::TAU;
                let rad = r * ((i as f32 + 0.5) / n as f32).sqrt();
                [c[0] + rad * t.cos(), c[1] + rad * t.sin()]
            })
            .collect()
    }

    #[test]
    fn every_image_is_in_one_cluster_or_none_and_the_border_joins() {
        let mut points = disc([0.0, 0.0], 80, 1.0, 0);
        points.extend(disc([5.0, 0.0], 50, 1.0, 1));
        // a point just outside the first disc, and one far from both
        points.push([1.15, 0.0]);
        points.push([2.5, 8.0]);
        let paths: Vec<PathBuf> = (0..points.len())
            .map(|i| PathBuf::from(format!("img{i}.png")))
            .collect();
        let c = cluster_map(&paths, &points, None, 20, &mut || true).unwrap();
        assert_eq!(c.clusters.len(), 2);
        // largest first
        assert_eq!(c.clusters[0].members.len(), 81);
        assert_eq!(
            c.of[130],
            Some(0),
            "the border point joins the disc beside it"
        );
        assert_eq!(c.of[131], None, "the far point stays out");
        let total: usize = c.clusters.iter().map(|k| k.members.len()).sum();
        assert_eq!(total + 1, points.len());
        for (k, cl) in c.clusters.iter().enumerate() {
            assert!(!cl.label.is_empty());
            assert!(cl.members.iter().all(|&i| c.of[i] == Some(k)));
        }
        // named by the typical member's file name: the one nearest the disc's centre
        let centre = c.centre(0, &points);
        assert!(
            centre[0].abs() < 0.05 && centre[1].abs() < 0.05,
            "{centre:?}"
        );
        let typical = c.clusters[0].typical;
        assert_eq!(c.clusters[0].label, format!("img{typical}"));
        let csv = to_csv(&paths, &c);
        assert_eq!(csv.lines().count(), points.len() + 1);
        assert!(csv.contains("img131.png,-1,\n"));
    }

    #[test]
    fn same_names_are_told_apart_and_fields_are_quoted() {
        let mut c = Clustering::from_labels(&[Some(0), Some(0), Some(1)]);
        for k in &mut c.clusters {
            k.auto_label = "daisy".into();
            k.label = "daisy".into();
        }
        disambiguate(&mut c.clusters);
        assert_eq!(c.clusters[0].label, "daisy");
        assert_eq!(c.clusters[1].label, "daisy 2");
        assert_eq!(csv_field("a, \"b\""), "\"a, \"\"b\"\"\"");
    }
}
