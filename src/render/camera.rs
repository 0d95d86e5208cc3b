//! 2D camera: world centre + zoom (pixels per world unit) over a viewport in physical pixels,
//! with fit, pan, zoom-around-a-point and world↔screen conversion (screen y grows downward).

use super::layout::WorldRect;

/// A 2D orthographic camera.
///
/// Screen coordinates are physical pixels with `(0, 0)` at the top-left of the viewport and y
/// growing downward; world space is y-down too, so no flip happens:
/// `screen = (world − center) · zoom + viewport / 2`.
///
/// (nannou's mouse positions are in logical points, origin at the window centre, y up:
/// convert with `[(x + w/2) · dpi, (h/2 − y) · dpi]` before calling these methods.)
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    /// World point shown at the centre of the viewport.
    pub center: [f32; 2],
    /// Pixels per world unit.
    pub zoom: f32,
    /// Viewport size in physical pixels.
    pub viewport: [f32; 2],
    /// Smallest zoom `zoom_around` allows.
    pub min_zoom: f32,
    /// Largest zoom `zoom_around` allows.
    pub max_zoom: f32,
}

impl Camera {
    /// A camera showing the unit square centred in a viewport of `viewport` pixels.
    pub fn new(viewport: [f32; 2]) -> Self {
        let viewport = [viewport[0].max(1.0), viewport[1].max(1.0)];
        Self {
            center: [0.5, 0.5],
            zoom: viewport[0].min(viewport[1]),
            viewport,
            min_zoom: 1e-2,
            max_zoom: 1e7,
        }
    }

    /// Changes the viewport size (e.g. on window resize), keeping centre and zoom.
    pub fn set_viewport(&mut self, viewport: [f32; 2]) {
        self.viewport = [viewport[0].max(1.0), viewport[1].max(1.0)];
    }

    /// World point → screen pixel.
    pub fn world_to_screen(&self, world: [f32; 2]) -> [f32; 2] {
        [
            (world[0] - self.center[0]) * self.zoom + self.viewport[0] * 0.5,
            (world[1] - self.center[1]) * self.zoom + self.viewport[1] * 0.5,
        ]
    }

    /// Screen pixel → world point.
    pub fn screen_to_world(&self, screen: [f32; 2]) -> [f32; 2] {
        let z = self.safe_zoom();
        [
            (screen[0] - self.viewport[0] * 0.5) / z + self.center[0],
            (screen[1] - self.viewport[1] * 0.5) / z + self.center[1],
        ]
    }

    /// The world rectangle currently visible.
    pub fn visible_rect(&self) -> WorldRect {
        WorldRect {
            min: self.screen_to_world([0.0, 0.0]),
            max: self.screen_to_world(self.viewport),
        }
    }

    /// Centres `rect` and zooms so it fits inside the viewport with `margin_px` pixels free on
    /// every side (the margin shrinks if the viewport is too small for it).
    pub fn fit(&mut self, rect: &WorldRect, margin_px: f32) {
        let size = rect.size();
        let center = rect.center();
        if !(center[0].is_finite() && center[1].is_finite()) {
            return;
        }
        self.center = center;
        let margin = margin_px
            .max(0.0)
            .min(self.viewport[0] * 0.25)
            .min(self.viewport[1] * 0.25);
        let avail = [
            (self.viewport[0] - 2.0 * margin).max(1.0),
            (self.viewport[1] - 2.0 * margin).max(1.0),
        ];
        let zx = if size[0] > 0.0 {
            avail[0] / size[0]
        } else {
            f32::INFINITY
        };
        let zy = if size[1] > 0.0 {
            avail[1] / size[1]
        } else {
            f32::INFINITY
        };
        let z = zx.min(zy);
        if z.is_finite() && z > 0.0 {
            self.zoom = z;
        }
    }

    /// Pans by a screen-space pixel delta, dragging the content along (the world point under
    /// the cursor follows the cursor).
    pub fn pan_pixels(&mut self, delta: [f32; 2]) {
        let z = self.safe_zoom();
        self.center[0] -= delta[0] / z;
        self.center[1] -= delta[1] / z;
    }

    /// Multiplies the zoom by `factor` (clamped to `[min_zoom, max_zoom]`) keeping the world
    /// point under the screen pixel `screen` fixed.
    pub fn zoom_around(&mut self, factor: f32, screen: [f32; 2]) {
        if !(factor.is_finite() && factor > 0.0) {
            return;
        }
        let anchor = self.screen_to_world(screen);
        self.zoom = (self.safe_zoom() * factor).clamp(self.min_zoom, self.max_zoom);
        self.center = [
            anchor[0] - (screen[0] - self.viewport[0] * 0.5) / self.zoom,
            anchor[1] - (screen[1] - self.viewport[1] * 0.5) / self.zoom,
        ];
    }

    fn safe_zoom(&self) -> f32 {
        if self.zoom.is_finite() && self.zoom > 0.0 {
            self.zoom
        } else {
            1.0
        }
    }
}
