//! The detail tier: larger versions of the images on screen, next to the base atlas (which
//! always holds every image at its small cell size).
//!
//! Three levels of square cells — [`DETAIL_SIDES`] = 256, 512 and 1024 px — each a mipmapped
//! 2D texture array laid out like the base atlas (2048 px layers of 8×8, 4×4 or 2×2 cells). A
//! cell is a *slot*; slots are handed out by a CPU-side [`SlotCache`] with least-recently-used
//! eviction (images still on screen are never evicted for another). The memory of the three
//! levels comes from one budget ([`DetailPlan::new`]: 50 % for 1024 px, 30 % for 512 px, 20 %
//! for 256 px slots). An image's instance data names the slot holding its best version (see
//! `QuadRenderer::set_detail`); the shader samples it with its mip chain and falls back to
//! the base atlas when there is none.
//!
//! Cells are prepared on worker threads ([`prepare_detail`]: letterboxed, linear-light
//! premultiplied, mip chain) and uploaded by [`DetailTier::write`] under a per-frame byte
//! budget that the caller enforces (see `crate::detail::stream`). The budget is a ceiling:
//! a level's layers are allocated as its slots are first used ([`DetailTier`]).

use std::fmt;

use image::RgbaImage;

use super::atlas::{
    build_mip_chain, letterbox, relinearize_premultiplied, write_square_mips, CellRect,
    ATLAS_FORMAT,
};
use super::error::{with_error_scope, RenderError, Result};

/// Cell sides of the detail levels, smallest first (level 0, 1, 2).
pub const DETAIL_SIDES: [u32; 3] = [256, 512, 1024];
/// Number of detail levels.
pub const DETAIL_LEVELS: usize = DETAIL_SIDES.len();
/// Instance value for "no detail slot": draw from the base atlas.
pub const NO_DETAIL: u32 = u32::MAX;
/// Default total GPU memory for images (base atlas + detail tier): 1536 MiB, which leaves room
/// for the window's own buffers on a 2 GB GPU.
pub const DEFAULT_GPU_MEMORY_BYTES: u64 = 1536 * 1024 * 1024;
/// Default upload budget per frame: 8 MiB (one 1024 px slot with its mips is 5.3 MiB).
pub const DEFAULT_UPLOAD_BYTES_PER_FRAME: u64 = 8 * 1024 * 1024;

/// Share of the detail budget per level (256, 512, 1024 px).
const LEVEL_SHARE: [f64; DETAIL_LEVELS] = [0.2, 0.3, 0.5];
/// Edge of a detail layer in pixels.
const LAYER_SIDE: u32 = 2048;

/// Packs a level and a slot into the instance's `detail` word.
pub fn pack_detail(level: usize, slot: u32) -> u32 {
    ((level as u32) << 28) | (slot & 0x0fff_ffff)
}

/// Gutter of a detail cell (transparent margin), as in the base atlas.
pub fn detail_gutter(side: u32) -> u32 {
    (side / 64).max(1).min(side / 4)
}

/// The layout of one detail level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelPlan {
    /// Cell side in pixels.
    pub side: u32,
    /// Cells per layer row (layers are square).
    pub per_row: u32,
    /// Array layers (0: the level is off).
    pub layers: u32,
    /// Mip levels (down to 1 px per cell).
    pub mips: u32,
    /// GPU bytes, all mips.
    pub bytes: u64,
}

impl LevelPlan {
    /// Slots in the level.
    pub fn slots(&self) -> u32 {
        self.per_row * self.per_row * self.layers
    }
    /// Layer edge in pixels.
    pub fn layer_side(&self) -> u32 {
        self.per_row * self.side
    }
    /// `(layer, x, y)` of a slot's top-left texel at mip 0.
    pub fn slot_origin(&self, slot: u32) -> Option<(u32, u32, u32)> {
        if slot >= self.slots() {
            return None;
        }
        let per_layer = self.per_row * self.per_row;
        let within = slot % per_layer;
        Some((
            slot / per_layer,
            (within % self.per_row) * self.side,
            (within / self.per_row) * self.side,
        ))
    }
}

fn layer_bytes(layer_side: u32, mips: u32) -> u64 {
    (0..mips)
        .map(|l| {
            let s = (layer_side >> l).max(1) as u64;
            s * s * 4
        })
        .sum()
}

/// Out-of-memory errors after which the detail tier is off.
pub const MAX_OOM_HALVINGS: u32 = 4;

