//! HDBSCAN (Campello, Moulavi & Sander 2013, as McInnes' `hdbscan` library does it): clusters of
//! any shape and density, plus noise, from one parameter (the smallest cluster worth naming).
//!
//! 1. core distance of a point: the distance to its `min_samples`-th neighbour (itself counted);
//! 2. a minimum spanning tree of the *mutual reachability* distance
//!    `max(core a, core b, |a − b|)` (Prim, O(n²) with no extra memory, the update spread over
//!    the cores in fixed chunks, so the tree does not depend on the thread count);
//! 3. the single-linkage hierarchy of that tree, condensed: a split where one side has fewer than
//!    `min_cluster_size` points is points *falling out* of a cluster, not a new cluster;
//! 4. the clusters of the condensed tree chosen by *excess of mass* (a cluster is kept when it is
//!    more stable than its descendants together), the root excluded.
//!
//! Deterministic: ties in the tree are broken by index.

use crate::pipeline::Cancelled;
use ndarray::ArrayView2;
use rayon::prelude::*;

/// What [`hdbscan`] needs to know.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HdbscanParams {
    /// The smallest group that counts as a cluster.
    pub min_cluster_size: usize,
    /// Neighbours that make a point "dense" (its core distance); `hdbscan`'s default is
    /// `min_cluster_size`.
    pub min_samples: usize,
    /// How clusters are chosen from the condensed tree.
    pub selection: Selection,
    /// A group larger than this is never chosen as one cluster: its parts are (`hdbscan`'s
    /// `max_cluster_size`; 0: no limit).
    pub max_cluster_size: usize,
}

/// How clusters are chosen from the condensed tree (`cluster_selection_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Selection {
    /// Excess of mass: a cluster is kept when it is more stable than its descendants together
    /// (HDBSCAN's default; favours a few large clusters).
    #[default]
    Eom,
    /// The leaves of the condensed tree: the finest clusters of at least the minimum size.
    Leaf,
}

impl HdbscanParams {
    /// `hdbscan.HDBSCAN(min_cluster_size=m)`: `min_samples` defaults to `m`.
    pub fn with_min_size(min_cluster_size: usize) -> Self {
        Self {
            min_cluster_size: min_cluster_size.max(2),
            min_samples: min_cluster_size.max(2),
            selection: Selection::Eom,
            max_cluster_size: 0,
        }
    }
}

/// The result: one label per row (`None`: noise), labels numbered `0..clusters`, and the core
/// distance of every row (how far its `min_samples`-th neighbour is).
#[derive(Clone, Debug)]
pub struct Hdbscan {
    pub labels: Vec<Option<usize>>,
    pub clusters: usize,
    pub core: Vec<f32>,
}

/// Rows are processed in chunks of this many in Prim's update (fixed, for determinism).
const CHUNK: usize = 2048;

/// HDBSCAN of the rows of `x` (any dimension). `poll()` returning `false` cancels.
pub fn hdbscan(
    x: ArrayView2<f32>,
    params: HdbscanParams,
    poll: &mut dyn FnMut() -> bool,
) -> Result<Hdbscan, Cancelled> {
    let (n, d) = x.dim();
    let mcs = params.min_cluster_size.max(2);
    if n < mcs.max(2) {
        return Ok(Hdbscan {
            labels: vec![None; n],
            clusters: 0,
            core: vec![0.0; n],
        });
    }
    let data: Vec<f32> = x.iter().copied().collect();
    let core2 = core_distances2(&data, d, n, params.min_samples, poll)?;
    let edges = prim_mst(&data, d, &core2, poll)?;
    let merges = single_linkage(n, edges);
    let tree = condense(n, &merges, mcs);
    let selected = match params.selection {
        Selection::Eom => select_eom(n, &tree, params.max_cluster_size),
        Selection::Leaf => select_leaves(n, &tree),
    };
    let (labels, clusters) = label_points(n, &tree, &selected);
    Ok(Hdbscan {
        labels,
        clusters,
        core: core2.iter().map(|c| c.sqrt()).collect(),
    })
}

