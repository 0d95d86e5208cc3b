//! Prepare: what later stages need from a decoded image — the CNN input (alpha composited on
//! a fixed background, square centre crop or squash, resized) and the display thumbnail (aspect
//! kept, alpha kept as premultiplied RGBA) — from one decode ([`prepare_bytes`]).

use super::decode::{decode_covering, reduce_to_cover, Cover, DecodeError};
use super::resample;
use image::imageops::FilterType;
use image::{DynamicImage, RgbImage, RgbaImage};

/// How the CNN input is cut from the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Crop {
    /// The largest centred square, then resized (keeps proportions; the default).
    #[default]
    Center,
    /// The whole image squashed to a square.
    Squash,
}

/// Preprocessing settings; they are part of the feature cache key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Preprocess {
    /// Colour that transparent pixels are composited onto for the CNN.
    pub background: [u8; 3],
    /// Side of the square CNN input.
    pub input_size: u32,
    pub crop: Crop,
    /// Longest side of the display thumbnail.
    pub thumb_size: u32,
}

impl Default for Preprocess {
    fn default() -> Self {
        Preprocess {
            background: [255, 255, 255],
            input_size: 224,
            crop: Crop::Center,
            thumb_size: 256,
        }
    }
}

impl Preprocess {
    /// A short string that identifies the settings that change the CNN input.
    pub fn cache_tag(&self) -> String {
        let [r, g, b] = self.background;
        format!(
            "v1-{:?}-{}-{r:02x}{g:02x}{b:02x}",
            self.crop, self.input_size
        )
        .to_lowercase()
    }
}

/// Composite an image onto an opaque background colour (straight alpha in, opaque RGB out).
pub fn composite_on(img: &DynamicImage, background: [u8; 3]) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let a = src[3] as u32;
        for c in 0..3 {
            let v = src[c] as u32 * a + background[c] as u32 * (255 - a);
            dst[c] = ((v + 127) / 255) as u8;
        }
    }
    out
}

/// The CNN input: composite, crop to a square, resize to `input_size`².
pub fn cnn_input(img: &DynamicImage, prep: &Preprocess) -> RgbImage {
    let size = prep.input_size.max(1);
    let (w, h) = (img.width(), img.height());
    let square = match prep.crop {
        Crop::Center => {
            let s = w.min(h);
            img.crop_imm((w - s) / 2, (h - s) / 2, s, s)
        }
        Crop::Squash => img.clone(),
    };
    // Very large images: a fast box-filter reduction first, then the accurate filter.
    let reduced = if square.width() > 4 * size || square.height() > 4 * size {
        square.thumbnail_exact(4 * size, 4 * size)
    } else {
        square
    };
    let rgb = composite_on(&reduced, prep.background);
    resample::resize(&rgb, size, size, FilterType::Triangle)
}

/// The display thumbnail: longest side at most `thumb_size`, aspect kept, premultiplied alpha
/// (so that resizing does not bleed the colour hidden in transparent pixels into the edges).
pub fn thumbnail(img: &DynamicImage, thumb_size: u32) -> RgbaImage {
    // far larger than the thumbnail: a box filter down to twice its size first (alpha-weighted,
    // so the same as averaging premultiplied colour), the Catmull-Rom filter for the rest
    let twice = Cover {
        short: 0,
        long: 2 * thumb_size,
    };
    let (w, h) = (img.width(), img.height());
    let long = w.max(h);
    let mut rgba = if long >= 4 * thumb_size {
        reduce_to_cover(img.clone(), twice).to_rgba8()
    } else {
        img.to_rgba8()
    };
    premultiply(&mut rgba);
    if long <= thumb_size {
        return rgba;
    }
    // the size from the image's own proportions, not the box-reduced ones
    let scale = thumb_size as f64 / long as f64;
    let nw = ((w as f64 * scale).round() as u32).clamp(1, thumb_size);
    let nh = ((h as f64 * scale).round() as u32).clamp(1, thumb_size);
    resample::resize(&rgba, nw, nh, FilterType::CatmullRom)
}

/// Multiply colour by alpha in place.
pub fn premultiply(img: &mut RgbaImage) {
    for p in img.pixels_mut() {
        let a = p[3] as u32;
        if a != 255 {
            for c in 0..3 {
                p[c] = ((p[c] as u32 * a + 127) / 255) as u8;
            }
        }
    }
}

/// Everything the pipeline needs from one image.
pub struct Prepared {
    pub cnn_input: RgbImage,
    pub thumb: RgbaImage,
    /// Size of the upright decoded image: for a big JPEG the DCT-scaled size, for a big PNG/WebP
    /// the box-reduced one ([`decode_covering`]).
    pub width: u32,
    pub height: u32,
}

impl Preprocess {
    /// What one decode must keep for both products: the CNN's square (cut from the short side,
    /// or the whole image squashed) and the thumbnail's long side.
    ///
    /// The short side keeps twice the CNN's input size, so that the last resize is a real
    /// downsampling whose filter, not the DCT scaling, shapes what the CNN sees: with just the
    /// input size (what PIL's `draft` keeps), 1600×1067 photos decoded at 1/4 gave features at
    /// cosine 0.993 of a full decode and flipped the ImageNet top-1 class of 2 in 14 test photos;
    /// with twice, none (`tests/decode_fast_path.rs`). A 24 Mpx photo still decodes at 1/8.
    pub fn cover(&self) -> Cover {
        Cover {
            short: 2 * self.input_size,
            long: self.thumb_size,
        }
    }
}

/// Decode bytes once and make both the CNN input and the thumbnail from that one decode (a big
/// JPEG at the smallest DCT scale that covers both).
pub fn prepare_bytes(bytes: &[u8], prep: &Preprocess) -> Result<Prepared, DecodeError> {
    let img = decode_covering(bytes, prep.cover())?;
    Ok(Prepared {
        cnn_input: cnn_input(&img, prep),
        thumb: thumbnail(&img, prep.thumb_size),
        width: img.width(),
        height: img.height(),
    })
}
