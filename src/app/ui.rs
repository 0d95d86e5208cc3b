//! UI: the egui control panel with the original ImageTSNELive's controls and names, the
//! progress bar and status line, notices, the hotkey help, the hover label and the lightbox.
//! It only reads and edits [`AppState`] and returns [`Action`]s.

use super::state::{Action, AppState, ClusterLabel};
use crate::render::PlateMode;
use nannou_egui::egui;

/// Every hotkey, for the help overlay and the README.
pub const HOTKEYS: &[(&str, &str)] = &[
    ("G", "view as grid / back to t-SNE (animated)"),
    ("F, double-click", "fit the layout to the window"),
    ("drag", "pan"),
    ("scroll, + / -", "zoom (around the cursor)"),
    ("arrow keys", "pan"),
    (
        "click an image",
        "open it larger (lightbox); click or Esc closes",
    ),
    (
        "S",
        "save a screenshot of the whole layout (PNG, in the screenshot folder)",
    ),
    ("P", "capture the window's current frame (PNG)"),
    ("H", "hide / show the GUI"),
    ("Space", "start / stop the gallery tour"),
    ("F11", "fullscreen on / off"),
    (
        "Esc",
        "close lightbox or help, else cancel the running analysis",
    ),
    ("A", "analyze new directory"),
    ("L", "load result from json"),
    ("J", "save result to json"),
    ("W", "watch the folder for new images (on / off)"),
    ("?", "this help"),
    ("Ctrl+Q", "quit"),
];

/// Largest `max num images` the slider offers.
pub const MAX_IMAGES_LIMIT: usize = 50_000;

/// How the main window shows the lightbox.
pub enum Lightbox<'a> {
    /// The panel draws it: the larger image once it is decoded (`None`: still loading), with
    /// its plate colour when it is drawn on one.
    Panel(Option<(&'a egui::TextureHandle, Option<[u8; 3]>)>),
    /// The map's outputs draw it (the main window is a wall slice or shows the wall scaled):
    /// the panel only names the file and takes the click that closes it.
    OnMap,
}

/// What is drawn over the map besides the panel: the cluster names and the lasso being drawn
/// (both in the main window's pixels).
pub struct Overlay<'a> {
    pub labels: &'a [ClusterLabel],
    pub lasso: &'a [[f32; 2]],
}

/// Draw the whole UI for this frame; returns what the user asked for and the right edge of the
/// control panel (egui points; 0 when hidden).
pub fn draw(
    ctx: &egui::Context,
    state: &mut AppState,
    fps: f32,
    lightbox: Lightbox<'_>,
    hover_label: Option<(String, [f32; 2])>,
    overlay: Overlay<'_>,
) -> (Vec<Action>, f32) {
    let mut actions = Vec::new();
    let mut panel_right = 0.0;
    cluster_labels(ctx, overlay.labels);
    lasso(ctx, overlay.lasso);
    if state.overlays.gui_visible {
        panel_right = panel(ctx, state, fps, &mut actions);
    }
    notices(ctx, state);
    if state.overlays.help_visible {
        help(ctx, state);
    }
    if let Some((text, pos)) = hover_label {
        if state.overlays.lightbox.is_none() {
            egui::Area::new("hover-label")
                .fixed_pos(egui::pos2(pos[0] + 14.0, pos[1] + 14.0))
                .order(egui::Order::Tooltip)
                .interactable(false)
                .show(ctx, |ui| {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        ui.label(text);
                    });
                });
        }
    }
    if state.overlays.lightbox.is_some() {
        lightbox_view(ctx, state, lightbox, &mut actions);
    }
    (actions, panel_right)
}

