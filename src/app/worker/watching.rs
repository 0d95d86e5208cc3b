//! The folder watch and the autosave, each on its own thread: the watch polls the folder
//! ([`crate::input::watch::FolderWatch`]) and tells the UI what changed; the autosave writes the layout
//! and its map file (each atomically) whenever the map changed, so the render loop never waits
//! for the disk and a power cut loses nothing that was placed.

use super::Workers;
use crate::app::protocol::{AutosaveRequest, Msg};
use crate::input::watch::{FolderWatch, POLL_INTERVAL};
use crate::layout_io::{self};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;

impl Workers {
    /// Watch `dir` until `stop` is set; the images in it now and `known` are not new.
    pub fn watch(self: &Arc<Self>, dir: PathBuf, known: Vec<PathBuf>, stop: Arc<AtomicBool>) {
        let this = self.clone();
        let spawned = self.spawn("itl-watch", move || {
            let mut watch = match FolderWatch::new(&dir, false, &known) {
                Ok(w) => w,
                Err(e) => {
                    return this.send(Msg::Warning {
                        text: format!("cannot watch {}: {e}", dir.display()),
                    })
                }
            };
            let mut failing = false;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(POLL_INTERVAL);
                match watch.poll() {
                    Ok(events) => {
                        failing = false;
                        for (p, why) in events.problems {
                            this.send(Msg::Warning {
                                text: format!("{}: {why}", p.display()),
                            });
                        }
                        if !events.added.is_empty() || !events.removed.is_empty() {
                            this.send(Msg::Watched {
                                added: events.added,
                                removed: events.removed,
                            });
                        }
                    }
                    // the folder is gone or unreadable: say so once, keep trying
                    Err(e) if !failing => {
                        failing = true;
                        this.send(Msg::Warning {
                            text: format!("cannot read the watched folder {}: {e}", dir.display()),
                        });
                    }
                    Err(_) => {}
                }
            }
        });
        if let Err(e) = spawned {
            self.send(Msg::Warning {
                text: format!("cannot start a thread to watch the folder: {e}"),
            });
        }
    }

    /// Write an autosave on the autosave thread (started on first use). Requests that pile up
    /// while one is written are collapsed into the newest; the app waits for it before exiting.
    pub fn autosave(self: &Arc<Self>, request: AutosaveRequest) {
        let tx = {
            let Ok(mut slot) = self.autosaver.lock() else {
                return;
            };
            if slot.is_none() {
                let (tx, rx) = channel::<AutosaveRequest>();
                let this = self.clone();
                let spawned = self.spawn("itl-autosave", move || this.autosave_loop(rx));
                if let Err(e) = spawned {
                    drop(slot);
                    return self.send(Msg::Autosaved {
                        path: request.path,
                        result: Err(format!("cannot start the autosave thread: {e}")),
                    });
                }
                *slot = Some(tx);
            }
            slot.clone()
        };
        if let Some(tx) = tx {
            self.saving.fetch_add(1, Ordering::SeqCst);
            if let Err(e) = tx.send(request) {
                self.saving.fetch_sub(1, Ordering::SeqCst);
                let path = e.0.path.clone();
                self.send(Msg::Autosaved {
                    path,
                    result: Err("the autosave thread has stopped".into()),
                });
            }
        }
    }

    fn autosave_loop(self: Arc<Self>, rx: Receiver<AutosaveRequest>) {
        while let Ok(mut request) = rx.recv() {
            // newer requests replace older ones (each is the whole map)
            while let Ok(newer) = rx.try_recv() {
                self.saving.fetch_sub(1, Ordering::SeqCst);
                request = newer;
            }
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write_autosave(&request)))
                    .unwrap_or_else(|_| Err("internal error while writing".into()));
            self.saving.fetch_sub(1, Ordering::SeqCst);
            self.send(Msg::Autosaved {
                path: request.path,
                result,
            });
        }
    }
}

/// The layout first, then its map file (each atomically): a cut between the two leaves a map
/// file that no longer matches, which loading detects (the map then grows from the points).
pub fn write_autosave(r: &AutosaveRequest) -> Result<(), String> {
    let result = match r.grid_size {
        Some(size) => layout_io::write_grid_layout(&r.path, &r.entries, size, r.tsne),
        None => layout_io::write_layout(&r.path, &r.entries, r.tsne),
    };
    result.map_err(|e| format!("cannot write {}: {e}", r.path.display()))?;
    if let Some(map) = &r.map {
        map.save(&crate::map::sidecar_path(&r.path))
            .map_err(|e| format!("{e:#}"))?;
    }
    if let Some(c) = &r.clusters {
        c.save_beside(&r.path).map_err(|e| format!("{e:#}"))?;
    }
    Ok(())
}
