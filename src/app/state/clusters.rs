//! Clusters on the map: the shown scene's named groups (found off the render thread), their
//! labels over the map, the panel's list, flying to one, a curator renaming one (saved beside
//! the layout), and the clusters the tour and a show controller visit.

use super::{AppState, CameraGlide, Effect, Refusal, Scene, CAMERA_SECONDS};
use crate::app::protocol::{ClusterRequest, ClustersSnapshot, Source};
use crate::clusters::sidecar::Saved;
use crate::render::{LayoutParams, WorldRect};
use std::path::PathBuf;

/// A label is drawn fully while its cluster spans less than this share of the window's shorter
/// side, and fades out until it spans [`FADE_END`]: zoomed into a cluster, its name steps
/// aside for its images.
pub const FADE_START: f32 = 0.35;
pub const FADE_END: f32 = 0.8;

/// The shown scene's clusters.
#[derive(Clone, Debug)]
pub struct SceneClusters {
    pub scene: u64,
    /// The scene index of every clustered image (the used images when they were found), in the
    /// order of `snapshot.paths`.
    pub rows: Vec<usize>,
    pub snapshot: ClustersSnapshot,
}

impl SceneClusters {
    /// Scene indices of cluster `c`'s images.
    pub fn members(&self, c: usize) -> impl Iterator<Item = usize> + '_ {
        self.snapshot.clustering.clusters[c]
            .members
            .iter()
            .map(|&m| self.rows[m])
    }

    pub fn len(&self) -> usize {
        self.snapshot.clustering.clusters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cluster of scene image `index`, if any.
    pub fn cluster_of(&self, index: usize) -> Option<usize> {
        let row = self.rows.iter().position(|&r| r == index)?;
        self.snapshot.clustering.of.get(row).copied().flatten()
    }
}

/// Clusters as the viewer shows and edits them.
#[derive(Debug)]
pub struct ClusterView {
    pub found: Option<SceneClusters>,
    /// Names drawn over the map (the panel's check box).
    pub labels_visible: bool,
    /// The cluster being renamed in the panel, and the text typed so far.
    pub renaming: Option<(usize, String)>,
    /// The layout file the clusters are kept beside (the one loaded or last saved).
    pub layout_file: Option<PathBuf>,
    /// The scene whose clusters are being found.
    pub(super) finding: Option<u64>,
    /// The cluster the tour visits next.
    pub(super) tour_next: usize,
    /// The tour's caption (the last cluster's name), replaced by the next one.
    pub(super) caption: Option<String>,
}

impl Default for ClusterView {
    fn default() -> Self {
        ClusterView {
            found: None,
            labels_visible: true,
            renaming: None,
            layout_file: None,
            finding: None,
            tour_next: 0,
            caption: None,
        }
    }
}

/// One cluster's label as drawn this frame.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterLabel {
    pub cluster: usize,
    pub text: String,
    /// Images in it.
    pub count: usize,
    /// Where its centre is on the screen (pixels, y down, of the camera given).
    pub screen: [f32; 2],
    /// 1 drawn fully … 0 hidden (zoomed into it, or off screen).
    pub alpha: f32,
}

impl AppState {
    /// Find the current scene's clusters: anew (the names of `previous` clusters carried over
    /// when `keep` is false), or the previous ones kept with newcomers joining (`keep`, after
    /// the map grew).
    pub(super) fn find_clusters(&mut self, keep: bool) {
        let Some(scene) = self.current.as_ref() else {
            return;
        };
        let rows = scene.used_indices();
        if rows.len() < 2 {
            self.clusters.found = None;
            return;
        }
        let previous = self.clusters.found.as_ref().map(|f| {
            let s = &f.snapshot;
            (Saved::of(&s.paths, &s.clustering, s.min_size), keep)
        });
        if let Source::Json(path) = &scene.source {
            if self.clusters.layout_file.is_none() {
                self.clusters.layout_file = Some(path.clone());
            }
        }
        let file = self
            .clusters
            .layout_file
            .as_ref()
            .or(self.growing.autosave.as_ref())
            .map(|l| crate::clusters::sidecar::sidecar_path(l));
        self.clusters.finding = Some(scene.id);
        self.effects.push(Effect::FindClusters(ClusterRequest {
            scene: scene.id,
            paths: rows.iter().map(|&i| scene.paths[i].clone()).collect(),
            points: rows.iter().map(|&i| scene.points[i]).collect(),
            file,
            previous,
            preprocess: scene.map.as_ref().map(|m| m.preprocess),
        }));
    }

