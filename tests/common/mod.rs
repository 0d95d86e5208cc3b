//! Helpers shared by the integration tests: where the shared datasets are, label files.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The read-only shared resources: `$IMAGE_TSNE_LIVE_SHARED`, else `../shared` beside the
/// checkout. Panics with a clear message when they are missing: these tests need real data.
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

/// `relpath -> category` from a dataset's `labels.csv`.
pub fn labels(dataset: &Path) -> HashMap<PathBuf, String> {
    let text = std::fs::read_to_string(dataset.join("labels.csv")).expect("labels.csv");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let (rel, cat) = line.rsplit_once(',')?;
            Some((dataset.join(rel), cat.trim_matches('"').to_string()))
        })
        .collect()
}

/// Parse a simple CSV line with optional double-quoted fields.
pub fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}
