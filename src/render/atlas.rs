//! Mipmapped thumbnail atlas: a 2D texture array of square cells (one per image), its size plan
//! from a memory budget and the device limits, and CPU letterboxing + per-cell mip chains.

use std::fmt;
use std::sync::OnceLock;

use image::RgbaImage;

use super::error::{with_error_scope, RenderError, Result};

/// Default atlas memory budget (including mip levels): 512 MiB — 256 px cells up to ~1 400
/// images, 64 px up to ~24 000, 32 px up to ~95 000.
pub const DEFAULT_ATLAS_BUDGET_BYTES: u64 = 512 * 1024 * 1024;

/// The atlas texture format: premultiplied-alpha RGBA8, sRGB-encoded (decoded to linear by
/// the sampler, so filtering and blending happen in linear space).
pub const ATLAS_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;

/// Knobs for [`AtlasPlan::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtlasConfig {
    /// Memory the atlas may use, mip levels included (default 512 MiB).
    pub budget_bytes: u64,
    /// Largest cell edge tried, in pixels (rounded down to a power of two; default 256).
    pub max_cell: u32,
    /// Smallest cell edge tried (power of two; default 16). If even this exceeds the budget it
    /// is used anyway and the plan says `over_budget`.
    pub min_cell: u32,
    /// Largest layer edge in pixels (default 2048; also capped by the device's
    /// `max_texture_dimension_2d`). Smaller layers waste less memory in the last layer.
    pub max_layer_size: u32,
}

impl Default for AtlasConfig {
    fn default() -> Self {
        Self {
            budget_bytes: DEFAULT_ATLAS_BUDGET_BYTES,
            max_cell: 256,
            min_cell: 16,
            max_layer_size: 2048,
        }
    }
}

/// The chosen atlas layout. Image `i` lives in cell `i`: layer `i / cells_per_layer`, then
/// row-major inside the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtlasPlan {
    /// Number of images the atlas holds.
    pub count: usize,
    /// Cell edge in pixels (power of two).
    pub cell_size: u32,
    /// Transparent margin inside each cell around the letterboxed image, in pixels.
    pub gutter: u32,
    /// Cells per layer row (and column: layers are square).
    pub cells_per_row: u32,
    /// Layer edge in pixels (`cells_per_row · cell_size`).
    pub layer_size: u32,
    /// Number of array layers.
    pub layers: u32,
    /// Mip levels: a full chain per cell, down to 1×1 pixel per cell.
    pub mip_levels: u32,
    /// GPU memory of the texture, all levels.
    pub bytes: u64,
    /// The budget the plan was made for.
    pub budget_bytes: u64,
    /// True if even the smallest cell size exceeds the budget (it is used anyway).
    pub over_budget: bool,
}

fn mip_chain_bytes(layer_size: u32, layers: u32, mip_levels: u32) -> u64 {
    (0..mip_levels)
        .map(|l| {
            let s = (layer_size >> l).max(1) as u64;
            s * s * 4
        })
        .sum::<u64>()
        * layers as u64
}

fn floor_pow2(v: u32) -> u32 {
    if v == 0 {
        0
    } else {
        1 << (31 - v.leading_zeros())
    }
}

impl AtlasPlan {
    /// Picks the largest power-of-two cell size in `[min_cell, max_cell]` whose atlas fits the
    /// memory budget and the device limits (`max_texture_dimension_2d`,
    /// `max_texture_array_layers`). Errors only if no cell size fits the device at all.
    pub fn new(count: usize, config: &AtlasConfig, limits: &wgpu::Limits) -> Result<Self> {
        let max_side = config
            .max_layer_size
            .min(limits.max_texture_dimension_2d)
            .max(1);
        let max_cell = floor_pow2(config.max_cell.max(1));
        let min_cell = floor_pow2(config.min_cell.max(1)).min(max_cell);
        let n = count.max(1) as u64;
        let mut smallest_fitting_device: Option<Self> = None;
        let mut cell = max_cell;
        while cell >= min_cell && cell >= 1 {
            if cell <= max_side {
                let per_row_max = (max_side / cell) as u64;
                let per_row = per_row_max.min((n as f64).sqrt().ceil() as u64).max(1);
                let per_layer = per_row * per_row;
                let layers = n.div_ceil(per_layer);
                if layers <= limits.max_texture_array_layers as u64 {
                    let layer_size = (per_row as u32) * cell;
                    let mip_levels = cell.trailing_zeros() + 1;
                    let bytes = mip_chain_bytes(layer_size, layers as u32, mip_levels);
                    let plan = Self {
                        count,
                        cell_size: cell,
                        gutter: (cell / 64).max(1).min(cell / 4),
                        cells_per_row: per_row as u32,
                        layer_size,
                        layers: layers as u32,
                        mip_levels,
                        bytes,
                        budget_bytes: config.budget_bytes,
                        over_budget: false,
                    };
                    if bytes <= config.budget_bytes {
                        return Ok(plan);
                    }
                    smallest_fitting_device = Some(plan);
                }
            }
            cell /= 2;
        }
        match smallest_fitting_device {
            Some(plan) => {
                log::warn!(
                    "atlas for {count} images exceeds the {} MiB budget even with {} px cells",
                    config.budget_bytes / (1024 * 1024),
                    plan.cell_size
                );
                Ok(Self {
                    over_budget: true,
                    ..plan
                })
            }
            None => Err(RenderError::Atlas {
                count,
                reason: format!(
                    "even {min_cell} px cells need more than the device's {} array layers of \
                     at most {max_side} px",
                    limits.max_texture_array_layers
                ),
            }),
        }
    }

