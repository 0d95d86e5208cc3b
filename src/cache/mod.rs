//! Cache: feature vectors and display thumbnails on disk, so a second run on the same folder
//! (other t-SNE settings, or just reopening the viewer) skips decoding and the CNN.
//!
//! Keys: a feature vector is stored under the blake3 hash of the image file's *content* and a
//! key for the model (hash of the model file) plus the preprocessing settings, so renaming or
//! moving a folder keeps its cache, and editing an image or changing the model invalidates it.
//! Thumbnails are keyed by content hash and thumbnail size. Every file is written to a temporary
//! name and renamed, so an interrupted run never leaves a half-written entry.
//!
//! Location: `--cache-dir`, else `$IMAGE_TSNE_LIVE_CACHE`, else `$XDG_CACHE_HOME/image-tsne-live`,
//! else `~/.cache/image-tsne-live`.
//!
//! [`thumbnails`] reads a file's display thumbnail (and its atlas cell) through the cache.

pub mod thumbnails;

use crate::util::atomic::write_replaceable;
use image::RgbaImage;
use std::path::{Path, PathBuf};

const FEATURE_MAGIC: &[u8; 8] = b"ITLFEAT1";
const THUMB_MAGIC: &[u8; 8] = b"ITLTHMB1";

/// A content hash of an image file (hex blake3).
pub type ContentKey = String;

/// Hash the bytes of an image file.
pub fn content_key(bytes: &[u8]) -> ContentKey {
    blake3::hash(bytes).to_hex().to_string()
}

/// The on-disk cache; `Cache::disabled()` stores and finds nothing.
#[derive(Clone, Debug)]
pub struct Cache {
    root: Option<PathBuf>,
}

/// The cache options every command shares (`analyze`, `add`, `render` and the app).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CacheArgs {
    /// Feature/thumbnail cache folder (default: $IMAGE_TSNE_LIVE_CACHE,
    /// $XDG_CACHE_HOME/image-tsne-live or ~/.cache/image-tsne-live).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Do not read or write the cache.
    #[arg(long)]
    pub no_cache: bool,
}

impl CacheArgs {
    /// The cache these options ask for.
    pub fn cache(&self) -> Cache {
        Cache::from_options(self.cache_dir.as_deref(), self.no_cache)
    }
}

impl Cache {
    /// A cache rooted at `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Cache {
            root: Some(dir.into()),
        }
    }

    /// No caching.
    pub fn disabled() -> Self {
        Cache { root: None }
    }

    /// The default location (see the module docs), or disabled when no home folder is known.
    pub fn default_location() -> Self {
        Cache {
            root: default_dir(),
        }
    }

    /// The cache the command-line options ask for: none with `--no-cache`, else `--cache-dir`,
    /// else the default location. Every front end (CLI, renderer, app) chooses it here.
    pub fn from_options(dir: Option<&Path>, disabled: bool) -> Self {
        match (dir, disabled) {
            (_, true) => Cache::disabled(),
            (Some(d), false) => Cache::at(d),
            (None, false) => Cache::default_location(),
        }
    }

    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    fn feature_path(&self, model_key: &str, key: &str) -> Option<PathBuf> {
        let shard = key.get(..2)?;
        Some(
            self.root
                .as_ref()?
                .join("features")
                .join(model_key)
                .join(shard)
                .join(format!("{key}.f32")),
        )
    }

    fn thumb_path(&self, size: u32, key: &str) -> Option<PathBuf> {
        let shard = key.get(..2)?;
        Some(
            self.root
                .as_ref()?
                .join("thumbs")
                .join(size.to_string())
                .join(shard)
                .join(format!("{key}.rgba")),
        )
    }

    /// A cached feature vector, if present and intact.
    pub fn load_features(&self, model_key: &str, key: &str) -> Option<Vec<f32>> {
        let bytes = std::fs::read(self.feature_path(model_key, key)?).ok()?;
        let body = bytes.strip_prefix(FEATURE_MAGIC.as_slice())?;
        let (len, body) = body.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        if body.len() != len * 4 {
            return None;
        }
        Some(
            body.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }

    /// Store a feature vector (atomically, not flushed to disk: a short file reads as a miss).
    pub fn store_features(
        &self,
        model_key: &str,
        key: &str,
        features: &[f32],
    ) -> std::io::Result<()> {
        let Some(path) = self.feature_path(model_key, key) else {
            return Ok(());
        };
        let mut bytes = Vec::with_capacity(12 + features.len() * 4);
        bytes.extend_from_slice(FEATURE_MAGIC);
        bytes.extend_from_slice(&(features.len() as u32).to_le_bytes());
        for f in features {
            bytes.extend_from_slice(&f.to_le_bytes());
        }
        write_replaceable(&path, &bytes)
    }

    /// A cached thumbnail (premultiplied RGBA), if present and intact.
    pub fn load_thumb(&self, size: u32, key: &str) -> Option<RgbaImage> {
        let bytes = std::fs::read(self.thumb_path(size, key)?).ok()?;
        let body = bytes.strip_prefix(THUMB_MAGIC.as_slice())?;
        let (w, body) = body.split_first_chunk::<4>()?;
        let (h, body) = body.split_first_chunk::<4>()?;
        let (w, h) = (u32::from_le_bytes(*w), u32::from_le_bytes(*h));
        RgbaImage::from_raw(w, h, body.to_vec())
    }

    /// Store a thumbnail (atomically, not flushed to disk: a short file reads as a miss).
    pub fn store_thumb(&self, size: u32, key: &str, thumb: &RgbaImage) -> std::io::Result<()> {
        let Some(path) = self.thumb_path(size, key) else {
            return Ok(());
        };
        let mut bytes = Vec::with_capacity(16 + thumb.as_raw().len());
        bytes.extend_from_slice(THUMB_MAGIC);
        bytes.extend_from_slice(&thumb.width().to_le_bytes());
        bytes.extend_from_slice(&thumb.height().to_le_bytes());
        bytes.extend_from_slice(thumb.as_raw());
        write_replaceable(&path, &bytes)
    }
}

