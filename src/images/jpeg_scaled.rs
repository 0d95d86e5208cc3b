//! Scaled JPEG decoding: a camera photo decoded straight to the smallest size that still covers
//! what the stages need, instead of decoding 24 megapixels and throwing most of them away.
//!
//! A JPEG stores 8×8 blocks of DCT coefficients, so libjpeg can reconstruct each block at 1×1,
//! 2×2 or 4×4 pixels (1/8, 1/4, 1/2 scale) from its low frequencies: a 6000×4000 photo becomes a
//! 750×500 image at the cost of the entropy decoding alone, which is still far more than the CNN's
//! 224 px crop and the 256 px thumbnail need. This is what PIL's `draft()` does; we use the same
//! library (libjpeg-turbo, with its SIMD code when `nasm` was present at build time, through the
//! `mozjpeg` crate), which measured 2.7× faster than `jpeg-decoder`'s scaled decode and 6× faster
//! than a full decode with zune-jpeg on 24 Mpx photos (`examples/bench_photos.rs`).
//!
//! Only the common case is taken here: 8-bit baseline or progressive JPEGs in YCbCr or grey,
//! big enough for a scale to apply. Anything else (CMYK/YCCK, 12-bit, arithmetic coding, a header
//! libjpeg rejects, an error in the middle) returns `Ok(None)` and the caller decodes in full as
//! before, so the outcome for an odd file is the full decoder's, never a new failure.

use crate::images::{is_truncated_jpeg, DecodeError, MAX_PIXELS};
use image::{DynamicImage, GrayImage, RgbImage};

/// The least a decoded image must keep, in pixels of the upright image: its short side at least
/// `short` (the CNN's square crop) and its long side at least `long` (a thumbnail or a detail
/// version). A zero asks nothing of that side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cover {
    pub short: u32,
    pub long: u32,
}

impl Cover {
    /// Whether an image of `w × h` covers this.
    pub fn covered_by(&self, w: u32, h: u32) -> bool {
        w.min(h) >= self.short && w.max(h) >= self.long
    }
}

/// The DCT scale numerator (over 8) that decodes `w × h` to the smallest size still covering
/// `cover`: 1, 2 or 4 (the scales libjpeg-turbo has fast reduced IDCTs for), or `None` when only
/// the full size covers it.
pub fn scale_for(w: u32, h: u32, cover: Cover) -> Option<u8> {
    [1u8, 2, 4].into_iter().find(|&num| {
        let (sw, sh) = scaled_size(w, h, num);
        cover.covered_by(sw, sh)
    })
}

/// libjpeg's output size at `num`/8: each side rounded up.
fn scaled_size(w: u32, h: u32, num: u8) -> (u32, u32) {
    let s = |v: u32| (v as u64 * num as u64).div_ceil(8) as u32;
    (s(w), s(h))
}

/// Decode `bytes` (a JPEG) DCT-scaled to cover `cover`, EXIF orientation applied.
///
/// * `Ok(Some(img))`: decoded scaled;
/// * `Ok(None)`: not a case for the scaled decoder (see the module doc) — decode in full;
/// * `Err`: the file is certainly unusable (zero size, over [`MAX_PIXELS`], cut short), with the
///   same reasons the full decoder gives.
pub fn decode(bytes: &[u8], cover: Cover) -> Result<Option<DynamicImage>, DecodeError> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Ok(None);
    }
    // libjpeg fills a cut-off scan with grey and only warns; the full decoder refuses such a
    // file, and so do we (checked before any pixel is decoded).
    if is_truncated_jpeg(bytes) {
        return Err(DecodeError::Corrupt(
            "JPEG ends before its end-of-image marker".into(),
        ));
    }
    // libjpeg reports errors by unwinding out of its error handler (the `mozjpeg` crate's
    // design); nothing here is left half-updated by such an unwind.
    let decoded = std::panic::catch_unwind(|| decode_unwinding(bytes, cover));
    match decoded {
        Ok(result) => result,
        Err(_) => Ok(None), // libjpeg gave up: the full decoder says why, or manages
    }
}

