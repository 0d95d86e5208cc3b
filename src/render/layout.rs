//! CPU mirror of the vertex shader's layout math (t-SNE ↔ grid blend, image sizes), used for
//! hit-testing, fit-to-view, screenshots and tests. World space is y-down, like the screen.

/// Default t-SNE spread slider value (`scale`, 1–10): with 4 the t-SNE fills the unit square.
pub const DEFAULT_TSNE_SCALE: f32 = 4.0;
/// Default image size slider value (`image_size`, 0–2) in t-SNE view, in grid pitches.
pub const DEFAULT_IMAGE_SIZE: f32 = 1.0;
/// Default gap between neighbouring images in grid view, as a fraction of the pitch.
pub const DEFAULT_GRID_GAP: f32 = 0.04;

/// The per-frame layout knobs (all go to the uniform buffer, none touches per-image data).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayoutParams {
    /// Layout blend: 0 = t-SNE layout, 1 = grid layout. Eased with [`ease`] before use.
    pub t: f32,
    /// The app's t-SNE spread slider (1–10, default 4): positions are placed at
    /// `0.5 + (p − 0.5) · scale / 4`, image sizes do not change.
    pub tsne_scale: f32,
    /// The app's image size slider (0–2, default 1): long side of an image in t-SNE view,
    /// in grid pitches.
    pub image_size: f32,
    /// Gap between images in grid view as a fraction of the pitch (0 = cells touch).
    pub grid_gap: f32,
}

impl Default for LayoutParams {
    fn default() -> Self {
        Self {
            t: 0.0,
            tsne_scale: DEFAULT_TSNE_SCALE,
            image_size: DEFAULT_IMAGE_SIZE,
            grid_gap: DEFAULT_GRID_GAP,
        }
    }
}

impl LayoutParams {
    /// Same parameters with another blend value.
    pub fn with_t(self, t: f32) -> Self {
        Self { t, ..self }
    }
}

/// An axis-aligned rectangle in world units (`min` is the top-left corner, y grows down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorldRect {
    /// Top-left corner.
    pub min: [f32; 2],
    /// Bottom-right corner.
    pub max: [f32; 2],
}

impl WorldRect {
    /// Rectangle from its centre and full size.
    pub fn from_center_size(center: [f32; 2], size: [f32; 2]) -> Self {
        Self {
            min: [center[0] - size[0] * 0.5, center[1] - size[1] * 0.5],
            max: [center[0] + size[0] * 0.5, center[1] + size[1] * 0.5],
        }
    }
    /// Width and height.
    pub fn size(&self) -> [f32; 2] {
        [self.max[0] - self.min[0], self.max[1] - self.min[1]]
    }
    /// Centre point.
    pub fn center(&self) -> [f32; 2] {
        [
            (self.min[0] + self.max[0]) * 0.5,
            (self.min[1] + self.max[1]) * 0.5,
        ]
    }
    /// Whether `p` lies inside (borders included).
    pub fn contains(&self, p: [f32; 2]) -> bool {
        p[0] >= self.min[0] && p[0] <= self.max[0] && p[1] >= self.min[1] && p[1] <= self.max[1]
    }
    /// Smallest rectangle holding both.
    pub fn union(&self, other: &Self) -> Self {
        Self {
            min: [self.min[0].min(other.min[0]), self.min[1].min(other.min[1])],
            max: [self.max[0].max(other.max[0]), self.max[1].max(other.max[1])],
        }
    }
}

