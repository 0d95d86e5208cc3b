//! Offscreen renders of a [`QuadRenderer`]: any camera at any size (tiled when larger than the
//! device's max texture size, stitched on the CPU) and whole-layout screenshots.

use image::RgbaImage;

use super::atlas::{linear_to_srgb_u8, srgb_u8_to_linear};
use super::camera::Camera;
use super::error::{with_error_scope, RenderError, Result};
use super::layout::{LayoutParams, WorldRect};
use super::offscreen::OffscreenTarget;
use super::quads::{srgb_u8_to_clear_color, FrameParams, QuadRenderer, Style, TargetDesc};

/// Largest image (in pixels) an offscreen render may produce: 2³⁰ px = 4 GiB of RGBA8.
pub const MAX_OFFSCREEN_PIXELS: u64 = 1 << 30;

/// How an offscreen render is produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffscreenOptions {
    /// Background, sRGB bytes with straight alpha. With alpha < 255 the result has
    /// transparency and is returned un-premultiplied (straight alpha, as PNG expects).
    pub background: [u8; 4],
    /// MSAA samples (1 or 4).
    pub sample_count: u32,
    /// Largest tile edge in pixels; 0 = the device's `max_texture_dimension_2d`. Renders
    /// larger than a tile are done tile by tile with the camera shifted.
    pub max_tile: u32,
}

impl Default for OffscreenOptions {
    fn default() -> Self {
        Self {
            background: [0, 0, 0, 255],
            sample_count: 4,
            max_tile: 4096,
        }
    }
}

/// Resolution of a whole-layout screenshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenshotSize {
    /// Every image gets about its atlas cell size in pixels in grid view
    /// (`zoom = cell_size / pitch`), or the largest source image's size when that is smaller,
    /// the long side capped to `max_side`.
    CellPixels {
        /// Cap on the longer image side.
        max_side: u32,
    },
    /// A given width; the height follows the layout's aspect.
    Width(u32),
    /// A given size; the layout is fitted inside.
    Exact {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
}

/// Options of [`QuadRenderer::screenshot`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScreenshotOptions {
    /// Output size.
    pub size: ScreenshotSize,
    /// Free border around the layout, pixels.
    pub margin_px: u32,
    /// Background, MSAA, tiling.
    pub offscreen: OffscreenOptions,
    /// Look of the quads (placeholder colour, ...).
    pub style: Style,
}

impl Default for ScreenshotOptions {
    fn default() -> Self {
        Self {
            size: ScreenshotSize::CellPixels { max_side: 16384 },
            margin_px: 16,
            offscreen: OffscreenOptions::default(),
            style: Style::default(),
        }
    }
}

/// What a screenshot will be: its size, camera and tiling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScreenshotPlan {
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// Camera over the whole image (viewport = width × height).
    pub camera: Camera,
    /// Tile size used.
    pub tile: [u32; 2],
    /// Number of tiles across and down.
    pub tiles: [u32; 2],
}

fn tile_size(width: u32, height: u32, max_tile: u32, max_dim: u32) -> [u32; 2] {
    let cap = if max_tile == 0 {
        max_dim
    } else {
        max_tile.min(max_dim)
    }
    .max(1);
    [width.min(cap), height.min(cap)]
}

fn check_size(width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(RenderError::InvalidSize(format!(
            "offscreen render of {width}×{height}"
        )));
    }
    if width as u64 * height as u64 > MAX_OFFSCREEN_PIXELS {
        return Err(RenderError::InvalidSize(format!(
            "offscreen render of {width}×{height} exceeds {MAX_OFFSCREEN_PIXELS} pixels"
        )));
    }
    Ok(())
}

/// Converts premultiplied sRGB pixels with alpha < 255 to straight alpha, in linear light.
pub fn unpremultiply(img: &mut RgbaImage) {
    for p in img.pixels_mut() {
        let a = p.0[3];
        if a == 255 {
            continue;
        }
        if a == 0 {
            p.0 = [0, 0, 0, 0];
            continue;
        }
        let inv = 255.0 / a as f32;
        for c in 0..3 {
            p.0[c] = linear_to_srgb_u8(srgb_u8_to_linear(p.0[c]) * inv);
        }
    }
}

