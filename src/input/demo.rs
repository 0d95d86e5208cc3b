//! Demo: the bundled demo image set (360 emoji from `assets/demo`, compiled into the binary),
//! unpacked into the cache folder on first use so the app opens something without arguments.

use crate::cache::Cache;
use crate::util::atomic::write_atomic;
use std::path::PathBuf;

include!(concat!(env!("OUT_DIR"), "/demo_files.rs"));

/// Number of images in the demo set.
pub fn image_count() -> usize {
    DEMO_FILES
        .iter()
        .filter(|(name, _)| crate::input::scan::has_image_extension(std::path::Path::new(name)))
        .count()
}

/// The folder holding the unpacked demo set: `<cache>/demo-<hash>` (or a folder under the system
/// temp dir when the cache is disabled). Files already there with the right size are kept.
pub fn demo_dir(cache: &Cache) -> std::io::Result<PathBuf> {
    let mut hasher = blake3::Hasher::new();
    for (name, bytes) in DEMO_FILES {
        hasher.update(name.as_bytes());
        hasher.update(bytes);
    }
    let tag = hasher.finalize().to_hex();
    let base = cache
        .root()
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("image-tsne-live"));
    let dir = base.join(format!("demo-{}", &tag[..12]));
    for (name, bytes) in DEMO_FILES {
        let path = dir.join(name);
        let ok = std::fs::metadata(&path)
            .map(|m| m.len() == bytes.len() as u64)
            .unwrap_or(false);
        if !ok {
            write_atomic(&path, bytes)?;
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_set_is_embedded_small_and_unpacks() {
        assert_eq!(image_count(), 360);
        let total: usize = DEMO_FILES.iter().map(|(_, b)| b.len()).sum();
        assert!(total < 5 * 1024 * 1024, "demo set is {total} bytes");
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::at(tmp.path());
        let dir = demo_dir(&cache).unwrap();
        let found = crate::input::scan::scan(&dir, false).unwrap();
        assert_eq!(found.images.len(), 360);
        // a second call reuses the files
        assert_eq!(demo_dir(&cache).unwrap(), dir);
    }
}