fn panel(ctx: &egui::Context, state: &mut AppState, fps: f32, actions: &mut Vec<Action>) -> f32 {
    let shown = egui::Window::new("image-tsne-live")
        .default_pos(egui::pos2(12.0, 12.0))
        .resizable(false)
        .collapsible(true)
        .show(ctx, |ui| {
            ui.set_width(260.0);
            ui.heading("view");
            let grid_ok = state.grid_available();
            let mut grid = state.view.view_as_grid;
            let r = ui.add_enabled(grid_ok, egui::Checkbox::new(&mut grid, "view as grid"));
            if r.changed() {
                actions.push(Action::ToggleGrid);
            }
            ui.add(
                egui::Slider::new(&mut state.view.scale, 1.0..=10.0)
                    .clamp_to_range(false)
                    .text("scale"),
            );
            if state.view.view_as_grid && grid_ok {
                let mut auto = 1.0f32;
                ui.add_enabled(
                    false,
                    egui::Slider::new(&mut auto, 0.0..=2.0).text("image size (auto)"),
                );
            } else {
                ui.add(egui::Slider::new(&mut state.view.image_size, 0.0..=2.0).text("image size"));
            }
            ui.horizontal(|ui| {
                ui.label("plates")
                    .on_hover_text("a card behind images that would not stand out (--plates)");
                for mode in [PlateMode::Auto, PlateMode::Always, PlateMode::Never] {
                    ui.radio_value(&mut state.view.plates, mode, mode.name());
                }
            });

            clusters_section(ui, state, actions);
            selection_section(ui, state, actions);
            metadata_section(ui, state, actions);

            ui.separator();
            ui.heading("analyze");
            ui.add(
                egui::Slider::new(&mut state.analysis.max_images, 1..=MAX_IMAGES_LIMIT)
                    .logarithmic(true)
                    .clamp_to_range(false)
                    .text("max num images"),
            );
            // A loaded layout that does not record its t-SNE settings: the sliders would show
            // values that did not make it, so they stay disabled until the user asks to re-run.
            let unknown = state.tsne_settings_unknown();
            if unknown {
                ui.label("t-SNE settings of this layout: unknown");
                if ui
                    .button("re-run t-SNE… (re-extracts features)")
                    .on_hover_text(
                        "enables perplexity and theta; a change re-extracts the features \
                         (from the cache when it has them) and replaces the loaded map",
                    )
                    .clicked()
                {
                    actions.push(Action::UnlockTsneSettings);
                }
            }
            // clamp_to_range(false): values given on the command line outside the original's
            // ranges are kept, not silently changed.
            let p = ui.add_enabled(
                !unknown,
                egui::Slider::new(&mut state.analysis.perplexity, 5.0..=80.0)
                    .clamp_to_range(false)
                    .text("perplexity"),
            );
            let t = ui.add_enabled(
                !unknown,
                egui::Slider::new(&mut state.analysis.theta, 0.1..=0.7)
                    .clamp_to_range(false)
                    .text("theta"),
            );
            // Re-run t-SNE when a slider is let go (or changed by keyboard), not on every drag step.
            let released = |r: &egui::Response| r.drag_released() || (r.changed() && !r.dragged());
            if released(&p) || released(&t) {
                actions.push(Action::TsneParamsChanged);
            }

            let mut watching = state.growing.watch_wanted;
            if ui
                .checkbox(&mut watching, "watch folder for new images")
                .on_hover_text(
                    "images copied into the map's folder join the map (the others do not \
                     move); deleted ones leave it",
                )
                .changed()
            {
                actions.push(Action::ToggleWatch);
            }

            ui.separator();
            if ui.button("analyze new directory").clicked() {
                actions.push(Action::AnalyzeDialog);
            }
            if ui.button("load result from json").clicked() {
                actions.push(Action::LoadDialog);
            }
            if ui.button("save result to json").clicked() {
                actions.push(Action::SaveDialog);
            }
            if ui.button("save screenshot").clicked() {
                actions.push(Action::ScreenshotDialog);
            }
            if let Some(crate::app::state::PathPrompt { kind, text }) =
                state.overlays.path_prompt.as_mut()
            {
                ui.separator();
                ui.label(format!("no file dialog here: type the {}", kind.label()));
                let r = ui.text_edit_singleline(text);
                let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                let mut submit = enter;
                let mut cancel = false;
                ui.horizontal(|ui| {
                    submit |= ui.button("ok").clicked();
                    cancel = ui.button("cancel").clicked();
                });
                if cancel {
                    state.overlays.path_prompt = None;
                } else if submit {
                    state.submit_path_prompt();
                }
            }

            if let Some(job) = &state.job {
                ui.separator();
                let mut text = format!(
                    "{} {}",
                    job.stage.label(),
                    if job.total > 0 {
                        format!("{}/{}", job.done, job.total)
                    } else {
                        String::new()
                    }
                );
                if let Some(eta) = job.eta(state.now) {
                    text.push_str(&format!(
                        " · {} left",
                        crate::progress::format_duration(std::time::Duration::from_secs_f64(eta))
                    ));
                }
                let bar = match job.fraction() {
                    Some(f) => egui::ProgressBar::new(f).text(text),
                    None => egui::ProgressBar::new(0.0).animate(true).text(text),
                };
                ui.add(bar);
                if ui.button("cancel (Esc)").clicked() {
                    actions.push(Action::Cancel);
                }
            }

            ui.separator();
            ui.small(state.status_line(fps));
            if !state.overlays.warnings.is_empty() {
                egui::CollapsingHeader::new(format!(
                    "warnings ({})",
                    state.overlays.warnings.len()
                ))
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .max_height(160.0)
                        .show(ui, |ui| {
                            for w in &state.overlays.warnings {
                                ui.small(w);
                            }
                        });
                });
            }
            ui.small("press ? for hotkeys");
        });
    shown.map(|r| r.response.rect.right()).unwrap_or(0.0)
}