impl QuadRenderer {
    /// Renders `params` (camera viewport = output size in pixels, rounded) into a new image,
    /// tile by tile if it is larger than a tile. Blocks until done. Leaves the live frame's
    /// uniforms untouched. GPU errors come back as `Err`.
    pub fn render_offscreen(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        params: &FrameParams,
        opts: &OffscreenOptions,
    ) -> Result<RgbaImage> {
        let width = params.camera.viewport[0].round() as u32;
        let height = params.camera.viewport[1].round() as u32;
        check_size(width, height)?;
        let tile = tile_size(
            width,
            height,
            opts.max_tile,
            device.limits().max_texture_dimension_2d,
        );
        let target_desc = TargetDesc {
            format: wgpu::TextureFormat::Rgba8UnormSrgb,
            sample_count: opts.sample_count.max(1),
        };
        let n = width as usize * height as usize * 4;
        let mut pixels = Vec::new();
        pixels
            .try_reserve_exact(n)
            .map_err(|e| RenderError::InvalidSize(format!("{width}×{height} image: {e}")))?;
        pixels.resize(n, 0);
        let mut out = RgbaImage::from_raw(width, height, pixels)
            .ok_or_else(|| RenderError::InvalidSize(format!("{width}×{height} image")))?;

        with_error_scope(device, "rendering offscreen", || {
            let target = OffscreenTarget::new(device, tile[0], tile[1], target_desc)?;
            let pipeline = self.create_pipeline(device, target_desc)?;
            let (uniform_buffer, uniform_group) = self.create_uniforms(device);
            let clear = srgb_u8_to_clear_color(opts.background);
            let full = Camera {
                viewport: [width as f32, height as f32],
                ..params.camera
            };
            for ty in (0..height).step_by(tile[1] as usize) {
                for tx in (0..width).step_by(tile[0] as usize) {
                    let mut cam = full;
                    cam.viewport = [tile[0] as f32, tile[1] as f32];
                    cam.center = full.screen_to_world([
                        tx as f32 + tile[0] as f32 * 0.5,
                        ty as f32 + tile[1] as f32 * 0.5,
                    ]);
                    let tile_params = FrameParams {
                        camera: cam,
                        ..*params
                    };
                    queue.write_buffer(
                        &uniform_buffer,
                        0,
                        bytemuck::bytes_of(&self.uniforms(&tile_params)),
                    );
                    let mut encoder =
                        device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some("image-tsne offscreen tile"),
                        });
                    self.record_pass(
                        &mut encoder,
                        &pipeline,
                        &uniform_group,
                        target.render_view(),
                        target.resolve_target(),
                        Some(clear),
                        params.hovered,
                    );
                    queue.submit(Some(encoder.finish()));
                    let img = target.read(device, queue)?;
                    let w = tile[0].min(width - tx);
                    let h = tile[1].min(height - ty);
                    let sub = image::imageops::crop_imm(&img, 0, 0, w, h).to_image();
                    image::imageops::replace(&mut out, &sub, tx as i64, ty as i64);
                }
            }
            Ok(())
        })?;
        if opts.background[3] < 255 {
            unpremultiply(&mut out);
        }
        Ok(out)
    }

    /// Size, camera and tiling of a whole-layout screenshot (see [`ScreenshotSize`]), for
    /// `max_dim` = the device's `max_texture_dimension_2d`. Lets the app print the choice.
    pub fn plan_screenshot(
        &self,
        layout: &LayoutParams,
        opts: &ScreenshotOptions,
        max_dim: u32,
    ) -> Result<ScreenshotPlan> {
        let rect = self.bounds(layout).unwrap_or(WorldRect {
            min: [0.0, 0.0],
            max: [1.0, 1.0],
        });
        let [bw, bh] = rect.size();
        let (bw, bh) = (bw.max(1e-6), bh.max(1e-6));
        let m = opts.margin_px as f32;
        let (width, height, zoom) = match opts.size {
            ScreenshotSize::CellPixels { max_side } => {
                let g = self.geometry();
                // Pixels per grid cell: the atlas cell size, but never more than the largest
                // source image (64 px emoji are not blown up to 256 px of blur).
                let cell = self.atlas_plan().cell_size;
                let px = match self.max_source_side {
                    0 => cell,
                    side => cell.min(side.max(16)),
                };
                let mut zoom = px as f32 * g.cols.max(g.rows).max(1) as f32;
                let avail = (max_side as f32 - 2.0 * m).max(1.0);
                zoom = zoom.min(avail / bw).min(avail / bh);
                (
                    (bw * zoom + 2.0 * m).ceil(),
                    (bh * zoom + 2.0 * m).ceil(),
                    zoom,
                )
            }
            ScreenshotSize::Width(w) => {
                let zoom = (w as f32 - 2.0 * m).max(1.0) / bw;
                (w as f32, (bh * zoom + 2.0 * m).ceil(), zoom)
            }
            ScreenshotSize::Exact { width, height } => {
                let mut cam = Camera::new([width as f32, height as f32]);
                cam.fit(&rect, m);
                (width as f32, height as f32, cam.zoom)
            }
        };
        if !(width.is_finite() && height.is_finite() && zoom.is_finite() && zoom > 0.0) {
            return Err(RenderError::InvalidSize(format!(
                "screenshot size {width}×{height} at zoom {zoom}"
            )));
        }
        let (width, height) = (width.max(1.0) as u32, height.max(1.0) as u32);
        check_size(width, height)?;
        let camera = Camera {
            center: rect.center(),
            zoom,
            ..Camera::new([width as f32, height as f32])
        };
        let tile = tile_size(width, height, opts.offscreen.max_tile, max_dim);
        Ok(ScreenshotPlan {
            width,
            height,
            camera,
            tile,
            tiles: [width.div_ceil(tile[0]), height.div_ceil(tile[1])],
        })
    }

    /// Screenshot of the whole layout (every image, not just the window) at `layout`'s blend,
    /// returned as straight-alpha RGBA8 sRGB (write it as PNG). No hover highlight.
    pub fn screenshot(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        layout: &LayoutParams,
        opts: &ScreenshotOptions,
    ) -> Result<RgbaImage> {
        let plan = self.plan_screenshot(layout, opts, device.limits().max_texture_dimension_2d)?;
        let params = FrameParams {
            camera: plan.camera,
            layout: *layout,
            hovered: None,
            style: opts.style,
        };
        self.render_offscreen(device, queue, &params, &opts.offscreen)
    }
}
