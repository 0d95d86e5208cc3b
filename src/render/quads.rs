//! The instanced quad renderer: atlas + per-instance buffers (dynamic t-SNE positions, static
//! grid cell / uv rect / aspect / flags) + uniform, drawn with one instanced draw per frame.

use bytemuck::{Pod, Zeroable};
use image::RgbaImage;

use super::atlas::{Atlas, AtlasConfig, AtlasPlan, PreparedCell};
use super::camera::Camera;
use super::detail::{pack_detail, DetailPlan, DetailTier, DETAIL_LEVELS, NO_DETAIL};
use super::error::{with_error_scope, RenderError, Result};
use super::instance::{
    StaticInstance, DYNAMIC_INSTANCE_BYTES, FADE_MASK, FADE_SHIFT, FLAG_HIDDEN, FLAG_PLACEHOLDER,
    FLAG_PLATE, STATIC_INSTANCE_BYTES,
};
use super::layout::{sanitize_aspect, LayoutGeometry, LayoutParams, WorldRect};
use super::plate::{PlateStats, Plates};

/// The WGSL source of the quad pipeline.
pub const QUADS_WGSL: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/quads.wgsl"));

/// The colour target a pipeline renders into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetDesc {
    /// Colour attachment format.
    pub format: wgpu::TextureFormat,
    /// MSAA sample count of the attachment (1 = none).
    pub sample_count: u32,
}

impl TargetDesc {
    /// nannou 0.19's frame: `Frame::TEXTURE_FORMAT` (`Rgba16Float`, linear) with
    /// `Frame::DEFAULT_MSAA_SAMPLES` (4). Use `frame.texture_msaa_samples()` if the window was
    /// built with another sample count.
    pub const NANNOU: Self = Self {
        format: wgpu::TextureFormat::Rgba16Float,
        sample_count: 4,
    };
    /// Offscreen rendering for readback: `Rgba8UnormSrgb`, no MSAA.
    pub const OFFSCREEN: Self = Self {
        format: wgpu::TextureFormat::Rgba8UnormSrgb,
        sample_count: 1,
    };
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct Uniforms {
    camera: [f32; 4],
    viewport: [f32; 4],
    layout: [f32; 4],
    grid: [f32; 4],
    style: [f32; 4],
    outline_color: [f32; 4],
    placeholder_color: [f32; 4],
    atlas: [u32; 4],
    hover: [u32; 4],
    /// Detail levels: cells per layer row, cell side, mip levels (per level 0..3).
    detail_per_row: [u32; 4],
    detail_side: [u32; 4],
    detail_mips: [u32; 4],
    /// Plate colour (linear) and corner radius (fraction of half the short side).
    plate: [f32; 4],
}

/// Look of the quads; colours are linear-light, premultiplied RGBA.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Global opacity multiplier (dims everything).
    pub opacity: f32,
    /// Scale factor of the hovered image.
    pub hover_lift: f32,
    /// Width of the hovered image's outline, pixels.
    pub outline_px: f32,
    /// Colour of the hover outline.
    pub outline_color: [f32; 4],
    /// Colour of placeholders (images not loaded yet or missing).
    pub placeholder_color: [f32; 4],
    /// Placeholder corner radius as a fraction of half its short side.
    pub placeholder_corner: f32,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            opacity: 1.0,
            hover_lift: 1.25,
            outline_px: 3.0,
            outline_color: [1.0, 0.6, 0.05, 1.0],
            placeholder_color: [0.2, 0.2, 0.2, 1.0],
            placeholder_corner: 0.25,
        }
    }
}

/// Everything one frame needs: written to the uniform buffer by [`QuadRenderer::render`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameParams {
    /// Camera; its `viewport` must be the target's size in pixels.
    pub camera: Camera,
    /// Layout blend and sliders.
    pub layout: LayoutParams,
    /// Image under the cursor: drawn last, scaled by `style.hover_lift`, outlined.
    pub hovered: Option<usize>,
    /// Colours and hover look.
    pub style: Style,
}

impl FrameParams {
    /// Default layout/style for a camera.
    pub fn new(camera: Camera) -> Self {
        Self {
            camera,
            layout: LayoutParams::default(),
            hovered: None,
            style: Style::default(),
        }
    }
}