/// The clusters: names over the map on / off, and the list (click: fly there; ✎: rename).
fn clusters_section(ui: &mut egui::Ui, state: &mut AppState, actions: &mut Vec<Action>) {
    ui.separator();
    ui.heading("clusters");
    let rows: Vec<(usize, String, usize, String)> = match state.shown_clusters() {
        None => {
            ui.label(if state.finding_clusters() {
                "finding clusters…"
            } else {
                "none yet (they are found when a map is laid out)"
            });
            return;
        }
        Some(found) => found
            .snapshot
            .clustering
            .clusters
            .iter()
            .enumerate()
            .map(|(c, k)| {
                let why = if k.classes.is_empty() {
                    "named after its most typical image".to_string()
                } else {
                    let classes: Vec<String> = k
                        .classes
                        .iter()
                        .map(|(n, p)| format!("{n} {:.0} %", 100.0 * p))
                        .collect();
                    format!("ImageNet classes: {}", classes.join(", "))
                };
                let why = if k.renamed {
                    format!("named by you (found as \"{}\")", k.auto_label)
                } else {
                    why
                };
                (c, k.label.clone(), k.members.len(), why)
            })
            .collect(),
    };
    // (a cluster named after its typical image shows that image's title, when there is one)
    let rows: Vec<(usize, String, usize, String)> = rows
        .into_iter()
        .map(|(c, label, n, why)| (c, state.cluster_label(c).unwrap_or(label), n, why))
        .collect();
    let mut labels = state.clusters.labels_visible;
    if ui.checkbox(&mut labels, "show cluster names").changed() {
        actions.push(Action::ToggleClusterLabels);
    }
    egui::ScrollArea::vertical()
        .id_source("clusters-list")
        .max_height(180.0)
        .show(ui, |ui| {
            for (c, label, count, why) in rows {
                ui.horizontal(|ui| {
                    let editing = state.clusters.renaming.as_ref().is_some_and(|r| r.0 == c);
                    if editing {
                        let mut done = None;
                        if let Some((_, text)) = state.clusters.renaming.as_mut() {
                            let r = ui.add(egui::TextEdit::singleline(text).desired_width(170.0));
                            r.request_focus();
                            if ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                                done = Some(Some(text.clone()));
                            } else if ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                                done = Some(None);
                            }
                        }
                        match done {
                            Some(Some(name)) => actions.push(Action::RenameCluster(c, name)),
                            Some(None) => state.clusters.renaming = None,
                            None => {}
                        }
                    } else {
                        if ui
                            .small_button("✏")
                            .on_hover_text("rename (kept beside the layout)")
                            .clicked()
                        {
                            state.clusters.renaming = Some((c, label.clone()));
                        }
                        if ui
                            .small_button("☐")
                            .on_hover_text("select its images")
                            .clicked()
                        {
                            actions.push(Action::SelectCluster(c));
                        }
                        if ui
                            .selectable_label(false, format!("{c}  {label}  ({count})"))
                            .on_hover_text(why)
                            .clicked()
                        {
                            actions.push(Action::GotoCluster(c));
                        }
                    }
                });
            }
        });
}

