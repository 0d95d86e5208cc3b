//! Dialogs: native file choosers (zenity/kdialog on Linux) on their own thread; without one the
//! UI falls back to a path field.

use super::{DialogKind, Msg, Workers};
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl Workers {
    /// Show a native file dialog on a thread (zenity/kdialog on Linux). Without a dialog
    /// program the result is an error and the UI falls back to a path field.
    pub fn dialog(self: &Arc<Self>, kind: DialogKind, location: Option<PathBuf>) {
        let this = self.clone();
        let spawned = self.spawn("itl-dialog", move || {
            let result = run_dialog(kind, location.as_deref());
            this.send(Msg::DialogResult { kind, result });
        });
        if let Err(e) = spawned {
            self.send(Msg::DialogResult {
                kind,
                result: Err(format!(
                    "cannot start the file dialog ({e}); type a path in the panel instead"
                )),
            });
        }
    }
}

fn run_dialog(kind: DialogKind, location: Option<&Path>) -> Result<Option<PathBuf>, String> {
    use native_dialog::DialogBuilder;
    let mut builder = DialogBuilder::file().set_title(kind.label());
    if let Some(loc) = location {
        builder = builder.set_location(loc);
    }
    let result = match kind {
        DialogKind::AnalyzeFolder => builder.open_single_dir().show(),
        DialogKind::LoadJson => builder
            .add_filter("layout JSON", ["json"])
            .open_single_file()
            .show(),
        DialogKind::SaveJson => builder
            .add_filter("layout JSON", ["json"])
            .set_filename("layout.json")
            .save_single_file()
            .show(),
        DialogKind::SaveScreenshot => builder
            .add_filter("PNG image", ["png"])
            .set_filename("layout.png")
            .save_single_file()
            .show(),
        DialogKind::ExportSelection => builder
            .add_filter("CSV", ["csv"])
            .add_filter("JSON", ["json"])
            .set_filename("selection.csv")
            .save_single_file()
            .show(),
        DialogKind::CopySelection => builder.open_single_dir().show(),
        DialogKind::LoadMetadata => builder.add_filter("CSV", ["csv"]).open_single_file().show(),
    };
    result.map_err(|e| match e {
        native_dialog::Error::MissingDep => {
            "no file dialog available (install zenity or kdialog); type a path in the panel instead"
                .to_string()
        }
        other => format!("file dialog failed: {other}; type a path in the panel instead"),
    })
}
