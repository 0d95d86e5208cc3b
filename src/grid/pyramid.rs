//! Min-price quadtree over the grid, for best-first search of the cells with the smallest
//! `cost + price` (exact `k` smallest, with admissible bounds per node) as prices rise.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::problem::Problem;

/// Level 0 holds the cell prices; level `l` node `(x, y)` covers cells
/// `[x 2^l, (x+1) 2^l) x [y 2^l, (y+1) 2^l)` and stores their minimum price.
pub(crate) struct Pyramid {
    cols: usize,
    rows: usize,
    /// (width, height, mins) per level.
    levels: Vec<(usize, usize, Vec<i64>)>,
    /// Per level >= 1 and node: a price gradient `(bx, by)` (scaled units per cell, fitted at the
    /// last [`Pyramid::refresh_tilt`]) and `resid = min over the node's cells of
    /// price - b . (g - centre)` (a lower bound: prices only rise after the refresh).
    tilt: Vec<Vec<[f64; 3]>>,
    /// Absolute float-error allowance of the tilted bounds (from the magnitudes at the last refit).
    slack: f64,
}

/// Scratch heap for [`Pyramid::smallest`].
pub(crate) type SearchHeap = BinaryHeap<Reverse<(i64, u32, u32)>>;

impl Pyramid {
    pub fn new(cols: usize, rows: usize, prices: &[i64]) -> Pyramid {
        let mut levels = vec![(cols, rows, prices.to_vec())];
        while let Some((w, h, _)) = levels.last() {
            let (w, h) = (*w, *h);
            if w <= 1 && h <= 1 {
                break;
            }
            let (nw, nh) = (w.div_ceil(2), h.div_ceil(2));
            levels.push((nw, nh, vec![i64::MAX; nw * nh]));
        }
        let tilt = levels
            .iter()
            .map(|(w, h, _)| vec![[0.0, 0.0, f64::NEG_INFINITY]; w * h])
            .collect();
        let mut p = Pyramid {
            cols,
            rows,
            levels,
            tilt,
            slack: 1024.0,
        };
        p.rebuild_upper();
        p
    }

    fn rebuild_upper(&mut self) {
        for l in 1..self.levels.len() {
            let (lo, hi) = self.levels.split_at_mut(l);
            let (cw, ch, child) = &lo[l - 1];
            let (w, _, mins) = &mut hi[0];
            mins.fill(i64::MAX);
            for y in 0..*ch {
                for x in 0..*cw {
                    let m = &mut mins[(y / 2) * *w + x / 2];
                    *m = (*m).min(child[y * cw + x]);
                }
            }
        }
    }

    /// Cell range `[x0, x1] x [y0, y1]` of node `(x, y)` at level `l`.
    #[inline]
    fn rect(&self, l: usize, x: usize, y: usize) -> (usize, usize, usize, usize) {
        let x1 = ((x + 1) << l).min(self.cols) - 1;
        let y1 = ((y + 1) << l).min(self.rows) - 1;
        (x << l, x1, y << l, y1)
    }