/// The selection: its count and what can be done with it.
fn selection_section(ui: &mut egui::Ui, state: &mut AppState, actions: &mut Vec<Action>) {
    ui.separator();
    ui.heading("selection");
    let n = state.selected().len();
    if n == 0 {
        ui.small("shift-drag: lasso · shift-click: add or remove one · ☐ by a cluster: all of it");
        return;
    }
    ui.horizontal(|ui| {
        ui.label(format!("{n} images selected"));
        if ui.small_button("clear").clicked() {
            actions.push(Action::ClearSelection);
        }
    });
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("export paths…")
            .on_hover_text("their paths as CSV, or as a JSON array for a .json file")
            .clicked()
        {
            actions.push(Action::ExportSelectionDialog);
        }
        if ui
            .button("copy files to…")
            .on_hover_text("copies into a folder: nothing there is overwritten, names are kept")
            .clicked()
        {
            actions.push(Action::CopySelectionDialog);
        }
        if ui
            .button("new map from selection")
            .on_hover_text("analyzes just these images: their own t-SNE and grid")
            .clicked()
        {
            actions.push(Action::NewMapFromSelection);
        }
    });
}

/// The metadata: which file, the filter box and its count, and the grid's order.
fn metadata_section(ui: &mut egui::Ui, state: &mut AppState, actions: &mut Vec<Action>) {
    ui.separator();
    ui.heading("metadata");
    ui.horizontal(|ui| {
        let file = state
            .metadata_file()
            .and_then(|f| f.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        ui.label(file.unwrap_or_else(|| "no metadata file".into()));
        if ui
            .small_button("load CSV…")
            .on_hover_text(
                "first column: a path or file name; the others: title, artist, year, tags…",
            )
            .clicked()
        {
            actions.push(Action::LoadMetadataDialog);
        }
    });
    ui.horizontal(|ui| {
        ui.label("filter");
        let mut text = state.metadata.filter_text.clone();
        let r = ui.add(
            egui::TextEdit::singleline(&mut text)
                .hint_text("words in any field or file name")
                .desired_width(170.0),
        );
        if r.changed() {
            actions.push(Action::SetFilter(text));
        }
    });
    if let Some((hits, of)) = state.filter_count() {
        ui.horizontal(|ui| {
            ui.label(format!("{hits} of {of} match"));
            if ui.small_button("select them").clicked() {
                actions.push(Action::SelectMatches);
            }
            if ui.small_button("clear").clicked() {
                actions.push(Action::SetFilter(String::new()));
            }
        });
    }
    let columns = state.sortable_columns();
    if !columns.is_empty() && state.grid_available() {
        let current = state.metadata.sort_column;
        let name = |c: Option<usize>| match c {
            None => "t-SNE (similarity)".to_string(),
            Some(c) => columns
                .iter()
                .find(|k| k.0 == c)
                .map_or_else(String::new, |k| format!("by {}", k.1)),
        };
        egui::ComboBox::from_label("grid order")
            .selected_text(name(current))
            .show_ui(ui, |ui| {
                for choice in std::iter::once(None).chain(columns.iter().map(|k| Some(k.0))) {
                    if ui
                        .selectable_label(current == choice, name(choice))
                        .clicked()
                        && current != choice
                    {
                        actions.push(Action::SortGrid(choice));
                    }
                }
            });
    }
}

/// The lasso being drawn: its outline, closed back to where it began.
fn lasso(ctx: &egui::Context, points: &[[f32; 2]]) {
    if points.len() < 2 {
        return;
    }
    let ppp = ctx.pixels_per_point().max(1e-3);
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::new("lasso"),
    ));
    let mut line: Vec<egui::Pos2> = points
        .iter()
        .map(|p| egui::pos2(p[0] / ppp, p[1] / ppp))
        .collect();
    line.push(line[0]);
    painter.add(egui::Shape::line(
        line,
        egui::Stroke::new(2.0, egui::Color32::from_rgb(255, 206, 63)),
    ));
}

/// Cluster names over the map (behind the panel and the notices), each on a dark tag so it
/// reads on any image, fading as its cluster fills the window.
fn cluster_labels(ctx: &egui::Context, labels: &[ClusterLabel]) {
    if labels.is_empty() {
        return;
    }
    let ppp = ctx.pixels_per_point().max(1e-3);
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Background,
        egui::Id::new("cluster-labels"),
    ));
    for l in labels.iter().filter(|l| l.alpha > 0.01) {
        let a = l.alpha.clamp(0.0, 1.0);
        let centre = egui::pos2(l.screen[0] / ppp, l.screen[1] / ppp);
        let galley = painter.layout_no_wrap(
            l.text.clone(),
            egui::FontId::proportional(16.0),
            egui::Color32::from_white_alpha((255.0 * a) as u8),
        );
        let rect =
            egui::Rect::from_center_size(centre, galley.size()).expand2(egui::vec2(8.0, 4.0));
        painter.rect_filled(
            rect,
            6.0,
            egui::Color32::from_black_alpha((170.0 * a) as u8),
        );
        painter.galley(rect.min + egui::vec2(8.0, 4.0), galley);
    }
}

