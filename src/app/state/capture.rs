//! Frame captures (`P`, `--capture-every`) and the folder they go into.
//!
//! nannou's `Window::capture_frame` makes a missing folder itself, with
//! `create_dir_all(..).expect(..)` on the render thread: a capture folder removed during a show
//! that cannot be made again (its parent gone too, a file in its way, a full disk) would end
//! the app. So the glue calls `capture_frame` only for a folder it finds present (one `stat`
//! per capture); a missing one is reported here ([`AppState::capture_folder_missing`]): the
//! state warns, a worker makes the folder off the render thread
//! ([`Effect::MakeCaptureFolder`], answered by `Msg::CaptureFolder`), and captures into it wait
//! until then (the latest one is taken once the folder is back). While it cannot be made,
//! captures into it are skipped and the worker tries again every [`RETRY_SECONDS`].

use super::{AppState, Effect};
use std::path::{Path, PathBuf};

/// Seconds between two tries to make a capture folder that could not be made.
pub const RETRY_SECONDS: f64 = 5.0;

/// A capture folder that is not simply there.
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureFolder {
    /// A worker is making it; `waiting`: the capture to take once it is made.
    Making {
        waiting: Option<PathBuf>,
        /// It could not be made before (already warned).
        failed_before: bool,
    },
    /// It could not be made; tried again from `retry_at` on.
    Failed { retry_at: f64 },
}

/// The folder a capture into `path` is written to.
pub fn capture_folder(path: &Path) -> PathBuf {
    crate::util::folder_of(path)
}

impl AppState {
    /// A capture of the window's next frame into `path`, unless its folder is known to be
    /// missing (then it waits for the folder, or is skipped while the folder cannot be made).
    pub(super) fn capture(&mut self, path: PathBuf) {
        let dir = capture_folder(&path);
        let now = self.now;
        match self.captures.folders.get_mut(&dir) {
            None => self.effects.push(Effect::CaptureFrame { path }),
            Some(CaptureFolder::Making { waiting, .. }) => *waiting = Some(path),
            Some(CaptureFolder::Failed { retry_at }) if now >= *retry_at => {
                self.captures.folders.insert(
                    dir.clone(),
                    CaptureFolder::Making {
                        waiting: Some(path),
                        failed_before: true,
                    },
                );
                self.effects.push(Effect::MakeCaptureFolder { dir });
            }
            Some(CaptureFolder::Failed { .. }) => {}
        }
    }

    /// The glue found the folder of the capture `path` missing and did not capture: warn and
    /// make the folder on a worker; the capture is taken once it is there.
    pub fn capture_folder_missing(&mut self, path: PathBuf) {
        let dir = capture_folder(&path);
        match self.captures.folders.get_mut(&dir) {
            Some(CaptureFolder::Making { waiting, .. }) => {
                *waiting = Some(path);
                return;
            }
            Some(CaptureFolder::Failed { .. }) => return,
            None => {}
        }
        let text = format!(
            "the capture folder {} is gone: making it again (frames are not captured until then)",
            dir.display()
        );
        log::warn!("{text}");
        self.warn(text);
        self.captures.folders.insert(
            dir.clone(),
            CaptureFolder::Making {
                waiting: Some(path),
                failed_before: false,
            },
        );
        self.effects.push(Effect::MakeCaptureFolder { dir });
    }