    /// Cells in one layer.
    pub fn cells_per_layer(&self) -> u32 {
        self.cells_per_row * self.cells_per_row
    }

    /// `(layer, x, y)` of cell `index`'s top-left texel at mip level 0, or `None` past `count`.
    pub fn cell_origin(&self, index: usize) -> Option<(u32, u32, u32)> {
        if index >= self.count {
            return None;
        }
        let per_layer = self.cells_per_layer() as usize;
        let layer = (index / per_layer) as u32;
        let within = (index % per_layer) as u32;
        let col = within % self.cells_per_row;
        let row = within / self.cells_per_row;
        Some((layer, col * self.cell_size, row * self.cell_size))
    }

    /// Memory in MiB.
    pub fn mebibytes(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0)
    }
}

impl fmt::Display for AtlasPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "atlas: {} images in {} px cells, {} layer(s) of {}×{} px ({}×{} cells), {} mip levels, \
             {:.1} MiB of {:.0} MiB budget{}",
            self.count,
            self.cell_size,
            self.layers,
            self.layer_size,
            self.layer_size,
            self.cells_per_row,
            self.cells_per_row,
            self.mip_levels,
            self.mebibytes(),
            self.budget_bytes as f64 / (1024.0 * 1024.0),
            if self.over_budget { " (OVER BUDGET)" } else { "" }
        )
    }
}

/// Where the letterboxed image sits inside its cell, in level-0 pixels (`x1`, `y1` exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRect {
    /// Left edge.
    pub x0: u32,
    /// Top edge.
    pub y0: u32,
    /// Right edge (exclusive).
    pub x1: u32,
    /// Bottom edge (exclusive).
    pub y1: u32,
}

impl CellRect {
    /// The rectangle as unorm16 fractions of the cell `[x0, y0, x1, y1]` (instance data).
    pub fn to_unorm16(&self, cell: u32) -> [u16; 4] {
        let c = cell.max(1) as f64;
        let q = |v: u32| ((v as f64 / c).clamp(0.0, 1.0) * 65535.0).round() as u16;
        [q(self.x0), q(self.y0), q(self.x1), q(self.y1)]
    }
}

/// A cell ready to upload: all mip levels (level 0 is `cell_size`²), built on the CPU. Can be
/// prepared on a worker thread with [`prepare_cell`] and uploaded with [`Atlas::write_prepared`].
#[derive(Debug, Clone)]
pub struct PreparedCell {
    /// Mip levels, largest first.
    pub levels: Vec<RgbaImage>,
    /// The image's rectangle inside the cell.
    pub rect: CellRect,
    /// The source image's aspect ratio (width / height).
    pub aspect: f32,
    /// The source image's longer side in pixels (screenshots never upsample beyond it).
    pub source_side: u32,
    /// What decides whether the image is drawn on a plate (see [`super::plate`]).
    pub plate: super::plate::PlateStats,
}