/// The easing applied to the layout blend `t` (smoothstep, `3t² − 2t³`, clamped to `[0,1]`).
/// The vertex shader uses the same formula.
pub fn ease(t: f32) -> f32 {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    t * t * (3.0 - 2.0 * t)
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

/// Sanitised aspect ratio (width / height); anything non-finite or non-positive counts as 1.
pub fn sanitize_aspect(aspect: f32) -> f32 {
    if aspect.is_finite() && aspect > 0.0 {
        aspect
    } else {
        1.0
    }
}

/// The layout's geometry: a `cols × rows` grid and the world-space conventions.
///
/// * World space is y-down (like images and the screen): `(0, 0)` is the top-left of the unit
///   square, `(1, 1)` its bottom-right.
/// * t-SNE points come normalised to `[0,1]`² and are placed at `0.5 + (p − 0.5) · scale / 4`.
/// * The grid fills a box `cols·pitch × rows·pitch`, `pitch = 1 / max(cols, rows)`, centred on
///   (0.5, 0.5); cell `[col, row]` has its centre at `origin + (col + ½, row + ½) · pitch`,
///   row 0 at the top.
/// * An image's long side is `image_size · pitch` in t-SNE view and `(1 − grid_gap) · pitch`
///   in grid view (lerped with the eased `t`), its short side follows its aspect, and it is
///   centred on its (lerped) position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutGeometry {
    /// Grid columns (≥ 1).
    pub cols: u32,
    /// Grid rows (≥ 1).
    pub rows: u32,
}

impl LayoutGeometry {
    /// A `cols × rows` grid (zeros are bumped to 1).
    pub fn new(cols: u32, rows: u32) -> Self {
        Self {
            cols: cols.max(1),
            rows: rows.max(1),
        }
    }

    /// The squarest grid holding `count` images: `cols = ⌈√n⌉`, `rows = ⌈n / cols⌉`.
    pub fn for_count(count: usize) -> Self {
        let n = count.max(1) as u64;
        let mut cols = (n as f64).sqrt().ceil() as u64;
        while cols * cols < n {
            cols += 1;
        }
        let rows = n.div_ceil(cols);
        Self::new(cols as u32, rows as u32)
    }

    /// Grid cell size in world units: `1 / max(cols, rows)`.
    pub fn pitch(&self) -> f32 {
        1.0 / self.cols.max(self.rows).max(1) as f32
    }

    /// World position of the grid's top-left corner.
    pub fn grid_origin(&self) -> [f32; 2] {
        let p = self.pitch();
        [
            0.5 - self.cols as f32 * p * 0.5,
            0.5 - self.rows as f32 * p * 0.5,
        ]
    }

    /// The world rectangle covered by the whole grid.
    pub fn grid_rect(&self) -> WorldRect {
        let o = self.grid_origin();
        let p = self.pitch();
        WorldRect {
            min: o,
            max: [o[0] + self.cols as f32 * p, o[1] + self.rows as f32 * p],
        }
    }

    /// World centre of grid cell `[col, row]` (row 0 at the top).
    pub fn grid_center(&self, cell: [u32; 2]) -> [f32; 2] {
        self.grid_center_f(cell[0] as f32, cell[1] as f32)
    }

    fn grid_center_f(&self, col: f32, row: f32) -> [f32; 2] {
        let o = self.grid_origin();
        let p = self.pitch();
        [o[0] + (col + 0.5) * p, o[1] + (row + 0.5) * p]
    }

    /// World position of a normalised t-SNE point for the spread slider `scale`.
    pub fn tsne_world(&self, p: [f32; 2], scale: f32) -> [f32; 2] {
        let s = scale / 4.0;
        [0.5 + (p[0] - 0.5) * s, 0.5 + (p[1] - 0.5) * s]
    }

    /// World centre of an image at the blend given by `params`.
    pub fn instance_center(
        &self,
        tsne: [f32; 2],
        cell: [u32; 2],
        params: &LayoutParams,
    ) -> [f32; 2] {
        let e = ease(params.t);
        let a = self.tsne_world(tsne, params.tsne_scale);
        let b = self.grid_center(cell);
        [lerp(a[0], b[0], e), lerp(a[1], b[1], e)]
    }