/// Bytes for the detail tier: what `gpu_memory` leaves after the base atlas, halved for every
/// out-of-memory error the device reported (a GPU with less free memory than `--gpu-memory`
/// says keeps working, with a smaller tier), none after [`MAX_OOM_HALVINGS`].
pub fn detail_budget(gpu_memory: u64, atlas_bytes: u64, oom_halvings: u32) -> u64 {
    if oom_halvings >= MAX_OOM_HALVINGS {
        return 0;
    }
    gpu_memory.saturating_sub(atlas_bytes) >> oom_halvings
}

/// The detail tier's size: how many slots of each level a memory budget buys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetailPlan {
    /// Levels 256, 512, 1024 px.
    pub levels: [LevelPlan; DETAIL_LEVELS],
    /// The budget the plan was made for.
    pub budget_bytes: u64,
}

impl DetailPlan {
    /// Splits `budget_bytes` over the levels (see the module docs), within the device's
    /// `max_texture_array_layers`. A budget of 0 turns the tier off.
    pub fn new(budget_bytes: u64, limits: &wgpu::Limits) -> Self {
        let max_side = limits.max_texture_dimension_2d.clamp(1, LAYER_SIDE);
        let mut levels = [LevelPlan {
            side: 0,
            per_row: 0,
            layers: 0,
            mips: 1,
            bytes: 0,
        }; DETAIL_LEVELS];
        for (i, level) in levels.iter_mut().enumerate() {
            let side = DETAIL_SIDES[i];
            let per_row = (max_side / side).max(1);
            let mips = side.trailing_zeros() + 1;
            let one = layer_bytes(per_row * side, mips);
            let share = (budget_bytes as f64 * LEVEL_SHARE[i]) as u64;
            let layers = (share / one).min(limits.max_texture_array_layers as u64) as u32;
            *level = LevelPlan {
                side,
                per_row,
                layers,
                mips,
                bytes: one * layers as u64,
            };
        }
        // A small budget: every level gets a layer while the budget lasts (512 px first, then
        // 256, then 1024), rather than leaving a level without slots.
        let mut left = budget_bytes.saturating_sub(levels.iter().map(|l| l.bytes).sum());
        for i in [1, 0, 2] {
            let l = &mut levels[i];
            let one = layer_bytes(l.layer_side(), l.mips);
            if l.layers == 0 && one <= left && limits.max_texture_array_layers > 0 {
                l.layers = 1;
                l.bytes = one;
                left -= one;
            }
        }
        Self {
            levels,
            budget_bytes,
        }
    }

    /// The level to use for an image that wants `level`: that one if it has slots, else the
    /// nearest larger one with slots, else the nearest smaller one; `None` if the tier is off.
    pub fn usable_level(&self, level: usize) -> Option<usize> {
        let level = level.min(DETAIL_LEVELS - 1);
        (level..DETAIL_LEVELS)
            .chain((0..level).rev())
            .find(|&l| self.levels[l].layers > 0)
    }

    /// No detail tier.
    pub fn disabled() -> Self {
        Self::new(0, &wgpu::Limits::default())
    }

    /// GPU bytes of all levels.
    pub fn bytes(&self) -> u64 {
        self.levels.iter().map(|l| l.bytes).sum()
    }

    /// Whether any level has slots.
    pub fn enabled(&self) -> bool {
        self.levels.iter().any(|l| l.layers > 0)
    }
}

impl fmt::Display for DetailPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        write!(f, "detail tier: ")?;
        for (i, l) in self.levels.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{} × {} px", l.slots(), l.side)?;
        }
        write!(
            f,
            " slots, {:.1} MiB of {:.0} MiB",
            mib(self.bytes()),
            mib(self.budget_bytes)
        )
    }
}

/// A larger version of an image ready to upload into a slot of `level`.
#[derive(Debug, Clone)]
pub struct PreparedDetail {
    /// Detail level (index into [`DETAIL_SIDES`]).
    pub level: usize,
    /// Mip chain of the cell, largest first.
    pub mips: Vec<RgbaImage>,
    /// The image's rectangle in the cell.
    pub rect: CellRect,
}

impl PreparedDetail {
    /// Upload size in bytes.
    pub fn bytes(&self) -> u64 {
        self.mips.iter().map(|m| m.as_raw().len() as u64).sum()
    }
}

/// The detail level for an image whose longer side is `long_side` px: the smallest whose cell
/// (less its gutter) holds it, else the largest.
pub fn level_for_side(long_side: u32) -> usize {
    DETAIL_SIDES
        .iter()
        .position(|&s| s - 2 * detail_gutter(s) >= long_side)
        .unwrap_or(DETAIL_LEVELS - 1)
}

