//! Images: from a file's bytes to what the stages need. [`decode`] reads one file robustly
//! (format from the content, EXIF orientation, size limits) and at the smallest size that
//! covers the need — big JPEGs DCT-scaled by [`jpeg_scaled`] (libjpeg-turbo), other big images
//! box-reduced (WebP by libwebp, [`webp_scaled`]); [`prepare`] cuts the CNN input and the display thumbnail from that one decode;
//! [`resample`] is the resize both use. Nothing here knows about the cache or the GPU.

pub mod decode;
pub mod jpeg_scaled;
pub mod prepare;
pub mod resample;
pub mod webp_scaled;

pub use decode::*;
pub use prepare::*;

#[cfg(test)]
mod tests;
