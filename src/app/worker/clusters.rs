//! The map's clusters, off the render thread: carried over when the map grew, read from the
//! layout's clusters file when it has one, else found and named (features from the cache; the
//! ones missing are computed).

use super::{Msg, Workers};
use crate::app::protocol::{ClusterRequest, ClustersSnapshot};
use crate::clusters::{self, sidecar};
use crate::progress::SilentReporter;
use std::sync::Arc;

impl Workers {
    /// Find the clusters of `req`'s map on a thread; answers with `Msg::Clusters`.
    pub fn find_clusters(self: &Arc<Self>, req: ClusterRequest) {
        let this = self.clone();
        let scene = req.scene;
        let spawned = self.spawn("itl-clusters", move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                this.install(|| this.clusters(req))
            }))
            .unwrap_or_else(|_| Err("internal error while finding the clusters".into()));
            this.send(Msg::Clusters { scene, result });
        });
        if let Err(e) = spawned {
            self.send(Msg::Clusters {
                scene,
                result: Err(format!("cannot start a thread to find the clusters: {e}")),
            });
        }
    }

    fn clusters(&self, req: ClusterRequest) -> Result<ClustersSnapshot, String> {
        let snapshot = |clustering, min_size| ClustersSnapshot {
            paths: req.paths.clone(),
            clustering,
            min_size,
        };
        if let Some((prev, true)) = &req.previous {
            return Ok(snapshot(prev.apply(&req.paths, &req.points), prev.min_size));
        }
        // (after a re-run the points moved: found anew, whatever file is beside the layout)
        let file = req.file.as_deref().filter(|_| req.previous.is_none());
        let saved = match file.map(sidecar::load) {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                self.send(Msg::Warning {
                    text: format!("{e:#}; the clusters are found anew"),
                });
                None
            }
            None => None,
        };
        if let Some(s) = &saved {
            return Ok(snapshot(s.apply(&req.paths, &req.points), s.min_size));
        }
        let min_size = clusters::auto_min_size(req.paths.len());
        let rep = SilentReporter::default();
        let preprocess = req.preprocess.unwrap_or(self.options.preprocess);
        let model = self.model().map_err(|e| format!("{e:#}"))?;
        let set =
            crate::features::extract_features(&req.paths, &model, &preprocess, &self.cache, &rep)
                .map_err(|e| format!("{e:#}"))?;
        let mut row_of = vec![None; req.paths.len()];
        for (row, &i) in set.indices.iter().enumerate() {
            row_of[i] = Some(row);
        }
        let head = clusters::naming::ClassHead::of_model(self.options.model.as_deref())
            .map_err(|e| format!("{e:#}"))?;
        let features = clusters::Features {
            matrix: set.features,
            row_of,
            head,
        };
        let mut found = clusters::cluster_map(
            &req.paths,
            &req.points,
            Some(&features),
            min_size,
            &mut || true,
        )
        .map_err(|_| "cancelled".to_string())?;
        if let Some((prev, false)) = &req.previous {
            prev.carry_names(&req.paths, &mut found);
        }
        Ok(snapshot(found, min_size))
    }
}