/// The body of [`decode`]; libjpeg errors unwind out of it.
fn decode_unwinding(bytes: &[u8], cover: Cover) -> Result<Option<DynamicImage>, DecodeError> {
    let markers = [mozjpeg::Marker::APP(1)];
    let Ok(mut dec) = mozjpeg::Decompress::builder()
        .with_markers(&markers)
        .from_mem(bytes)
    else {
        return Ok(None);
    };
    let (w, h) = (dec.width() as u32, dec.height() as u32);
    if w == 0 || h == 0 {
        return Err(DecodeError::ZeroSize);
    }
    if w as u64 * h as u64 > MAX_PIXELS {
        return Err(DecodeError::TooLarge {
            width: w,
            height: h,
        });
    }
    let Some(num) = scale_for(w, h, cover) else {
        return Ok(None);
    };
    let orientation = dec
        .markers()
        .filter(|m| m.marker == mozjpeg::Marker::APP(1))
        .find_map(|m| m.data.strip_prefix(b"Exif\0\0"))
        .and_then(image::metadata::Orientation::from_exif_chunk)
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    dec.scale(num);
    let (gray, mut started) = match dec.image() {
        Ok(mozjpeg::Format::RGB(started)) => (false, started),
        Ok(mozjpeg::Format::Gray(started)) => (true, started),
        // CMYK / YCCK: the full decoder converts them
        Ok(_) | Err(_) => return Ok(None),
    };
    let (sw, sh) = (started.width() as u32, started.height() as u32);
    let Ok(pixels) = started.read_scanlines::<u8>() else {
        return Ok(None);
    };
    if started.finish().is_err() {
        return Ok(None);
    }
    let img = if gray {
        GrayImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageLuma8)
    } else {
        RgbImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageRgb8)
    };
    let Some(mut img) = img else {
        return Ok(None); // fewer pixels than the size says: let the full decoder judge
    };
    img.apply_orientation(orientation);
    Ok(Some(img))
}

/// A 8-bit RGB test JPEG (quality 90): red rising left to right, green top to bottom, a blue
/// 8 px checkerboard — colours that show where each part of the image went.
#[cfg(test)]
pub(crate) fn test_jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x / 8 + y / 8) % 2 * 200) as u8,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .expect("encoding a test JPEG");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        test_jpeg(w, h)
    }

    #[test]
    fn the_smallest_scale_that_covers_is_chosen() {
        let cnn = Cover {
            short: 224,
            long: 256,
        };
        assert_eq!(scale_for(6000, 4000, cnn), Some(1)); // 750×500
        assert_eq!(scale_for(2000, 1500, cnn), Some(2)); // 188 < 224 at 1/8; 375 at 1/4
        assert_eq!(scale_for(1000, 600, cnn), Some(4)); // 300 at 1/2
        assert_eq!(scale_for(400, 300, cnn), None);
        // a detail version asks for the long side only
        let detail = Cover {
            short: 0,
            long: 1024,
        };
        assert_eq!(scale_for(6000, 4000, detail), Some(2)); // 1500
        assert_eq!(scale_for(4096, 4096, detail), Some(2)); // exactly 1024
        assert_eq!(scale_for(1500, 1000, detail), None);
        // sizes round up like libjpeg's
        assert_eq!(scaled_size(6001, 4001, 1), (751, 501));
    }

    #[test]
    fn a_photo_decodes_scaled_with_its_colours() {
        let bytes = jpeg(2400, 1600);
        let cover = Cover {
            short: 224,
            long: 256,
        };
        let img = decode(&bytes, cover).unwrap().expect("scaled");
        // 1/4 scale: 1/8 would give a 200 px short side
        assert_eq!((img.width(), img.height()), (600, 400));
        let rgb = img.to_rgb8();
        assert!(rgb.get_pixel(2, 200).0[0] < 20);
        assert!(rgb.get_pixel(597, 200).0[0] > 235);
        assert!(rgb.get_pixel(300, 2).0[1] < 20);
        assert!(rgb.get_pixel(300, 397).0[1] > 235);
        // small enough: no scale applies, the caller decodes in full
        assert!(decode(&jpeg(300, 200), cover).unwrap().is_none());
    }

    #[test]
    fn exif_orientation_is_applied() {
        // an APP1 Exif block (little-endian TIFF, one IFD entry: orientation = 6, rotate 90° cw)
        let mut exif =
            b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0".to_vec();
        let len = (exif.len() + 2) as u16;
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&len.to_be_bytes());
        app1.append(&mut exif);
        let plain = jpeg(2400, 1600);
        let mut rotated = plain[..2].to_vec();
        rotated.extend_from_slice(&app1);
        rotated.extend_from_slice(&plain[2..]);
        let cover = Cover {
            short: 0,
            long: 256,
        };
        let img = decode(&rotated, cover).unwrap().expect("scaled");
        assert_eq!((img.width(), img.height()), (200, 300));
        // rotated 90° clockwise: the old left edge (red 0) is now the top
        let rgb = img.to_rgb8();
        assert!(rgb.get_pixel(100, 1).0[0] < 20);
        assert!(rgb.get_pixel(100, 298).0[0] > 235);
    }

    #[test]
    fn broken_jpegs_are_errors_or_left_to_the_full_decoder() {
        let cover = Cover {
            short: 224,
            long: 256,
        };
        let mut cut = jpeg(2400, 1600);
        cut.truncate(cut.len() / 2);
        assert!(decode(&cut, cover).is_err());
        // garbage after the SOI: libjpeg gives up, the full decoder will say why
        let garbage = [0xFF, 0xD8, 0xFF, 0xD9, 1, 2, 3];
        assert!(matches!(decode(&garbage, cover), Ok(None) | Err(_)));
        // not a JPEG at all
        assert!(decode(b"\x89PNG....", cover).unwrap().is_none());
    }
}
