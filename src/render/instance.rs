//! Instance: the per-image data the quad shader reads (vertex buffer 1, [`StaticInstance`]) and
//! its flags, apart from the renderer, so the detail planner ([`super::lod`]) and the renderer
//! ([`super::quads`]) share it without knowing each other. The dynamic buffer (vertex buffer 0)
//! holds one `[f32; 2]` t-SNE position per image.

use bytemuck::{Pod, Zeroable};

/// Instance flag: draw the neutral placeholder instead of the atlas cell (no image yet, or the
/// file is missing).
pub const FLAG_PLACEHOLDER: u32 = 1;
/// Instance flag: do not draw this instance.
pub const FLAG_HIDDEN: u32 = 2;
/// Instance flag: draw the image on a plate (see [`super::plate`]).
pub const FLAG_PLATE: u32 = 4;
/// Instance flags bits 8..16: how far the image has faded out (0 = opaque, 255 = transparent).
pub const FADE_SHIFT: u32 = 8;
pub(crate) const FADE_MASK: u32 = 0xff << FADE_SHIFT;

/// Per-instance data that changes rarely (vertex buffer 1, 36 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct StaticInstance {
    /// Grid cell `[col, row]` (as floats for the shader).
    pub grid_cell: [f32; 2],
    /// Image rectangle inside its atlas cell, unorm16 `[x0, y0, x1, y1]`.
    pub rect: [u16; 4],
    /// Image aspect ratio, width / height.
    pub aspect: f32,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// Detail-tier slot holding a larger version (`level << 28 | slot`), or
    /// [`NO_DETAIL`](super::detail::NO_DETAIL): draw from the base atlas.
    pub detail: u32,
    /// The image's rectangle inside its detail cell, unorm16 `[x0, y0, x1, y1]`.
    pub detail_rect: [u16; 4],
}

/// Bytes per instance in the dynamic (t-SNE position) buffer.
pub const DYNAMIC_INSTANCE_BYTES: u64 = std::mem::size_of::<[f32; 2]>() as u64;
/// Bytes per instance in the static buffer.
pub const STATIC_INSTANCE_BYTES: u64 = std::mem::size_of::<StaticInstance>() as u64;
