//! The request planner of the detail tier: camera + layout → which visible images need more
//! pixels than their base atlas cell, at which detail level, most urgent first.
//!
//! An image needs a detail level when its on-screen long side (physical pixels: the camera's
//! viewport is in device pixels, so the device pixel ratio is in already) exceeds the base
//! cell. The level is the smallest whose cell covers the on-screen size, capped at the largest
//! level (1024 px) and at the source's own size when it is known to be small (a thumbnail
//! shorter than the thumbnail size *is* the source). Priority: on-screen size, then closeness
//! to the screen centre. Pure CPU, O(images) per camera change.

use super::camera::Camera;
use super::detail::{detail_gutter, level_for_side, DETAIL_SIDES};
use super::instance::{StaticInstance, FLAG_HIDDEN, FLAG_PLACEHOLDER};
use super::layout::{LayoutGeometry, LayoutParams};

/// Thumbnail side the base cells are made from (a smaller thumbnail is the whole source).
pub const THUMB_SIDE: u32 = 256;

/// What the planner reads of a renderer.
#[derive(Debug, Clone, Copy)]
pub struct Instances<'a> {
    /// Grid geometry.
    pub geometry: &'a LayoutGeometry,
    /// Normalised t-SNE positions.
    pub tsne: &'a [[f32; 2]],
    /// Static instance data (grid cell, aspect, flags).
    pub statics: &'a [StaticInstance],
    /// Per image, the long side of its base thumbnail (0: not loaded).
    pub thumb_sides: &'a [u32],
    /// Base atlas cell side.
    pub base_cell: u32,
}

/// One visible image that needs a detail level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Want {
    /// Image index.
    pub index: usize,
    /// Detail level wanted (index into [`DETAIL_SIDES`]).
    pub level: usize,
    /// On-screen long side in pixels.
    pub screen_px: f32,
    /// Larger is more urgent.
    pub priority: f32,
}

/// The detail level an image of on-screen long side `screen_px` needs, given its base cell
/// side and (if the source is known to be small) its source side; `None`: the base is enough.
pub fn needed_level(screen_px: f32, base_cell: u32, source_cap: Option<u32>) -> Option<usize> {
    if !(screen_px.is_finite() && screen_px > 0.0) {
        return None;
    }
    let cap = source_cap.unwrap_or(u32::MAX);
    let px = (screen_px.ceil() as u32).min(cap);
    // the base cell's image is at most `base_cell − 2·gutter` px long
    let base_inner = base_cell.saturating_sub(2 * detail_gutter(base_cell.max(4)));
    if px <= base_inner {
        return None;
    }
    let level = level_for_side(px);
    (DETAIL_SIDES[level] > base_cell).then_some(level)
}

/// Every visible, loaded image that needs more than its base cell, most urgent first.
pub fn plan(inst: &Instances, camera: &Camera, layout: &LayoutParams) -> Vec<Want> {
    let view = camera.visible_rect();
    let [vw, vh] = camera.viewport;
    let half_diag = 0.5 * (vw * vw + vh * vh).sqrt().max(1.0);
    let zoom = camera.zoom;
    let mut out = Vec::new();
    for (i, s) in inst.statics.iter().enumerate() {
        if s.flags & (FLAG_HIDDEN | FLAG_PLACEHOLDER) != 0 {
            continue;
        }
        let Some(&tsne) = inst.tsne.get(i) else {
            continue;
        };
        let cell = [s.grid_cell[0] as u32, s.grid_cell[1] as u32];
        let r = inst.geometry.instance_rect(tsne, cell, s.aspect, layout);
        if r.max[0] < view.min[0]
            || r.min[0] > view.max[0]
            || r.max[1] < view.min[1]
            || r.min[1] > view.max[1]
        {
            continue;
        }
        let [w, h] = r.size();
        let screen_px = w.max(h) * zoom;
        let thumb = inst.thumb_sides.get(i).copied().unwrap_or(0);
        let cap = (thumb > 0 && thumb < THUMB_SIDE).then_some(thumb);
        let Some(level) = needed_level(screen_px, inst.base_cell, cap) else {
            continue;
        };
        let c = camera.world_to_screen(r.center());
        let d = ((c[0] - 0.5 * vw).powi(2) + (c[1] - 0.5 * vh).powi(2)).sqrt();
        out.push(Want {
            index: i,
            level,
            screen_px,
            priority: screen_px / (1.0 + d / half_diag),
        });
    }
    out.sort_by(|a, b| b.priority.total_cmp(&a.priority));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::detail::NO_DETAIL;

    fn statics(n: usize, cols: u32) -> Vec<StaticInstance> {
        (0..n)
            .map(|i| StaticInstance {
                grid_cell: [(i as u32 % cols) as f32, (i as u32 / cols) as f32],
                rect: [0, 0, 65535, 65535],
                aspect: 1.0,
                flags: 0,
                detail: NO_DETAIL,
                detail_rect: [0; 4],
            })
            .collect()
    }

    #[test]
    fn levels_follow_screen_size_base_and_source() {
        assert_eq!(needed_level(100.0, 256, None), None);
        assert_eq!(needed_level(300.0, 256, None), Some(1));
        assert_eq!(needed_level(3000.0, 256, None), Some(2));
        assert_eq!(needed_level(200.0, 64, None), Some(0));
        // a 120 px source never needs more than a 128 px base cell
        assert_eq!(needed_level(900.0, 128, Some(120)), None);
        assert_eq!(needed_level(900.0, 64, Some(200)), Some(0));
        assert_eq!(needed_level(f32::NAN, 64, None), None);
    }

    #[test]
    fn only_visible_images_are_planned_largest_and_central_first() {
        let geometry = LayoutGeometry::new(10, 10);
        let st = statics(100, 10);
        let tsne = vec![[0.5, 0.5]; 100];
        let thumbs = vec![256; 100];
        let inst = Instances {
            geometry: &geometry,
            tsne: &tsne,
            statics: &st,
            thumb_sides: &thumbs,
            base_cell: 32,
        };
        let layout = LayoutParams::default().with_t(1.0);
        // whole grid on a 1000 px viewport: ~100 px per image → level 0 for all 100
        let mut cam = Camera::new([1000.0, 1000.0]);
        cam.fit(&geometry.grid_rect(), 0.0);
        let all = plan(&inst, &cam, &layout);
        assert_eq!(all.len(), 100);
        assert!(all.iter().all(|w| w.level == 0));
        // zoom on the centre: few images, larger, the central ones first
        cam.zoom *= 5.0;
        let close = plan(&inst, &cam, &layout);
        assert!(close.len() < 16 && !close.is_empty(), "{}", close.len());
        assert!(close.iter().all(|w| w.level == 1), "{close:?}");
        let first = close[0].index;
        assert!([44, 45, 54, 55].contains(&first), "{first}");
        // zoomed out far: nothing needs detail
        cam.zoom /= 50.0;
        assert!(plan(&inst, &cam, &layout).is_empty());
    }
}
