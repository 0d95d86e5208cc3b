//! Reloading a scene's atlas cells from disk (thumbnail cache first) after its GPU resources
//! were rebuilt; the messages belong to the scene, not to a job, so they arrive whatever job
//! runs meanwhile.

use super::{Msg, Workers};
use crate::render::AtlasPlan;
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

impl Workers {
    /// Stream every image's cell of scene `scene` back to the UI (`Msg::Cell`).
    pub fn reload_cells(self: &Arc<Self>, scene: u64, paths: Vec<PathBuf>, plan: AtlasPlan) {
        self.load_cells(scene, paths.into_iter().enumerate().collect(), plan);
    }

    /// Stream the cells of these images (index, path) of scene `scene` to the UI.
    pub fn load_cells(self: &Arc<Self>, scene: u64, cells: Vec<(usize, PathBuf)>, plan: AtlasPlan) {
        let this = self.clone();
        let spawned = self.spawn("itl-reload", move || {
            this.install(|| {
                cells.par_iter().for_each(|(index, p)| {
                    let index = *index;
                    let cell = crate::cache::thumbnails::load_cell(p, &this.cache, &plan);
                    this.send(Msg::Cell { scene, index, cell });
                })
            });
        });
        if let Err(e) = spawned {
            self.send(Msg::Warning {
                text: format!("cannot start a thread to reload the thumbnails: {e}"),
            });
        }
    }
}
