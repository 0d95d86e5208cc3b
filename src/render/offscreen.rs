//! Headless GPU: a window-less wgpu device (lavapipe works), offscreen colour targets (optional
//! MSAA) and texture readback into an `image::RgbaImage` (256-byte row alignment handled).

use image::RgbaImage;

use super::error::{RenderError, Result};
use super::gpu_errors::GpuErrorLog;
use super::quads::TargetDesc;

/// A device + queue created without any window or surface.
#[derive(Debug)]
pub struct GpuContext {
    /// The adapter (software adapters such as lavapipe are accepted).
    pub adapter: wgpu::Adapter,
    /// The device, created with all the limits the adapter offers.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// The device's uncaptured errors (counted and logged once each instead of a panic).
    pub errors: GpuErrorLog,
}

impl GpuContext {
    /// Creates a headless device: any backend wgpu finds (`WGPU_BACKEND` env var honoured),
    /// `compatible_surface: None`, falling back to a software (CPU) adapter. Uncaptured wgpu
    /// errors are logged and kept for [`take_errors`](Self::take_errors) instead of panicking.
    pub fn new_headless() -> Result<Self> {
        let backends = wgpu::util::backend_bits_from_env().unwrap_or(wgpu::Backends::PRIMARY);
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends,
            dx12_shader_compiler: Default::default(),
        });
        let request = |force_fallback_adapter| {
            pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter,
                compatible_surface: None,
            }))
        };
        let adapter = request(false)
            .or_else(|| request(true))
            .ok_or(RenderError::NoAdapter)?;
        let info = adapter.get_info();
        log::info!(
            "headless GPU adapter: {} ({:?}, {:?})",
            info.name,
            info.device_type,
            info.backend
        );
        let (device, queue) = pollster::block_on(adapter.request_device(
            &wgpu::DeviceDescriptor {
                label: Some("image-tsne headless device"),
                features: wgpu::Features::empty(),
                limits: adapter.limits(),
            },
            None,
        ))
        .map_err(|source| RenderError::RequestDevice {
            adapter: info.name.clone(),
            source,
        })?;
        let errors = GpuErrorLog::new();
        errors.install(&device);
        Ok(Self {
            adapter,
            device,
            queue,
            errors,
        })
    }

    /// Adapter name, type and backend, for logs and reports.
    pub fn adapter_summary(&self) -> String {
        let i = self.adapter.get_info();
        format!("{} ({:?}, {:?})", i.name, i.device_type, i.backend)
    }

    /// wgpu errors that were not captured by an error scope since the last call.
    pub fn take_errors(&self) -> Vec<String> {
        self.errors.take_new().into_iter().map(|(_, m)| m).collect()
    }
}

/// `bytes_per_row` for a texture→buffer copy: `width · 4` rounded up to 256.
pub fn padded_bytes_per_row(width: u32) -> u32 {
    let unpadded = width * 4;
    let align = wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
    unpadded.div_ceil(align) * align
}

/// An offscreen colour target: a single-sample RGBA8 texture that can be copied out, plus an
/// MSAA texture rendered into and resolved to it when `sample_count > 1`.
#[derive(Debug)]
pub struct OffscreenTarget {
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    msaa_view: Option<wgpu::TextureView>,
    width: u32,
    height: u32,
    desc: TargetDesc,
}