/// Squared distance from every row to its `min_samples`-th neighbour, the row itself counted
/// (so `min_samples - 1` others).
fn core_distances2(
    data: &[f32],
    d: usize,
    n: usize,
    min_samples: usize,
    poll: &mut dyn FnMut() -> bool,
) -> Result<Vec<f32>, Cancelled> {
    let k = min_samples.saturating_sub(1).min(n - 1);
    if k == 0 {
        return Ok(vec![0.0; n]);
    }
    let x = ndarray::ArrayView2::from_shape((n, d), data).map_err(|_| Cancelled)?;
    // (its poll answers "stop?", ours "go on?")
    let knn = crate::tsne::knn::exact_knn(x, k, &mut || !poll()).map_err(|_| Cancelled)?;
    Ok((0..n)
        .map(|i| knn.distances2(i).last().copied().unwrap_or(0.0).max(0.0))
        .collect())
}

fn dist2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// One node's state in Prim's algorithm.
#[derive(Clone, Copy)]
struct Slot {
    /// Smallest squared mutual reachability distance to the tree so far.
    best: f32,
    /// The tree node it comes from.
    from: u32,
    done: bool,
}

/// Minimum spanning tree of the mutual reachability graph: `n − 1` edges `(a, b, distance)`.
fn prim_mst(
    data: &[f32],
    d: usize,
    core2: &[f32],
    poll: &mut dyn FnMut() -> bool,
) -> Result<Vec<(u32, u32, f32)>, Cancelled> {
    let n = core2.len();
    let mut slots = vec![
        Slot {
            best: f32::INFINITY,
            from: 0,
            done: false,
        };
        n
    ];
    let mut edges = Vec::with_capacity(n.saturating_sub(1));
    let mut current = 0usize;
    slots[0].done = true;
    for step in 1..n {
        if step % 512 == 0 && !poll() {
            return Err(Cancelled);
        }
        let a = &data[current * d..(current + 1) * d];
        let core_a = core2[current];
        let update = |(c, chunk): (usize, &mut [Slot])| -> (f32, usize) {
            let mut min = (f32::INFINITY, usize::MAX);
            for (o, s) in chunk.iter_mut().enumerate() {
                if s.done {
                    continue;
                }
                let j = c * CHUNK + o;
                let mr = dist2(a, &data[j * d..(j + 1) * d])
                    .max(core_a)
                    .max(core2[j]);
                if mr < s.best {
                    s.best = mr;
                    s.from = current as u32;
                }
                if s.best < min.0 || (s.best == min.0 && j < min.1) {
                    min = (s.best, j);
                }
            }
            min
        };
        let pick = |x: (f32, usize), y: (f32, usize)| {
            if y.0 < x.0 || (y.0 == x.0 && y.1 < x.1) {
                y
            } else {
                x
            }
        };
        let (best, next) = if n > 2 * CHUNK {
            slots
                .par_chunks_mut(CHUNK)
                .enumerate()
                .map(update)
                .reduce(|| (f32::INFINITY, usize::MAX), pick)
        } else {
            slots
                .chunks_mut(CHUNK)
                .enumerate()
                .map(update)
                .fold((f32::INFINITY, usize::MAX), pick)
        };
        if next == usize::MAX {
            break;
        }
        slots[next].done = true;
        edges.push((slots[next].from, next as u32, best.sqrt()));
        current = next;
    }
    Ok(edges)
}

/// One merge of the single-linkage hierarchy: nodes `< n` are points, node `n + i` is merge `i`.
#[derive(Clone, Copy, Debug)]
struct Merge {
    left: usize,
    right: usize,
    distance: f32,
    size: usize,
}

/// The single-linkage hierarchy of a spanning tree (union–find over the edges by weight).
fn single_linkage(n: usize, mut edges: Vec<(u32, u32, f32)>) -> Vec<Merge> {
    edges.sort_by(|x, y| {
        x.2.total_cmp(&y.2)
            .then(x.0.min(x.1).cmp(&y.0.min(y.1)))
            .then(x.0.max(x.1).cmp(&y.0.max(y.1)))
    });
    let mut parent: Vec<usize> = (0..2 * n).collect();
    let mut size = vec![1usize; 2 * n];
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut merges = Vec::with_capacity(edges.len());
    for (a, b, w) in edges {
        let ra = find(&mut parent, a as usize);
        let rb = find(&mut parent, b as usize);
        if ra == rb {
            continue;
        }
        let node = n + merges.len();
        parent[ra] = node;
        parent[rb] = node;
        size[node] = size[ra] + size[rb];
        merges.push(Merge {
            left: ra,
            right: rb,
            distance: w,
            size: size[node],
        });
    }
    merges
}

