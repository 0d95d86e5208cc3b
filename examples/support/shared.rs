//! Where the benchmarks and examples find the big shared datasets (never the tests).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The read-only shared resources: `$IMAGE_TSNE_LIVE_SHARED`, else `../shared` beside the
/// checkout. Panics with a clear message when they are missing. For benchmarks and examples
/// only: the tests use the repository's fixtures, so that a fresh clone passes `cargo test`.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("IMAGE_TSNE_LIVE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    assert!(
        dir.join("datasets").is_dir(),
        "shared datasets not found at {} (set IMAGE_TSNE_LIVE_SHARED)",
        dir.display()
    );
    // canonical, like the paths the scan reports
    dir.canonicalize().unwrap_or(dir)
}

/// The `large-images` set's pictures (JPEG, PNG, WebP), sorted; an error when there are none.
pub fn large_images() -> anyhow::Result<Vec<PathBuf>> {
    let src = shared_dir().join("datasets/large-images");
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&src)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                ["jpg", "jpeg", "png", "webp"].contains(&e.to_lowercase().as_str())
            })
        })
        .collect();
    files.sort();
    anyhow::ensure!(!files.is_empty(), "no images in {}", src.display());
    Ok(files)
}