/// Filter taps of one output coordinate: first source index and weights (summing to 1).
fn tent_weights(src_len: u32, dst_len: u32) -> Vec<(usize, Vec<f32>)> {
    let scale = src_len as f32 / dst_len.max(1) as f32;
    let radius = scale.max(1.0);
    (0..dst_len)
        .map(|o| {
            let center = (o as f32 + 0.5) * scale - 0.5;
            let lo = ((center - radius).floor() as i64).max(0) as usize;
            let hi = ((center + radius).ceil() as i64)
                .min(src_len as i64 - 1)
                .max(0) as usize;
            let mut w: Vec<f32> = (lo..=hi)
                .map(|i| (1.0 - (i as f32 - center).abs() / radius).max(0.0))
                .collect();
            let sum: f32 = w.iter().sum();
            if sum > 0.0 {
                w.iter_mut().for_each(|v| *v /= sum);
            } else if let Some(first) = w.first_mut() {
                *first = 1.0;
            }
            (lo, w)
        })
        .collect()
}

/// Resizes premultiplied RGBA8 with a separable tent filter whose support grows with the
/// downscale factor (area-like averaging when shrinking, bilinear when enlarging). Works on
/// raw slices so it stays fast in unoptimised builds.
pub fn resize_tent(src: &RgbaImage, width: u32, height: u32) -> RgbaImage {
    let (sw, sh) = src.dimensions();
    let (width, height) = (width.max(1), height.max(1));
    if sw == 0 || sh == 0 {
        return RgbaImage::new(width, height);
    }
    let raw = src.as_raw();
    let xw = tent_weights(sw, width);
    let yw = tent_weights(sh, height);
    // Horizontal pass: sh rows × width columns, f32.
    let mut tmp = vec![0.0f32; sh as usize * width as usize * 4];
    for (y, tmp_row) in tmp.chunks_exact_mut(width as usize * 4).enumerate() {
        let src_row = &raw[y * sw as usize * 4..(y + 1) * sw as usize * 4];
        for (x, (lo, w)) in xw.iter().enumerate() {
            let mut acc = [0.0f32; 4];
            for (k, &wk) in w.iter().enumerate() {
                let p = &src_row[(lo + k) * 4..(lo + k) * 4 + 4];
                acc[0] += wk * p[0] as f32;
                acc[1] += wk * p[1] as f32;
                acc[2] += wk * p[2] as f32;
                acc[3] += wk * p[3] as f32;
            }
            tmp_row[x * 4..x * 4 + 4].copy_from_slice(&acc);
        }
    }
    // Vertical pass.
    let row = width as usize * 4;
    let mut out = vec![0u8; height as usize * row];
    for (y, (lo, w)) in yw.iter().enumerate() {
        let out_row = &mut out[y * row..(y + 1) * row];
        let mut acc = vec![0.0f32; row];
        for (k, &wk) in w.iter().enumerate() {
            let t = &tmp[(lo + k) * row..(lo + k + 1) * row];
            for (a, v) in acc.iter_mut().zip(t) {
                *a += wk * v;
            }
        }
        for (o, a) in out_row.iter_mut().zip(&acc) {
            *o = a.round().clamp(0.0, 255.0) as u8;
        }
    }
    RgbaImage::from_raw(width, height, out).unwrap_or_else(|| RgbaImage::new(width, height))
}

/// Letterboxes `img` (premultiplied RGBA8, sRGB) into a transparent `cell × cell` square,
/// keeping its aspect, its long side `cell − 2·gutter`, centred.
pub fn letterbox(img: &RgbaImage, cell: u32, gutter: u32) -> Result<(RgbaImage, CellRect)> {
    let (iw, ih) = img.dimensions();
    if iw == 0 || ih == 0 {
        return Err(RenderError::InvalidImage(format!(
            "thumbnail has zero size ({iw}×{ih})"
        )));
    }
    if cell == 0 {
        return Err(RenderError::InvalidSize("atlas cell size is zero".into()));
    }
    let inner = cell.saturating_sub(2 * gutter).max(1);
    let (w, h) = if iw >= ih {
        let h = ((inner as f64) * ih as f64 / iw as f64).round() as u32;
        (inner, h.clamp(1, inner))
    } else {
        let w = ((inner as f64) * iw as f64 / ih as f64).round() as u32;
        (w.clamp(1, inner), inner)
    };
    let resized = if (w, h) == (iw, ih) {
        img.clone()
    } else {
        resize_tent(img, w, h)
    };
    let mut out = RgbaImage::new(cell, cell);
    let x0 = (cell - w) / 2;
    let y0 = (cell - h) / 2;
    let row = w as usize * 4;
    let stride = cell as usize * 4;
    let src = resized.as_raw();
    let dst: &mut [u8] = &mut out;
    for (y, src_row) in src.chunks_exact(row).enumerate() {
        let start = (y0 as usize + y) * stride + x0 as usize * 4;
        if let Some(d) = dst.get_mut(start..start + row) {
            d.copy_from_slice(src_row);
        }
    }
    Ok((
        out,
        CellRect {
            x0,
            y0,
            x1: x0 + w,
            y1: y0 + h,
        },
    ))
}