/// Letterboxes `img` (premultiplied RGBA8 sRGB, as the thumbnailer makes it) into a cell of
/// `level`, moves its premultiplication to linear light and builds its mip chain. CPU only,
/// for worker threads.
pub fn prepare_detail(level: usize, img: &RgbaImage) -> Result<PreparedDetail> {
    let side = *DETAIL_SIDES
        .get(level)
        .ok_or_else(|| RenderError::InvalidSize(format!("detail level {level}")))?;
    let (mut cell, rect) = letterbox(img, side, detail_gutter(side))?;
    relinearize_premultiplied(&mut cell);
    Ok(PreparedDetail {
        level,
        mips: build_mip_chain(cell, side.trailing_zeros() + 1),
        rect,
    })
}

/// Slot bookkeeping of one level: who holds each slot and when it was last on screen.
#[derive(Debug, Clone, Default)]
pub struct SlotCache {
    /// Per slot: `(image, last frame it was used)`.
    slots: Vec<Option<(usize, u64)>>,
}

impl SlotCache {
    /// `n` free slots.
    pub fn new(n: u32) -> Self {
        Self {
            slots: vec![None; n as usize],
        }
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the level has no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Slots in use.
    pub fn used(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// Marks `slot` as used at `now`.
    pub fn touch(&mut self, slot: u32, now: u64) {
        if let Some(Some((_, t))) = self.slots.get_mut(slot as usize) {
            *t = now;
        }
    }

    /// The image in `slot`.
    pub fn owner(&self, slot: u32) -> Option<usize> {
        self.slots
            .get(slot as usize)
            .copied()
            .flatten()
            .map(|s| s.0)
    }

    /// Frees `slot`.
    pub fn release(&mut self, slot: u32) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            *s = None;
        }
    }

    /// A slot for `image`: a free one, else the least recently used one whose image is not
    /// `pinned` (still on screen). Returns the slot and the image evicted from it, or `None`
    /// when every slot holds a pinned image.
    pub fn acquire(
        &mut self,
        image: usize,
        now: u64,
        pinned: impl Fn(usize) -> bool,
    ) -> Option<(u32, Option<usize>)> {
        let mut best: Option<(usize, u64)> = None;
        for (i, s) in self.slots.iter().enumerate() {
            match s {
                None => {
                    best = Some((i, 0));
                    break;
                }
                Some((owner, t)) if !pinned(*owner) && best.is_none_or(|(_, bt)| *t < bt) => {
                    best = Some((i, *t));
                }
                _ => {}
            }
        }
        let (slot, _) = best?;
        let evicted = self.slots[slot].map(|s| s.0);
        self.slots[slot] = Some((image, now));
        Some((slot as u32, evicted))
    }
}

/// The GPU side of the tier: one texture array per level plus the slot caches.
///
/// The plan is a ceiling, not an allocation: a level's texture array starts as a 1×1
/// stand-in and grows (doubling, up to the plan's layers) when a slot past its layers is
/// first written, so a few small images cost a few layers of one level, not the whole
/// budget (949 stamps on lavapipe held 2.2 GB of RAM with the tier allocated up front, and
/// on a GPU that is memory other programs cannot use). Slots are handed out lowest first
/// (see [`SlotCache::acquire`]), so the layers in use stay at the bottom.
#[derive(Debug)]
pub struct DetailTier {
    plan: DetailPlan,
    textures: Vec<wgpu::Texture>,
    views: Vec<wgpu::TextureView>,
    /// Layers allocated per level (0: the 1×1 stand-in).
    allocated: [u32; DETAIL_LEVELS],
    /// Slot caches per level.
    pub slots: [SlotCache; DETAIL_LEVELS],
    /// Bytes uploaded since creation.
    pub uploaded_bytes: u64,
}

const LEVEL_LABELS: [&str; DETAIL_LEVELS] = [
    "image-tsne detail 256",
    "image-tsne detail 512",
    "image-tsne detail 1024",
];