    /// The clusters of scene `scene` arrived.
    pub(super) fn on_clusters(&mut self, scene: u64, result: Result<ClustersSnapshot, String>) {
        if self.clusters.finding == Some(scene) {
            self.clusters.finding = None;
        }
        let Some(current) = self.current.as_ref().filter(|s| s.id == scene) else {
            return; // another map is shown by now
        };
        match result {
            Ok(snapshot) => {
                // the images are the scene's by path (the order the request had)
                let index: std::collections::HashMap<&PathBuf, usize> = current
                    .paths
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (p, i))
                    .collect();
                let rows: Option<Vec<usize>> = snapshot
                    .paths
                    .iter()
                    .map(|p| index.get(p).copied())
                    .collect();
                let Some(rows) = rows else {
                    return; // the map changed while they were found; a new request follows
                };
                let n = snapshot.clustering.clusters.len();
                let before = self.clusters.found.as_ref().map(|f| f.len());
                self.clusters.renaming = None;
                self.clusters.tour_next = 0;
                self.clusters.found = Some(SceneClusters {
                    scene,
                    rows,
                    snapshot,
                });
                // announced where the names are shown: an installation's screen (--hide-gui
                // without --cluster-names) is not interrupted for something it does not show
                if before != Some(n) && self.clusters.labels_visible {
                    self.notify(format!("{n} clusters"));
                }
                // an autosaved map keeps its clusters beside it too
                if self.growing.autosave.is_some() && self.job.is_none() {
                    self.autosave_now();
                }
            }
            Err(e) => {
                self.clusters.found = None;
                self.warn(format!("no clusters: {e}"));
            }
        }
    }

    /// The name shown for cluster `c`: the curator's, or the classes'; one named after its most
    /// typical image shows that image's title when the metadata has one.
    pub fn cluster_label(&self, c: usize) -> Option<String> {
        let found = self.shown_clusters()?;
        let k = found.snapshot.clustering.clusters.get(c)?;
        if k.renamed || !k.classes.is_empty() {
            return Some(k.label.clone());
        }
        let typical = *found.rows.get(k.typical)?;
        let title = self.title(typical);
        Some(title.unwrap_or_else(|| k.label.clone()))
    }

    /// Whether clusters are being found for a scene.
    pub fn finding_clusters(&self) -> bool {
        self.clusters.finding.is_some()
    }

    /// The shown scene's clusters, when they belong to it.
    pub fn shown_clusters(&self) -> Option<&SceneClusters> {
        let scene = self.shown()?;
        self.clusters.found.as_ref().filter(|f| f.scene == scene.id)
    }

    /// World rectangle holding cluster `c`'s images at the blend the view heads to.
    fn cluster_bounds(&self, c: usize, params: &LayoutParams) -> Option<WorldRect> {
        let scene = self.shown()?;
        let found = self.shown_clusters()?;
        if c >= found.len() {
            return None;
        }
        let geom = scene.geometry();
        let mut acc: Option<WorldRect> = None;
        for i in found.members(c) {
            let r = geom.instance_rect(
                scene.points[i],
                cell_of(scene, i),
                scene.aspects.get(i).copied().unwrap_or(1.0),
                params,
            );
            acc = Some(match acc {
                Some(a) => a.union(&r),
                None => r,
            });
        }
        acc
    }

    /// The camera framing cluster `c` (right of the panel when it is shown).
    fn cluster_camera(&self, c: usize) -> Option<crate::render::Camera> {
        let params = self.layout_params().with_t(self.target_t());
        let bounds = self.cluster_bounds(c, &params)?;
        let mut target = self.camera;
        let [w, h] = target.viewport;
        let inset = if self.overlays.gui_visible {
            self.framing.left_inset_px.clamp(0.0, w * 0.5)
        } else {
            0.0
        };
        target.set_viewport([w - inset, h]);
        target.fit(&bounds, 48.0);
        target.set_viewport([w, h]);
        target.center[0] -= inset / 2.0 / target.zoom.max(1e-9);
        Some(target)
    }

    /// Fly to cluster `c` (the panel's list, `/cluster i`).
    pub fn goto_cluster(&mut self, c: usize) -> Result<(), Refusal> {
        let Some(found) = self.shown_clusters() else {
            return Err(Refusal("no clusters yet".into()));
        };
        if c >= found.len() {
            return Err(Refusal(format!(
                "no cluster {c} (there are {})",
                found.len()
            )));
        }
        let Some(to) = self.cluster_camera(c) else {
            return Err(Refusal("no cluster there".into()));
        };
        self.user_input();
        self.framing.glide = Some(CameraGlide {
            from: self.camera,
            to,
            start: self.now,
            duration: CAMERA_SECONDS * 1.5,
        });
        self.framing.fitted = false;
        Ok(())
    }

    /// A curator names cluster `c` (an empty name gives back the automatic one); kept beside
    /// the layout when the map has a file, else with the next save.
    pub fn rename_cluster(&mut self, c: usize, name: &str) {
        self.clusters.renaming = None;
        let Some(found) = self.clusters.found.as_mut() else {
            return;
        };
        if c >= found.snapshot.clustering.clusters.len() {
            return;
        }
        found.snapshot.clustering.rename(c, name);
        let label = found.snapshot.clustering.clusters[c].label.clone();
        match self.clusters.layout_file.clone() {
            Some(layout) => self.effects.push(Effect::SaveClusters {
                layout,
                snapshot: found.snapshot.clone(),
            }),
            None if self.growing.autosave.is_some() => self.autosave_now(),
            None => self.notify(format!(
                "cluster {c} is now \"{label}\" (saved with the layout: J)"
            )),
        }
    }

    /// The clusters to write beside a layout being saved.
    pub(super) fn clusters_to_save(&self) -> Option<ClustersSnapshot> {
        let scene = self.current.as_ref()?;
        let found = self
            .clusters
            .found
            .as_ref()
            .filter(|f| f.scene == scene.id)?;
        Some(found.snapshot.clone())
    }

    /// Where each cluster's name goes this frame, seen through `camera` (the main window's):
    /// at the mean position of its images, faded as it fills the window.
    pub fn cluster_labels(&self, camera: &crate::render::Camera) -> Vec<ClusterLabel> {
        let (Some(scene), Some(found)) = (self.shown(), self.shown_clusters()) else {
            return Vec::new();
        };
        if !self.clusters.labels_visible || self.overlays.lightbox.is_some() {
            return Vec::new();
        }
        let params = self.layout_params();
        let geom = scene.geometry();
        let short = camera.viewport[0].min(camera.viewport[1]).max(1.0);
        let mut out = Vec::with_capacity(found.len());
        for (c, cluster) in found.snapshot.clustering.clusters.iter().enumerate() {
            let centres: Vec<[f32; 2]> = found
                .members(c)
                .map(|i| geom.instance_center(scene.points[i], cell_of(scene, i), &params))
                .collect();
            if centres.is_empty() {
                continue;
            }
            let n = centres.len() as f32;
            let mean = centres
                .iter()
                .fold([0.0f32; 2], |a, p| [a[0] + p[0] / n, a[1] + p[1] / n]);
            // the cluster's spread: twice the root-mean-square distance from its centre
            let rms = (centres
                .iter()
                .map(|p| (p[0] - mean[0]).powi(2) + (p[1] - mean[1]).powi(2))
                .sum::<f32>()
                / n)
                .sqrt();
            let span = 2.0 * rms * camera.zoom / short;
            let fade = ((FADE_END - span) / (FADE_END - FADE_START)).clamp(0.0, 1.0);
            let screen = camera.world_to_screen(mean);
            let inside = (0.0..=camera.viewport[0]).contains(&screen[0])
                && (0.0..=camera.viewport[1]).contains(&screen[1]);
            out.push(ClusterLabel {
                cluster: c,
                text: self
                    .cluster_label(c)
                    .unwrap_or_else(|| cluster.label.clone()),
                count: cluster.members.len(),
                screen,
                alpha: if inside { fade } else { 0.0 },
            });
        }
        out
    }

    /// The cluster the tour visits next (round robin), with its camera and name.
    pub(super) fn next_tour_cluster(&mut self) -> Option<(usize, crate::render::Camera, String)> {
        let n = self.shown_clusters()?.len();
        if n == 0 {
            return None;
        }
        let c = self.clusters.tour_next % n;
        self.clusters.tour_next = (c + 1) % n;
        let cam = self.cluster_camera(c)?;
        let label = self.cluster_label(c)?;
        Some((c, cam, label))
    }
}

