//! Hotkeys: keys and typed characters (and `--press` scripts) mapped to [`Action`]s.

use super::state::Action;
use nannou::winit::event::VirtualKeyCode;

/// Map a key (with Ctrl held or not) to an action. Characters such as `?`, `+` and `-` come
/// through [`action_for_char`] so they work on any keyboard layout.
pub fn action_for_key(key: VirtualKeyCode, ctrl: bool) -> Option<Action> {
    use VirtualKeyCode as K;
    Some(match (key, ctrl) {
        (K::Q, true) => Action::Quit,
        (_, true) => return None,
        (K::G, _) => Action::ToggleGrid,
        (K::F, _) => Action::Fit,
        (K::S, _) => Action::SaveScreenshot(None),
        (K::P, _) => Action::CaptureFrame,
        (K::H, _) => Action::ToggleGui,
        (K::Space, _) => Action::ToggleGallery,
        (K::F11, _) => Action::ToggleFullscreen,
        (K::Escape, _) => Action::Escape,
        (K::A, _) => Action::AnalyzeDialog,
        (K::L, _) => Action::LoadDialog,
        (K::J, _) => Action::SaveDialog,
        (K::W, _) => Action::ToggleWatch,
        (K::Left, _) => Action::Pan([80.0, 0.0]),
        (K::Right, _) => Action::Pan([-80.0, 0.0]),
        (K::Up, _) => Action::Pan([0.0, 80.0]),
        (K::Down, _) => Action::Pan([0.0, -80.0]),
        _ => return None,
    })
}

/// The hotkey action of a character typed on the command line (`--press`).
pub fn action_for_press(c: char) -> Option<Action> {
    use VirtualKeyCode as K;
    let key = match c.to_ascii_lowercase() {
        'g' => K::G,
        'f' => K::F,
        's' => K::S,
        'p' => K::P,
        'h' => K::H,
        ' ' => K::Space,
        'a' => K::A,
        'l' => K::L,
        'j' => K::J,
        'w' => K::W,
        _ => return action_for_char(c),
    };
    action_for_key(key, false)
}

/// Map a typed character to an action.
pub fn action_for_char(c: char) -> Option<Action> {
    Some(match c {
        '?' => Action::ToggleHelp,
        '+' | '=' => Action::Zoom(1.25, None),
        '-' | '_' => Action::Zoom(0.8, None),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::ui;

    #[test]
    fn hotkeys_map_to_actions() {
        assert_eq!(
            action_for_key(VirtualKeyCode::G, false),
            Some(Action::ToggleGrid)
        );
        assert_eq!(
            action_for_key(VirtualKeyCode::S, false),
            Some(Action::SaveScreenshot(None))
        );
        assert_eq!(
            action_for_key(VirtualKeyCode::Escape, false),
            Some(Action::Escape)
        );
        assert_eq!(action_for_key(VirtualKeyCode::Q, true), Some(Action::Quit));
        assert_eq!(
            action_for_key(VirtualKeyCode::Q, false),
            None,
            "plain Q must not quit an installation"
        );
        assert_eq!(action_for_char('?'), Some(Action::ToggleHelp));
        // every documented hotkey letter is handled
        for (key, _) in ui::HOTKEYS {
            if key.len() == 1 && key.chars().all(|c| c.is_ascii_uppercase()) {
                let code = match *key {
                    "G" => VirtualKeyCode::G,
                    "F" => VirtualKeyCode::F,
                    "S" => VirtualKeyCode::S,
                    "P" => VirtualKeyCode::P,
                    "H" => VirtualKeyCode::H,
                    "A" => VirtualKeyCode::A,
                    "L" => VirtualKeyCode::L,
                    "J" => VirtualKeyCode::J,
                    "W" => VirtualKeyCode::W,
                    other => panic!("hotkey {other} not covered by this test"),
                };
                assert!(action_for_key(code, false).is_some(), "{key}");
            }
        }
    }
}