/// The renderer: owns the atlas, the instance buffers, the uniform buffer and the pipeline
/// for one target (format + sample count).
#[derive(Debug)]
pub struct QuadRenderer {
    pub(super) count: usize,
    pub(super) geometry: LayoutGeometry,
    pub(super) atlas: Atlas,
    pub(super) tsne_cpu: Vec<[f32; 2]>,
    pub(super) static_cpu: Vec<StaticInstance>,
    pub(super) tsne_buffer: wgpu::Buffer,
    pub(super) static_buffer: wgpu::Buffer,
    pub(super) uniform_buffer: wgpu::Buffer,
    pub(super) uniform_layout: wgpu::BindGroupLayout,
    pub(super) uniform_bind_group: wgpu::BindGroup,
    /// Uniforms of [`render_one`](QuadRenderer::render_one), so it can follow `render` in the
    /// same submit.
    pub(super) one_uniforms: (wgpu::Buffer, wgpu::BindGroup),
    pub(super) atlas_bind_group: wgpu::BindGroup,
    /// Layout of `atlas_bind_group` (made anew when a detail level grows).
    pub(super) atlas_layout: wgpu::BindGroupLayout,
    pub(super) pipeline_layout: wgpu::PipelineLayout,
    pub(super) shader: wgpu::ShaderModule,
    pub(super) target: TargetDesc,
    pub(super) pipeline: wgpu::RenderPipeline,
    /// Longest side of the largest source image uploaded so far (0: none yet).
    pub(super) max_source_side: u32,
    /// Per image: what decides its plate; and the policy that decides.
    pub(super) plate_stats: Vec<PlateStats>,
    pub(super) plates: Plates,
    /// Per image, the longer side of the thumbnail its base cell was made from (0: none yet).
    pub(super) thumb_sides: Vec<u32>,
    /// Larger versions of the images on screen (see [`super::detail`]).
    pub(super) detail: DetailTier,
}

impl QuadRenderer {
    /// Creates a renderer for `count` images drawing into `target`: plans and allocates the
    /// atlas (see [`AtlasPlan::new`]), lays the images out on the squarest grid, puts every
    /// t-SNE position at its grid position (normalised) and marks every image as a placeholder
    /// until [`set_image`](Self::set_image) is called for it.
    pub fn new(
        device: &wgpu::Device,
        target: TargetDesc,
        count: usize,
        atlas_config: &AtlasConfig,
    ) -> Result<Self> {
        let plan = AtlasPlan::new(count, atlas_config, &device.limits())?;
        Self::with_plan(device, target, plan)
    }

    /// Same as [`new`](Self::new) with an explicit atlas plan.
    pub fn with_plan(device: &wgpu::Device, target: TargetDesc, plan: AtlasPlan) -> Result<Self> {
        Self::with_detail(device, target, plan, DetailPlan::disabled())
    }

