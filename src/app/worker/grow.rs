//! Growing the shown map: the watched folder's new images are analysed (features from the
//! cache when it has them, the same model and preprocessing as the map's) and placed with
//! [`MapState::add`] as one batch; removed images leave the map ([`MapState::remove`]). The old
//! images' t-SNE points do not move. The result goes back to the UI as one message.

use super::reporter::ChannelReporter;
use super::{Msg, Workers};
use crate::app::state::AnalysisSettings;
use crate::grow::{AddParams, MapState};
use crate::layout_io::LayoutEntry;
use crate::pipeline;
use crate::progress::{Reporter, Stage};
use anyhow::{bail, Result};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// What a grow job is asked to do.
pub(super) struct GrowRequest {
    pub map: Option<Arc<MapState>>,
    pub layout: Vec<LayoutEntry>,
    pub grid_size: Option<[u32; 2]>,
    pub add: Vec<PathBuf>,
    pub remove: Vec<usize>,
}

impl Workers {
    /// Remove, then add, and send the grown map ([`Msg::Grown`]).
    pub(super) fn grow(&self, job: u64, req: GrowRequest, cancel: Arc<AtomicBool>) -> Result<()> {
        let settings = Arc::new(Mutex::new(AnalysisSettings::default()));
        let rep = ChannelReporter::new(self, job, cancel, settings, false);
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
        let key = pipeline::feature_key(&model, &map.preprocess);
        if key != map.feature_key {
            bail!(
                "the map was made with another model or preprocessing ({}); this app makes {key}: \
                 new images cannot join it",
                map.feature_key
            );
        }
        let mut removed: Vec<usize> = req.remove.into_iter().filter(|&r| r < map.len()).collect();
        removed.sort_unstable();
        removed.dedup();
        map.remove(&removed);

        let mut seen: HashSet<PathBuf> = map.paths.iter().cloned().collect();
        let new: Vec<PathBuf> = req
            .add
            .into_iter()
            .filter(|p| seen.insert(p.clone()))
            .collect();
        let (mut added, mut moved) = (0, 0);
        if !new.is_empty() {
            let set = pipeline::extract_features(&new, &model, &map.preprocess, &self.cache, &rep)?;
            if !set.paths.is_empty() {
                let params = AddParams::default();
                rep.begin(Stage::Tsne, params.transform.iterations as u64);
                let report = map.add(
                    set.paths.clone(),
                    set.features.view(),
                    &params,
                    Some(&rep.cancel),
                    &mut crate::grow::placement_progress(&rep),
                )?;
                added = report.added.len();
                moved = report.grid.map_or(0, |g| g.changed);
                log::info!(
                    "{added} images joined the map of {} ({moved} moved cell)",
                    report.added.start
                );
            }
        }
        if map.grid.is_none() {
            map.ensure_grid(&rep)?;
        }
        self.send(Msg::Grown {
            job,
            map: Arc::new(map),
            removed,
            added,
            moved,
        });
        Ok(())
    }
}