/// A level's texture array of `layers` layers (0: a 1×1 stand-in that keeps the bind group
/// valid), and its view.
fn level_texture(
    device: &wgpu::Device,
    level: usize,
    plan: &LevelPlan,
    layers: u32,
) -> (wgpu::Texture, wgpu::TextureView) {
    let (side, layers, mips) = if layers == 0 {
        (1, 1, 1)
    } else {
        (plan.layer_side(), layers, plan.mips)
    };
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some(LEVEL_LABELS[level.min(DETAIL_LEVELS - 1)]),
        size: wgpu::Extent3d {
            width: side,
            height: side,
            depth_or_array_layers: layers,
        },
        mip_level_count: mips,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: ATLAS_FORMAT,
        // COPY_SRC: a growing level copies its layers into the larger array
        usage: wgpu::TextureUsages::TEXTURE_BINDING
            | wgpu::TextureUsages::COPY_DST
            | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let view = texture.create_view(&wgpu::TextureViewDescriptor {
        label: Some("image-tsne detail view"),
        dimension: Some(wgpu::TextureViewDimension::D2Array),
        ..Default::default()
    });
    (texture, view)
}

impl DetailTier {
    /// A tier for `plan` that holds no layers yet (each level a 1×1 stand-in, so the bind
    /// group is valid): levels are allocated as they are used, see [`DetailTier::write`].
    pub fn new(device: &wgpu::Device, plan: DetailPlan) -> Result<Self> {
        with_error_scope(device, "creating the detail tier", || {
            let (textures, views): (Vec<_>, Vec<_>) = plan
                .levels
                .iter()
                .enumerate()
                .map(|(i, l)| level_texture(device, i, l, 0))
                .unzip();
            Ok(Self {
                slots: std::array::from_fn(|i| SlotCache::new(plan.levels[i].slots())),
                plan,
                textures,
                views,
                allocated: [0; DETAIL_LEVELS],
                uploaded_bytes: 0,
            })
        })
    }

    /// The plan (the most the tier may allocate).
    pub fn plan(&self) -> &DetailPlan {
        &self.plan
    }

    /// Layers allocated per level so far.
    pub fn allocated_layers(&self) -> [u32; DETAIL_LEVELS] {
        self.allocated
    }

    /// GPU bytes the tier holds now (all mips of the allocated layers; the 1×1 stand-ins
    /// are not counted): at most the plan's bytes.
    pub fn allocated_bytes(&self) -> u64 {
        self.plan
            .levels
            .iter()
            .zip(self.allocated)
            .map(|(l, layers)| layer_bytes(l.layer_side(), l.mips) * layers as u64)
            .sum()
    }

    /// The view of level `level`.
    pub fn view(&self, level: usize) -> &wgpu::TextureView {
        &self.views[level.min(DETAIL_LEVELS - 1)]
    }

