//! The clusters of a layout in a file beside it (`LAYOUT.json.clusters.json`): who belongs where
//! and what a curator called each cluster, so names survive reopening and growth. JSON, written
//! atomically; paths relative to the layout's folder when they are inside it.
//!
//! Reading it back against the layout: members that left the layout are dropped, images the file
//! does not know (a grown map) join the cluster of their nearest known neighbour, and clusters
//! keep their order (the numbers `/cluster i` and the panel use). When the clusters are found
//! anew (another `--min-size`), curators' names move to the new cluster that shares most of the
//! old one's members (at least half of both).

use super::{Cluster, Clustering};
use crate::layout_io::resolve_path;
use crate::util::atomic::write_atomic;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

const VERSION: u32 = 1;

/// `LAYOUT.json.clusters.json` beside the layout.
pub fn sidecar_path(layout: &Path) -> PathBuf {
    let mut name = layout.as_os_str().to_owned();
    name.push(".clusters.json");
    PathBuf::from(name)
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct SavedCluster {
    label: String,
    auto_label: String,
    #[serde(default)]
    renamed: bool,
    #[serde(default)]
    classes: Vec<(String, f32)>,
    typical: String,
    members: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct File {
    version: u32,
    min_size: usize,
    clusters: Vec<SavedCluster>,
    /// The images in no cluster (so that a newcomer is told from a known outlier).
    #[serde(default)]
    none: Vec<String>,
}

/// A sidecar read from disk, its paths resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    /// The `--min-size` the clusters were found with.
    pub min_size: usize,
    clusters: Vec<(SavedCluster, Vec<PathBuf>, PathBuf)>,
    none: HashSet<PathBuf>,
}

fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// Write `clustering` of `paths` to `file` (atomically).
pub fn save(
    file: &Path,
    paths: &[PathBuf],
    clustering: &Clustering,
    min_size: usize,
) -> Result<()> {
    let base = crate::util::folder_of(file);
    let out = File {
        version: VERSION,
        min_size,
        clusters: clustering
            .clusters
            .iter()
            .map(|c| SavedCluster {
                label: c.label.clone(),
                auto_label: c.auto_label.clone(),
                renamed: c.renamed,
                classes: c.classes.clone(),
                typical: relative(&paths[c.typical], &base),
                members: c
                    .members
                    .iter()
                    .map(|&i| relative(&paths[i], &base))
                    .collect(),
            })
            .collect(),
        none: (0..paths.len())
            .filter(|&i| clustering.of.get(i).copied().flatten().is_none())
            .map(|i| relative(&paths[i], &base))
            .collect(),
    };
    let text = serde_json::to_string_pretty(&out)?;
    write_atomic(file, text.as_bytes()).with_context(|| format!("cannot write {}", file.display()))
}

/// Read `file`: `Ok(None)` when there is none, an error naming the file and the reason when it
/// cannot be used.
pub fn load(file: &Path) -> Result<Option<Saved>> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    };
    let parsed: File = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a clusters file", file.display()))?;
    if parsed.version != VERSION {
        bail!(
            "{} is version {} of the clusters file; this program reads version {VERSION}",
            file.display(),
            parsed.version
        );
    }
    let base = crate::util::folder_of(file);
    let clusters = parsed
        .clusters
        .into_iter()
        .map(|c| {
            let members = c.members.iter().map(|m| resolve_path(m, &base).0).collect();
            let typical = resolve_path(&c.typical, &base).0;
            (c, members, typical)
        })
        .collect();
    let none = parsed
        .none
        .iter()
        .map(|p| resolve_path(p, &base).0)
        .collect();
    Ok(Some(Saved {
        min_size: parsed.min_size,
        clusters,
        none,
    }))
}

impl Saved {
    /// Clusters held in memory as if read from a file (an app's map that grows before it was
    /// ever saved): [`Saved::apply`] then carries them onto the grown map.
    pub fn of(paths: &[PathBuf], clustering: &Clustering, min_size: usize) -> Saved {
        let text = |p: &PathBuf| p.to_string_lossy().into_owned();
        Saved {
            min_size,
            clusters: clustering
                .clusters
                .iter()
                .map(|c| {
                    let members: Vec<PathBuf> =
                        c.members.iter().map(|&i| paths[i].clone()).collect();
                    let saved = SavedCluster {
                        label: c.label.clone(),
                        auto_label: c.auto_label.clone(),
                        renamed: c.renamed,
                        classes: c.classes.clone(),
                        typical: text(&paths[c.typical]),
                        members: members.iter().map(text).collect(),
                    };
                    (saved, members, paths[c.typical].clone())
                })
                .collect(),
            none: (0..paths.len())
                .filter(|&i| clustering.of.get(i).copied().flatten().is_none())
                .map(|i| paths[i].clone())
                .collect(),
        }
    }

