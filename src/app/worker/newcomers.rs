//! Newcomers: the watched folder's new images join the shown map and removed images leave it,
//! through [`crate::map::grow()`] — the driver the `add` command uses too (same model and
//! preprocessing as the map's, features from the cache when it has them). The old images'
//! t-SNE points do not move. The result goes back to the UI as one message.

use super::reporter::ChannelReporter;
use super::Workers;
use crate::app::protocol::{AnalysisSettings, GrowJob, Msg};
use crate::map::{self, GrowRequest, MapState};
use crate::progress::Reporter;
use anyhow::Result;
use std::sync::{Arc, Mutex};

impl Workers {
    /// Remove, then add, and send the grown map ([`Msg::Grown`]).
    pub(super) fn grow(&self, req: GrowJob) -> Result<()> {
        let settings = Arc::new(Mutex::new(AnalysisSettings::default()));
        let rep = ChannelReporter::new(self, req.job, req.cancel, settings, false);
        let model = self.model()?;
        let mut map = match req.map {
            Some(m) => (*m).clone(),
            None => {
                // a layout made elsewhere (or whose map file was unusable): its images'
                // features first (from the cache when it has them), its points kept
                rep.warn(
                    "this layout has no map file: the features of its images are computed \
                     first, its points are kept",
                );
                MapState::from_layout(
                    &req.layout,
                    req.grid_size,
                    &model,
                    self.options.preprocess,
                    &self.cache,
                    self.options.pca_dims,
                    self.options.aspect,
                    &rep,
                )?
            }
        };
        let request = GrowRequest {
            add: req.add,
            remove: req.remove,
            ensure_grid: true,
            ..GrowRequest::default()
        };
        let grown = map::grow(&mut map, request, &model, &self.cache, &rep)?;
        if grown.added > 0 {
            log::info!(
                "{} images joined the map of {} ({} moved cell)",
                grown.added,
                map.len() - grown.added,
                grown.moved
            );
        }
        self.send(Msg::Grown {
            job: req.job,
            map: Arc::new(map),
            removed: grown.removed,
            added: grown.added,
            moved: grown.moved,
        });
        Ok(())
    }
}