    /// Makes `level` hold at least `layers` layers (doubling, at most the plan's): a larger
    /// array, the layers so far copied over on the GPU. Returns whether the level's texture
    /// changed (its view must be bound anew). Rare: at most log₂(layers) times per level.
    fn grow(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        level: usize,
        layers: u32,
    ) -> Result<bool> {
        let plan = self.plan.levels[level];
        let have = self.allocated[level];
        if layers <= have {
            return Ok(false);
        }
        if layers > plan.layers {
            return Err(RenderError::IndexOutOfRange {
                index: layers as usize - 1,
                count: plan.layers as usize,
            });
        }
        let want = layers.max(have.saturating_mul(2)).min(plan.layers);
        let (texture, view) = with_error_scope(device, "growing the detail tier", || {
            let (texture, view) = level_texture(device, level, &plan, want);
            if have > 0 {
                let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("image-tsne detail grow"),
                });
                for mip in 0..plan.mips {
                    let side = (plan.layer_side() >> mip).max(1);
                    let at = |t| wgpu::ImageCopyTexture {
                        texture: t,
                        mip_level: mip,
                        origin: wgpu::Origin3d::ZERO,
                        aspect: wgpu::TextureAspect::All,
                    };
                    encoder.copy_texture_to_texture(
                        at(&self.textures[level]),
                        at(&texture),
                        wgpu::Extent3d {
                            width: side,
                            height: side,
                            depth_or_array_layers: have,
                        },
                    );
                }
                queue.submit(Some(encoder.finish()));
            }
            Ok((texture, view))
        })?;
        log::info!(
            "detail tier: {} px level grows to {want} of {} layers",
            plan.side,
            plan.layers
        );
        self.textures[level] = texture;
        self.views[level] = view;
        self.allocated[level] = want;
        Ok(true)
    }

    /// Uploads a prepared cell into `slot` of its level, allocating the level's layers up to
    /// the slot's first. Returns whether a level's texture was replaced (the caller binds the
    /// views anew before the next draw).
    pub fn write(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        slot: u32,
        cell: &PreparedDetail,
    ) -> Result<bool> {
        let plan = *self
            .plan
            .levels
            .get(cell.level)
            .ok_or_else(|| RenderError::InvalidSize(format!("detail level {}", cell.level)))?;
        let (layer, x, y) = plan.slot_origin(slot).ok_or(RenderError::IndexOutOfRange {
            index: slot as usize,
            count: plan.slots() as usize,
        })?;
        if cell.mips.len() != plan.mips as usize {
            return Err(RenderError::InvalidImage(format!(
                "detail cell has {} mips, its level {}",
                cell.mips.len(),
                plan.mips
            )));
        }
        let grown = self.grow(device, queue, cell.level, layer + 1)?;
        let texture = &self.textures[cell.level];
        write_square_mips(
            queue,
            texture,
            [x, y, layer],
            plan.side,
            &cell.mips,
            "detail mip",
        )?;
        self.uploaded_bytes += cell.bytes();
        Ok(grown)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn out_of_memory_halves_the_detail_budget_then_turns_it_off() {
        let mib = 1024 * 1024;
        assert_eq!(detail_budget(1536 * mib, 512 * mib, 0), 1024 * mib);
        assert_eq!(detail_budget(1536 * mib, 512 * mib, 1), 512 * mib);
        assert_eq!(detail_budget(1536 * mib, 512 * mib, 3), 128 * mib);
        assert_eq!(detail_budget(1536 * mib, 512 * mib, MAX_OOM_HALVINGS), 0);
        // the atlas alone over the budget: no tier
        assert_eq!(detail_budget(256 * mib, 512 * mib, 0), 0);
    }

    use super::*;

    #[test]
    fn plan_splits_the_budget_and_respects_limits() {
        let limits = wgpu::Limits::default();
        let plan = DetailPlan::new(1024 << 20, &limits);
        assert!(plan.bytes() <= 1024 << 20, "{plan}");
        assert_eq!(plan.levels[2].per_row, 2);
        assert_eq!(plan.levels[0].per_row, 8);
        assert!(plan.levels.iter().all(|l| l.layers > 0), "{plan}");
        // 1024 px slots: 5.3 MiB each, half of the budget
        assert!((90..=100).contains(&plan.levels[2].slots()), "{plan}");
        let off = DetailPlan::new(0, &limits);
        assert!(!off.enabled());
        assert_eq!(off.usable_level(1), None);
        // a small budget still gives each level a layer while it lasts
        let small = DetailPlan::new(48 << 20, &limits);
        assert_eq!(small.levels.map(|l| l.layers), [0, 1, 1], "{small}");
        assert_eq!(small.usable_level(0), Some(1));
        assert_eq!(small.usable_level(2), Some(2));
        assert_eq!(off.bytes(), 0);
        let few_layers = wgpu::Limits {
            max_texture_array_layers: 2,
            ..limits
        };
        assert!(DetailPlan::new(1 << 40, &few_layers)
            .levels
            .iter()
            .all(|l| l.layers == 2));
    }

    #[test]
    fn lru_evicts_the_oldest_unpinned_slot() {
        let mut c = SlotCache::new(3);
        assert_eq!(c.acquire(10, 1, |_| false), Some((0, None)));
        assert_eq!(c.acquire(11, 2, |_| false), Some((1, None)));
        assert_eq!(c.acquire(12, 3, |_| false), Some((2, None)));
        c.touch(0, 5); // image 10 seen again
        assert_eq!(c.acquire(13, 6, |_| false), Some((1, Some(11))));
        // image 12 (slot 2) is the oldest but on screen: slot 0 goes
        assert_eq!(c.acquire(14, 7, |i| i == 12), Some((0, Some(10))));
        assert_eq!(c.acquire(15, 8, |_| true), None);
        c.release(2);
        assert_eq!(c.used(), 2);
        assert_eq!(c.acquire(15, 8, |_| true), Some((2, None)));
    }

    #[test]
    fn levels_and_prepared_cells() {
        assert_eq!(level_for_side(100), 0);
        assert_eq!(level_for_side(300), 1);
        assert_eq!(level_for_side(1000), 2);
        assert_eq!(level_for_side(5000), 2);
        let img = RgbaImage::from_pixel(600, 300, image::Rgba([9, 9, 9, 255]));
        let p = prepare_detail(1, &img).unwrap();
        assert_eq!(p.mips.len(), 10);
        assert_eq!(p.mips[0].dimensions(), (512, 512));
        assert_eq!(p.rect.x1 - p.rect.x0, 512 - 2 * detail_gutter(512));
        assert!(prepare_detail(7, &img).is_err());
        assert_eq!(pack_detail(2, 5) >> 28, 2);
    }
}
