//! GPU renderer of the image layout: a mipmapped texture-array atlas of thumbnails and one
//! instanced draw of textured quads gliding between the t-SNE and grid layouts (wgpu 0.17).
//!
//! Conventions (shared by the WGSL shader and the CPU helpers):
//! * **y grows downward** in world space, on screen and in images; row 0 of the grid is on top.
//! * t-SNE points are normalised to `[0,1]`²; grid cells are `[col, row]` of a `cols × rows`
//!   grid; see [`LayoutGeometry`] for the exact world placement and image sizes.
//! * Thumbnails are premultiplied-alpha RGBA8 sRGB; blending is premultiplied
//!   (`src + (1 − a)·dst`) in linear light. Colours in [`Style`] are linear, premultiplied.
//! * Image `i` is instance `i` and atlas cell `i`.
//!
//! Per frame the app calls [`QuadRenderer::render`] (writes a 208-byte uniform, records one
//! render pass); while t-SNE runs it calls [`QuadRenderer::update_tsne_positions`]; when a
//! thumbnail arrives, [`QuadRenderer::set_image`]. Larger versions of the images on screen
//! live in the [`detail`] tier ([`QuadRenderer::set_detail`]); [`lod`] plans which are needed
//! for a camera. [`instance`] is the per-image data the shader reads; [`colour`] turns the
//! user's colours into the GPU's; [`edge_blend`] fades the overlaps of a projector wall. Headless use goes through [`GpuContext`],
//! [`QuadRenderer::render_offscreen`] and [`QuadRenderer::screenshot`].
//!
//! Hooking it into a nannou 0.19 app (the renderer takes nannou's `wgpu` 0.17 types as is):
//!
//! ```text
//! // model(): create with the window's device and the frame's target description
//! let window = app.window(id).unwrap();
//! let target = TargetDesc { format: Frame::TEXTURE_FORMAT, sample_count: window.msaa_samples() };
//! let renderer = QuadRenderer::new(window.device(), target, n_images, &AtlasConfig::default())?;
//! println!("{}", renderer.atlas_plan());
//!
//! // update(): thumbnails and live t-SNE positions go through the window's queue
//! renderer.set_image(window.queue(), index, &thumb)?;
//! renderer.update_tsne_positions(window.queue(), &positions)?;
//!
//! // view(): one call per frame; nannou resolves its MSAA texture itself after `view`
//! fn view(_app: &App, model: &Model, frame: Frame) {
//!     let [w, h] = frame.texture_size();
//!     let mut params = model.params;
//!     params.camera.set_viewport([w as f32, h as f32]);
//!     let queue = frame.device_queue_pair().queue();
//!     let mut encoder = frame.command_encoder();
//!     let bg = srgb_u8_to_clear_color([18, 18, 20, 255]);
//!     model.renderer.render(queue, &mut encoder, frame.texture_view(), None, Some(bg), &params);
//! }
//! ```

pub mod atlas;
pub mod camera;
pub mod colour;
pub mod detail;
pub mod edge_blend;
pub mod error;
pub mod gpu_errors;
pub mod instance;
pub mod layout;
pub mod lod;
pub mod offscreen;
pub mod plate;
pub mod quads;
pub mod screenshot;

pub use atlas::{
    prepare_cell, Atlas, AtlasConfig, AtlasPlan, CellRect, PreparedCell, DEFAULT_ATLAS_BUDGET_BYTES,
};
pub use camera::Camera;
pub use colour::{parse_hex_color, srgb_u8_to_clear_color};
pub use detail::{
    detail_budget, DetailPlan, DetailTier, PreparedDetail, DEFAULT_GPU_MEMORY_BYTES, DETAIL_SIDES,
    MAX_OOM_HALVINGS, NO_DETAIL,
};
pub use edge_blend::{EdgeBlend, Shade};
pub use error::{RenderError, Result};
pub use gpu_errors::{GpuErrorKind, GpuErrorLog};
pub use instance::{
    Marks, StaticInstance, FLAG_DIMMED, FLAG_HIDDEN, FLAG_PLACEHOLDER, FLAG_PLATE, FLAG_SELECTED,
};
pub use layout::{ease, LayoutGeometry, LayoutParams, WorldRect};
pub use offscreen::{read_texture_bytes, read_texture_rgba8, GpuContext, OffscreenTarget};
pub use plate::{PlateMode, PlateStats, Plates};
pub use quads::{FrameParams, QuadRenderer, Style, TargetDesc};
pub use screenshot::{
    tile_for_window, OffscreenJob, OffscreenOptions, ScreenshotOptions, ScreenshotPlan,
    ScreenshotSize,
};
