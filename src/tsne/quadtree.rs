//! Flat quadtree over the 2-D embedding, rebuilt every iteration: points sorted in Morton (Z) order,
//! nodes stored depth-first in one arena with skip links (no pointers, no boxing), and the
//! Barnes-Hut repulsion. The traversal is done once per small group of nearby points (a subtree
//! of at most `GROUP_SIZE` points) with the opening test applied to the group's bounding box,
//! which yields an interaction list that every point of the group then sums branch-free in
//! 8 lanes (AVX when the CPU has it, else a portable loop with bit-identical results).

use rayon::prelude::*;

/// Bits per axis of the Morton codes (the deepest possible level).
const MAX_DEPTH: u32 = 24;
/// Leaves hold at most this many points (unless they all share one finest-level cell).
pub const LEAF_CAPACITY: usize = 8;
/// Points are processed in groups: the largest subtrees with at most this many points.
pub const GROUP_SIZE: usize = 128;
/// Points per parallel task of the force evaluation.
const CHUNK: usize = 256;
const LANES: usize = 8;

const INTERNAL: u32 = 0;
const LEAF: u32 = 1;
/// A leaf with more than `LEAF_CAPACITY` points that all fall in one finest-level cell
/// (duplicates); it is always summarised by its centre of mass to avoid O(m²) work.
const DUP_LEAF: u32 = 2;

#[derive(Clone, Copy, Debug, Default)]
struct Node {
    /// Centre of mass.
    cx: f32,
    cy: f32,
    /// side² / θ²: the node may be summarised for a query at squared distance > crit.
    crit: f32,
    /// Number of points, as f32.
    mass: f32,
    /// Range of the node's points in Morton order.
    first: u32,
    len: u32,
    /// Index of the first node after this node's subtree.
    skip: u32,
    kind: u32,
}

/// Reusable quadtree (its buffers are kept between iterations).
#[derive(Debug, Default)]
pub struct QuadTree {
    nodes: Vec<Node>,
    /// (Morton code, original index), sorted.
    keys: Vec<(u64, u32)>,
    /// Positions in Morton order.
    pos: Vec<[f32; 2]>,
    /// Original index -> Morton position.
    rank: Vec<u32>,
    /// Group roots (node indices) in Morton order, and their first Morton position.
    groups: Vec<u32>,
    group_first: Vec<u32>,
    force_sorted: Vec<[f32; 2]>,
    z_sorted: Vec<f32>,
}

/// Interaction list of one group, structure-of-arrays, padded to a multiple of `LANES`.
#[derive(Default)]
struct Interactions {
    x: Vec<f32>,
    y: Vec<f32>,
    m: Vec<f32>,
}

impl Interactions {
    #[inline]
    fn clear(&mut self) {
        self.x.clear();
        self.y.clear();
        self.m.clear();
    }
    #[inline]
    fn push(&mut self, x: f32, y: f32, m: f32) {
        self.x.push(x);
        self.y.push(y);
        self.m.push(m);
    }
    fn pad(&mut self) {
        while !self.x.len().is_multiple_of(LANES) {
            self.push(0.0, 0.0, 0.0);
        }
    }
}

thread_local! {
    /// Per-thread interaction-list buffer, reused across groups and iterations (no allocation in
    /// the steady state).
    static SCRATCH: std::cell::RefCell<Interactions> = std::cell::RefCell::new(Interactions::default());
}

/// Spreads the low 24 bits of `v` to the even bit positions.
#[inline]
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v) & 0x00FF_FFFF;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    x = (x | (x << 1)) & 0x5555_5555_5555_5555;
    x
}

