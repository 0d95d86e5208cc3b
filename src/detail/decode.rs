//! Detail decode: an image file as a larger version (long side up to 1024 px) for the
//! renderer's detail tier, off the render thread.
//!
//! Same robustness as [`crate::images`] (format from the content, size checked from the header,
//! EXIF orientation applied, alpha kept premultiplied) with two differences:
//! * a JPEG much larger than wanted is decoded **DCT-scaled** (1/2, 1/4 or 1/8 of its size, by
//!   [`crate::images::jpeg_scaled`], the analysis' decoder), so a 24 Mpx photo costs a 1.5 Mpx decode,
//!   not a full one plus a resize; the result is then resized to the wanted side as thumbnails
//!   are;
//! * the result is kept in the disk cache next to the thumbnails, keyed by the file's content
//!   and the side ([`crate::cache::Cache::load_detail`]): opaque images as JPEG (quality 92),
//!   others as PNG, so a second visit reads a small file instead of decoding the source.

use crate::cache::{content_key, Cache};
use crate::images::{decode_covering, read_image_file, thumbnail, Cover, DecodeError};
use image::{DynamicImage, RgbaImage};
use std::path::Path;

/// Decodes `bytes` for display at a long side of at most `side` px: JPEGs DCT-scaled to the
/// smallest scale that still covers `side` (the analysis' own scaled decoder), other formats in
/// full. EXIF orientation applied.
pub fn decode_scaled(bytes: &[u8], side: u32) -> Result<DynamicImage, DecodeError> {
    decode_covering(
        bytes,
        Cover {
            short: 0,
            long: side,
        },
    )
}

/// The larger version of a file with long side at most `side` (premultiplied RGBA8 sRGB, the
/// thumbnailer's format): from the disk cache when there, else decoded (scaled) and stored.
pub fn load_detail(path: &Path, cache: &Cache, side: u32) -> Result<RgbaImage, DecodeError> {
    let bytes = read_image_file(path)?;
    let key = content_key(&bytes);
    if let Some(img) = cache.load_detail(side, &key) {
        return Ok(img);
    }
    let img = thumbnail(&decode_scaled(&bytes, side)?, side);
    if let Err(e) = cache.store_detail(side, &key, &img) {
        log::debug!("cannot write the detail cache: {e}");
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::jpeg_scaled::test_jpeg as jpeg;

    #[test]
    fn big_jpegs_decode_scaled_and_cover_the_side() {
        let bytes = jpeg(2400, 1600);
        let img = decode_scaled(&bytes, 512).unwrap();
        // 1/4 scale: 600×400 covers 512 px on the long side
        assert_eq!((img.width(), img.height()), (600, 400));
        let full = decode_scaled(&jpeg(700, 500), 512).unwrap();
        assert_eq!((full.width(), full.height()), (700, 500));
        // colours survive the scaled decode (left edge: red 0, right: 255)
        let rgb = img.to_rgb8();
        assert!(rgb.get_pixel(2, 200).0[0] < 20);
        assert!(rgb.get_pixel(597, 200).0[0] > 235);
    }

    #[test]
    fn truncated_and_garbage_jpegs_are_errors() {
        let mut bytes = jpeg(2400, 1600);
        bytes.truncate(bytes.len() / 2);
        assert!(decode_scaled(&bytes, 256).is_err());
        assert!(decode_scaled(&[0xFF, 0xD8, 1, 2, 3], 256).is_err());
    }

    #[test]
    fn details_are_cached_by_content_and_side() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().join("cache"));
        let file = dir.path().join("a.jpg");
        std::fs::write(&file, jpeg(2048, 1024)).unwrap();
        let first = load_detail(&file, &cache, 1024).unwrap();
        assert_eq!(first.dimensions(), (1024, 512));
        // the second load comes from the cache (the source is gone from its first name)
        let moved = dir.path().join("b.jpg");
        std::fs::rename(&file, &moved).unwrap();
        let key = content_key(&std::fs::read(&moved).unwrap());
        assert!(cache.load_detail(1024, &key).is_some());
        let second = load_detail(&moved, &cache, 1024).unwrap();
        assert_eq!(second.dimensions(), (1024, 512));
        assert!(cache.load_detail(512, &key).is_none());
        // transparent images keep their alpha through the cache
        let png = dir.path().join("t.png");
        RgbaImage::from_pixel(2000, 2000, image::Rgba([255, 0, 0, 128]))
            .save(&png)
            .unwrap();
        let t = load_detail(&png, &cache, 256).unwrap();
        let t2 = load_detail(&png, &cache, 256).unwrap();
        assert_eq!(t, t2);
        assert_eq!(t.get_pixel(10, 10).0, [128, 0, 0, 128]);
    }
}
