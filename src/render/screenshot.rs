//! Offscreen renders of a [`QuadRenderer`]: any camera at any size (tiled when larger than the
//! device's max texture size, stitched on the CPU) and whole-layout screenshots.

use image::RgbaImage;

use super::atlas::{linear_to_srgb_u8, srgb_u8_to_linear};
use super::camera::Camera;
use super::colour::srgb_u8_to_clear_color;
use super::error::{with_error_scope, RenderError, Result};
use super::layout::{LayoutParams, WorldRect};
use super::offscreen::OffscreenTarget;
use super::quads::{FrameParams, QuadRenderer, Style, TargetDesc};

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

/// The tile edge for a screenshot rendered while a `width × height` window keeps drawing: about
/// half the window's pixels, so a frame that also renders a tile takes at most about twice as
/// long (a multiple of 256, 256 to 2048).
pub fn tile_for_window(width: f32, height: f32) -> u32 {
    (((width * height / 2.0).max(0.0).sqrt() as u32) / 256 * 256).clamp(256, 2048)
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

/// `n` zero bytes from the allocator's zeroed memory, or `None` when it cannot provide them.
fn zeroed_bytes(n: usize) -> Option<Vec<u8>> {
    if n == 0 {
        return Some(Vec::new());
    }
    let layout = std::alloc::Layout::array::<u8>(n).ok()?;
    // SAFETY: the layout has a non-zero size; the pointer comes from the global allocator with
    // exactly this layout (size n, align 1), which is what a Vec<u8> of capacity n owns and
    // frees; all n bytes are initialised (zeroed).
    unsafe {
        let p = std::alloc::alloc_zeroed(layout);
        if p.is_null() {
            return None;
        }
        Some(Vec::from_raw_parts(p, n, n))
    }
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

/// A large offscreen render done tile by tile over many [`OffscreenJob::step`] calls, so that a
/// window keeps presenting frames while it runs: a step submits at most one tile (render +
/// copy to a readback buffer) and, unless asked to wait, only polls the GPU for the previous
/// one. The blocking [`QuadRenderer::render_offscreen`] is the same job stepped with waiting.
pub struct OffscreenJob {
    width: u32,
    height: u32,
    tile: [u32; 2],
    tiles: [u32; 2],
    full: Camera,
    params: FrameParams,
    clear: wgpu::Color,
    straight_alpha: bool,
    target: OffscreenTarget,
    pipeline: wgpu::RenderPipeline,
    uniform_buffer: wgpu::Buffer,
    uniform_group: wgpu::BindGroup,
    readback: wgpu::Buffer,
    padded_row: usize,
    /// Next tile to submit.
    next: u32,
    /// The tile being copied back, and the map result once the GPU has it.
    in_flight: Option<(u32, MapResult)>,
    done: u32,
    out: Option<RgbaImage>,
}

type MapResult = std::sync::Arc<std::sync::Mutex<Option<std::result::Result<(), String>>>>;

impl std::fmt::Debug for OffscreenJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OffscreenJob")
            .field("size", &[self.width, self.height])
            .field("tile", &self.tile)
            .field("done", &self.done)
            .field("total", &self.total_tiles())
            .finish()
    }
}

impl OffscreenJob {
    /// Output size in pixels.
    pub fn size(&self) -> [u32; 2] {
        [self.width, self.height]
    }

    /// Tiles finished.
    pub fn tiles_done(&self) -> u32 {
        self.done
    }

    /// Tiles in all.
    pub fn total_tiles(&self) -> u32 {
        self.tiles[0] * self.tiles[1]
    }

    /// Advance the job: collect the tile in flight when the GPU has finished it (waiting for
    /// it only when `wait`), then submit the next tile. Returns the image once every tile is
    /// in. `renderer` must be the one the job was started from.
    pub fn step(
        &mut self,
        renderer: &QuadRenderer,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        wait: bool,
    ) -> Result<Option<RgbaImage>> {
        if let Some((index, state)) = self.in_flight.take() {
            device.poll(if wait {
                wgpu::Maintain::Wait
            } else {
                wgpu::Maintain::Poll
            });
            let result = state.lock().ok().and_then(|mut r| r.take());
            match result {
                None if wait => {
                    return Err(RenderError::BufferMap(
                        "the map callback never ran (device lost?)".into(),
                    ))
                }
                None => {
                    self.in_flight = Some((index, state));
                    return Ok(None);
                }
                Some(Err(e)) => return Err(RenderError::BufferMap(e)),
                Some(Ok(())) => self.collect(index)?,
            }
        }
        let total = self.total_tiles();
        if self.next < total {
            let index = self.next;
            self.next += 1;
            self.submit(renderer, device, queue, index)?;
            return Ok(None);
        }
        if self.done == total {
            let mut out = self.out.take().ok_or_else(|| {
                RenderError::BufferMap("the offscreen job was already finished".into())
            })?;
            if self.straight_alpha {
                unpremultiply(&mut out);
            }
            return Ok(Some(out));
        }
        Ok(None)
    }

    /// Pixel origin of tile `index` (row-major).
    fn origin(&self, index: u32) -> [u32; 2] {
        [
            (index % self.tiles[0]) * self.tile[0],
            (index / self.tiles[0]) * self.tile[1],
        ]
    }