/// Σ over the interaction list for one point: returns (Σ m w² dx, Σ m w² dy, Σ m w) with
/// w = 1/(1+d²). Eight lanes (entry k goes to lane k mod 8), combined in a fixed order, so this
/// portable version and the AVX version give bit-identical results.
#[inline(always)]
fn sum_interactions(px: f32, py: f32, list: &Interactions) -> (f32, f32, f32) {
    let mut fx = [0f32; LANES];
    let mut fy = [0f32; LANES];
    let mut z = [0f32; LANES];
    for ((xs, ys), ms) in list
        .x
        .chunks_exact(LANES)
        .zip(list.y.chunks_exact(LANES))
        .zip(list.m.chunks_exact(LANES))
    {
        for l in 0..LANES {
            let dx = px - xs[l];
            let dy = py - ys[l];
            let w = 1.0 / (1.0 + (dx * dx + dy * dy));
            let mw = ms[l] * w;
            z[l] += mw;
            let mww = mw * w;
            fx[l] += mww * dx;
            fy[l] += mww * dy;
        }
    }
    (hsum(&fx), hsum(&fy), hsum(&z))
}

#[inline(always)]
fn hsum(a: &[f32; LANES]) -> f32 {
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

/// AVX version of [`sum_interactions`] (same operations in the same order).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn sum_interactions_avx(px: f32, py: f32, list: &Interactions) -> (f32, f32, f32) {
    use std::arch::x86_64::*;
    let len = list.x.len().min(list.y.len()).min(list.m.len()) / LANES * LANES;
    let (xs, ys, ms) = (list.x.as_ptr(), list.y.as_ptr(), list.m.as_ptr());
    let vpx = _mm256_set1_ps(px);
    let vpy = _mm256_set1_ps(py);
    let one = _mm256_set1_ps(1.0);
    let mut fx = _mm256_setzero_ps();
    let mut fy = _mm256_setzero_ps();
    let mut z = _mm256_setzero_ps();
    let mut k = 0;
    while k < len {
        // SAFETY: k + 8 <= len <= the length of each list.
        let (x, y, m) = unsafe {
            (
                _mm256_loadu_ps(xs.add(k)),
                _mm256_loadu_ps(ys.add(k)),
                _mm256_loadu_ps(ms.add(k)),
            )
        };
        let dx = _mm256_sub_ps(vpx, x);
        let dy = _mm256_sub_ps(vpy, y);
        let d2 = _mm256_add_ps(_mm256_mul_ps(dx, dx), _mm256_mul_ps(dy, dy));
        let w = _mm256_div_ps(one, _mm256_add_ps(one, d2));
        let mw = _mm256_mul_ps(m, w);
        z = _mm256_add_ps(z, mw);
        let mww = _mm256_mul_ps(mw, w);
        fx = _mm256_add_ps(fx, _mm256_mul_ps(mww, dx));
        fy = _mm256_add_ps(fy, _mm256_mul_ps(mww, dy));
        k += LANES;
    }
    let mut out = [[0f32; LANES]; 3];
    // SAFETY: each destination holds 8 f32.
    unsafe {
        _mm256_storeu_ps(out[0].as_mut_ptr(), fx);
        _mm256_storeu_ps(out[1].as_mut_ptr(), fy);
        _mm256_storeu_ps(out[2].as_mut_ptr(), z);
    }
    (hsum(&out[0]), hsum(&out[1]), hsum(&out[2]))
}