impl OffscreenTarget {
    /// A `width × height` target; the format must be `Rgba8UnormSrgb` or `Rgba8Unorm` (for
    /// readback), and both sizes at most the device's `max_texture_dimension_2d`.
    pub fn new(device: &wgpu::Device, width: u32, height: u32, desc: TargetDesc) -> Result<Self> {
        if !matches!(
            desc.format,
            wgpu::TextureFormat::Rgba8UnormSrgb | wgpu::TextureFormat::Rgba8Unorm
        ) {
            return Err(RenderError::UnsupportedFormat {
                format: desc.format,
                reason: "offscreen targets must be Rgba8UnormSrgb or Rgba8Unorm",
            });
        }
        let max = device.limits().max_texture_dimension_2d;
        if width == 0 || height == 0 || width > max || height > max {
            return Err(RenderError::InvalidSize(format!(
                "offscreen target {width}×{height} (each side must be 1..={max})"
            )));
        }
        let size = wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        };
        super::error::with_error_scope(device, "creating an offscreen target", || {
            let texture = device.create_texture(&wgpu::TextureDescriptor {
                label: Some("image-tsne offscreen"),
                size,
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: desc.format,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
                view_formats: &[],
            });
            let view = texture.create_view(&Default::default());
            let msaa_view = (desc.sample_count > 1).then(|| {
                device
                    .create_texture(&wgpu::TextureDescriptor {
                        label: Some("image-tsne offscreen msaa"),
                        size,
                        mip_level_count: 1,
                        sample_count: desc.sample_count,
                        dimension: wgpu::TextureDimension::D2,
                        format: desc.format,
                        usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
                        view_formats: &[],
                    })
                    .create_view(&Default::default())
            });
            Ok(Self {
                texture,
                view,
                msaa_view,
                width,
                height,
                desc,
            })
        })
    }

    /// Size in pixels.
    pub fn size(&self) -> [u32; 2] {
        [self.width, self.height]
    }

    /// Format and sample count (to build a matching pipeline).
    pub fn desc(&self) -> TargetDesc {
        self.desc
    }

    /// The view to render into (the MSAA texture if any).
    pub fn render_view(&self) -> &wgpu::TextureView {
        self.msaa_view.as_ref().unwrap_or(&self.view)
    }

    /// The resolve target to pass with [`render_view`](Self::render_view) (`Some` with MSAA).
    pub fn resolve_target(&self) -> Option<&wgpu::TextureView> {
        self.msaa_view.as_ref().map(|_| &self.view)
    }

    /// The single-sample texture that is read back.
    pub fn texture(&self) -> &wgpu::Texture {
        &self.texture
    }

    /// Copies the target to the CPU (submits a copy and blocks until it is done).
    pub fn read(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Result<RgbaImage> {
        read_texture_rgba8(device, queue, &self.texture, self.width, self.height)
    }
}

/// Reads mip 0 / layer 0 of an RGBA8 texture (with `COPY_SRC`) into an image, removing the
/// 256-byte row padding. Blocks on `device.poll(Maintain::Wait)`.
pub fn read_texture_rgba8(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    texture: &wgpu::Texture,
    width: u32,
    height: u32,
) -> Result<RgbaImage> {
    let pixels = read_texture_bytes(device, queue, texture, width, height, 4)?;
    RgbaImage::from_raw(width, height, pixels)
        .ok_or_else(|| RenderError::BufferMap("readback returned too few bytes".into()))
}

/// Reads mip 0 / layer 0 of any single-sample colour texture with `bytes_per_pixel` bytes per
/// texel (e.g. 8 for `Rgba16Float`) into tightly packed rows. Blocks until done.
pub fn read_texture_bytes(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    texture: &wgpu::Texture,
    width: u32,
    height: u32,
    bytes_per_pixel: u32,
) -> Result<Vec<u8>> {
    if width == 0 || height == 0 || bytes_per_pixel == 0 {
        return Err(RenderError::InvalidSize(format!(
            "readback of {width}×{height} × {bytes_per_pixel} bytes"
        )));
    }
    let row = width as usize * bytes_per_pixel as usize;
    let align = wgpu::COPY_BYTES_PER_ROW_ALIGNMENT as usize;
    let padded = row.div_ceil(align) * align;
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("image-tsne readback"),
        size: padded as u64 * height as u64,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("image-tsne readback"),
    });
    encoder.copy_texture_to_buffer(
        wgpu::ImageCopyTexture {
            texture,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        wgpu::ImageCopyBuffer {
            buffer: &buffer,
            layout: wgpu::ImageDataLayout {
                offset: 0,
                bytes_per_row: Some(padded as u32),
                rows_per_image: Some(height),
            },
        },
        wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
    );
    queue.submit(Some(encoder.finish()));
    let slice = buffer.slice(..);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device.poll(wgpu::Maintain::Wait);
    match rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(RenderError::BufferMap(e.to_string())),
        Err(_) => {
            return Err(RenderError::BufferMap(
                "the map callback never ran (device lost?)".into(),
            ))
        }
    }
    let mut pixels = Vec::new();
    pixels
        .try_reserve_exact(row * height as usize)
        .map_err(|e| RenderError::InvalidSize(format!("readback {width}×{height}: {e}")))?;
    {
        let data = slice.get_mapped_range();
        for chunk in data.chunks(padded).take(height as usize) {
            match chunk.get(..row) {
                Some(r) => pixels.extend_from_slice(r),
                None => return Err(RenderError::BufferMap("short readback row".into())),
            }
        }
    }
    buffer.unmap();
    if pixels.len() != row * height as usize {
        return Err(RenderError::BufferMap(
            "readback returned too few rows".into(),
        ));
    }
    Ok(pixels)
}