    /// The saved clusters on the layout's images: members that left are dropped (and clusters
    /// left empty), newcomers join their nearest known neighbour's cluster.
    pub fn apply(&self, paths: &[PathBuf], points: &[[f32; 2]]) -> Clustering {
        let index: HashMap<&Path, usize> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_path(), i))
            .collect();
        let mut of: Vec<Option<usize>> = vec![None; paths.len()];
        let mut known = vec![false; paths.len()];
        let mut clusters = Vec::new();
        for (saved, members, typical) in &self.clusters {
            let mut m: Vec<usize> = members
                .iter()
                .filter_map(|p| index.get(p.as_path()).copied())
                .collect();
            m.sort_unstable();
            m.dedup();
            m.retain(|&i| of[i].is_none());
            if m.is_empty() {
                continue;
            }
            for &i in &m {
                of[i] = Some(clusters.len());
            }
            clusters.push(Cluster {
                label: saved.label.clone(),
                auto_label: saved.auto_label.clone(),
                renamed: saved.renamed,
                classes: saved.classes.clone(),
                typical: index
                    .get(typical.as_path())
                    .copied()
                    .filter(|i| m.contains(i))
                    .unwrap_or(m[0]),
                members: m,
            });
        }
        // images the file lists in no cluster are known outliers
        for (i, p) in paths.iter().enumerate() {
            known[i] = of[i].is_some() || self.none.contains(p);
        }
        let mut c = Clustering { of, clusters };
        c.join_newcomers(points, &known);
        c
    }

    /// Carry curators' names onto freshly found clusters: a new cluster takes the name of the
    /// renamed old one that shares at least half of the members of both.
    pub fn carry_names(&self, paths: &[PathBuf], fresh: &mut Clustering) {
        let index: HashMap<&Path, usize> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_path(), i))
            .collect();
        for (saved, members, _) in self.clusters.iter().filter(|c| c.0.renamed) {
            let old: HashSet<usize> = members
                .iter()
                .filter_map(|p| index.get(p.as_path()).copied())
                .collect();
            let best = fresh
                .clusters
                .iter()
                .enumerate()
                .map(|(k, c)| (c.members.iter().filter(|i| old.contains(i)).count(), k))
                .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            if let Some((shared, k)) = best {
                let c = &mut fresh.clusters[k];
                if shared * 2 >= old.len().max(1) && shared * 2 >= c.members.len() && !c.renamed {
                    c.label = saved.label.clone();
                    c.renamed = true;
                }
            }
        }
    }
}