/// One edge of the condensed tree: `child` (a point `< n`, or a cluster id `≥ n`) leaves
/// cluster `parent` at density `lambda = 1 / distance`.
#[derive(Clone, Copy, Debug)]
struct Condensed {
    parent: usize,
    child: usize,
    lambda: f32,
    size: usize,
}

fn lambda_of(distance: f32) -> f32 {
    if distance > 0.0 {
        1.0 / distance
    } else {
        f32::INFINITY
    }
}

/// Condense the hierarchy: walking down from the root, a side with fewer than `mcs` points falls
/// out of its cluster point by point; two big sides are two new clusters. Cluster ids start at
/// `n` (the root), children numbered after their parents.
fn condense(n: usize, merges: &[Merge], mcs: usize) -> Vec<Condensed> {
    let node_size = |node: usize| {
        if node < n {
            1
        } else {
            merges[node - n].size
        }
    };
    // a forest when the points are not connected (cannot happen with a spanning tree, but the
    // tree is built defensively): every top node hangs under the root cluster.
    let total = n + merges.len();
    let mut has_parent = vec![false; total];
    for m in merges {
        has_parent[m.left] = true;
        has_parent[m.right] = true;
    }
    let mut out = Vec::new();
    let root_label = n;
    let mut next_label = n + 1;
    // (node, the cluster it belongs to)
    let mut stack: Vec<(usize, usize)> = (0..total)
        .rev()
        .filter(|&i| !has_parent[i])
        .map(|i| (i, root_label))
        .collect();
    // points of a subtree, in a fixed order
    let leaves = |node: usize, into: &mut Vec<usize>| {
        let mut todo = vec![node];
        while let Some(x) = todo.pop() {
            if x < n {
                into.push(x);
            } else {
                todo.push(merges[x - n].right);
                todo.push(merges[x - n].left);
            }
        }
    };
    let mut fallen = Vec::new();
    while let Some((node, label)) = stack.pop() {
        if node < n {
            // a lone top point (only in a forest)
            out.push(Condensed {
                parent: label,
                child: node,
                lambda: 0.0,
                size: 1,
            });
            continue;
        }
        let m = merges[node - n];
        let lambda = lambda_of(m.distance);
        let (ls, rs) = (node_size(m.left), node_size(m.right));
        let mut fall = |side: usize, out: &mut Vec<Condensed>| {
            fallen.clear();
            leaves(side, &mut fallen);
            for &p in &fallen {
                out.push(Condensed {
                    parent: label,
                    child: p,
                    lambda,
                    size: 1,
                });
            }
        };
        match (ls >= mcs, rs >= mcs) {
            (true, true) => {
                for (side, size) in [(m.left, ls), (m.right, rs)] {
                    let child = next_label;
                    next_label += 1;
                    out.push(Condensed {
                        parent: label,
                        child,
                        lambda,
                        size,
                    });
                    stack.push((side, child));
                }
                // the left one is processed first (ids stay in breadth order per parent)
                let len = stack.len();
                stack.swap(len - 1, len - 2);
            }
            (false, false) => {
                fall(m.left, &mut out);
                fall(m.right, &mut out);
            }
            (true, false) => {
                fall(m.right, &mut out);
                stack.push((m.left, label));
            }
            (false, true) => {
                fall(m.left, &mut out);
                stack.push((m.right, label));
            }
        }
    }
    out
}

/// How many clusters (the root counted) a condensed tree over `n` points has.
fn cluster_count(n: usize, tree: &[Condensed]) -> usize {
    tree.iter()
        .map(|e| e.parent.max(e.child))
        .filter(|&c| c >= n)
        .max()
        .map_or(1, |m| m - n + 1)
}