    /// Same as [`with_plan`](Self::with_plan) with a detail tier of `detail`'s size.
    pub fn with_detail(
        device: &wgpu::Device,
        target: TargetDesc,
        plan: AtlasPlan,
        detail: DetailPlan,
    ) -> Result<Self> {
        if target.sample_count == 0 {
            return Err(RenderError::InvalidSize("sample count 0".into()));
        }
        let count = plan.count;
        let geometry = LayoutGeometry::for_count(count);
        let mut tsne_cpu = Vec::with_capacity(count);
        let mut static_cpu = Vec::with_capacity(count);
        for i in 0..count {
            let cell = [(i as u32) % geometry.cols, (i as u32) / geometry.cols];
            tsne_cpu.push([
                (cell[0] as f32 + 0.5) / geometry.cols as f32,
                (cell[1] as f32 + 0.5) / geometry.rows as f32,
            ]);
            static_cpu.push(StaticInstance {
                grid_cell: [cell[0] as f32, cell[1] as f32],
                rect: [0, 0, 65535, 65535],
                aspect: 1.0,
                flags: FLAG_PLACEHOLDER,
                detail: NO_DETAIL,
                detail_rect: [0, 0, 65535, 65535],
            });
        }
        let atlas = Atlas::new(device, plan)?;
        let detail = DetailTier::new(device, detail)?;
        with_error_scope(device, "creating the quad renderer", || {
            use wgpu::util::DeviceExt;
            // Buffers hold at least one instance so that a renderer for 0 images stays valid.
            let tsne_init: Vec<[f32; 2]> = if count == 0 {
                vec![[0.0; 2]]
            } else {
                tsne_cpu.clone()
            };
            let static_init: Vec<StaticInstance> = if count == 0 {
                vec![StaticInstance::zeroed()]
            } else {
                static_cpu.clone()
            };
            let tsne_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("image-tsne tsne positions"),
                contents: bytemuck::cast_slice(&tsne_init),
                usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
            });
            let static_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("image-tsne static instances"),
                contents: bytemuck::cast_slice(&static_init),
                usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
            });
            let uniform_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("image-tsne uniforms"),
                contents: bytemuck::bytes_of(&Uniforms::zeroed()),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            });
            let uniform_layout =
                device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some("image-tsne uniform layout"),
                    entries: &[wgpu::BindGroupLayoutEntry {
                        binding: 0,
                        visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Uniform,
                            has_dynamic_offset: false,
                            min_binding_size: wgpu::BufferSize::new(
                                std::mem::size_of::<Uniforms>() as u64,
                            ),
                        },
                        count: None,
                    }],
                });
            let atlas_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("image-tsne atlas layout"),
                entries: &[
                    array_texture_entry(0),
                    wgpu::BindGroupLayoutEntry {
                        binding: 1,
                        visibility: wgpu::ShaderStages::FRAGMENT,
                        ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                        count: None,
                    },
                    array_texture_entry(2),
                    array_texture_entry(3),
                    array_texture_entry(4),
                ],
            });
            let uniform_bind_group =
                make_uniform_bind_group(device, &uniform_layout, &uniform_buffer);
            let one_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("image-tsne one-image uniforms"),
                contents: bytemuck::bytes_of(&Uniforms::zeroed()),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            });
            let one_group = make_uniform_bind_group(device, &uniform_layout, &one_buffer);
            let atlas_bind_group = make_atlas_bind_group(device, &atlas_layout, &atlas, &detail);
            let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("image-tsne pipeline layout"),
                bind_group_layouts: &[&uniform_layout, &atlas_layout],
                push_constant_ranges: &[],
            });
            let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("image-tsne quads.wgsl"),
                source: wgpu::ShaderSource::Wgsl(QUADS_WGSL.into()),
            });
            let pipeline = make_pipeline(device, &pipeline_layout, &shader, target);
            Ok(Self {
                count,
                geometry,
                atlas,
                tsne_cpu,
                static_cpu,
                tsne_buffer,
                static_buffer,
                uniform_buffer,
                uniform_layout,
                uniform_bind_group,
                one_uniforms: (one_buffer, one_group),
                atlas_bind_group,
                atlas_layout,
                shader,
                pipeline_layout,
                target,
                pipeline,
                max_source_side: 0,
                plate_stats: vec![PlateStats::default(); count],
                plates: Plates::default(),
                thumb_sides: vec![0; count],
                detail,
            })
        })
    }

    /// Number of images (instances).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the renderer holds no image.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The atlas plan (cell size, layers, bytes) — `Display` prints a one-line summary.
    pub fn atlas_plan(&self) -> &AtlasPlan {
        self.atlas.plan()
    }

    /// The atlas.
    pub fn atlas(&self) -> &Atlas {
        &self.atlas
    }

    /// The grid geometry currently used.
    pub fn geometry(&self) -> LayoutGeometry {
        self.geometry
    }

    /// The target the main pipeline draws into.
    pub fn target(&self) -> TargetDesc {
        self.target
    }

    /// GPU bytes of both instance buffers.
    pub fn instance_buffer_bytes(&self) -> u64 {
        self.tsne_buffer.size() + self.static_buffer.size()
    }

    /// GPU bytes this renderer holds: the atlas (all mip levels), the detail layers allocated
    /// so far, the instance buffers and the uniforms (not counting the pipeline and bind
    /// groups, which are small).
    pub fn gpu_bytes(&self) -> u64 {
        self.atlas.plan().bytes
            + self.detail.allocated_bytes()
            + self.instance_buffer_bytes()
            + self.uniform_buffer.size()
            + self.one_uniforms.0.size()
    }

    /// The detail tier (plan, slot caches).
    pub fn detail_tier(&self) -> &DetailTier {
        &self.detail
    }

    /// Per image, the longer side of the thumbnail of its base cell (0: not loaded yet). A
    /// side below the thumbnail size means the source itself is that small.
    pub fn thumb_sides(&self) -> &[u32] {
        &self.thumb_sides
    }

    /// Uploads a larger version of image `index` into a slot of its level, evicting the least
    /// recently used image not in `pinned` if the level is full, and points the instance at
    /// it. The image's previous slot (another level) is freed. Returns the evicted image (now
    /// drawn from the base atlas again), or `Ok(None)`; `Err` when no slot can be had (every
    /// slot holds a pinned image) or the upload is invalid. `device`: a level is allocated
    /// (or grown) when its first slot past its layers is used.
    pub fn set_detail(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        index: usize,
        cell: &super::detail::PreparedDetail,
        now: u64,
        pinned: impl Fn(usize) -> bool,
    ) -> Result<Option<usize>> {
        self.check_index(index)?;
        let level = cell.level.min(DETAIL_LEVELS - 1);
        let (slot, evicted) = self.detail.slots[level]
            .acquire(index, now, |i| i != index && pinned(i))
            .ok_or_else(|| {
                RenderError::InvalidSize(format!(
                    "no free {} px detail slot",
                    super::detail::DETAIL_SIDES[level]
                ))
            })?;
        match self.detail.write(device, queue, slot, cell) {
            Ok(true) => {
                self.atlas_bind_group =
                    make_atlas_bind_group(device, &self.atlas_layout, &self.atlas, &self.detail);
            }
            Ok(false) => {}
            Err(e) => {
                self.detail.slots[level].release(slot);
                return Err(e);
            }
        }
        if let Some(old) = evicted.filter(|&o| o != index) {
            if let Some(inst) = self.static_cpu.get_mut(old) {
                inst.detail = NO_DETAIL;
            }
            self.write_static(queue, old);
        }
        let previous = self.static_cpu.get(index).map(|s| s.detail);
        if let Some(prev) = previous.filter(|&p| p != NO_DETAIL) {
            let (pl, ps) = ((prev >> 28) as usize, prev & 0x0fff_ffff);
            if let Some(c) = self.detail.slots.get_mut(pl) {
                if (pl, ps) != (level, slot) && c.owner(ps) == Some(index) {
                    c.release(ps);
                }
            }
        }
        let side = super::detail::DETAIL_SIDES[level];
        if let Some(inst) = self.static_cpu.get_mut(index) {
            inst.detail = pack_detail(level, slot);
            inst.detail_rect = cell.rect.to_unorm16(side);
        }
        self.write_static(queue, index);
        Ok(evicted.filter(|&o| o != index))
    }

    /// The detail level image `index` is drawn from, if any (its slot is marked used at `now`).
    pub fn touch_detail(&mut self, index: usize, now: u64) -> Option<usize> {
        let d = self.static_cpu.get(index)?.detail;
        if d == NO_DETAIL {
            return None;
        }
        let (level, slot) = ((d >> 28) as usize, d & 0x0fff_ffff);
        self.detail.slots.get_mut(level)?.touch(slot, now);
        Some(level)
    }

    /// Stops drawing image `index` from the detail tier and frees its slot.
    pub fn clear_detail(&mut self, queue: &wgpu::Queue, index: usize) {
        let Some(d) = self.static_cpu.get(index).map(|s| s.detail) else {
            return;
        };
        if d == NO_DETAIL {
            return;
        }
        let (level, slot) = ((d >> 28) as usize, d & 0x0fff_ffff);
        if let Some(c) = self.detail.slots.get_mut(level) {
            if c.owner(slot) == Some(index) {
                c.release(slot);
            }
        }
        if let Some(inst) = self.static_cpu.get_mut(index) {
            inst.detail = NO_DETAIL;
        }
        self.write_static(queue, index);
    }

    /// What the camera asks of the detail tier: every visible image with the detail level it
    /// needs (see [`super::lod::plan`]).
    pub fn plan_detail(&self, camera: &Camera, layout: &LayoutParams) -> Vec<super::lod::Want> {
        super::lod::plan(
            &super::lod::Instances {
                geometry: &self.geometry,
                tsne: &self.tsne_cpu,
                statics: &self.static_cpu,
                thumb_sides: &self.thumb_sides,
                base_cell: self.atlas.plan().cell_size,
            },
            camera,
            layout,
        )
    }

    /// Test hook: an upload the GPU rejects (a write past the end of an instance buffer), to
    /// check that a validation error is reported and drawing goes on.
    pub fn inject_invalid_upload(&self, queue: &wgpu::Queue) {
        super::gpu_errors::inject_invalid_upload(queue, &self.tsne_buffer);
    }

    /// Test hook: points image `index` at the raw detail word `word` (`level << 28 | slot`)
    /// with no slot behind it, as corrupt instance data would: the shader must draw the image
    /// from the base atlas (and a software rasterizer must not read out of bounds).
    #[doc(hidden)]
    pub fn inject_detail_word(
        &mut self,
        queue: &wgpu::Queue,
        index: usize,
        word: u32,
    ) -> Result<()> {
        self.check_index(index)?;
        if let Some(inst) = self.static_cpu.get_mut(index) {
            inst.detail = word;
        }
        self.write_static(queue, index);
        Ok(())
    }

    /// The t-SNE positions last uploaded (normalised `[0,1]`²).
    pub fn tsne_positions(&self) -> &[[f32; 2]] {
        &self.tsne_cpu
    }

    /// Per-instance static data as last uploaded (grid cell, uv rect, aspect, flags).
    pub fn instances(&self) -> &[StaticInstance] {
        &self.static_cpu
    }

    /// Grid cells `[col, row]` of all images.
    pub fn grid_cells(&self) -> Vec<[u32; 2]> {
        self.static_cpu
            .iter()
            .map(|s| [s.grid_cell[0] as u32, s.grid_cell[1] as u32])
            .collect()
    }

    /// Aspect ratios of all images (1 until an image arrives, unless set by `set_placeholder`).
    pub fn aspects(&self) -> Vec<f32> {
        self.static_cpu.iter().map(|s| s.aspect).collect()
    }

    fn check_index(&self, index: usize) -> Result<()> {
        if index < self.count {
            Ok(())
        } else {
            Err(RenderError::IndexOutOfRange {
                index,
                count: self.count,
            })
        }
    }

    fn write_static(&self, queue: &wgpu::Queue, index: usize) {
        if let Some(inst) = self.static_cpu.get(index) {
            queue.write_buffer(
                &self.static_buffer,
                index as u64 * STATIC_INSTANCE_BYTES,
                bytemuck::bytes_of(inst),
            );
        }
    }

    /// A thumbnail arrived: letterboxes it into cell `index`, builds and uploads its mip chain
    /// and switches the instance from placeholder to image. `img` is premultiplied RGBA8 sRGB.
    pub fn set_image(&mut self, queue: &wgpu::Queue, index: usize, img: &RgbaImage) -> Result<()> {
        self.check_index(index)?;
        let prepared = self.atlas.write_cell(queue, index, img)?;
        self.apply_prepared(queue, index, &prepared);
        Ok(())
    }

    /// Like [`set_image`](Self::set_image) for a cell prepared elsewhere (e.g. on a worker
    /// thread with [`super::atlas::prepare_cell`] and [`atlas_plan`](Self::atlas_plan)).
    pub fn set_prepared_image(
        &mut self,
        queue: &wgpu::Queue,
        index: usize,
        cell: &PreparedCell,
    ) -> Result<()> {
        self.check_index(index)?;
        self.atlas.write_prepared(queue, index, cell)?;
        self.apply_prepared(queue, index, cell);
        Ok(())
    }

    fn apply_prepared(&mut self, queue: &wgpu::Queue, index: usize, cell: &PreparedCell) {
        let cell_size = self.atlas.plan().cell_size;
        self.max_source_side = self.max_source_side.max(cell.source_side);
        if let Some(side) = self.thumb_sides.get_mut(index) {
            *side = cell.source_side;
        }
        if let Some(stats) = self.plate_stats.get_mut(index) {
            *stats = cell.plate;
        }
        let plate = self.plates.wants(&cell.plate);
        if let Some(inst) = self.static_cpu.get_mut(index) {
            inst.rect = cell.rect.to_unorm16(cell_size);
            inst.aspect = sanitize_aspect(cell.aspect);
            inst.flags &= !(FLAG_PLACEHOLDER | FLAG_PLATE);
            if plate {
                inst.flags |= FLAG_PLATE;
            }
        }
        self.write_static(queue, index);
    }

    /// The plate policy (mode, background, colour) images are drawn with.
    pub fn plates(&self) -> Plates {
        self.plates
    }

    /// Draw with another plate policy (the background or the mode changed): every image is
    /// decided again from the stats its thumbnail gave; only the changed instances are
    /// uploaded. Nothing happens when the policy is the same.
    pub fn set_plates(&mut self, queue: &wgpu::Queue, plates: Plates) {
        if plates == self.plates {
            return;
        }
        self.plates = plates;
        for index in 0..self.count {
            let want = plates.wants(&self.plate_stats[index]);
            let inst = &mut self.static_cpu[index];
            if (inst.flags & FLAG_PLATE != 0) != want {
                inst.flags ^= FLAG_PLATE;
                self.write_static(queue, index);
            }
        }
    }

    /// Whether image `index` is drawn on a plate now.
    pub fn has_plate(&self, index: usize) -> bool {
        self.static_cpu
            .get(index)
            .is_some_and(|i| i.flags & FLAG_PLATE != 0)
    }

    /// Shows the placeholder for image `index` (file missing, or decoding failed), optionally
    /// with a known aspect ratio.
    pub fn set_placeholder(
        &mut self,
        queue: &wgpu::Queue,
        index: usize,
        aspect: Option<f32>,
    ) -> Result<()> {
        self.check_index(index)?;
        if let Some(inst) = self.static_cpu.get_mut(index) {
            inst.flags |= FLAG_PLACEHOLDER;
            if let Some(a) = aspect {
                inst.aspect = sanitize_aspect(a);
            }
        }
        self.write_static(queue, index);
        Ok(())
    }

    /// Selection rings and filter dimming: `marks[i]` for image `i` (images past its end are
    /// unmarked). Only the instances that change are uploaded.
    pub fn set_marks(&mut self, queue: &wgpu::Queue, marks: &[super::instance::Marks]) {
        let bits = super::instance::FLAG_SELECTED | super::instance::FLAG_DIMMED;
        for index in 0..self.count.min(self.static_cpu.len()) {
            let want = marks.get(index).copied().unwrap_or_default().flags();
            let inst = &mut self.static_cpu[index];
            if inst.flags & bits != want {
                inst.flags = (inst.flags & !bits) | want;
                self.write_static(queue, index);
            }
        }
    }

    /// Hides or shows image `index`.
    pub fn set_hidden(&mut self, queue: &wgpu::Queue, index: usize, hidden: bool) -> Result<()> {
        self.check_index(index)?;
        if let Some(inst) = self.static_cpu.get_mut(index) {
            if hidden {
                inst.flags |= FLAG_HIDDEN;
            } else {
                // shown again: opaque, whatever fade it left with
                inst.flags &= !(FLAG_HIDDEN | FADE_MASK);
            }
        }
        self.write_static(queue, index);
        Ok(())
    }

    /// Draws image `index` at `opacity` (1 = opaque, as every image starts; 0 = invisible);
    /// a removed image fades out with it before it is hidden.
    pub fn set_opacity(&mut self, queue: &wgpu::Queue, index: usize, opacity: f32) -> Result<()> {
        self.check_index(index)?;
        // NaN → 0 by the saturating cast: opaque
        let fade = ((1.0 - opacity.clamp(0.0, 1.0)) * 255.0).round() as u32;
        if let Some(inst) = self.static_cpu.get_mut(index) {
            inst.flags = (inst.flags & !FADE_MASK) | (fade << FADE_SHIFT);
        }
        self.write_static(queue, index);
        Ok(())
    }

    /// Live t-SNE update: overwrites the dynamic instance buffer in place (no reallocation).
    /// `positions` are normalised to `[0,1]`², one per image.
    pub fn update_tsne_positions(
        &mut self,
        queue: &wgpu::Queue,
        positions: &[[f32; 2]],
    ) -> Result<()> {
        if positions.len() != self.count {
            return Err(RenderError::LengthMismatch {
                what: "update_tsne_positions",
                expected: self.count,
                got: positions.len(),
            });
        }
        if self.count == 0 {
            return Ok(());
        }
        self.tsne_cpu.copy_from_slice(positions);
        queue.write_buffer(&self.tsne_buffer, 0, bytemuck::cast_slice(positions));
        Ok(())
    }

    /// New grid layout: `cells[i] = [col, row]` of image `i` in a `geometry.cols ×
    /// geometry.rows` grid. Rewrites the static buffer (rare: once per grid assignment).
    pub fn set_grid(
        &mut self,
        queue: &wgpu::Queue,
        geometry: LayoutGeometry,
        cells: &[[u32; 2]],
    ) -> Result<()> {
        let cells = cells.iter().map(|c| [c[0] as f32, c[1] as f32]);
        self.write_grid(queue, geometry, "set_grid", cells)
    }

    /// Like [`set_grid`](Self::set_grid) with fractional cells (`[col, row]` as floats), for
    /// images gliding between cells; hit tests and bounds use the cells rounded down.
    pub fn set_grid_positions(
        &mut self,
        queue: &wgpu::Queue,
        geometry: LayoutGeometry,
        cells: &[[f32; 2]],
    ) -> Result<()> {
        self.write_grid(queue, geometry, "set_grid_positions", cells.iter().copied())
    }

    /// One cell per image (a non-finite one becomes `[0, 0]`) into the static buffer.
    fn write_grid(
        &mut self,
        queue: &wgpu::Queue,
        geometry: LayoutGeometry,
        what: &'static str,
        cells: impl ExactSizeIterator<Item = [f32; 2]>,
    ) -> Result<()> {
        if cells.len() != self.count {
            return Err(RenderError::LengthMismatch {
                what,
                expected: self.count,
                got: cells.len(),
            });
        }
        self.geometry = LayoutGeometry::new(geometry.cols, geometry.rows);
        for (inst, c) in self.static_cpu.iter_mut().zip(cells) {
            let ok = c[0].is_finite() && c[1].is_finite();
            inst.grid_cell = if ok { c } else { [0.0, 0.0] };
        }
        if self.count > 0 {
            queue.write_buffer(
                &self.static_buffer,
                0,
                bytemuck::cast_slice(&self.static_cpu),
            );
        }
        Ok(())
    }

    /// World bounding box of all images for `layout` (e.g. for `Camera::fit`).
    pub fn bounds(&self, layout: &LayoutParams) -> Option<WorldRect> {
        // hidden images (skipped files) do not count
        let (mut tsne, mut cells, mut aspects) = (Vec::new(), Vec::new(), Vec::new());
        for (p, inst) in self.tsne_cpu.iter().zip(&self.static_cpu) {
            if inst.flags & FLAG_HIDDEN == 0 {
                tsne.push(*p);
                cells.push([inst.grid_cell[0] as u32, inst.grid_cell[1] as u32]);
                aspects.push(inst.aspect);
            }
        }
        self.geometry.bounds(&tsne, &cells, &aspects, layout)
    }

    /// World rectangle of image `index` for `layout` (`None` past the end).
    pub fn instance_world_rect(&self, index: usize, layout: &LayoutParams) -> Option<WorldRect> {
        let s = self.static_cpu.get(index)?;
        let cell = [s.grid_cell[0] as u32, s.grid_cell[1] as u32];
        Some(
            self.geometry
                .instance_rect(*self.tsne_cpu.get(index)?, cell, s.aspect, layout),
        )
    }

    /// Topmost image under the world point `world` for `layout`, skipping hidden images.
    pub fn hit_test(&self, world: [f32; 2], layout: &LayoutParams) -> Option<usize> {
        (0..self.count).rev().find(|&i| {
            let s = &self.static_cpu[i];
            if s.flags & FLAG_HIDDEN != 0 {
                return false;
            }
            let cell = [s.grid_cell[0] as u32, s.grid_cell[1] as u32];
            self.geometry
                .instance_rect(self.tsne_cpu[i], cell, s.aspect, layout)
                .contains(world)
        })
    }

    pub(super) fn uniforms(&self, params: &FrameParams) -> Uniforms {
        let cam = &params.camera;
        let plan = self.atlas.plan();
        let origin = self.geometry.grid_origin();
        let l = &params.layout;
        let s = &params.style;
        let hovered = match params.hovered {
            Some(h) if h < self.count => h as u32,
            _ => u32::MAX,
        };
        Uniforms {
            camera: [cam.center[0], cam.center[1], cam.zoom, 0.0],
            viewport: [cam.viewport[0].max(1.0), cam.viewport[1].max(1.0), 0.0, 0.0],
            layout: [l.t, l.tsne_scale / 4.0, l.image_size, 1.0 - l.grid_gap],
            grid: [origin[0], origin[1], self.geometry.pitch(), 0.0],
            style: [s.hover_lift, s.outline_px, s.opacity, s.placeholder_corner],
            outline_color: s.outline_color,
            placeholder_color: s.placeholder_color,
            atlas: [
                plan.cells_per_row.max(1),
                plan.cells_per_layer().max(1),
                plan.cell_size.max(1),
                plan.mip_levels.max(1),
            ],
            hover: [hovered, 0, 0, 0],
            detail_per_row: level_field(&self.detail, |l| l.per_row.max(1)),
            detail_side: level_field(&self.detail, |l| l.side.max(1)),
            detail_mips: level_field(&self.detail, |l| l.mips.max(1)),
            plate: {
                let [r, g, b] = self.plates.color.map(super::atlas::srgb_u8_to_linear);
                [r, g, b, super::plate::CORNER]
            },
        }
    }

    /// Writes the frame's uniforms (`queue.write_buffer`, applied at the next submit) and
    /// records one render pass into `encoder`: one instanced draw for all images plus a
    /// one-instance draw for the hovered image. `view` must match the renderer's
    /// [`TargetDesc`] (format and sample count); with MSAA pass the single-sample texture to
    /// resolve into as `resolve_target`, or `None` if the caller resolves (nannou does).
    /// `clear`: `Some(colour)` clears first (premultiplied linear), `None` draws over.
    /// Costs O(1) CPU per frame whatever the image count. Does not panic itself; a `view`
    /// whose format / sample count differs from the [`TargetDesc`] is a wgpu validation error,
    /// reported through the device's error handler. One `render` per submit (the uniform buffer
    /// is shared; offscreen renders use their own).
    pub fn render(
        &self,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        view: &wgpu::TextureView,
        resolve_target: Option<&wgpu::TextureView>,
        clear: Option<wgpu::Color>,
        params: &FrameParams,
    ) {
        queue.write_buffer(
            &self.uniform_buffer,
            0,
            bytemuck::bytes_of(&self.uniforms(params)),
        );
        self.record_pass(
            encoder,
            &self.pipeline,
            &self.uniform_bind_group,
            view,
            resolve_target,
            clear,
            params.hovered,
        );
    }

    /// Draws image `index` alone over what `view` holds (no clear), as the hovered image is
    /// drawn (`params.style.hover_lift` and `outline_px` apply): the lightbox of an output
    /// without a panel, where the camera frames that one image. Has uniforms of its own, so
    /// it may follow [`render`](Self::render) in the same submit (once per submit itself).
    pub fn render_one(
        &self,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        view: &wgpu::TextureView,
        resolve_target: Option<&wgpu::TextureView>,
        index: usize,
        params: &FrameParams,
    ) {
        if index >= self.count {
            return;
        }
        let params = FrameParams {
            hovered: Some(index),
            ..*params
        };
        let (buffer, group) = &self.one_uniforms;
        queue.write_buffer(buffer, 0, bytemuck::bytes_of(&self.uniforms(&params)));
        let mut pass = begin_pass(encoder, "image-tsne one image", view, resolve_target, None);
        let i = index as u32;
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.set_bind_group(1, &self.atlas_bind_group, &[]);
        pass.set_vertex_buffer(0, self.tsne_buffer.slice(..));
        pass.set_vertex_buffer(1, self.static_buffer.slice(..));
        pass.draw(6..12, i..i + 1);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn record_pass(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::RenderPipeline,
        uniform_bind_group: &wgpu::BindGroup,
        view: &wgpu::TextureView,
        resolve_target: Option<&wgpu::TextureView>,
        clear: Option<wgpu::Color>,
        hovered: Option<usize>,
    ) {
        let mut pass = begin_pass(encoder, "image-tsne quads", view, resolve_target, clear);
        if self.count == 0 {
            return;
        }
        let n = self.count as u32;
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, uniform_bind_group, &[]);
        pass.set_bind_group(1, &self.atlas_bind_group, &[]);
        pass.set_vertex_buffer(0, self.tsne_buffer.slice(..));
        pass.set_vertex_buffer(1, self.static_buffer.slice(..));
        pass.draw(0..6, 0..n);
        if let Some(h) = hovered.filter(|&h| h < self.count) {
            let h = h as u32;
            pass.draw(6..12, h..h + 1);
        }
    }

    /// Builds a pipeline of this renderer for another target (e.g. offscreen screenshots).
    pub fn create_pipeline(
        &self,
        device: &wgpu::Device,
        target: TargetDesc,
    ) -> Result<wgpu::RenderPipeline> {
        with_error_scope(device, "creating a quad pipeline", || {
            Ok(make_pipeline(
                device,
                &self.pipeline_layout,
                &self.shader,
                target,
            ))
        })
    }

    /// A uniform buffer + bind group of its own (so offscreen renders leave the live frame's
    /// uniforms alone).
    pub(super) fn create_uniforms(&self, device: &wgpu::Device) -> (wgpu::Buffer, wgpu::BindGroup) {
        use wgpu::util::DeviceExt;
        let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("image-tsne offscreen uniforms"),
            contents: bytemuck::bytes_of(&Uniforms::zeroed()),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        let group = make_uniform_bind_group(device, &self.uniform_layout, &buffer);
        (buffer, group)
    }
}