fn srgb_to_linear_lut() -> &'static [f32; 256] {
    static LUT: OnceLock<[f32; 256]> = OnceLock::new();
    LUT.get_or_init(|| {
        let mut t = [0.0f32; 256];
        for (i, v) in t.iter_mut().enumerate() {
            let c = i as f64 / 255.0;
            *v = if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            } as f32;
        }
        t
    })
}

fn linear_to_srgb_lut() -> &'static [u8] {
    static LUT: OnceLock<Vec<u8>> = OnceLock::new();
    LUT.get_or_init(|| {
        (0..65536u32)
            .map(|i| {
                let l = i as f64 / 65535.0;
                let c = if l <= 0.003_130_8 {
                    l * 12.92
                } else {
                    1.055 * l.powf(1.0 / 2.4) - 0.055
                };
                (c * 255.0).round().clamp(0.0, 255.0) as u8
            })
            .collect()
    })
}

/// sRGB-encoded byte → linear value in `[0,1]`.
pub fn srgb_u8_to_linear(v: u8) -> f32 {
    srgb_to_linear_lut()[v as usize]
}

/// Linear value in `[0,1]` → sRGB-encoded byte.
pub fn linear_to_srgb_u8(v: f32) -> u8 {
    let i = (v.clamp(0.0, 1.0) * 65535.0).round() as usize;
    linear_to_srgb_lut()[i.min(65535)]
}

/// Halves an image with a 2×2 box filter, averaging colour in linear light (alpha linearly).
/// Works on premultiplied data (cells are powers of two; odd sizes repeat the edge).
pub fn downsample_box(src: &RgbaImage) -> RgbaImage {
    let (w, h) = src.dimensions();
    let (dw, dh) = ((w / 2).max(1), (h / 2).max(1));
    let dec = srgb_to_linear_lut();
    let enc = linear_to_srgb_lut();
    let raw = src.as_raw();
    let (w, h) = (w as usize, h as usize);
    let mut out = vec![0u8; dw as usize * dh as usize * 4];
    for (y, out_row) in out.chunks_exact_mut(dw as usize * 4).enumerate() {
        let rows = [(2 * y).min(h - 1), (2 * y + 1).min(h - 1)];
        for (x, o) in out_row.chunks_exact_mut(4).enumerate() {
            let cols = [(2 * x).min(w - 1), (2 * x + 1).min(w - 1)];
            let mut acc = [0.0f32; 3];
            let mut alpha = 0u32;
            for &sy in &rows {
                for &sx in &cols {
                    let i = (sy * w + sx) * 4;
                    let p = &raw[i..i + 4];
                    acc[0] += dec[p[0] as usize];
                    acc[1] += dec[p[1] as usize];
                    acc[2] += dec[p[2] as usize];
                    alpha += p[3] as u32;
                }
            }
            for c in 0..3 {
                let idx = (acc[c] * 0.25 * 65535.0 + 0.5) as usize;
                o[c] = enc[idx.min(65535)];
            }
            o[3] = ((alpha + 2) / 4) as u8;
        }
    }
    RgbaImage::from_raw(dw, dh, out).unwrap_or_else(|| RgbaImage::new(dw, dh))
}

/// Level 0 plus `levels − 1` box-filtered halvings.
pub fn build_mip_chain(level0: RgbaImage, levels: u32) -> Vec<RgbaImage> {
    let mut out = Vec::with_capacity(levels.max(1) as usize);
    out.push(level0);
    for _ in 1..levels {
        let next = match out.last() {
            Some(prev) => downsample_box(prev),
            None => break,
        };
        out.push(next);
    }
    out
}

/// Converts pixels premultiplied on their sRGB-encoded bytes (`c·a/255`, what the thumbnailer
/// produces) into sRGB-encoded *linear-light* premultiplied values (`encode(a·decode(c))`),
/// which is what sampling an sRGB texture and blending premultiplied in linear light expects.
/// Opaque and fully transparent pixels are unchanged.
pub fn relinearize_premultiplied(img: &mut RgbaImage) {
    for p in img.pixels_mut() {
        let a = p.0[3] as u32;
        if a == 255 {
            continue;
        }
        if a == 0 {
            p.0 = [0, 0, 0, 0];
            continue;
        }
        let af = a as f32 / 255.0;
        for c in 0..3 {
            let straight = ((p.0[c] as u32 * 255 + a / 2) / a).min(255) as u8;
            p.0[c] = linear_to_srgb_u8(srgb_u8_to_linear(straight) * af);
        }
    }
}