    /// Refit the per-node price gradients and residual minima to the current prices (O(m log m)).
    pub fn refresh_tilt(&mut self) {
        let (cols, rows) = (self.cols, self.rows);
        let prices = &self.levels[0].2;
        let mut acc: Vec<[f64; 8]> = Vec::new();
        // Every float below is at most `mag` in size; 1e-9 relative is far above their rounding.
        let mut mag = prices.iter().map(|&v| (v as f64).abs()).fold(0.0, f64::max);
        for l in 1..self.levels.len() {
            let (w, h, _) = self.levels[l];
            // Per node: price sums and counts of its left/right and lower/upper halves.
            acc.clear();
            acc.resize(w * h, [0.0; 8]);
            for gy in 0..rows {
                let upper = (gy >> (l - 1)) & 1;
                for gx in 0..cols {
                    let right = (gx >> (l - 1)) & 1;
                    let v = prices[gy * cols + gx] as f64;
                    let a = &mut acc[(gy >> l) * w + (gx >> l)];
                    a[right] += v;
                    a[2 + right] += 1.0;
                    a[4 + upper] += v;
                    a[6 + upper] += 1.0;
                }
            }
            let half = (1usize << (l - 1)) as f64;
            let slope = |s0: f64, s1: f64, c0: f64, c1: f64| {
                if c0 > 0.0 && c1 > 0.0 {
                    (s1 / c1 - s0 / c0) / half
                } else {
                    0.0
                }
            };
            let tl = &mut self.tilt[l];
            for (t, a) in tl.iter_mut().zip(&acc) {
                *t = [
                    slope(a[0], a[1], a[2], a[3]),
                    slope(a[4], a[5], a[6], a[7]),
                    f64::INFINITY,
                ];
            }
            for gy in 0..rows {
                let ny = gy >> l;
                let zy = 0.5 * ((ny << l) + (((ny + 1) << l).min(rows) - 1)) as f64;
                for gx in 0..cols {
                    let nx = gx >> l;
                    let zx = 0.5 * ((nx << l) + (((nx + 1) << l).min(cols) - 1)) as f64;
                    let t = &mut tl[ny * w + nx];
                    let r = prices[gy * cols + gx] as f64
                        - t[0] * (gx as f64 - zx)
                        - t[1] * (gy as f64 - zy);
                    t[2] = t[2].min(r);
                }
            }
            let ext = (1usize << l) as f64;
            for t in tl.iter() {
                mag = mag.max(t[2].abs() + (t[0].abs() + t[1].abs()) * ext);
            }
        }
        self.slack = 1e-9 * mag + 1024.0;
    }

    /// Cell `j`'s price rose to `price`.
    pub fn raise(&mut self, j: usize, price: i64) {
        let (mut x, mut y) = (j % self.cols, j / self.cols);
        let old = std::mem::replace(&mut self.levels[0].2[j], price);
        for l in 1..self.levels.len() {
            let (px, py) = (x / 2, y / 2);
            let (lo, hi) = self.levels.split_at_mut(l);
            let (cw, ch, child) = &lo[l - 1];
            let (w, _, mins) = &mut hi[0];
            let slot = &mut mins[py * *w + px];
            if *slot < old {
                break; // this node's minimum is elsewhere and unchanged
            }
            let mut m = i64::MAX;
            for yy in 2 * py..(2 * py + 2).min(*ch) {
                for xx in 2 * px..(2 * px + 2).min(*cw) {
                    m = m.min(child[yy * cw + xx]);
                }
            }
            if *slot == m {
                break;
            }
            *slot = m;
            (x, y) = (px, py);
        }
    }

    /// Set cell `j`'s value (up or down).
    pub fn set(&mut self, j: usize, value: i64) {
        let old = self.levels[0].2[j];
        if value >= old {
            self.raise(j, value);
            return;
        }
        self.levels[0].2[j] = value;
        let (mut x, mut y) = (j % self.cols, j / self.cols);
        for l in 1..self.levels.len() {
            (x, y) = (x / 2, y / 2);
            let (w, _, mins) = &mut self.levels[l];
            let slot = &mut mins[y * *w + x];
            if *slot <= value {
                break;
            }
            *slot = value;
        }
    }

    /// Minimum price over all cells.
    pub fn min_price(&self) -> i64 {
        self.levels.last().map_or(0, |l| l.2[0])
    }