impl Clustering {
    /// Images not `known` (newcomers) take the cluster (or none) of their nearest known image on
    /// the map. `of` grows to `points.len()`.
    pub fn join_newcomers(&mut self, points: &[[f32; 2]], known: &[bool]) {
        self.of.resize(points.len(), None);
        let old: Vec<usize> = (0..points.len())
            .filter(|&i| known.get(i).copied().unwrap_or(false))
            .collect();
        if old.is_empty() {
            return;
        }
        for i in 0..points.len() {
            if known.get(i).copied().unwrap_or(false) {
                continue;
            }
            let p = points[i];
            let nearest = old
                .iter()
                .map(|&j| {
                    let d = (points[j][0] - p[0]).powi(2) + (points[j][1] - p[1]).powi(2);
                    (d, j)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
                .map(|(_, j)| j);
            if let Some(c) = nearest.and_then(|j| self.of[j]) {
                self.of[i] = Some(c);
                let m = &mut self.clusters[c].members;
                if let Err(at) = m.binary_search(&i) {
                    m.insert(at, i);
                }
            }
        }
    }

    /// A curator's name for cluster `c` (empty: back to the automatic one).
    pub fn rename(&mut self, c: usize, name: &str) {
        if let Some(k) = self.clusters.get_mut(c) {
            let name = name.trim();
            if name.is_empty() {
                k.label = k.auto_label.clone();
                k.renamed = false;
            } else {
                k.label = name.to_string();
                k.renamed = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(n: usize) -> (Vec<PathBuf>, Vec<[f32; 2]>) {
        // two rows of images: left half at y = 0, right half at y = 10
        let paths = (0..n)
            .map(|i| PathBuf::from(format!("/photos/img{i}.jpg")))
            .collect();
        let points = (0..n)
            .map(|i| {
                if i < n / 2 {
                    [i as f32, 0.0]
                } else {
                    [i as f32, 10.0]
                }
            })
            .collect();
        (paths, points)
    }

    fn two_clusters(n: usize) -> Clustering {
        let labels: Vec<Option<usize>> = (0..n)
            .map(|i| {
                if i == 0 {
                    None
                } else {
                    Some(usize::from(i >= n / 2))
                }
            })
            .collect();
        let mut c = Clustering::from_labels(&labels);
        for (k, cl) in c.clusters.iter_mut().enumerate() {
            cl.auto_label = format!("auto{k}");
            cl.label = cl.auto_label.clone();
        }
        c
    }

    #[test]
    fn a_rename_survives_saving_reopening_and_growth() {
        let dir = tempfile::tempdir().unwrap();
        let file = sidecar_path(&dir.path().join("map.json"));
        assert!(file.to_string_lossy().ends_with("map.json.clusters.json"));
        let (paths, points) = layout(20);
        let mut c = two_clusters(20);
        let right = c.of[15].unwrap();
        c.rename(right, "  Harbour at night ");
        save(&file, &paths, &c, 20).unwrap();
        let saved = load(&file).unwrap().unwrap();
        assert_eq!(saved.min_size, 20);
        let back = saved.apply(&paths, &points);
        assert_eq!(back, c);
        assert_eq!(back.clusters[right].label, "Harbour at night");
        // the map grows: a new image beside the right row joins its cluster; one listed as an
        // outlier stays one
        let (mut paths2, mut points2) = (paths.clone(), points.clone());
        paths2.push(PathBuf::from("/photos/new.jpg"));
        points2.push([14.5, 10.2]);
        let grown = saved.apply(&paths2, &points2);
        assert_eq!(grown.of[20], Some(right));
        assert_eq!(grown.clusters[right].label, "Harbour at night");
        assert!(grown.clusters[right].members.contains(&20));
        assert_eq!(grown.of[0], None);
        // a member that left is dropped
        let shrunk = saved.apply(&paths[..15], &points[..15]);
        assert_eq!(shrunk.clusters[right].members, (10..15).collect::<Vec<_>>());
    }

    #[test]
    fn names_move_to_the_fresh_cluster_that_shares_the_members() {
        let (paths, _) = layout(20);
        let mut c = two_clusters(20);
        let left = c.of[5].unwrap();
        c.rename(left, "Left");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.clusters.json");
        save(&file, &paths, &c, 20).unwrap();
        let saved = load(&file).unwrap().unwrap();
        // fresh clusters in another order, the left one a little smaller
        let labels: Vec<Option<usize>> = (0..20)
            .map(|i| {
                if i < 3 {
                    None
                } else {
                    Some(usize::from(i < 10))
                }
            })
            .collect();
        let mut fresh = Clustering::from_labels(&labels);
        saved.carry_names(&paths, &mut fresh);
        let left = fresh.of[5].unwrap();
        assert_eq!(fresh.clusters[left].label, "Left");
        assert!(!fresh.clusters[1 - left].renamed);
    }

    #[test]
    fn clusters_in_memory_grow_like_saved_ones() {
        let (paths, points) = layout(20);
        let mut c = two_clusters(20);
        c.rename(0, "Kept");
        let mem = Saved::of(&paths, &c, 7);
        assert_eq!(mem.min_size, 7);
        assert_eq!(mem.apply(&paths, &points), c);
        let (mut p2, mut q2) = (paths.clone(), points.clone());
        p2.insert(0, PathBuf::from("/photos/first.jpg"));
        q2.insert(0, [0.2, 0.1]);
        let grown = mem.apply(&p2, &q2);
        // the newcomer (now index 0) sits by image 1 (old index 0, an outlier): none
        assert_eq!(grown.of[0], None);
        assert_eq!(grown.of[2], c.of[1]);
    }

    #[test]
    fn a_missing_file_is_none_and_a_broken_one_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(&dir.path().join("none.clusters.json"))
            .unwrap()
            .is_none());
        let bad = dir.path().join("bad.clusters.json");
        std::fs::write(&bad, "{ not json").unwrap();
        let e = format!("{:#}", load(&bad).unwrap_err());
        assert!(
            e.contains("bad.clusters.json") && e.contains("not a clusters file"),
            "{e}"
        );
        // a rename to nothing goes back to the automatic name
        let mut c = two_clusters(4);
        c.rename(0, "x");
        c.rename(0, "   ");
        assert_eq!(c.clusters[0].label, "auto0");
        assert!(!c.clusters[0].renamed);
    }
}