/// Letterboxes `img` (premultiplied RGBA8 sRGB) into a cell of `plan`, converts its alpha
/// premultiplication to linear light ([`relinearize_premultiplied`]) and builds its mip chain.
/// Pure CPU and thread-safe: can run on a worker thread.
pub fn prepare_cell(plan: &AtlasPlan, img: &RgbaImage) -> Result<PreparedCell> {
    let (mut cell, rect) = letterbox(img, plan.cell_size, plan.gutter)?;
    relinearize_premultiplied(&mut cell);
    let aspect = img.width() as f32 / img.height() as f32;
    Ok(PreparedCell {
        levels: build_mip_chain(cell, plan.mip_levels),
        rect,
        aspect,
        source_side: img.width().max(img.height()),
        plate: super::plate::PlateStats::of_premultiplied(img),
    })
}

/// The GPU atlas texture (2D array, mipmapped, sRGB) plus its view and sampler.
#[derive(Debug)]
pub struct Atlas {
    plan: AtlasPlan,
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    sampler: wgpu::Sampler,
}

impl Atlas {
    /// Allocates the (transparent) atlas texture for `plan`.
    pub fn new(device: &wgpu::Device, plan: AtlasPlan) -> Result<Self> {
        with_error_scope(device, "creating the atlas texture", || {
            let texture = device.create_texture(&wgpu::TextureDescriptor {
                label: Some("image-tsne atlas"),
                size: wgpu::Extent3d {
                    width: plan.layer_size,
                    height: plan.layer_size,
                    depth_or_array_layers: plan.layers,
                },
                mip_level_count: plan.mip_levels,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: ATLAS_FORMAT,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            let view = texture.create_view(&wgpu::TextureViewDescriptor {
                label: Some("image-tsne atlas view"),
                dimension: Some(wgpu::TextureViewDimension::D2Array),
                ..Default::default()
            });
            let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
                label: Some("image-tsne atlas sampler"),
                address_mode_u: wgpu::AddressMode::ClampToEdge,
                address_mode_v: wgpu::AddressMode::ClampToEdge,
                address_mode_w: wgpu::AddressMode::ClampToEdge,
                mag_filter: wgpu::FilterMode::Linear,
                min_filter: wgpu::FilterMode::Linear,
                mipmap_filter: wgpu::FilterMode::Linear,
                ..Default::default()
            });
            Ok(Self {
                plan,
                texture,
                view,
                sampler,
            })
        })
    }

    /// The plan the atlas was made with.
    pub fn plan(&self) -> &AtlasPlan {
        &self.plan
    }

    /// The whole atlas as a `texture_2d_array` view.
    pub fn view(&self) -> &wgpu::TextureView {
        &self.view
    }

    /// Trilinear clamp-to-edge sampler.
    pub fn sampler(&self) -> &wgpu::Sampler {
        &self.sampler
    }

    /// The texture itself.
    pub fn texture(&self) -> &wgpu::Texture {
        &self.texture
    }

    /// Letterboxes `img`, builds its mip chain and uploads it to cell `index`.
    pub fn write_cell(
        &self,
        queue: &wgpu::Queue,
        index: usize,
        img: &RgbaImage,
    ) -> Result<PreparedCell> {
        self.check_index(index)?;
        let prepared = prepare_cell(&self.plan, img)?;
        self.write_prepared(queue, index, &prepared)?;
        Ok(prepared)
    }

    /// Uploads an already prepared cell (all its mip levels) to cell `index`.
    pub fn write_prepared(
        &self,
        queue: &wgpu::Queue,
        index: usize,
        cell: &PreparedCell,
    ) -> Result<()> {
        let (layer, x, y) = self.check_index(index)?;
        if cell.levels.len() != self.plan.mip_levels as usize {
            return Err(RenderError::InvalidImage(format!(
                "prepared cell has {} mip levels, the atlas {}",
                cell.levels.len(),
                self.plan.mip_levels
            )));
        }
        write_square_mips(
            queue,
            &self.texture,
            [x, y, layer],
            self.plan.cell_size,
            &cell.levels,
            "prepared cell level",
        )?;
        Ok(())
    }