    /// The `want` cells with the smallest `cost' + price` for point `i` (`cost' = mult * cost`),
    /// ascending into `out`, found best-first (exact: a node's bound is the cost of its cell
    /// nearest to the point plus its minimum price). With `point = None` the cost is 0 (dummies).
    pub fn smallest(
        &self,
        p: &Problem,
        point: Option<usize>,
        mult: i64,
        want: usize,
        heap: &mut SearchHeap,
        out: &mut Vec<(i64, u32)>,
    ) {
        out.clear();
        heap.clear();
        let top = self.levels.len() - 1;
        let bound = |l: usize, x: usize, y: usize, min: i64| -> i64 {
            if min == i64::MAX {
                return i64::MAX;
            }
            match point {
                None => min,
                Some(i) => {
                    let (x0, y0) = (x << l, y << l);
                    let x1 = ((x + 1) << l).min(self.cols) - 1;
                    let y1 = ((y + 1) << l).min(self.rows) - 1;
                    let cx = p.px[i].round().clamp(x0 as f64, x1 as f64) as usize;
                    let cy = p.py[i].round().clamp(y0 as f64, y1 as f64) as usize;
                    p.cost(i, cx, cy) * mult + min
                }
            }
        };
        let root = self.levels[top].2[0];
        heap.push(Reverse((bound(top, 0, 0, root), top as u32, 0)));
        while let Some(Reverse((b, l, idx))) = heap.pop() {
            if b == i64::MAX {
                break;
            }
            let l = l as usize;
            if l == 0 {
                out.push((b, idx));
                if out.len() == want {
                    break;
                }
                continue;
            }
            let (w, _, _) = &self.levels[l];
            let (x, y) = (idx as usize % w, idx as usize / w);
            let (cw, ch, child) = &self.levels[l - 1];
            for yy in 2 * y..(2 * y + 2).min(*ch) {
                for xx in 2 * x..(2 * x + 2).min(*cw) {
                    let cidx = yy * cw + xx;
                    let v = if l - 1 == 0 {
                        match point {
                            None => child[cidx],
                            Some(i) => p.cost(i, xx, yy) * mult + child[cidx],
                        }
                    } else {
                        bound(l - 1, xx, yy, child[cidx])
                    };
                    heap.push(Reverse((v, (l - 1) as u32, cidx as u32)));
                }
            }
        }
    }
}