    /// A worker made (or could not make) a capture folder.
    pub(super) fn on_capture_folder(&mut self, dir: PathBuf, result: Result<(), String>) {
        let Some(CaptureFolder::Making {
            waiting,
            failed_before,
        }) = self.captures.folders.remove(&dir)
        else {
            return;
        };
        match result {
            Ok(()) => {
                if failed_before {
                    self.notify(format!("capturing frames into {} again", dir.display()));
                }
                if let Some(path) = waiting {
                    self.effects.push(Effect::CaptureFrame { path });
                }
            }
            Err(e) => {
                if !failed_before {
                    let text = format!(
                        "cannot capture frames into {}: {e}; the app goes on without them \
                         (trying again every {RETRY_SECONDS:.0} s)",
                        dir.display()
                    );
                    log::warn!("{text}");
                    self.error(text.clone());
                    self.warn(text);
                }
                self.captures.folders.insert(
                    dir,
                    CaptureFolder::Failed {
                        retry_at: self.now + RETRY_SECONDS,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AppState, Effect};
    use crate::app::protocol::Msg;
    use std::path::PathBuf;

    fn captures(effects: &[Effect]) -> Vec<PathBuf> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::CaptureFrame { path } => Some(path.clone()),
                _ => None,
            })
            .collect()
    }

    fn makes(effects: &[Effect]) -> Vec<PathBuf> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::MakeCaptureFolder { dir } => Some(dir.clone()),
                _ => None,
            })
            .collect()
    }

    /// `--capture-every 1 /frames`; the folder disappears (the glue finds it missing), cannot
    /// be made, then can: one warning, no capture while it is missing, captures go on once it
    /// is back — and the folder is only ever made by a worker (an effect), never by a capture.
    #[test]
    fn a_capture_folder_that_disappears_is_warned_about_and_made_again_off_the_render_thread() {
        let dir = PathBuf::from("/frames");
        let mut s = AppState::new([800.0, 600.0]);
        s.captures.every = Some(super::super::CaptureEvery {
            seconds: 1.0,
            dir: dir.clone(),
        });
        s.update(0.0);
        let first = captures(&s.drain_effects());
        assert_eq!(first, [dir.join("frame-000001.png")]);
        // the glue found /frames missing: nothing captured, the state asks a worker
        s.capture_folder_missing(first[0].clone());
        let e = s.drain_effects();
        assert_eq!(makes(&e), std::slice::from_ref(&dir));
        assert!(captures(&e).is_empty());
        assert_eq!(s.overlays.warnings.len(), 1, "{:?}", s.overlays.warnings);
        assert!(
            s.overlays.warnings[0].contains("/frames"),
            "{:?}",
            s.overlays.warnings
        );
        // while the worker works, captures wait (no capture_frame into a missing folder)
        s.update(1.0);
        s.update(2.0);
        assert!(captures(&s.drain_effects()).is_empty());
        // it cannot be made: one more warning, and captures are skipped
        s.handle(Msg::CaptureFolder {
            dir: dir.clone(),
            result: Err("Not a directory".into()),
        });
        assert_eq!(s.overlays.warnings.len(), 2, "{:?}", s.overlays.warnings);
        assert!(s.overlays.warnings[1].contains("Not a directory"));
        s.update(3.0);
        s.update(4.0);
        let e = s.drain_effects();
        assert!(captures(&e).is_empty() && makes(&e).is_empty());
        // after the retry delay a worker tries again; again it fails: no new warning
        s.update(2.0 + super::RETRY_SECONDS + 0.5);
        let e = s.drain_effects();
        assert_eq!(makes(&e), std::slice::from_ref(&dir));
        assert!(captures(&e).is_empty());
        s.handle(Msg::CaptureFolder {
            dir: dir.clone(),
            result: Err("Not a directory".into()),
        });
        assert_eq!(s.overlays.warnings.len(), 2, "{:?}", s.overlays.warnings);
        // the next try succeeds: the capture that waited is taken, and the cadence goes on
        s.update(14.0);
        assert_eq!(makes(&s.drain_effects()), std::slice::from_ref(&dir));
        s.handle(Msg::CaptureFolder {
            dir: dir.clone(),
            result: Ok(()),
        });
        let e = s.drain_effects();
        // (one capture number per due update: 0, 1, 2, 3, 4, 7.5 and 14 s)
        assert_eq!(captures(&e), [dir.join("frame-000007.png")]);
        s.update(15.0);
        assert_eq!(captures(&s.drain_effects()), [dir.join("frame-000008.png")]);
        assert_eq!(s.overlays.warnings.len(), 2, "{:?}", s.overlays.warnings);
    }
}
