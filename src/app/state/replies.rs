//! Replies of helper threads that belong to no job: a file dialog's answer, a dropped path
//! looked at, a thumbnail reloaded onto a rebuilt or grown atlas.

use super::{AppState, Effect};
use crate::app::protocol::DialogKind;
use crate::render::PreparedCell;
use std::path::PathBuf;

impl AppState {
    pub(super) fn on_dialog_result(
        &mut self,
        kind: DialogKind,
        result: Result<Option<PathBuf>, String>,
    ) {
        match result {
            Ok(Some(path)) => self.act(match kind {
                DialogKind::AnalyzeFolder => super::Action::Analyze(path),
                DialogKind::LoadJson => super::Action::Load(path),
                DialogKind::SaveJson => super::Action::Save(path),
                DialogKind::SaveScreenshot => super::Action::SaveScreenshot(Some(path)),
                DialogKind::ExportSelection => super::Action::ExportSelection(path),
                DialogKind::CopySelection => super::Action::CopySelection(path),
                DialogKind::LoadMetadata => super::Action::LoadMetadata(path),
            }),
            Ok(None) => {}
            Err(e) => {
                self.error(e);
                let suggestion = match kind {
                    DialogKind::SaveJson => "layout.json",
                    DialogKind::SaveScreenshot => "layout.png",
                    DialogKind::ExportSelection => "selection.csv",
                    _ => "",
                };
                self.overlays.path_prompt = Some(super::PathPrompt {
                    kind,
                    text: suggestion.to_string(),
                });
            }
        }
    }

    /// A dropped or given path was looked at off the render thread: a folder is analyzed, a
    /// file is loaded as a layout.
    pub(super) fn on_opened(&mut self, path: PathBuf, is_dir: bool) {
        self.act(if is_dir {
            super::Action::Analyze(path)
        } else {
            super::Action::Load(path)
        });
    }

    /// A cell reloaded onto a rebuilt atlas (the scene may be gone by now).
    pub(super) fn on_reloaded_cell(
        &mut self,
        scene: u64,
        index: usize,
        cell: Result<PreparedCell, String>,
    ) {
        let Some(s) = self.scene_mut(scene) else {
            return;
        };
        if index >= s.len() {
            let n = s.len();
            return self.mismatch("a reloaded thumbnail", n, index + 1);
        }
        if let Ok(c) = &cell {
            s.aspects[index] = crate::render::layout::sanitize_aspect(c.aspect);
        }
        self.effects.push(match cell {
            Ok(cell) => Effect::Thumb { scene, index, cell },
            Err(_) => Effect::Placeholder { scene, index },
        });
    }
}