    fn submit(
        &mut self,
        renderer: &QuadRenderer,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        index: u32,
    ) -> Result<()> {
        let [tx, ty] = self.origin(index);
        let mut cam = self.full;
        cam.viewport = [self.tile[0] as f32, self.tile[1] as f32];
        cam.center = self.full.screen_to_world([
            tx as f32 + self.tile[0] as f32 * 0.5,
            ty as f32 + self.tile[1] as f32 * 0.5,
        ]);
        let tile_params = FrameParams {
            camera: cam,
            ..self.params
        };
        queue.write_buffer(
            &self.uniform_buffer,
            0,
            bytemuck::bytes_of(&renderer.uniforms(&tile_params)),
        );
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("image-tsne offscreen tile"),
        });
        renderer.record_pass(
            &mut encoder,
            &self.pipeline,
            &self.uniform_group,
            self.target.render_view(),
            self.target.resolve_target(),
            Some(self.clear),
            self.params.hovered,
        );
        encoder.copy_texture_to_buffer(
            wgpu::ImageCopyTexture {
                texture: self.target.texture(),
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::ImageCopyBuffer {
                buffer: &self.readback,
                layout: wgpu::ImageDataLayout {
                    offset: 0,
                    bytes_per_row: Some(self.padded_row as u32),
                    rows_per_image: Some(self.tile[1]),
                },
            },
            wgpu::Extent3d {
                width: self.tile[0],
                height: self.tile[1],
                depth_or_array_layers: 1,
            },
        );
        queue.submit(Some(encoder.finish()));
        let state: MapResult = Default::default();
        let sink = state.clone();
        self.readback
            .slice(..)
            .map_async(wgpu::MapMode::Read, move |r| {
                if let Ok(mut s) = sink.lock() {
                    *s = Some(r.map_err(|e| e.to_string()));
                }
            });
        self.in_flight = Some((index, state));
        Ok(())
    }

    /// Copy the mapped readback of tile `index` into the output image.
    fn collect(&mut self, index: u32) -> Result<()> {
        let [tx, ty] = self.origin(index);
        let w = self.tile[0].min(self.width - tx) as usize;
        let h = self.tile[1].min(self.height - ty);
        {
            let out = self.out.as_mut().ok_or_else(|| {
                RenderError::BufferMap("the offscreen job was already finished".into())
            })?;
            let data = self.readback.slice(..).get_mapped_range();
            let out_row = self.width as usize * 4;
            let raw: &mut [u8] = out;
            for (r, chunk) in data.chunks(self.padded_row).take(h as usize).enumerate() {
                let src = chunk
                    .get(..w * 4)
                    .ok_or_else(|| RenderError::BufferMap("short readback row".into()))?;
                let start = (ty as usize + r) * out_row + tx as usize * 4;
                raw[start..start + w * 4].copy_from_slice(src);
            }
        }
        self.readback.unmap();
        self.done += 1;
        Ok(())
    }
}

impl QuadRenderer {
    /// Start rendering `params` (camera viewport = output size in pixels, rounded) into a new
    /// image, tile by tile (see [`OffscreenJob`]). Leaves the live frame's uniforms untouched.
    pub fn start_offscreen(
        &self,
        device: &wgpu::Device,
        params: &FrameParams,
        opts: &OffscreenOptions,
    ) -> Result<OffscreenJob> {
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
        // zeroed by the allocator (fresh pages cost nothing until written): a 16k × 16k
        // screenshot must not stall the frame that starts it by writing a gigabyte of zeros
        let pixels = zeroed_bytes(n).ok_or_else(|| {
            RenderError::InvalidSize(format!("{width}×{height} image: out of memory"))
        })?;
        let out = RgbaImage::from_raw(width, height, pixels)
            .ok_or_else(|| RenderError::InvalidSize(format!("{width}×{height} image")))?;
        let padded_row = super::offscreen::padded_bytes_per_row(tile[0]) as usize;
        with_error_scope(device, "starting an offscreen render", || {
            let target = OffscreenTarget::new(device, tile[0], tile[1], target_desc)?;
            let pipeline = self.create_pipeline(device, target_desc)?;
            let (uniform_buffer, uniform_group) = self.create_uniforms(device);
            let readback = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("image-tsne tile readback"),
                size: padded_row as u64 * tile[1] as u64,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            Ok(OffscreenJob {
                width,
                height,
                tile,
                tiles: [width.div_ceil(tile[0]), height.div_ceil(tile[1])],
                full: Camera {
                    viewport: [width as f32, height as f32],
                    ..params.camera
                },
                params: *params,
                clear: srgb_u8_to_clear_color(opts.background),
                straight_alpha: opts.background[3] < 255,
                target,
                pipeline,
                uniform_buffer,
                uniform_group,
                readback,
                padded_row,
                next: 0,
                in_flight: None,
                done: 0,
                out: Some(out),
            })
        })
    }

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
        let job = self.start_offscreen(device, params, opts)?;
        self.finish(job, device, queue)
    }

    /// Run a job to the end, waiting for each tile.
    fn finish(
        &self,
        mut job: OffscreenJob,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<RgbaImage> {
        with_error_scope(device, "rendering offscreen", || loop {
            if let Some(image) = job.step(self, device, queue, true)? {
                return Ok(image);
            }
        })
    }

    /// Start a whole-layout screenshot (see [`screenshot`](Self::screenshot)) as a job that a
    /// window steps once per frame, so it never stalls the frame.
    pub fn start_screenshot(
        &self,
        device: &wgpu::Device,
        layout: &LayoutParams,
        opts: &ScreenshotOptions,
    ) -> Result<OffscreenJob> {
        let plan = self.plan_screenshot(layout, opts, device.limits().max_texture_dimension_2d)?;
        let params = FrameParams {
            camera: plan.camera,
            layout: *layout,
            hovered: None,
            style: opts.style,
        };
        self.start_offscreen(device, &params, &opts.offscreen)
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
        let job = self.start_screenshot(device, layout, opts)?;
        self.finish(job, device, queue)
    }
}