fn evaluate_group(
    avx: bool,
    pos: &[[f32; 2]],
    list: &Interactions,
    force: &mut [[f32; 2]],
    z: &mut [f32],
) {
    for ((p, f), zo) in pos.iter().zip(force.iter_mut()).zip(z.iter_mut()) {
        #[cfg(target_arch = "x86_64")]
        let (fx, fy, zz) = if avx {
            // SAFETY: `avx` is only true when the CPU supports AVX (checked at run time).
            unsafe { sum_interactions_avx(p[0], p[1], list) }
        } else {
            sum_interactions(p[0], p[1], list)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let (fx, fy, zz) = {
            let _ = avx;
            sum_interactions(p[0], p[1], list)
        };
        *f = [fx, fy];
        // The point itself is in the list (mass 1 at distance 0, w = 1): remove it.
        *zo = zz - 1.0;
    }
}

fn has_avx() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl QuadTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of nodes of the current tree.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Rebuilds the tree over `points` for opening angle `theta`.
    pub fn build(&mut self, points: &[[f32; 2]], theta: f32) {
        let n = points.len();
        self.nodes.clear();
        self.groups.clear();
        self.group_first.clear();
        if n == 0 {
            self.keys.clear();
            self.pos.clear();
            return;
        }
        let (mut x0, mut x1, mut y0, mut y1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for p in points {
            x0 = x0.min(p[0]);
            x1 = x1.max(p[0]);
            y0 = y0.min(p[1]);
            y1 = y1.max(p[1]);
        }
        let side = (x1 - x0).max(y1 - y0);
        let cells = (1u32 << MAX_DEPTH) as f32;
        let scale = if side > 0.0 { cells / side } else { 0.0 };
        let max_q = (1u32 << MAX_DEPTH) - 1;
        let code = |p: &[f32; 2]| {
            let qx = (((p[0] - x0) * scale) as u32).min(max_q);
            let qy = (((p[1] - y0) * scale) as u32).min(max_q);
            spread(qx) | (spread(qy) << 1)
        };
        // Reuse the previous order: it is nearly sorted, which the adaptive sort exploits.
        if self.keys.len() != n {
            self.keys.clear();
            self.keys.extend((0..n as u32).map(|i| (0u64, i)));
        }
        for key in self.keys.iter_mut() {
            key.0 = code(&points[key.1 as usize]);
        }
        self.keys.sort();
        self.pos.resize(n, [0.0; 2]);
        self.rank.resize(n, 0);
        for (s, key) in self.keys.iter().enumerate() {
            self.pos[s] = points[key.1 as usize];
            self.rank[key.1 as usize] = s as u32;
        }
        let inv_theta2 = 1.0 / (theta * theta); // θ = 0 gives +inf: never summarise
        self.build_node(0, n, side, inv_theta2, false);
    }

    /// Emits the node covering Morton positions `lo..hi` (and its subtree); returns the
    /// coordinate sums of its points.
    fn build_node(
        &mut self,
        lo: usize,
        hi: usize,
        root_side: f32,
        inv_theta2: f32,
        in_group: bool,
    ) -> (f64, f64) {
        let idx = self.nodes.len();
        self.nodes.push(Node::default());
        let len = hi - lo;
        let (ka, kb) = (self.keys[lo].0, self.keys[hi - 1].0);
        // Smallest quadtree cell containing all points: common 2-bit digits of first and last code.
        let common = if ka == kb {
            MAX_DEPTH
        } else {
            ((ka ^ kb).leading_zeros() - (64 - 2 * MAX_DEPTH)) / 2
        };
        let side = root_side / (1u64 << common) as f32;
        let is_leaf = len <= LEAF_CAPACITY || ka == kb;
        let group_root = !in_group && (len <= GROUP_SIZE || is_leaf);
        if group_root {
            self.groups.push(idx as u32);
            self.group_first.push(lo as u32);
        }
        let (mut sx, mut sy) = (0f64, 0f64);
        let kind = if is_leaf {
            for p in &self.pos[lo..hi] {
                sx += f64::from(p[0]);
                sy += f64::from(p[1]);
            }
            if len <= LEAF_CAPACITY {
                LEAF
            } else {
                DUP_LEAF
            }
        } else {
            let shift = 2 * (MAX_DEPTH - 1 - common);
            let mut start = lo;
            for q in 0..4u64 {
                let end = if q == 3 {
                    hi
                } else {
                    start + self.keys[start..hi].partition_point(|k| (k.0 >> shift) & 3 <= q)
                };
                if end > start {
                    let (a, b) =
                        self.build_node(start, end, root_side, inv_theta2, in_group || group_root);
                    sx += a;
                    sy += b;
                }
                start = end;
            }
            INTERNAL
        };
        let inv = 1.0 / len as f64;
        self.nodes[idx] = Node {
            cx: (sx * inv) as f32,
            cy: (sy * inv) as f32,
            crit: side * side * inv_theta2,
            mass: len as f32,
            first: lo as u32,
            len: len as u32,
            skip: self.nodes.len() as u32,
            kind,
        };
        (sx, sy)
    }

    /// Builds the interaction list of group root `g`: node summaries accepted for the whole
    /// group (opening test on the distance from the centre of mass to the group's bounding box)
    /// and individual points otherwise, including the group's own points.
    fn interactions(&self, g: usize, list: &mut Interactions) {
        list.clear();
        let nodes = &self.nodes[..];
        let gn = nodes[g];
        let (gf, gl) = (gn.first, gn.len);
        let members = &self.pos[gf as usize..(gf + gl) as usize];
        let (mut bx0, mut bx1, mut by0, mut by1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for p in members {
            bx0 = bx0.min(p[0]);
            bx1 = bx1.max(p[0]);
            by0 = by0.min(p[1]);
            by1 = by1.max(p[1]);
        }
        let mut i = 0usize;
        while let Some(nd) = nodes.get(i) {
            if i == g {
                if gn.kind == DUP_LEAF {
                    list.push(gn.cx, gn.cy, gn.mass);
                } else {
                    for p in members {
                        list.push(p[0], p[1], 1.0);
                    }
                }
                i = nd.skip as usize;
                continue;
            }
            // Ancestors of the group contain its range: always open them.
            if nd.first <= gf && gf + gl <= nd.first + nd.len {
                i += 1;
                continue;
            }
            let dx = (bx0 - nd.cx).max(nd.cx - bx1).max(0.0);
            let dy = (by0 - nd.cy).max(nd.cy - by1).max(0.0);
            i = self.visit(nd, i, dx * dx + dy * dy, list);
        }
        list.pad();
    }

    /// One step of a walk at node `nd` (index `i`), `d2` the squared distance from what the
    /// walk is for to the node's centre of mass: far enough (or a node of duplicates), the node
    /// goes on the list as one mass; a near leaf, its points do; either way the walk skips the
    /// subtree. A near inner node is opened: the walk goes on to its first child.
    #[inline(always)]
    fn visit(&self, nd: &Node, i: usize, d2: f32, list: &mut Interactions) -> usize {
        if d2 > nd.crit || nd.kind == DUP_LEAF {
            list.push(nd.cx, nd.cy, nd.mass);
        } else if nd.kind == LEAF {
            let f = nd.first as usize;
            for p in &self.pos[f..f + nd.len as usize] {
                list.push(p[0], p[1], 1.0);
            }
        } else {
            return i + 1;
        }
        nd.skip as usize
    }

    /// Repulsion on a point that is not part of the tree (e.g. a new point placed against a fixed
    /// map): returns `(Σ_j w² (q − y_j), Σ_j w)` over all points of the last
    /// [`QuadTree::build`], with `w = 1/(1+d²)`, using the same opening test and lane sums.
    pub fn repulsion_at(&self, q: [f32; 2]) -> ([f32; 2], f32) {
        if self.nodes.is_empty() {
            return ([0.0; 2], 0.0);
        }
        SCRATCH.with(|cell| {
            let list = &mut *cell.borrow_mut();
            list.clear();
            let nodes = &self.nodes[..];
            let mut i = 0usize;
            while let Some(nd) = nodes.get(i) {
                let (dx, dy) = (q[0] - nd.cx, q[1] - nd.cy);
                i = self.visit(nd, i, dx * dx + dy * dy, list);
            }
            list.pad();
            #[cfg(target_arch = "x86_64")]
            let (fx, fy, z) = if has_avx() {
                // SAFETY: AVX availability checked at run time.
                unsafe { sum_interactions_avx(q[0], q[1], list) }
            } else {
                sum_interactions(q[0], q[1], list)
            };
            #[cfg(not(target_arch = "x86_64"))]
            let (fx, fy, z) = sum_interactions(q[0], q[1], list);
            ([fx, fy], z)
        })
    }

    /// Mean interaction-list length per point (diagnostics).
    #[doc(hidden)]
    pub fn mean_interactions(&self) -> f64 {
        let mut list = Interactions::default();
        let mut total = 0f64;
        for &g in &self.groups {
            self.interactions(g as usize, &mut list);
            total += list.x.len() as f64 * f64::from(self.nodes[g as usize].len);
        }
        total / self.pos.len().max(1) as f64
    }

    /// Unnormalised repulsive forces `force[i] = Σ_j w_ij² (y_i − y_j)` (original order) and the
    /// normalisation `Z = Σ_{i≠j} w_ij` for the points the tree was built on.
    ///
    /// # Panics
    /// If `force.len()` differs from the number of points of the last [`QuadTree::build`].
    pub fn repulsion(&mut self, force: &mut [[f32; 2]]) -> f64 {
        let n = self.pos.len();
        assert_eq!(force.len(), n, "one force slot per point");
        self.force_sorted.resize(n, [0.0; 2]);
        self.z_sorted.resize(n, 0.0);
        let mut fs = std::mem::take(&mut self.force_sorted);
        let mut zs = std::mem::take(&mut self.z_sorted);
        let avx = has_avx();
        {
            let this = &*self;
            fs.par_chunks_mut(CHUNK)
                .zip(zs.par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(|(c, (f, z))| {
                    SCRATCH.with(|cell| {
                        let list = &mut *cell.borrow_mut();
                        let c0 = c * CHUNK;
                        let c1 = c0 + f.len();
                        // First group overlapping this chunk.
                        let mut gi = this
                            .group_first
                            .partition_point(|&s| s as usize <= c0)
                            .saturating_sub(1);
                        while let Some(&g) = this.groups.get(gi) {
                            let gn = this.nodes[g as usize];
                            let (gf, ge) = (gn.first as usize, (gn.first + gn.len) as usize);
                            if gf >= c1 {
                                break;
                            }
                            let (a, b) = (gf.max(c0), ge.min(c1));
                            if a < b {
                                this.interactions(g as usize, list);
                                evaluate_group(
                                    avx,
                                    &this.pos[a..b],
                                    list,
                                    &mut f[a - c0..b - c0],
                                    &mut z[a - c0..b - c0],
                                );
                            }
                            gi += 1;
                        }
                    });
                });
        }
        let total: f64 = zs.iter().map(|&v| f64::from(v)).sum();
        let rank = &self.rank;
        force.par_chunks_mut(1024).enumerate().for_each(|(c, out)| {
            for (t, o) in out.iter_mut().enumerate() {
                *o = fs[rank[c * 1024 + t] as usize];
            }
        });
        self.force_sorted = fs;
        self.z_sorted = zs;
        total
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn repulsion_at_an_outside_point_matches_the_exact_sum() {
        let pts = cloud(2000, 21);
        let mut tree = QuadTree::new();
        for (theta, bound) in [(0.0f32, 1e-5f64), (0.5, 3e-2)] {
            tree.build(&pts, theta);
            for q in [[3.3f32, 2.2], [40.0, -7.0], pts[17]] {
                let (f, z) = tree.repulsion_at(q);
                let (mut fx, mut fy, mut ze) = (0f64, 0f64, 0f64);
                for p in &pts {
                    let dx = f64::from(q[0]) - f64::from(p[0]);
                    let dy = f64::from(q[1]) - f64::from(p[1]);
                    let w = 1.0 / (1.0 + dx * dx + dy * dy);
                    ze += w;
                    fx += w * w * dx;
                    fy += w * w * dy;
                }
                let scale = fx.hypot(fy).max(1e-3 * ze);
                let err = (f64::from(f[0]) - fx).hypot(f64::from(f[1]) - fy) / scale;
                assert!(err < bound, "theta {theta} {q:?}: {err}");
                assert!((f64::from(z) - ze).abs() / ze < bound, "{z} vs {ze}");
            }
        }
    }
    use super::*;
    use crate::tsne::gradient::exact_repulsion_f64;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn cloud(n: usize, seed: u64) -> Vec<[f32; 2]> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|i| {
                let c = (i % 5) as f32 * 7.0;
                [
                    c + rng.random::<f32>() * 3.0,
                    c * 0.5 + rng.random::<f32>() * 4.0,
                ]
            })
            .collect()
    }

    /// Max over points of |F_tree − F_exact| / max_i |F_exact|, and the relative error of Z.
    fn errors(points: &[[f32; 2]], theta: f32) -> (f64, f64) {
        let mut tree = QuadTree::new();
        tree.build(points, theta);
        let mut f = vec![[0f32; 2]; points.len()];
        let z = tree.repulsion(&mut f);
        let (fe, ze) = exact_repulsion_f64(points);
        let scale = fe
            .iter()
            .map(|v| v[0].hypot(v[1]))
            .fold(0f64, f64::max)
            .max(1e-30);
        let err = f
            .iter()
            .zip(&fe)
            .map(|(a, b)| (f64::from(a[0]) - b[0]).hypot(f64::from(a[1]) - b[1]))
            .fold(0f64, f64::max);
        (err / scale, (z - ze).abs() / ze)
    }

    #[test]
    fn theta_zero_is_exact() {
        for &n in &[2usize, 3, 9, 100, 1000] {
            let (ef, ez) = errors(&cloud(n, n as u64), 0.0);
            assert!(ef < 1e-5 && ez < 1e-6, "n={n}: {ef} {ez}");
        }
    }

    #[test]
    fn barnes_hut_error_grows_with_theta() {
        let pts = cloud(3000, 11);
        // Bounds: measured max errors are well below these (θ=0.3: ~1e-3, 0.5: ~5e-3, 0.7: ~1e-2).
        for &(theta, bound) in &[(0.1f32, 2e-3f64), (0.3, 5e-3), (0.5, 1.5e-2), (0.7, 3e-2)] {
            let (ef, ez) = errors(&pts, theta);
            eprintln!("theta {theta}: force err {ef:.2e}, Z err {ez:.2e}");
            assert!(ef < bound, "theta {theta}: {ef}");
            assert!(ez < bound, "theta {theta}: {ez}");
        }
    }

    #[test]
    fn duplicates_and_degenerate_boxes() {
        // All points identical: no force, Z = n (n − 1).
        let pts = vec![[1.5f32, -2.0]; 50];
        let mut tree = QuadTree::new();
        tree.build(&pts, 0.5);
        let mut f = vec![[0f32; 2]; 50];
        let z = tree.repulsion(&mut f);
        assert_eq!(z, 50.0 * 49.0);
        assert!(f.iter().all(|v| v[0] == 0.0 && v[1] == 0.0));
        // Clusters of exact duplicates mixed with other points match the exact sum.
        let mut pts = cloud(200, 4);
        for i in 0..100 {
            pts.push(pts[i % 7]);
        }
        let (ef, ez) = errors(&pts, 0.0);
        assert!(ef < 1e-5 && ez < 1e-6, "{ef} {ez}");
        // Empty and single point.
        let mut f1 = vec![[9f32; 2]; 1];
        tree.build(&[[3.0, 4.0]], 0.5);
        assert_eq!(tree.repulsion(&mut f1), 0.0);
        assert_eq!(f1[0], [0.0, 0.0]);
        tree.build(&[], 0.5);
        assert_eq!(tree.repulsion(&mut []), 0.0);
    }

    #[test]
    fn simd_and_portable_sums_agree_bitwise() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let mut list = Interactions::default();
        for _ in 0..37 {
            list.push(
                rng.random::<f32>() * 9.0,
                rng.random::<f32>() * 9.0,
                1.0 + rng.random::<f32>(),
            );
        }
        list.pad();
        let portable = sum_interactions(1.5, 2.5, &list);
        #[cfg(target_arch = "x86_64")]
        if has_avx() {
            // SAFETY: AVX availability checked.
            let fast = unsafe { sum_interactions_avx(1.5, 2.5, &list) };
            assert_eq!(portable, fast);
        }
    }

    #[test]
    fn morton_spread_interleaves() {
        assert_eq!(spread(0b1011), 0b1000101);
        assert_eq!(spread(0x00FF_FFFF), 0x5555_5555_5555);
    }
}
