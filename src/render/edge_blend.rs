//! Soft-edge blend for projector walls, and the letterbox of a mirror: one full-target pass,
//! drawn after the images, that multiplies each pixel by a weight ([`Shade`]).
//!
//! Where two projectors overlap, both show the same pixels and their light adds. Each one fades
//! its side of the overlap with a ramp whose two halves sum to one ([`ramp`]), so the overlap is
//! as bright as the rest of the wall. The multiply happens on linear light (the frame nannou
//! hands `view` is linear `Rgba16Float`; sRGB textures encode on write), so the weights add in
//! light, not in encoded values — the gamma-correct blend. Projectors whose response is not
//! sRGB-like get the weight raised to `2.2 / gamma` ([`Shade::exponent`]). The shader is
//! `shaders/edge_blend.wgsl`; [`Shade::weight`] is its CPU twin, for tests and for planning.

use super::error::{with_error_scope, Result};
use super::quads::{begin_pass, TargetDesc};

const SHADER: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/shaders/edge_blend.wgsl"
));

/// The blend curve (Paul Bourke's, power 2) over `t` in `[0, 1]`: 0 at 0, ½ at ½, 1 at 1, flat
/// at both ends (no visible seam where the ramp starts), and `ramp(t) + ramp(1 − t) = 1`.
pub fn ramp(t: f32) -> f32 {
    let u = t.clamp(0.0, 1.0);
    if u < 0.5 {
        2.0 * u * u
    } else {
        let v = 1.0 - u;
        1.0 - 2.0 * v * v
    }
}

/// What one output's pass multiplies its pixels by. Coordinates are target pixels, x right,
/// y down; the weight is sampled at pixel centres (`x + 0.5`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shade {
    /// `[x0, y0, x1, y1]`: the part of the target that shows the canvas; outside it the
    /// weight is multiplied by [`outside`](Self::outside).
    pub inside: [f32; 4],
    /// Fade in over `[from, to]` (weight 0 at `from`, 1 at `to`): the left edge of a wall slice
    /// that overlaps its left neighbour.
    pub left: Option<[f32; 2]>,
    /// Fade out over `[from, to]` (weight 1 at `from`, 0 at `to`): the right edge of a slice
    /// that overlaps its right neighbour.
    pub right: Option<[f32; 2]>,
    /// Weight outside the canvas (letterbox: dimmed, not hidden, so an operator sees more).
    pub outside: f32,
    /// The ramps' product is raised to this: `2.2 / gamma` of the projector (1 for sRGB-like).
    pub exponent: f32,
}

impl Shade {
    /// Changes nothing (the pass is skipped).
    pub const NONE: Shade = Shade {
        inside: [
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
            f32::INFINITY,
            f32::INFINITY,
        ],
        left: None,
        right: None,
        outside: 1.0,
        exponent: 1.0,
    };

    /// Whether the pass would leave every pixel as it is.
    pub fn is_identity(&self) -> bool {
        self.left.is_none() && self.right.is_none() && self.outside == 1.0
    }

    /// The weight at `(x, y)` (a pixel centre), as the shader computes it.
    pub fn weight(&self, x: f32, y: f32) -> f32 {
        let mut w = 1.0;
        if let Some([a, b]) = self.left.filter(|[a, b]| b > a) {
            w *= ramp((x - a) / (b - a));
        }
        if let Some([a, b]) = self.right.filter(|[a, b]| b > a) {
            w *= ramp((b - x) / (b - a));
        }
        if w > 0.0 {
            w = w.powf(self.exponent);
        }
        let [x0, y0, x1, y1] = self.inside;
        if x < x0 || x > x1 || y < y0 || y > y1 {
            w *= self.outside;
        }
        w
    }

    fn uniforms(&self) -> [f32; 12] {
        let big = 1.0e9;
        let clamp = |v: f32| v.clamp(-big, big);
        let [x0, y0, x1, y1] = self.inside.map(clamp);
        let [la, lb] = self.left.unwrap_or([0.0, 0.0]);
        let [ra, rb] = self.right.unwrap_or([0.0, 0.0]);
        [
            x0,
            y0,
            x1,
            y1,
            la,
            lb,
            ra,
            rb,
            self.outside,
            self.exponent,
            0.0,
            0.0,
        ]
    }
}

/// The pass: a pipeline for one target kind and its 48-byte uniform. One [`draw`](Self::draw)
/// per submit (the uniform is shared), as with the quad renderer; every output's frame is its
/// own submit.
pub struct EdgeBlend {
    pipeline: wgpu::RenderPipeline,
    buffer: wgpu::Buffer,
    group: wgpu::BindGroup,
    target: TargetDesc,
}

