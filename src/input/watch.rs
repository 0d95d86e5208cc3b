//! Watching a folder: which image files appeared (and are completely written) and which
//! disappeared, found by polling.
//!
//! Polling, not OS notifications: every [`POLL_INTERVAL`] the folder is scanned like `analyze`
//! scans it ([`crate::input::scan::scan`]) and each image's size and modification time are compared
//! with the last poll. That works the same on every file system (network shares, FUSE, Docker
//! bind mounts, where inotify is silent), needs no new dependency and costs a directory walk
//! per poll (a few milliseconds for thousands of files). A notification would still have to
//! wait for the file to stop changing, which is what the polls measure anyway.
//!
//! A file counts as new once its size and mtime are the same in two consecutive polls (a file
//! still being copied keeps growing), it is not empty, and it was not known before. Files present
//! when the watch starts ([`FolderWatch::new`]'s baseline) are known. A file that is known and
//! vanishes is reported removed; if it comes back it is new again. A new file is reported once:
//! whether it can be used (decoded) is for the caller to find out (and to warn about).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Time between two polls.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// What a file looks like in one poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    pub size: u64,
    pub modified: Option<SystemTime>,
}

/// What changed since the last poll.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchEvents {
    /// Files that appeared and are complete (stable over two polls), sorted.
    pub added: Vec<PathBuf>,
    /// Known files that are gone, sorted.
    pub removed: Vec<PathBuf>,
    /// Problems of the scan itself (unreadable folders, loops), with the reason.
    pub problems: Vec<(PathBuf, String)>,
}

impl WatchEvents {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.problems.is_empty()
    }
}

/// The stability logic, fed one listing per poll (testable without a disk).
#[derive(Debug, Default)]
pub struct Stability {
    /// Files reported (or present at the start), with their last stamp.
    known: HashMap<PathBuf, FileStamp>,
    /// Files seen but not yet stable: their stamp in the last poll.
    pending: HashMap<PathBuf, FileStamp>,
    /// Problems already told (each once).
    told: HashSet<PathBuf>,
}

impl Stability {
    /// Start with these files known (they are not new; they can be removed).
    pub fn with_known(known: impl IntoIterator<Item = (PathBuf, FileStamp)>) -> Self {
        Stability {
            known: known.into_iter().collect(),
            ..Default::default()
        }
    }

    /// Mark a file as known (e.g. it is on the map already), so it is never reported new.
    pub fn mark_known(&mut self, path: PathBuf, stamp: FileStamp) {
        self.pending.remove(&path);
        self.known.insert(path, stamp);
    }

    /// One poll's listing: every image file present now with its stamp.
    pub fn observe(&mut self, listing: &[(PathBuf, FileStamp)]) -> WatchEvents {
        let mut events = WatchEvents::default();
        let present: HashSet<&PathBuf> = listing.iter().map(|(p, _)| p).collect();
        let mut removed: Vec<PathBuf> = self
            .known
            .keys()
            .filter(|p| !present.contains(p))
            .cloned()
            .collect();
        removed.sort();
        for p in &removed {
            self.known.remove(p);
        }
        events.removed = removed;
        self.pending.retain(|p, _| present.contains(p));
        for (path, stamp) in listing {
            if let Some(k) = self.known.get_mut(path) {
                *k = *stamp;
                continue;
            }
            match self.pending.get(path) {
                Some(last) if last == stamp && stamp.size > 0 => {
                    self.pending.remove(path);
                    self.known.insert(path.clone(), *stamp);
                    events.added.push(path.clone());
                }
                _ => {
                    self.pending.insert(path.clone(), *stamp);
                }
            }
        }
        events.added.sort();
        events
    }

    /// Files seen but not complete yet.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// A watched folder: [`Stability`] over real scans.
#[derive(Debug)]
pub struct FolderWatch {
    pub dir: PathBuf,
    pub include_hidden: bool,
    stability: Stability,
}

impl FolderWatch {
    /// Watch `dir`; the images in it now are the baseline (not new), and so are `also_known`
    /// (e.g. the images of the map, wherever they are; those missing already are reported
    /// removed by the first poll).
    pub fn new(dir: &Path, include_hidden: bool, also_known: &[PathBuf]) -> std::io::Result<Self> {
        let (listing, _) = list(dir, include_hidden)?;
        let mut stability = Stability::with_known(listing);
        for p in also_known {
            let stamp = stamp(p).unwrap_or(FileStamp {
                size: 0,
                modified: None,
            });
            stability.mark_known(p.clone(), stamp);
        }
        Ok(FolderWatch {
            dir: dir.to_path_buf(),
            include_hidden,
            stability,
        })
    }

    /// Scan once and say what changed. An error: the folder itself cannot be read (gone?).
    pub fn poll(&mut self) -> std::io::Result<WatchEvents> {
        let (listing, problems) = list(&self.dir, self.include_hidden)?;
        let mut events = self.stability.observe(&listing);
        for (p, why) in problems {
            if self.stability.told.insert(p.clone()) {
                events.problems.push((p, why));
            }
        }
        Ok(events)
    }

