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
/// Instance flag: the image is selected (drawn with a ring around it).
pub const FLAG_SELECTED: u32 = 8;
/// Instance flag: the image does not match the filter (drawn dimmed).
pub const FLAG_DIMMED: u32 = 16;

/// What a curator marked on an image: selected, or dimmed by the filter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    pub selected: bool,
    pub dimmed: bool,
}

impl Marks {
    /// The instance flag bits for these marks.
    pub fn flags(self) -> u32 {
        (if self.selected { FLAG_SELECTED } else { 0 })
            | (if self.dimmed { FLAG_DIMMED } else { 0 })
    }
}

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