impl EdgeBlend {
    /// Builds the pipeline for `target` (the format and sample count of what it draws over).
    pub fn new(device: &wgpu::Device, target: TargetDesc) -> Result<Self> {
        with_error_scope(device, "creating the edge-blend pass", || {
            let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("image-tsne edge blend"),
                source: wgpu::ShaderSource::Wgsl(SHADER.into()),
            });
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("image-tsne edge blend"),
                entries: &[wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                }],
            });
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("image-tsne edge blend uniforms"),
                size: 48,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("image-tsne edge blend"),
                layout: &layout,
                entries: &[wgpu::BindGroupEntry {
                    binding: 0,
                    resource: buffer.as_entire_binding(),
                }],
            });
            let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("image-tsne edge blend"),
                bind_group_layouts: &[&layout],
                push_constant_ranges: &[],
            });
            // dst · src on colour; alpha kept
            let multiply = wgpu::BlendState {
                color: wgpu::BlendComponent {
                    src_factor: wgpu::BlendFactor::Zero,
                    dst_factor: wgpu::BlendFactor::Src,
                    operation: wgpu::BlendOperation::Add,
                },
                alpha: wgpu::BlendComponent {
                    src_factor: wgpu::BlendFactor::Zero,
                    dst_factor: wgpu::BlendFactor::One,
                    operation: wgpu::BlendOperation::Add,
                },
            };
            let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some("image-tsne edge blend"),
                layout: Some(&pipeline_layout),
                vertex: wgpu::VertexState {
                    module: &shader,
                    entry_point: "vs_main",
                    buffers: &[],
                },
                primitive: wgpu::PrimitiveState::default(),
                depth_stencil: None,
                multisample: wgpu::MultisampleState {
                    count: target.sample_count.max(1),
                    mask: !0,
                    alpha_to_coverage_enabled: false,
                },
                fragment: Some(wgpu::FragmentState {
                    module: &shader,
                    entry_point: "fs_main",
                    targets: &[Some(wgpu::ColorTargetState {
                        format: target.format,
                        blend: Some(multiply),
                        write_mask: wgpu::ColorWrites::ALL,
                    })],
                }),
                multiview: None,
            });
            Ok(Self {
                pipeline,
                buffer,
                group,
                target,
            })
        })
    }

    /// The target kind the pipeline was built for.
    pub fn target(&self) -> TargetDesc {
        self.target
    }

    /// Records the pass over `view` (drawn over, not cleared); nothing when `shade` changes
    /// nothing. `view` must match [`target`](Self::target), as with the quad renderer.
    pub fn draw(
        &self,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        view: &wgpu::TextureView,
        resolve_target: Option<&wgpu::TextureView>,
        shade: &Shade,
    ) {
        if shade.is_identity() {
            return;
        }
        queue.write_buffer(&self.buffer, 0, bytemuck::cast_slice(&shade.uniforms()));
        let mut pass = begin_pass(encoder, "image-tsne edge blend", view, resolve_target, None);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.group, &[]);
        pass.draw(0..3, 0..1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ramp_runs_from_zero_to_one_and_its_halves_sum_to_one() {
        assert_eq!(ramp(0.0), 0.0);
        assert_eq!(ramp(1.0), 1.0);
        assert!((ramp(0.5) - 0.5).abs() < 1e-6);
        assert_eq!(ramp(-3.0), 0.0);
        assert_eq!(ramp(7.0), 1.0);
        let mut last = 0.0;
        for i in 0..=100 {
            let t = i as f32 / 100.0;
            assert!((ramp(t) + ramp(1.0 - t) - 1.0).abs() < 1e-6, "t = {t}");
            assert!(ramp(t) >= last, "rising at {t}");
            last = ramp(t);
        }
    }

    #[test]
    fn two_slices_overlapping_sum_to_one_at_every_pixel_centre() {
        // slice A (width 300) fades out over its last 60 px; slice B fades in over its first 60
        let a = Shade {
            right: Some([240.0, 300.0]),
            ..Shade::NONE
        };
        let b = Shade {
            left: Some([0.0, 60.0]),
            ..Shade::NONE
        };
        for i in 0..60 {
            let (xa, xb) = (240.0 + i as f32 + 0.5, i as f32 + 0.5);
            let sum = a.weight(xa, 10.0) + b.weight(xb, 10.0);
            assert!((sum - 1.0).abs() < 1e-5, "pixel {i} of the overlap: {sum}");
        }
        assert_eq!(a.weight(100.0, 5.0), 1.0);
        assert_eq!(b.weight(200.0, 5.0), 1.0);
        assert!(!a.is_identity() && Shade::NONE.is_identity());
    }

    #[test]
    fn the_letterbox_dims_outside_the_canvas_and_the_exponent_bends_the_ramp() {
        let s = Shade {
            inside: [10.0, 20.0, 110.0, 70.0],
            outside: 0.25,
            ..Shade::NONE
        };
        assert_eq!(s.weight(50.0, 50.0), 1.0);
        assert_eq!(s.weight(5.0, 50.0), 0.25);
        assert_eq!(s.weight(50.0, 80.0), 0.25);
        let g = Shade {
            left: Some([0.0, 100.0]),
            exponent: 2.2 / 2.4,
            ..Shade::NONE
        };
        assert!((g.weight(25.0, 0.0) - ramp(0.25).powf(2.2 / 2.4)).abs() < 1e-6);
    }
}