impl Pyramid {
    /// Like [`Pyramid::smallest`] for point `i`, by depth-first descent (children nearest-first),
    /// pruning every node whose bound is not below the current `want`-th value. `seed` cells (e.g. the
    /// previous list) are inserted first so that pruning is tight from the start. Returns the
    /// threshold: the `want`-th smallest value if `want` cells exist (every cell not among the first
    /// `want - 1` of `out` is at least that), else `i64::MAX`.
    #[allow(clippy::too_many_arguments)]
    pub fn smallest_dfs(
        &self,
        p: &Problem,
        i: usize,
        mult: i64,
        want: usize,
        seed: &[u32],
        stack: &mut Vec<(u32, u32)>,
        out: &mut Vec<(i64, u32)>,
    ) -> i64 {
        out.clear();
        stack.clear();
        let cols = self.cols;
        let prices = &self.levels[0].2;
        let value = |j: usize| p.cost(i, j % cols, j / cols) * mult + prices[j];
        let mut worst = i64::MAX;
        let insert = |out: &mut Vec<(i64, u32)>, worst: &mut i64, v: i64, j: u32| {
            let pos = out.partition_point(|&e| e < (v, j));
            if out.get(pos) == Some(&(v, j)) {
                return;
            }
            if out.len() == want {
                out.pop();
            }
            out.insert(pos, (v, j));
            if out.len() == want {
                *worst = out[want - 1].0;
            }
        };
        for &j in seed {
            if (j as usize) < prices.len() {
                let v = value(j as usize);
                if v < worst {
                    insert(out, &mut worst, v, j);
                }
            }
        }
        let (px, py) = (p.px[i].round(), p.py[i].round());
        let (fx, fy) = (p.px[i], p.py[i]);
        let sm = p.scale * mult as f64;
        let bound = |l: usize, x: usize, y: usize, min: i64| -> i64 {
            if min == i64::MAX {
                return i64::MAX;
            }
            let (x0, x1, y0, y1) = self.rect(l, x, y);
            let cx = px.clamp(x0 as f64, x1 as f64) as usize;
            let cy = py.clamp(y0 as f64, y1 as f64) as usize;
            let plain = p.cost(i, cx, cy) * mult + min;
            // Tilted bound: price >= resid + b . (g - z) on the node, then the exact minimum of the
            // convex quadratic S M |x - g|^2 + b . (g - z) over the (continuous) box, minus margins
            // for the rounding of the integer cost and of the float arithmetic.
            let [bx, by, resid] = self.tilt[l][y * self.levels[l].0 + x];
            if !resid.is_finite() {
                return plain;
            }
            let (zx, zy) = (0.5 * (x0 + x1) as f64, 0.5 * (y0 + y1) as f64);
            let gx = (fx - bx / (2.0 * sm)).clamp(x0 as f64, x1 as f64);
            let gy = (fy - by / (2.0 * sm)).clamp(y0 as f64, y1 as f64);
            let (dx, dy) = (fx - gx, fy - gy);
            let q = sm * (dx * dx + dy * dy);
            let lin = bx * (gx - zx) + by * (gy - zy);
            let t = q + lin + resid;
            let margin =
                0.5 * mult as f64 + 1e-9 * (q.abs() + lin.abs() + resid.abs()) + self.slack;
            let tilted = t - margin;
            if tilted > plain as f64 {
                if tilted >= i64::MAX as f64 {
                    i64::MAX
                } else {
                    tilted as i64
                }
            } else {
                plain
            }
        };
        let top = self.levels.len() - 1;
        if top == 0 {
            let v = value(0);
            if v < worst {
                insert(out, &mut worst, v, 0);
            }
        } else {
            stack.push((top as u32, 0));
        }
        let mut kids: [(i64, u32); 4] = [(0, 0); 4];
        while let Some((l, idx)) = stack.pop() {
            let l = l as usize;
            let (w, _, _) = &self.levels[l];
            let (x, y) = (idx as usize % w, idx as usize / w);
            let (cw, ch, child) = &self.levels[l - 1];
            let mut nk = 0;
            for yy in 2 * y..(2 * y + 2).min(*ch) {
                for xx in 2 * x..(2 * x + 2).min(*cw) {
                    let cidx = yy * cw + xx;
                    let b = if l == 1 {
                        value(cidx)
                    } else {
                        bound(l - 1, xx, yy, child[cidx])
                    };
                    if b < worst {
                        kids[nk] = (b, cidx as u32);
                        nk += 1;
                    }
                }
            }
            if l == 1 {
                for &(v, j) in &kids[..nk] {
                    if v < worst {
                        insert(out, &mut worst, v, j);
                    }
                }
            } else {
                kids[..nk].sort_unstable_by(|a, b| b.cmp(a));
                for &(b, cidx) in &kids[..nk] {
                    if b < worst {
                        stack.push(((l - 1) as u32, cidx));
                    }
                }
            }
        }
        if out.len() == want {
            worst
        } else {
            i64::MAX
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::GridShape;

    #[test]
    fn smallest_matches_brute_force() {
        let (cols, rows) = (13usize, 7usize);
        let pts: Vec<[f64; 2]> = (0..40)
            .map(|i| [((i * 7919) % 97) as f64, ((i * 104729) % 89) as f64])
            .collect();
        let p = Problem::new(&pts, GridShape { cols, rows }).unwrap();
        let mut prices: Vec<i64> = (0..cols * rows)
            .map(|j| ((j * 2654435761usize) % 1000) as i64 * p.scale as i64 / 100)
            .collect();
        let mut pyr = Pyramid::new(cols, rows, &prices);
        pyr.refresh_tilt();
        let mut out = Vec::new();
        let mut heap = SearchHeap::new();
        let (mut stack, mut out2) = (Vec::new(), Vec::new());
        for round in 0..3 {
            for i in 0..p.n {
                let mut all: Vec<(i64, u32)> = (0..cols * rows)
                    .map(|j| (p.cost(i, j % cols, j / cols) * 3 + prices[j], j as u32))
                    .collect();
                all.sort();
                pyr.smallest(&p, Some(i), 3, 9, &mut heap, &mut out);
                let got: Vec<i64> = out.iter().map(|o| o.0).collect();
                let exp: Vec<i64> = all[..9].iter().map(|o| o.0).collect();
                assert_eq!(got, exp, "round {round} point {i}");
                let seed = [i as u32, 5, 1000];
                let thr = pyr.smallest_dfs(&p, i, 3, 9, &seed, &mut stack, &mut out2);
                assert_eq!(out2.iter().map(|o| o.0).collect::<Vec<_>>(), exp);
                assert_eq!(thr, all[8].0);
                let thr = pyr.smallest_dfs(&p, i, 3, 200, &[], &mut stack, &mut out2);
                assert_eq!(thr, i64::MAX);
                assert_eq!(out2.len(), cols * rows);
                for &(v, j) in &out {
                    let j = j as usize;
                    assert_eq!(v, p.cost(i, j % cols, j / cols) * 3 + prices[j]);
                }
            }
            let mut masked = Pyramid::new(cols, rows, &prices);
            for j in (0..cols * rows).step_by(4) {
                masked.set(j, i64::MAX);
            }
            for j in (0..cols * rows).step_by(8) {
                masked.set(j, prices[j]);
            }
            let mut open: Vec<i64> = (0..cols * rows)
                .filter(|j| j % 4 != 0 || j % 8 == 0)
                .map(|j| prices[j])
                .collect();
            open.sort();
            masked.smallest(&p, None, 3, 2, &mut heap, &mut out);
            assert_eq!(
                out.iter().map(|o| o.0).collect::<Vec<_>>(),
                open[..2].to_vec()
            );
            pyr.smallest(&p, None, 3, 2, &mut heap, &mut out);
            let mut sorted = prices.clone();
            sorted.sort();
            assert_eq!(
                out.iter().map(|o| o.0).collect::<Vec<_>>(),
                sorted[..2].to_vec()
            );
            assert_eq!(pyr.min_price(), sorted[0]);
            for j in (0..cols * rows).step_by(3 + round) {
                prices[j] += 1 + (j as i64 * 31) % 500 * p.scale as i64 / 50;
                pyr.raise(j, prices[j]);
            }
        }
    }

    #[test]
    fn dfs_exact_on_price_hills_with_stale_tilts() {
        // Prices shaped like the auction's (a smooth hill over a cluster plus noise), so that the
        // tilted bounds matter; raised after the tilt refresh, so the tilts are stale.
        let (cols, rows) = (37usize, 29usize);
        let pts: Vec<[f64; 2]> = (0..60)
            .map(|i| {
                let t = i as f64 * 0.7;
                [
                    18.0 + 6.0 * t.sin() * (i % 7) as f64 / 7.0,
                    14.0 + 5.0 * (1.3 * t).cos(),
                ]
            })
            .collect();
        let mut p = Problem::new(&pts, GridShape { cols, rows }).unwrap();
        p.px[0] = 0.0; // keep the normalisation's extremes but add off-centre queries
        p.py[1] = 28.0;
        let unit = p.scale as i64 * 5;
        let mut prices: Vec<i64> = (0..cols * rows)
            .map(|j| {
                let (x, y) = ((j % cols) as f64 - 18.0, (j / cols) as f64 - 14.0);
                let hill = (300.0 - x * x - y * y).max(0.0);
                (hill * unit as f64) as i64 + ((j * 7919) % 13) as i64 * unit / 4
            })
            .collect();
        let mut pyr = Pyramid::new(cols, rows, &prices);
        pyr.refresh_tilt();
        let (mut stack, mut out) = (Vec::new(), Vec::new());
        for round in 0..4 {
            for i in 0..p.n {
                let mut all: Vec<i64> = (0..cols * rows)
                    .map(|j| p.cost(i, j % cols, j / cols) * 5 + prices[j])
                    .collect();
                all.sort();
                for want in [1, 17, 33] {
                    let thr = pyr.smallest_dfs(&p, i, 5, want, &[], &mut stack, &mut out);
                    let got: Vec<i64> = out.iter().map(|o| o.0).collect();
                    assert_eq!(
                        got,
                        all[..want].to_vec(),
                        "round {round} point {i} want {want}"
                    );
                    assert_eq!(thr, all[want - 1]);
                }
            }
            for j in (round..cols * rows).step_by(5) {
                prices[j] += unit * (1 + (j as i64 % 40));
                pyr.raise(j, prices[j]);
            }
        }
    }
}
