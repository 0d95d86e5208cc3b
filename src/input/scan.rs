//! Scan: find the image files below a folder, in a deterministic order, and pick a seeded random
//! subset when there are more than the user asked for.
//!
//! Rules (documented in docs/analysis.md):
//! - extensions `jpg jpeg png gif bmp webp tif tiff`, case-insensitive; the format itself is
//!   detected from the content when decoding, so a PNG named `.jpg` still works;
//! - hidden files and folders (name starting with `.`) are skipped unless `include_hidden`;
//! - symbolic links are followed (folders and files), loops are detected and reported, and every
//!   real file is listed once: a link to a file that is also reached directly is dropped;
//! - the result is sorted by path, so the same folder always gives the same list.

use rand::seq::index;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// File extensions (lower case) that the scan treats as images.
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff"];

/// What the scan found.
#[derive(Debug, Default)]
pub struct ScanResult {
    /// Image files, sorted, each real file once.
    pub images: Vec<PathBuf>,
    /// Entries that could not be read (loops, permission errors, dangling links), with the reason.
    pub problems: Vec<(PathBuf, String)>,
}

/// Does this file name have one of [`IMAGE_EXTENSIONS`]?
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

fn is_hidden(entry: &walkdir::DirEntry) -> bool {
    entry.depth() > 0
        && entry
            .file_name()
            .to_str()
            .is_some_and(|s| s.starts_with('.'))
}

/// Recursively list the images below `root`. The paths are absolute: `root` is made canonical
/// first (no `..`, links in the root itself resolved).
pub fn scan(root: &Path, include_hidden: bool) -> std::io::Result<ScanResult> {
    let root = &std::fs::canonicalize(root)?;
    let meta = std::fs::metadata(root)?;
    if !meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a folder", root.display()),
        ));
    }
    let mut result = ScanResult::default();
    let mut seen = HashSet::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| include_hidden || !is_hidden(e));
    let mut found = Vec::new();
    for entry in walker {
        match entry {
            Ok(entry) => {
                if entry.file_type().is_file() && has_image_extension(entry.path()) {
                    found.push(entry.path().to_path_buf());
                }
            }
            Err(err) => {
                let path = err
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.into());
                let dangling =
                    err.io_error().map(|e| e.kind()) == Some(std::io::ErrorKind::NotFound);
                let reason = if err.loop_ancestor().is_some() {
                    "symbolic link loop, not followed".to_string()
                } else if dangling {
                    "dangling symbolic link".to_string()
                } else {
                    err.to_string()
                };
                // A dangling link that is not named like an image is noise, not a problem.
                if !dangling || has_image_extension(&path) {
                    result.problems.push((path, reason));
                }
            }
        }
    }
    // Prefer the path reached without a link: sort so that non-link paths come first per target.
    found.sort();
    let mut direct: Vec<(PathBuf, bool)> = found
        .into_iter()
        .map(|p| {
            let is_link = p
                .symlink_metadata()
                .map(|m| m.file_type().is_symlink())
                .unwrap_or(false);
            (p, is_link)
        })
        .collect();
    direct.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    let mut keep = Vec::new();
    for (path, _) in direct {
        let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if seen.insert(key) {
            keep.push(path);
        }
    }
    keep.sort();
    result.images = keep;
    Ok(result)
}

/// Choose at most `max` of `paths` at random (seeded), keeping their sorted order.
/// With `max >= paths.len()` everything is kept.
pub fn random_subset(paths: Vec<PathBuf>, max: usize, seed: u64) -> Vec<PathBuf> {
    if paths.len() <= max {
        return paths;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chosen = index::sample(&mut rng, paths.len(), max).into_vec();
    chosen.sort_unstable();
    let mut slots: Vec<Option<PathBuf>> = paths.into_iter().map(Some).collect();
    chosen.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn touch(p: &Path) {
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(p, b"x").unwrap();
    }

    #[test]
    fn extensions_are_case_insensitive() {
        for name in [
            "a.JPG", "b.jpeg", "c.Png", "d.GIF", "e.bmp", "f.WebP", "g.tif", "h.TIFF",
        ] {
            assert!(has_image_extension(Path::new(name)), "{name}");
        }
        for name in ["notes.txt", "noext", "x.jpg.txt", ".png"] {
            assert!(!has_image_extension(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn scans_recursively_sorted_skipping_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("b.png"));
        touch(&root.join("a/z.JPG"));
        touch(&root.join("a/deep/er/x.webp"));
        touch(&root.join(".hidden/h.png"));
        touch(&root.join(".h.png"));
        touch(&root.join("notes.txt"));
        let r = scan(root, false).unwrap();
        assert!(r.images.iter().all(|p| p.is_absolute()));
        let rel: Vec<_> = r
            .images
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            rel,
            vec![
                PathBuf::from("a/deep/er/x.webp"),
                PathBuf::from("a/z.JPG"),
                PathBuf::from("b.png")
            ]
        );
        let with_hidden = scan(root, true).unwrap();
        assert_eq!(with_hidden.images.len(), 5);
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loops_end_and_files_are_listed_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("sub/img.png"));
        std::os::unix::fs::symlink("..", root.join("sub/loop")).unwrap();
        std::os::unix::fs::symlink("sub/img.png", root.join("link.png")).unwrap();
        std::os::unix::fs::symlink("missing.png", root.join("dangling.png")).unwrap();
        let r = scan(root, false).unwrap();
        assert_eq!(r.images, vec![root.join("sub/img.png")]);
        assert!(
            r.problems.iter().any(|(_, why)| why.contains("loop")),
            "{:?}",
            r.problems
        );
        assert!(
            r.problems.iter().any(|(p, _)| p.ends_with("dangling.png")),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn not_a_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("f.png"));
        assert!(scan(&dir.path().join("f.png"), false).is_err());
        assert!(scan(&dir.path().join("nope"), false).is_err());
    }

    #[test]
    fn subset_is_seeded_random_and_sorted() {
        let paths: Vec<PathBuf> = (0..100)
            .map(|i| PathBuf::from(format!("{i:03}.png")))
            .collect();
        let a = random_subset(paths.clone(), 10, 7);
        let b = random_subset(paths.clone(), 10, 7);
        let c = random_subset(paths.clone(), 10, 8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        // not simply the first N
        assert_ne!(a, paths[..10].to_vec());
        assert_eq!(random_subset(paths.clone(), 1000, 1), paths);
    }
}