    /// Long side of every image (world units) at the blend given by `params`.
    pub fn long_side(&self, params: &LayoutParams) -> f32 {
        let p = self.pitch();
        lerp(
            params.image_size * p,
            (1.0 - params.grid_gap) * p,
            ease(params.t),
        )
    }

    /// World size `[w, h]` of an image with aspect `w / h`.
    pub fn instance_size(&self, aspect: f32, params: &LayoutParams) -> [f32; 2] {
        let long = self.long_side(params);
        let a = sanitize_aspect(aspect);
        if a >= 1.0 {
            [long, long / a]
        } else {
            [long * a, long]
        }
    }

    /// World rectangle of one image.
    pub fn instance_rect(
        &self,
        tsne: [f32; 2],
        cell: [u32; 2],
        aspect: f32,
        params: &LayoutParams,
    ) -> WorldRect {
        WorldRect::from_center_size(
            self.instance_center(tsne, cell, params),
            self.instance_size(aspect, params),
        )
    }

    /// Bounding box of all images (non-finite positions are skipped); `None` if there are none.
    /// `cells` and `aspects` are read index by index; missing entries count as cell `[0,0]`
    /// and aspect 1.
    pub fn bounds(
        &self,
        tsne: &[[f32; 2]],
        cells: &[[u32; 2]],
        aspects: &[f32],
        params: &LayoutParams,
    ) -> Option<WorldRect> {
        let mut acc: Option<WorldRect> = None;
        for (i, &p) in tsne.iter().enumerate() {
            let cell = cells.get(i).copied().unwrap_or([0, 0]);
            let aspect = aspects.get(i).copied().unwrap_or(1.0);
            let r = self.instance_rect(p, cell, aspect, params);
            if !(r.min.iter().chain(r.max.iter()).all(|v| v.is_finite())) {
                continue;
            }
            acc = Some(match acc {
                Some(a) => a.union(&r),
                None => r,
            });
        }
        acc
    }

    /// The topmost image under the world point `world` (the one drawn last, i.e. the highest
    /// index), or `None`.
    pub fn hit_test(
        &self,
        world: [f32; 2],
        tsne: &[[f32; 2]],
        cells: &[[u32; 2]],
        aspects: &[f32],
        params: &LayoutParams,
    ) -> Option<usize> {
        (0..tsne.len()).rev().find(|&i| {
            let cell = cells.get(i).copied().unwrap_or([0, 0]);
            let aspect = aspects.get(i).copied().unwrap_or(1.0);
            self.instance_rect(tsne[i], cell, aspect, params)
                .contains(world)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_centred_row_zero_on_top() {
        let g = LayoutGeometry::new(4, 2);
        assert_eq!(g.pitch(), 0.25);
        assert_eq!(g.grid_origin(), [0.0, 0.25]);
        assert_eq!(g.grid_center([0, 0]), [0.125, 0.375]);
        // row 1 is *below* row 0: larger y.
        assert_eq!(g.grid_center([0, 1]), [0.125, 0.625]);
    }

    #[test]
    fn for_count_is_squarish() {
        assert_eq!(LayoutGeometry::for_count(10), LayoutGeometry::new(4, 3));
        assert_eq!(LayoutGeometry::for_count(16), LayoutGeometry::new(4, 4));
        assert_eq!(LayoutGeometry::for_count(0), LayoutGeometry::new(1, 1));
    }

    #[test]
    fn sizes_follow_aspect_and_blend() {
        let g = LayoutGeometry::new(2, 2);
        let p = LayoutParams {
            image_size: 0.5,
            grid_gap: 0.0,
            ..Default::default()
        };
        assert_eq!(g.instance_size(2.0, &p), [0.25, 0.125]);
        assert_eq!(g.instance_size(0.5, &p.with_t(1.0)), [0.25, 0.5]);
        assert_eq!(ease(0.5), 0.5);
        assert_eq!(g.tsne_world([0.0, 1.0], 8.0), [-0.5, 1.5]);
    }
}