/// A render pass over one colour target that clears it first (`clear`: premultiplied linear)
/// or draws over what it holds (`None`); with MSAA, `resolve_target` is resolved into.
pub(super) fn begin_pass<'a>(
    encoder: &'a mut wgpu::CommandEncoder,
    label: &'static str,
    view: &'a wgpu::TextureView,
    resolve_target: Option<&'a wgpu::TextureView>,
    clear: Option<wgpu::Color>,
) -> wgpu::RenderPass<'a> {
    let load = match clear {
        Some(c) => wgpu::LoadOp::Clear(c),
        None => wgpu::LoadOp::Load,
    };
    encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
        label: Some(label),
        color_attachments: &[Some(wgpu::RenderPassColorAttachment {
            view,
            resolve_target,
            ops: wgpu::Operations { load, store: true },
        })],
        depth_stencil_attachment: None,
    })
}

/// A filterable 2-D array texture for the fragment shader (the atlas and the detail levels).
fn array_texture_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable: true },
            view_dimension: wgpu::TextureViewDimension::D2Array,
            multisampled: false,
        },
        count: None,
    }
}

fn level_field(tier: &DetailTier, f: impl Fn(&super::detail::LevelPlan) -> u32) -> [u32; 4] {
    let mut out = [1u32; 4];
    for (o, l) in out
        .iter_mut()
        .zip(tier.plan().levels.iter())
        .take(DETAIL_LEVELS)
    {
        *o = f(l);
    }
    out
}

