//! Where the benchmarks and examples find the big shared datasets (never the tests).

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