fn notices(ctx: &egui::Context, state: &AppState) {
    if state.overlays.notices.is_empty() {
        return;
    }
    egui::Area::new("notices")
        .anchor(egui::Align2::CENTER_BOTTOM, egui::vec2(0.0, -24.0))
        .interactable(false)
        .show(ctx, |ui| {
            for n in &state.overlays.notices {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    let color = if n.is_error {
                        egui::Color32::from_rgb(255, 120, 100)
                    } else {
                        ui.visuals().text_color()
                    };
                    ui.colored_label(color, &n.text);
                });
            }
        });
}

fn help(ctx: &egui::Context, state: &mut AppState) {
    let mut open = true;
    egui::Window::new("hotkeys")
        .open(&mut open)
        .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
        .resizable(false)
        .collapsible(false)
        .show(ctx, |ui| {
            egui::Grid::new("hotkeys-grid")
                .striped(true)
                .show(ui, |ui| {
                    for (key, what) in HOTKEYS {
                        ui.strong(*key);
                        ui.label(*what);
                        ui.end_row();
                    }
                });
        });
    if !open {
        state.overlays.help_visible = false;
    }
}

fn lightbox_view(
    ctx: &egui::Context,
    state: &mut AppState,
    lightbox: Lightbox<'_>,
    actions: &mut Vec<Action>,
) {
    let Some(index) = state.overlays.lightbox else {
        return;
    };
    let name = state
        .shown()
        .and_then(|s| s.paths.get(index))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let screen = ctx.screen_rect();
    let mut close = false;
    egui::Area::new("lightbox-backdrop")
        .fixed_pos(screen.min)
        .order(egui::Order::Foreground)
        .show(ctx, |ui| {
            let r = ui.allocate_rect(screen, egui::Sense::click());
            let texture = match lightbox {
                Lightbox::Panel(texture) => texture,
                Lightbox::OnMap => {
                    let file = std::path::Path::new(&name)
                        .file_name()
                        .map_or(name.clone(), |n| n.to_string_lossy().into_owned());
                    ui.painter().text(
                        egui::pos2(screen.center().x, screen.max.y - 12.0),
                        egui::Align2::CENTER_BOTTOM,
                        file,
                        egui::FontId::proportional(15.0),
                        egui::Color32::WHITE,
                    );
                    if r.clicked() {
                        close = true;
                    }
                    return;
                }
            };
            ui.painter()
                .rect_filled(screen, 0.0, egui::Color32::from_black_alpha(200));
            if let Some((tex, plate)) = texture {
                let size = tex.size_vec2();
                let max = screen.size() * 0.85;
                let scale = (max.x / size.x).min(max.y / size.y).min(4.0);
                let rect = egui::Rect::from_center_size(screen.center(), size * scale);
                if let Some([r, g, b]) = plate {
                    // the image's plate, as on the map (see render::plate)
                    let radius =
                        crate::render::plate::CORNER * 0.5 * rect.width().min(rect.height());
                    ui.painter()
                        .rect_filled(rect, radius, egui::Color32::from_rgb(r, g, b));
                }
                ui.painter().image(
                    tex.id(),
                    rect,
                    egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                    egui::Color32::WHITE,
                );
                let [w, h] = tex.size();
                ui.painter().text(
                    egui::pos2(screen.center().x, rect.max.y + 8.0),
                    egui::Align2::CENTER_TOP,
                    format!("{name}  ({w}×{h})"),
                    egui::FontId::proportional(15.0),
                    egui::Color32::WHITE,
                );
            } else {
                ui.painter().text(
                    screen.center(),
                    egui::Align2::CENTER_CENTER,
                    format!("loading {name} …"),
                    egui::FontId::proportional(16.0),
                    egui::Color32::WHITE,
                );
            }
            if r.clicked() {
                close = true;
            }
        });
    // the image's metadata, every field
    let fields = state.fields(index);
    if !fields.is_empty() {
        egui::Area::new("lightbox-fields")
            .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-16.0, 16.0))
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.set_max_width(320.0);
                    for (k, v) in &fields {
                        ui.label(egui::RichText::new(k).small().strong());
                        ui.label(v);
                    }
                });
            });
    }
    if close {
        actions.push(Action::Escape);
    }
}
