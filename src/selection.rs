//! Selections: the images a curator pulls out of a map — picked with a lasso (the geometry is
//! here, window-free), from a cluster or from a filter — and what can be done with them: their
//! paths exported as CSV or JSON, the files copied into a folder (never overwriting anything,
//! names kept), or a new map of just those images (the analysis on a list of paths).

use crate::util::atomic::write_atomic;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Whether `p` is inside the closed polygon `poly` (even–odd rule; a polygon of fewer than three
/// points holds nothing).
pub fn lasso_contains(poly: &[[f32; 2]], p: [f32; 2]) -> bool {
    if poly.len() < 3 {
        return false;
    }
    let mut inside = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[j]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}

/// The area a lasso encloses (shoelace; its absolute value), in the polygon's units squared.
pub fn lasso_area(poly: &[[f32; 2]]) -> f32 {
    if poly.len() < 3 {
        return 0.0;
    }
    let mut sum = 0.0;
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
        sum += a[0] * b[1] - b[0] * a[1];
    }
    (sum * 0.5).abs()
}

/// How a list of paths is written: by the file's extension, `.json` (an array of strings) or
/// CSV (anything else: a `path` header and one path per line, quoted where needed).
pub fn export_paths(file: &Path, paths: &[PathBuf]) -> Result<()> {
    let is_json = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let text = if is_json {
        let list: Vec<String> = paths
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        serde_json::to_string_pretty(&list)? + "\n"
    } else {
        let mut out = String::from("path\n");
        for p in paths {
            out.push_str(&crate::clusters::csv_field(&p.to_string_lossy()));
            out.push('\n');
        }
        out
    };
    write_atomic(file, text.as_bytes()).with_context(|| format!("cannot write {}", file.display()))
}

/// What [`copy_files`] did.
#[derive(Debug, Default, PartialEq)]
pub struct CopyReport {
    /// Files copied under their own name.
    pub copied: usize,
    /// Files copied under another name, because the folder had one by theirs: (from, to).
    pub renamed: Vec<(PathBuf, PathBuf)>,
    /// Files that could not be copied, and why.
    pub failed: Vec<(PathBuf, String)>,
}

/// Copy `paths` into `dir` (made when missing), keeping their file names. Nothing in `dir` is
/// ever overwritten: a name that is taken (by a file there, or by an earlier file of the list)
/// gets " (2)", " (3)"… before its extension. Each file goes to a temporary name first and is
/// renamed into place, so a half-copied file never carries a real name. A file that cannot be
/// copied is reported and the rest go on.
pub fn copy_files(paths: &[PathBuf], dir: &Path, cancel: &dyn Fn() -> bool) -> Result<CopyReport> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    if !dir.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    let mut report = CopyReport::default();
    for src in paths {
        if cancel() {
            bail!(crate::pipeline::Cancelled);
        }
        let Some(name) = src.file_name() else {
            report
                .failed
                .push((src.clone(), "it has no file name".into()));
            continue;
        };
        match copy_one(src, dir, Path::new(name)) {
            Ok(to) if to.file_name() == Some(name) => report.copied += 1,
            Ok(to) => report.renamed.push((src.clone(), to)),
            Err(e) => report.failed.push((src.clone(), format!("{e:#}"))),
        }
    }
    Ok(report)
}

/// Copy one file to a free name in `dir`; returns where it went.
fn copy_one(src: &Path, dir: &Path, name: &Path) -> Result<PathBuf> {
    let tmp = dir.join(format!(
        ".{}.copying-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    if let Err(e) = std::fs::copy(src, &tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot copy {}", src.display()));
    }
    let stem = name
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = name
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    for n in 1.. {
        let candidate = if n == 1 {
            dir.join(name)
        } else {
            dir.join(format!("{stem} ({n}){ext}"))
        };
        // a hard link fails when the name exists: no check-then-write race with another writer
        match std::fs::hard_link(&tmp, &candidate) {
            Ok(()) => {
                let _ = std::fs::remove_file(&tmp);
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => {
                // no hard links here (some file systems): rename when the name is free
                if candidate.exists() {
                    continue;
                }
                std::fs::rename(&tmp, &candidate)
                    .with_context(|| format!("cannot write {}", candidate.display()))?;
                return Ok(candidate);
            }
        }
    }
    unreachable!("some name is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lasso_holds_what_it_encircles() {
        // an L-shaped lasso: the notch is outside
        let l = [
            [0.0, 0.0],
            [4.0, 0.0],
            [4.0, 1.0],
            [1.0, 1.0],
            [1.0, 4.0],
            [0.0, 4.0],
        ];
        assert!(lasso_contains(&l, [0.5, 0.5]));
        assert!(lasso_contains(&l, [3.5, 0.5]));
        assert!(lasso_contains(&l, [0.5, 3.5]));
        assert!(!lasso_contains(&l, [3.0, 3.0]), "the notch");
        assert!(!lasso_contains(&l, [-1.0, 0.5]));
        assert!((lasso_area(&l) - 7.0).abs() < 1e-6);
        // a figure eight: its two loops hold, where it crosses itself too
        let eight = [[0.0, 0.0], [2.0, 2.0], [2.0, 0.0], [0.0, 2.0]];
        assert!(lasso_contains(&eight, [1.8, 1.0]));
        assert!(lasso_contains(&eight, [0.2, 1.0]));
        assert!(!lasso_contains(&eight, [1.0, 0.2]));
        assert!(!lasso_contains(&[[0.0, 0.0], [1.0, 1.0]], [0.5, 0.5]));
    }

    #[test]
    fn paths_are_exported_as_csv_or_json() {
        let dir = tempfile::tempdir().unwrap();
        let paths = vec![
            PathBuf::from("/a/x.jpg"),
            PathBuf::from("/b/with, comma.png"),
        ];
        let csv = dir.path().join("sel.csv");
        export_paths(&csv, &paths).unwrap();
        assert_eq!(
            std::fs::read_to_string(&csv).unwrap(),
            "path\n/a/x.jpg\n\"/b/with, comma.png\"\n"
        );
        let json = dir.path().join("sel.JSON");
        export_paths(&json, &paths).unwrap();
        let back: Vec<String> =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(back, vec!["/a/x.jpg", "/b/with, comma.png"]);
        // nothing else was left in the folder (no temporary files)
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn copies_never_overwrite_and_keep_names() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("cat.jpg"), b"cat from a").unwrap();
        std::fs::write(b.join("cat.jpg"), b"cat from b").unwrap();
        std::fs::write(a.join("dog.png"), b"dog").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("dog.png"), b"the curator's own dog").unwrap();
        let list = vec![
            a.join("cat.jpg"),
            b.join("cat.jpg"),
            a.join("dog.png"),
            a.join("gone.jpg"),
        ];
        let r = copy_files(&list, &out, &|| false).unwrap();
        assert_eq!(r.copied, 1);
        assert_eq!(r.renamed.len(), 2);
        assert_eq!(r.failed.len(), 1);
        assert!(r.failed[0].1.contains("gone.jpg"), "{:?}", r.failed);
        let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap();
        assert_eq!(read("cat.jpg"), "cat from a");
        assert_eq!(read("cat (2).jpg"), "cat from b");
        assert_eq!(read("dog.png"), "the curator's own dog");
        assert_eq!(read("dog (2).png"), "dog");
        // no temporary files left
        let names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 4, "{names:?}");
        // cancelled before the first file
        assert!(copy_files(&list, &out, &|| true).is_err());
    }
}