fn cell_of(scene: &Scene, i: usize) -> [u32; 2] {
    scene
        .grid
        .as_ref()
        .and_then(|g| g.cells.get(i).copied())
        .unwrap_or([0, 0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::protocol::Msg;
    use crate::app::state::test_maps::two_groups;
    use crate::app::state::{Remote, RemoteEvent};

    /// Carry out the state's cluster request as the worker would (no features: named by file).
    fn serve(s: &mut AppState) -> ClusterRequest {
        let req = s
            .drain_effects()
            .into_iter()
            .find_map(|e| match e {
                Effect::FindClusters(r) => Some(r),
                _ => None,
            })
            .expect("a cluster request");
        let clustering = match &req.previous {
            Some((prev, true)) => prev.apply(&req.paths, &req.points),
            _ => crate::clusters::cluster_map(&req.paths, &req.points, None, 10, &mut || true)
                .unwrap(),
        };
        let snapshot = ClustersSnapshot {
            paths: req.paths.clone(),
            clustering,
            min_size: 10,
        };
        s.handle(Msg::Clusters {
            scene: req.scene,
            result: Ok(snapshot),
        });
        req
    }

    #[test]
    fn the_count_is_announced_only_where_the_names_are_shown() {
        let announced = |s: &AppState| s.overlays.notices.iter().any(|n| n.text == "2 clusters");
        let mut s = two_groups();
        s.find_clusters(false);
        serve(&mut s);
        assert!(announced(&s));
        // an installation (--hide-gui without --cluster-names): no names, no notice
        let mut s = two_groups();
        s.clusters.labels_visible = false;
        s.find_clusters(false);
        serve(&mut s);
        assert!(s.shown_clusters().is_some(), "found all the same");
        assert!(!announced(&s));
    }

    #[test]
    fn clusters_are_found_labelled_and_flown_to() {
        let mut s = two_groups();
        assert!(s.goto_cluster(0).is_err(), "none yet");
        s.find_clusters(false);
        assert!(s.finding_clusters());
        let req = serve(&mut s);
        assert_eq!(
            req.file,
            Some(PathBuf::from("/maps/two.json.clusters.json"))
        );
        assert!(!s.finding_clusters());
        let found = s.shown_clusters().unwrap();
        assert_eq!(found.len(), 2);
        assert_ne!(found.cluster_of(3), found.cluster_of(60));
        assert_eq!(found.cluster_of(3), found.cluster_of(20));

        // both names are drawn, each at its group's centre
        let cam = s.camera;
        let labels = s.cluster_labels(&cam);
        assert_eq!(labels.len(), 2);
        for l in &labels {
            assert_eq!(l.alpha, 1.0, "{l:?}");
            let members: Vec<usize> = s.shown_clusters().unwrap().members(l.cluster).collect();
            let scene = s.shown().unwrap();
            let geom = scene.geometry();
            let params = s.layout_params();
            let n = members.len() as f32;
            let mean = members.iter().fold([0.0; 2], |a, &i| {
                let p =
                    geom.instance_center(scene.points[i], [i as u32 % 9, i as u32 / 9], &params);
                [a[0] + p[0] / n, a[1] + p[1] / n]
            });
            let want = cam.world_to_screen(mean);
            assert!((l.screen[0] - want[0]).abs() < 0.5 && (l.screen[1] - want[1]).abs() < 0.5);
        }

        // fly into the second: its name fades (it fills the window), the other's is off screen
        let c = s.shown_clusters().unwrap().cluster_of(60).unwrap();
        s.act(crate::app::state::Action::GotoCluster(c));
        s.update(s.now + 5.0);
        let labels = s.cluster_labels(&s.camera.clone());
        let (mine, other) = (&labels[c], &labels[1 - c]);
        assert!(mine.alpha > 0.0 && mine.alpha < 0.9, "{mine:?}");
        assert_eq!(other.alpha, 0.0, "{other:?}");
        let centre = s.camera.screen_to_world([400.0, 300.0]);
        let params = s.layout_params();
        let p = s
            .shown()
            .unwrap()
            .geometry()
            .tsne_world([0.75, 0.75], params.tsne_scale);
        assert!(
            (centre[0] - p[0]).abs() < 0.05 && (centre[1] - p[1]).abs() < 0.05,
            "{centre:?}"
        );
        // hidden names and an open lightbox draw none
        s.act(crate::app::state::Action::ToggleClusterLabels);
        assert!(s.cluster_labels(&s.camera.clone()).is_empty());

        // a controller: /cluster 7 does not exist, /cluster -1 is the whole map
        assert!(s
            .remote(Remote::Cluster(Some(7)))
            .unwrap_err()
            .0
            .contains("there are 2"));
        s.remote(Remote::Cluster(None)).unwrap();
        s.update(s.now + 5.0);
        assert!(s.framing.fitted);
    }

    #[test]
    fn a_rename_is_saved_beside_the_layout_and_the_map_grows() {
        let mut s = two_groups();
        s.find_clusters(false);
        serve(&mut s);
        // loaded from /maps/two.json: a rename is written beside it at once
        s.rename_cluster(1, "Harbour");
        let saved: Vec<Effect> = s.drain_effects();
        let snapshot = saved
            .iter()
            .find_map(|e| match e {
                Effect::SaveClusters { layout, snapshot } => {
                    assert_eq!(layout, &PathBuf::from("/maps/two.json"));
                    Some(snapshot.clone())
                }
                _ => None,
            })
            .expect("saved");
        assert_eq!(snapshot.clustering.clusters[1].label, "Harbour");
        assert!(snapshot.clustering.clusters[1].renamed);
        // saving the layout elsewhere puts the clusters beside the new file too
        s.act(crate::app::state::Action::Save("/out/new.json".into()));
        let effects = s.drain_effects();
        assert!(effects
            .iter()
            .any(|e| matches!(e, Effect::SaveClusters { layout, .. }
            if layout == &PathBuf::from("/out/new.json"))));

        // the map grows: a newcomer in the middle of cluster 1 joins it, named as it was
        let c1: Vec<usize> = s.shown_clusters().unwrap().members(1).collect();
        let at = s.shown().unwrap().points[c1[0]];
        let scene = s.current.as_mut().unwrap();
        scene.paths.push("/imgs/new.png".into());
        scene.points.push([at[0] + 0.001, at[1]]);
        scene.used.push(true);
        scene.aspects.push(1.0);
        if let Some(g) = scene.grid.as_mut() {
            g.cells.push([8, 8]);
        }
        s.find_clusters(true);
        let req = serve(&mut s);
        assert!(matches!(req.previous, Some((_, true))));
        let found = s.shown_clusters().unwrap();
        assert_eq!(found.cluster_of(80), Some(1));
        assert_eq!(found.snapshot.clustering.clusters[1].label, "Harbour");
    }

    #[test]
    fn the_tour_visits_clusters_with_their_names() {
        let mut s = two_groups();
        s.find_clusters(false);
        serve(&mut s);
        s.remote_listening = true;
        s.gallery.toggle_every = 0.0;
        s.gallery.set_enabled(true, s.now);
        let names: Vec<String> = s
            .shown_clusters()
            .unwrap()
            .snapshot
            .clustering
            .clusters
            .iter()
            .map(|c| c.label.clone())
            .collect();
        let mut visited = Vec::new();
        for _ in 0..120 {
            let t = s.now + 1.0;
            s.update(t);
            for e in s.take_remote_events() {
                if let RemoteEvent::TourCluster { index, label } = e {
                    assert_eq!(label, names[index]);
                    // its name is the caption
                    assert!(s.overlays.notices.iter().any(|n| n.text == label));
                    visited.push(index);
                }
            }
        }
        // both clusters, in turn
        assert!(visited.len() >= 2, "{visited:?}");
        assert_eq!(&visited[..2], &[0, 1]);
    }
}