/// Clusters chosen by excess of mass, the root excluded: `selected[c - n]`.
fn select_eom(n: usize, tree: &[Condensed], max_size: usize) -> Vec<bool> {
    let clusters = cluster_count(n, tree);
    let mut birth = vec![0f32; clusters];
    let mut size = vec![n; clusters];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); clusters];
    for e in tree {
        if e.child >= n {
            birth[e.child - n] = e.lambda;
            size[e.child - n] = e.size;
            children[e.parent - n].push(e.child - n);
        }
    }
    let too_big = |c: usize| max_size > 0 && size[c] > max_size && !children[c].is_empty();
    let mut stability = vec![0f64; clusters];
    for e in tree {
        let c = e.parent - n;
        let l = if e.lambda.is_finite() {
            e.lambda
        } else {
            // points at distance 0: count them at the densest finite level of the tree
            f32::MAX.sqrt()
        };
        stability[c] += f64::from(l - birth[c]) * e.size as f64;
    }
    let mut selected = vec![false; clusters];
    // children have larger ids than their parents: from the leaves up
    for c in (1..clusters).rev() {
        let below: f64 = children[c].iter().map(|&k| stability[k]).sum();
        if below > stability[c] || too_big(c) {
            stability[c] = below;
        } else {
            selected[c] = true;
            let mut todo = children[c].clone();
            while let Some(k) = todo.pop() {
                selected[k] = false;
                todo.extend(children[k].iter().copied());
            }
        }
    }
    selected
}

/// The leaves of the condensed tree (clusters with no cluster below them), the root excluded.
fn select_leaves(n: usize, tree: &[Condensed]) -> Vec<bool> {
    let clusters = cluster_count(n, tree);
    let mut has_child = vec![false; clusters];
    for e in tree.iter().filter(|e| e.child >= n) {
        has_child[e.parent - n] = true;
    }
    (0..clusters).map(|c| c > 0 && !has_child[c]).collect()
}

