//! Thumbnails: an image file's display thumbnail, from the cache when it has it (keyed by the
//! file's content), and the same as an atlas cell — letterboxed and mipmapped for an atlas plan.
//! The app, the `render` command and the renderer's tests all fill atlases through here, so the
//! renderer itself never reads files.

use super::{content_key, Cache};
use crate::images::{decode_covering, read_image_file, thumbnail, Cover, DecodeError};
use crate::render::{prepare_cell, AtlasPlan, PreparedCell};
use image::RgbaImage;
use std::path::Path;

/// Thumbnail size read from / written to the cache (the analysis writes this size).
pub const THUMB_SIZE: u32 = 256;

/// One image's atlas cell: its thumbnail (cache first) letterboxed and mipmapped for `plan`;
/// the error says why the image cannot be shown (missing, undecodable).
pub fn load_cell(path: &Path, cache: &Cache, plan: &AtlasPlan) -> Result<PreparedCell, String> {
    if !path.exists() {
        return Err("file not found".into());
    }
    let thumb = load_thumbnail(path, cache, THUMB_SIZE).map_err(|e| e.to_string())?;
    prepare_cell(plan, &thumb).map_err(|e| e.to_string())
}

/// The display thumbnail of a file, from the cache when it is there (keyed by the file's
/// content), else decoded and stored in the cache.
pub fn load_thumbnail(
    path: &Path,
    cache: &Cache,
    thumb_size: u32,
) -> Result<RgbaImage, DecodeError> {
    let bytes = read_image_file(path)?;
    let key = content_key(&bytes);
    if let Some(thumb) = cache.load_thumb(thumb_size, &key) {
        return Ok(thumb);
    }
    let cover = Cover {
        short: 0,
        long: thumb_size,
    };
    let thumb = thumbnail(&decode_covering(&bytes, cover)?, thumb_size);
    if let Err(e) = cache.store_thumb(thumb_size, &key, &thumb) {
        log::debug!("cannot write the thumbnail cache: {e}");
    }
    Ok(thumb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_broken_files_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let plan = AtlasPlan::new(4, &Default::default(), &wgpu::Limits::default()).unwrap();
        let cache = Cache::disabled();
        let err = load_cell(&dir.path().join("gone.png"), &cache, &plan).unwrap_err();
        assert_eq!(err, "file not found");
        let broken = dir.path().join("broken.png");
        std::fs::write(&broken, b"not a png").unwrap();
        assert!(load_cell(&broken, &cache, &plan).is_err());
        let good = dir.path().join("good.png");
        image::RgbImage::from_pixel(40, 20, image::Rgb([200, 10, 10]))
            .save(&good)
            .unwrap();
        let cell = load_cell(&good, &cache, &plan).unwrap();
        assert!((cell.aspect - 2.0).abs() < 1e-6, "{}", cell.aspect);
    }
}