impl Cache {
    fn detail_path(&self, side: u32, key: &str, ext: &str) -> Option<PathBuf> {
        let shard = key.get(..2)?;
        Some(
            self.root
                .as_ref()?
                .join("detail")
                .join(side.to_string())
                .join(shard)
                .join(format!("{key}.{ext}")),
        )
    }

    /// A cached larger version (premultiplied RGBA, long side at most `side`), if present and
    /// readable. Stored next to the thumbnails, keyed by content hash and side.
    pub fn load_detail(&self, side: u32, key: &str) -> Option<RgbaImage> {
        for ext in ["jpg", "png"] {
            let path = self.detail_path(side, key, ext)?;
            if let Ok(bytes) = std::fs::read(&path) {
                // Entries are not flushed to disk: a JPEG cut short by a power cut would decode
                // with grey filled in, so it is a miss (PNG's decoder fails on its own).
                if crate::images::is_truncated_jpeg(&bytes) {
                    return None;
                }
                // PNG holds premultiplied values as they are; JPEG only opaque images
                return image::load_from_memory(&bytes).ok().map(|i| i.to_rgba8());
            }
        }
        None
    }

    /// Store a larger version (atomically, not flushed: a short file reads as a miss): opaque images as JPEG (quality 92, about a tenth
    /// of the raw size), images with transparency as PNG (lossless, premultiplied values).
    pub fn store_detail(&self, side: u32, key: &str, img: &RgbaImage) -> std::io::Result<()> {
        let opaque = img.pixels().all(|p| p.0[3] == 255);
        let Some(path) = self.detail_path(side, key, if opaque { "jpg" } else { "png" }) else {
            return Ok(());
        };
        let mut bytes = Vec::new();
        let encoded = if opaque {
            let rgb = image::DynamicImage::ImageRgba8(img.clone()).to_rgb8();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 92).encode_image(&rgb)
        } else {
            img.write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
        };
        encoded.map_err(std::io::Error::other)?;
        write_replaceable(&path, &bytes)
    }
}

/// `--cache-dir` / `$IMAGE_TSNE_LIVE_CACHE` / `$XDG_CACHE_HOME/image-tsne-live` / `~/.cache/image-tsne-live`.
pub fn default_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("IMAGE_TSNE_LIVE_CACHE")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("image-tsne-live")))
        .or_else(|| env("HOME").map(|h| h.join(".cache").join("image-tsne-live")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_round_trip_and_corruption_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        let key = content_key(b"some image bytes");
        assert!(cache.load_features("m1", &key).is_none());
        cache
            .store_features("m1", &key, &[1.0, -2.5, 3.25])
            .unwrap();
        assert_eq!(cache.load_features("m1", &key), Some(vec![1.0, -2.5, 3.25]));
        assert!(
            cache.load_features("m2", &key).is_none(),
            "other model, other key"
        );
        // a truncated file is a miss, not garbage
        let path = cache.feature_path("m1", &key).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 2]).unwrap();
        assert!(cache.load_features("m1", &key).is_none());
    }

    #[test]
    fn thumbs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        let img = RgbaImage::from_fn(3, 2, |x, y| image::Rgba([x as u8, y as u8, 7, 255]));
        cache.store_thumb(64, "abcdef", &img).unwrap();
        assert_eq!(cache.load_thumb(64, "abcdef"), Some(img));
        assert!(cache.load_thumb(128, "abcdef").is_none());
        // Entries are not flushed to disk: after a power cut one may be short or empty, and
        // must then read as a miss.
        let path = cache.thumb_path(64, "abcdef").unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert!(cache.load_thumb(64, "abcdef").is_none());
        std::fs::write(&path, b"").unwrap();
        assert!(cache.load_thumb(64, "abcdef").is_none());
    }

    #[test]
    fn a_detail_version_cut_short_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        let img = RgbaImage::from_fn(64, 48, |x, y| {
            image::Rgba([(x * 4) as u8, (y * 5) as u8, 90, 255])
        });
        cache.store_detail(256, "abcdef", &img).unwrap();
        let back = cache.load_detail(256, "abcdef").expect("stored");
        assert_eq!(back.dimensions(), (64, 48));
        let path = cache.detail_path(256, "abcdef", "jpg").unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
        assert!(cache.load_detail(256, "abcdef").is_none());
    }

    #[test]
    fn disabled_cache_stores_nothing() {
        let cache = Cache::disabled();
        cache.store_features("m", "abcd", &[1.0]).unwrap();
        assert!(cache.load_features("m", "abcd").is_none());
    }
}