    /// Files seen but not complete yet.
    pub fn pending(&self) -> usize {
        self.stability.pending()
    }
}

/// Size and mtime of a file (None: cannot be read now).
pub fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        size: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// The images below `dir` (as [`crate::input::scan::scan`] finds them) with their stamps.
#[allow(clippy::type_complexity)]
fn list(
    dir: &Path,
    include_hidden: bool,
) -> std::io::Result<(Vec<(PathBuf, FileStamp)>, Vec<(PathBuf, String)>)> {
    let found = crate::input::scan::scan(dir, include_hidden)?;
    let listing = found
        .images
        .into_iter()
        .filter_map(|p| stamp(&p).map(|s| (p, s)))
        .collect();
    Ok((listing, found.problems))
}

/// The folder to watch for a map whose images are `paths`: their deepest common folder.
pub fn common_folder(paths: &[PathBuf]) -> Option<PathBuf> {
    let mut common: Option<PathBuf> = paths.first()?.parent().map(Path::to_path_buf);
    for p in paths {
        while let Some(c) = &common {
            if p.starts_with(c) {
                break;
            }
            common = c.parent().map(Path::to_path_buf);
        }
    }
    common.filter(|c| !c.as_os_str().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn st(size: u64, secs: u64) -> FileStamp {
        FileStamp {
            size,
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
        }
    }

    #[test]
    fn a_growing_file_is_new_only_once_it_stops_changing() {
        let a = PathBuf::from("/w/a.png");
        let old = PathBuf::from("/w/old.png");
        let mut s = Stability::with_known([(old.clone(), st(10, 1))]);
        // being copied: grows over three polls
        assert!(s
            .observe(&[(old.clone(), st(10, 1)), (a.clone(), st(100, 5))])
            .is_empty());
        assert!(s
            .observe(&[(old.clone(), st(10, 1)), (a.clone(), st(200, 6))])
            .is_empty());
        assert!(s
            .observe(&[(old.clone(), st(10, 1)), (a.clone(), st(300, 6))])
            .is_empty());
        assert_eq!(s.pending(), 1);
        // the same twice: complete
        let e = s.observe(&[(old.clone(), st(10, 1)), (a.clone(), st(300, 6))]);
        assert_eq!(e.added, vec![a.clone()]);
        assert!(e.removed.is_empty());
        // reported once
        assert!(s
            .observe(&[(old.clone(), st(10, 1)), (a.clone(), st(300, 6))])
            .is_empty());
        // an empty file (created, not written yet) is never complete
        let b = PathBuf::from("/w/b.png");
        for _ in 0..3 {
            assert!(s
                .observe(&[
                    (old.clone(), st(10, 1)),
                    (a.clone(), st(300, 6)),
                    (b.clone(), st(0, 7))
                ])
                .added
                .is_empty());
        }
    }

    #[test]
    fn known_files_that_vanish_are_removed_and_new_again_when_back() {
        let a = PathBuf::from("/w/a.png");
        let b = PathBuf::from("/w/b.png");
        let mut s = Stability::with_known([(a.clone(), st(5, 1)), (b.clone(), st(5, 1))]);
        let e = s.observe(&[(b.clone(), st(5, 1))]);
        assert_eq!(e.removed, vec![a.clone()]);
        assert!(e.added.is_empty());
        // a pending file that vanishes is simply forgotten
        let c = PathBuf::from("/w/c.png");
        s.observe(&[(b.clone(), st(5, 1)), (c.clone(), st(9, 2))]);
        assert!(s.observe(&[(b.clone(), st(5, 1))]).is_empty());
        // a comes back: new once stable
        assert!(s
            .observe(&[(a.clone(), st(5, 3)), (b.clone(), st(5, 1))])
            .is_empty());
        assert_eq!(
            s.observe(&[(a.clone(), st(5, 3)), (b.clone(), st(5, 1))])
                .added,
            vec![a]
        );
    }

    #[test]
    fn a_real_file_copied_in_chunks_is_reported_once_complete() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("there.png"), b"old").unwrap();
        let gone = dir.path().canonicalize().unwrap().join("gone.png");
        let mut w = FolderWatch::new(dir.path(), false, std::slice::from_ref(&gone)).unwrap();
        assert_eq!(
            w.poll().unwrap().removed,
            vec![gone],
            "known but missing: removed"
        );
        assert!(w.poll().unwrap().is_empty(), "the baseline is not new");
        let path = dir.path().join("new.png");
        let mut f = std::fs::File::create(&path).unwrap();
        for chunk in 0..4 {
            f.write_all(&[chunk as u8; 1000]).unwrap();
            f.flush().unwrap();
            let e = w.poll().unwrap();
            assert!(e.added.is_empty(), "chunk {chunk}: not complete yet");
        }
        drop(f);
        // unchanged since the last poll: complete
        let e = w.poll().unwrap();
        let canon = path.canonicalize().unwrap();
        assert_eq!(e.added, vec![canon.clone()]);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(w.poll().unwrap().removed, vec![canon]);
        // not an image: not watched
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        w.poll().unwrap();
        assert!(w.poll().unwrap().is_empty());
    }

    #[test]
    fn common_folder_of_paths() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            common_folder(&[p("/a/b/c.png"), p("/a/b/d/e.png")]),
            Some(p("/a/b"))
        );
        assert_eq!(common_folder(&[p("/a/x.png"), p("/b/y.png")]), Some(p("/")));
        assert_eq!(common_folder(&[]), None);
    }
}
