//! Error type of the renderer: every fallible GPU or data operation returns [`RenderError`]
//! instead of panicking, so the app can report it and keep running.

/// Everything that can go wrong in the renderer.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No wgpu adapter at all, not even a software one.
    #[error(
        "no GPU adapter found: wgpu saw no Vulkan/Metal/DX12 device, not even a software one. \
         On Debian/Ubuntu install Mesa's software Vulkan driver (lavapipe): \
         `apt-get install mesa-vulkan-drivers libvulkan1`"
    )]
    NoAdapter,

    /// The adapter refused to create a device.
    #[error("could not create a GPU device on adapter `{adapter}`: {source}")]
    RequestDevice {
        /// Adapter name as reported by the driver.
        adapter: String,
        /// wgpu's reason.
        #[source]
        source: wgpu::RequestDeviceError,
    },

    /// The atlas cannot be laid out for this many images on this device.
    #[error("texture atlas cannot hold {count} images: {reason}")]
    Atlas {
        /// Number of images requested.
        count: usize,
        /// Human readable reason (which limit was hit).
        reason: String,
    },

    /// An image index past the number of images the renderer was created for.
    #[error("image index {index} out of range (the renderer holds {count} images)")]
    IndexOutOfRange {
        /// Offending index.
        index: usize,
        /// Number of instances.
        count: usize,
    },

    /// A slice whose length does not match the number of instances.
    #[error("{what}: expected {expected} entries, got {got}")]
    LengthMismatch {
        /// What was being updated.
        what: &'static str,
        /// Number of instances.
        expected: usize,
        /// Length of the slice passed in.
        got: usize,
    },

    /// An image that cannot be used (zero size, ...).
    #[error("invalid image: {0}")]
    InvalidImage(String),

    /// A requested size that cannot be rendered (zero, too large, ...).
    #[error("invalid size: {0}")]
    InvalidSize(String),

    /// A texture format the operation does not support.
    #[error("unsupported texture format {format:?}: {reason}")]
    UnsupportedFormat {
        /// The format.
        format: wgpu::TextureFormat,
        /// Why.
        reason: &'static str,
    },

    /// Mapping a readback buffer failed or never completed.
    #[error("reading back the GPU buffer failed: {0}")]
    BufferMap(String),

    /// wgpu reported a validation or out-of-memory error.
    #[error("GPU error while {context}: {message}")]
    Gpu {
        /// What the renderer was doing.
        context: &'static str,
        /// wgpu's message.
        message: String,
    },
}

/// Shorthand result type of the renderer.
pub type Result<T, E = RenderError> = std::result::Result<T, E>;

/// Runs `f` inside wgpu validation + out-of-memory error scopes and turns a captured error
/// into [`RenderError::Gpu`]. Meant for rare operations (creation, screenshots), not per frame.
pub(crate) fn with_error_scope<T>(
    device: &wgpu::Device,
    context: &'static str,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    device.push_error_scope(wgpu::ErrorFilter::Validation);
    let result = f();
    let validation = pollster::block_on(device.pop_error_scope());
    let oom = pollster::block_on(device.pop_error_scope());
    if let Some(err) = validation.or(oom) {
        return Err(RenderError::Gpu {
            context,
            message: err.to_string(),
        });
    }
    result
}