/// The textures and sampler the fragment shader reads: the base atlas and the detail levels.
fn make_atlas_bind_group(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    atlas: &Atlas,
    detail: &DetailTier,
) -> wgpu::BindGroup {
    let view = |binding, view| wgpu::BindGroupEntry {
        binding,
        resource: wgpu::BindingResource::TextureView(view),
    };
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("image-tsne atlas bind group"),
        layout,
        entries: &[
            view(0, atlas.view()),
            wgpu::BindGroupEntry {
                binding: 1,
                resource: wgpu::BindingResource::Sampler(atlas.sampler()),
            },
            view(2, detail.view(0)),
            view(3, detail.view(1)),
            view(4, detail.view(2)),
        ],
    })
}

fn make_uniform_bind_group(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    buffer: &wgpu::Buffer,
) -> wgpu::BindGroup {
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("image-tsne uniform bind group"),
        layout,
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: buffer.as_entire_binding(),
        }],
    })
}

fn make_pipeline(
    device: &wgpu::Device,
    layout: &wgpu::PipelineLayout,
    shader: &wgpu::ShaderModule,
    target: TargetDesc,
) -> wgpu::RenderPipeline {
    let dynamic_attrs = wgpu::vertex_attr_array![0 => Float32x2];
    let static_attrs = wgpu::vertex_attr_array![
        1 => Float32x2,
        2 => Unorm16x4,
        3 => Float32,
        4 => Uint32,
        5 => Uint32,
        6 => Unorm16x4
    ];
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some("image-tsne quads pipeline"),
        layout: Some(layout),
        vertex: wgpu::VertexState {
            module: shader,
            entry_point: "vs_main",
            buffers: &[
                wgpu::VertexBufferLayout {
                    array_stride: DYNAMIC_INSTANCE_BYTES,
                    step_mode: wgpu::VertexStepMode::Instance,
                    attributes: &dynamic_attrs,
                },
                wgpu::VertexBufferLayout {
                    array_stride: STATIC_INSTANCE_BYTES,
                    step_mode: wgpu::VertexStepMode::Instance,
                    attributes: &static_attrs,
                },
            ],
        },
        primitive: wgpu::PrimitiveState {
            topology: wgpu::PrimitiveTopology::TriangleList,
            cull_mode: None,
            ..Default::default()
        },
        depth_stencil: None,
        multisample: wgpu::MultisampleState {
            count: target.sample_count.max(1),
            mask: !0,
            alpha_to_coverage_enabled: false,
        },
        fragment: Some(wgpu::FragmentState {
            module: shader,
            entry_point: "fs_main",
            targets: &[Some(wgpu::ColorTargetState {
                format: target.format,
                blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview: None,
    })
}