/// Each point's cluster: the selected cluster it or one of its sub-clusters fell out of.
/// Labels are renumbered `0..` in order of the clusters' ids.
fn label_points(n: usize, tree: &[Condensed], selected: &[bool]) -> (Vec<Option<usize>>, usize) {
    let clusters = selected.len();
    let mut parent_of = vec![usize::MAX; n + clusters];
    for e in tree {
        parent_of[e.child] = e.parent;
    }
    let mut number = vec![None; clusters];
    let mut count = 0;
    for (c, &s) in selected.iter().enumerate() {
        if s {
            number[c] = Some(count);
            count += 1;
        }
    }
    let labels = (0..n)
        .map(|p| {
            let mut c = parent_of[p];
            while c != usize::MAX {
                if let Some(l) = number[c - n] {
                    return Some(l);
                }
                c = parent_of[c];
            }
            None
        })
        .collect();
    (labels, count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// Deterministic pseudo-random numbers in [0, 1).
    fn pseudo(seed: u64) -> impl FnMut() -> f32 {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32) / (1u64 << 24) as f32
        }
    }

    /// `per` points in each of the discs at `centres` (radius 1), plus `noise` points spread
    /// uniformly over the square [-20, 20]².
    fn blobs(centres: &[[f32; 2]], per: usize, noise: usize, seed: u64) -> Array2<f32> {
        let mut r = pseudo(seed);
        let mut rows = Vec::new();
        for c in centres {
            for _ in 0..per {
                let (a, rad) = (r() * std::f32::consts::TAU, r().sqrt());
                rows.extend([c[0] + rad * a.cos(), c[1] + rad * a.sin()]);
            }
        }
        for _ in 0..noise {
            rows.extend([r() * 40.0 - 20.0, r() * 40.0 - 20.0]);
        }
        Array2::from_shape_vec((rows.len() / 2, 2), rows).unwrap()
    }

    fn run(x: &Array2<f32>, mcs: usize) -> Hdbscan {
        hdbscan(x.view(), HdbscanParams::with_min_size(mcs), &mut || true).unwrap()
    }

    #[test]
    fn finds_separated_blobs_and_leaves_scattered_points_out() {
        let centres = [[-10.0, -10.0], [10.0, -10.0], [0.0, 10.0], [12.0, 12.0]];
        let x = blobs(&centres, 60, 30, 1);
        let h = run(&x, 15);
        assert_eq!(h.clusters, 4);
        // every blob is one cluster, and different blobs are different clusters
        let mut seen = Vec::new();
        for b in 0..4 {
            let labels: Vec<_> = (b * 60..(b + 1) * 60).map(|i| h.labels[i]).collect();
            let first = labels[0].expect("a blob point is clustered");
            assert!(
                labels.iter().all(|&l| l == Some(first)),
                "blob {b}: {labels:?}"
            );
            assert!(!seen.contains(&first));
            seen.push(first);
        }
        // the scattered points: noise, or members of the blob they reach, exactly as
        // scikit-learn 1.9.1's `HDBSCAN(min_cluster_size=15)` labels the same points
        let sklearn: [i32; 30] = [
            0, -1, -1, -1, -1, 2, -1, 1, 1, -1, -1, 3, -1, -1, 1, 1, 2, 1, -1, 0, -1, 3, 0, -1, -1,
            -1, -1, -1, 0, -1,
        ];
        for a in 0..30 {
            assert_eq!(h.labels[240 + a].is_none(), sklearn[a] < 0, "point {a}");
            for b in 0..30 {
                if sklearn[a] >= 0 && sklearn[b] >= 0 {
                    let same = h.labels[240 + a] == h.labels[240 + b];
                    assert_eq!(same, sklearn[a] == sklearn[b], "points {a} and {b}");
                }
            }
        }
    }

    #[test]
    fn a_blob_smaller_than_the_minimum_is_not_a_cluster() {
        let mut x = blobs(&[[-10.0, 0.0], [10.0, 0.0]], 50, 0, 2)
            .into_raw_vec_and_offset()
            .0;
        // 8 points far away
        let mut r = pseudo(3);
        for _ in 0..8 {
            x.extend([r() * 0.5, 30.0 + r() * 0.5]);
        }
        let x = Array2::from_shape_vec((108, 2), x).unwrap();
        let h = run(&x, 10);
        assert_eq!(h.clusters, 2);
        assert!((100..108).all(|i| h.labels[i].is_none()));
    }

    #[test]
    fn the_same_input_gives_the_same_clusters_on_any_thread_count() {
        // over 2 * CHUNK points, so Prim's update runs in parallel
        let centres: Vec<[f32; 2]> = (0..9)
            .map(|i| [(i % 3) as f32 * 6.0, (i / 3) as f32 * 6.0])
            .collect();
        let x = blobs(&centres, 500, 400, 4);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| run(&x, 20));
        let many = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap()
            .install(|| run(&x, 20));
        assert_eq!(one.labels, many.labels);
        // the nine blobs are nine different clusters (the scattered points may make more)
        let blob_labels: std::collections::HashSet<_> =
            (0..9).map(|b| one.labels[b * 500 + 7]).collect();
        assert_eq!(blob_labels.len(), 9);
        assert!(!blob_labels.contains(&None));
    }

    #[test]
    fn the_core_distance_counts_the_point_itself() {
        // points on a line at 0, 1, 2, ...: the 3rd neighbour counting itself is 2 away at the
        // ends and 1 away inside
        let x = Array2::from_shape_fn((10, 2), |(i, a)| if a == 0 { i as f32 } else { 0.0 });
        let h = hdbscan(
            x.view(),
            HdbscanParams {
                min_cluster_size: 3,
                min_samples: 3,
                selection: Selection::Eom,
                max_cluster_size: 0,
            },
            &mut || true,
        )
        .unwrap();
        assert!((h.core[0] - 2.0).abs() < 1e-5);
        assert!((h.core[5] - 1.0).abs() < 1e-5);
    }

    #[test]
    fn too_few_points_are_all_noise_and_cancelling_stops() {
        let x = blobs(&[[0.0, 0.0]], 5, 0, 5);
        assert_eq!(run(&x, 10).labels, vec![None; 5]);
        let x = blobs(&[[0.0, 0.0]], 2000, 0, 6);
        assert!(hdbscan(x.view(), HdbscanParams::with_min_size(10), &mut || false).is_err());
    }
}