    fn check_index(&self, index: usize) -> Result<(u32, u32, u32)> {
        self.plan
            .cell_origin(index)
            .ok_or(RenderError::IndexOutOfRange {
                index,
                count: self.plan.count,
            })
    }
}

/// Write a square cell's mip chain (`mips[k]` is `side >> k` px square) into `texture` at
/// `[x, y, layer]` of level 0; `what` names a mip of the wrong size in the error.
pub(crate) fn write_square_mips(
    queue: &wgpu::Queue,
    texture: &wgpu::Texture,
    [x, y, layer]: [u32; 3],
    side: u32,
    mips: &[RgbaImage],
    what: &str,
) -> Result<()> {
    for (level, img) in mips.iter().enumerate() {
        let size = (side >> level).max(1);
        if img.dimensions() != (size, size) {
            return Err(RenderError::InvalidImage(format!(
                "{what} {level} is {}×{}, expected {size}×{size}",
                img.width(),
                img.height()
            )));
        }
        queue.write_texture(
            wgpu::ImageCopyTexture {
                texture,
                mip_level: level as u32,
                origin: wgpu::Origin3d {
                    x: x >> level,
                    y: y >> level,
                    z: layer,
                },
                aspect: wgpu::TextureAspect::All,
            },
            img.as_raw(),
            wgpu::ImageDataLayout {
                offset: 0,
                bytes_per_row: Some(4 * size),
                rows_per_image: Some(size),
            },
            wgpu::Extent3d {
                width: size,
                height: size,
                depth_or_array_layers: 1,
            },
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_keeps_aspect_and_gutter() {
        let img = RgbaImage::from_pixel(40, 20, image::Rgba([255, 0, 0, 255]));
        let (cell, rect) = letterbox(&img, 64, 1).unwrap();
        assert_eq!(
            rect,
            CellRect {
                x0: 1,
                y0: 16,
                x1: 63,
                y1: 47
            }
        );
        assert_eq!(cell.get_pixel(0, 32).0, [0, 0, 0, 0]);
        assert_eq!(cell.get_pixel(32, 10).0, [0, 0, 0, 0]);
        assert_eq!(cell.get_pixel(32, 32).0, [255, 0, 0, 255]);
    }

    #[test]
    fn resize_keeps_flat_colour_and_averages_when_shrinking() {
        let flat = RgbaImage::from_pixel(37, 23, image::Rgba([10, 200, 30, 128]));
        for (w, h) in [(12, 7), (80, 50), (37, 23)] {
            let r = resize_tent(&flat, w, h);
            assert_eq!(r.dimensions(), (w, h));
            assert!(r.pixels().all(|p| p.0 == [10, 200, 30, 128]), "{w}×{h}");
        }
        let mut stripes = RgbaImage::new(64, 64);
        for (x, _, p) in stripes.enumerate_pixels_mut() {
            let v = if x % 2 == 0 { 255 } else { 0 };
            *p = image::Rgba([v, v, v, 255]);
        }
        let r = resize_tent(&stripes, 16, 16);
        // interior columns (the edge taps are truncated and renormalised)
        for x in 1..15 {
            assert!(
                r.get_pixel(x, 8).0[0].abs_diff(128) <= 2,
                "{:?}",
                r.get_pixel(x, 8)
            );
        }
    }

    #[test]
    fn premultiplication_moves_to_linear_light() {
        let mut img = RgbaImage::from_pixel(1, 1, image::Rgba([128, 128, 128, 128]));
        relinearize_premultiplied(&mut img);
        // 50 % white: linear 0.502 premultiplied is sRGB 188.
        assert_eq!(img.get_pixel(0, 0).0, [188, 188, 188, 128]);
    }

    #[test]
    fn mips_average_in_linear_light() {
        let mut img = RgbaImage::new(4, 4);
        for (x, y, p) in img.enumerate_pixels_mut() {
            let v = if (x + y) % 2 == 0 { 255 } else { 0 };
            *p = image::Rgba([v, v, v, 255]);
        }
        let chain = build_mip_chain(img, 3);
        assert_eq!(chain.len(), 3);
        assert_eq!(chain[2].dimensions(), (1, 1));
        // 50 % linear grey is sRGB 188, not 128.
        assert_eq!(chain[1].get_pixel(0, 0).0, [188, 188, 188, 255]);
    }
}
