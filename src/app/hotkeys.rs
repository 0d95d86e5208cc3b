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
    use VirtualKeyCode as K;

    /// What the user presses: a key (with Ctrl or not) or a typed character.
    #[derive(Clone, Copy, Debug)]
    enum Input {
        Key(VirtualKeyCode, bool),
        Char(char),
    }

    /// The inputs an on-screen hotkey label names and the action each must give; `None` for
    /// the labels that are mouse gestures (handled by the input code, not here).
    fn expected(label: &str) -> Option<Vec<(Input, Action)>> {
        use Input::{Char, Key};
        let key = |k| Key(k, false);
        Some(match label {
            "G" => vec![(key(K::G), Action::ToggleGrid)],
            "F, double-click" => vec![(key(K::F), Action::Fit)],
            "scroll, + / -" => vec![
                (Char('+'), Action::Zoom(1.25, None)),
                (Char('='), Action::Zoom(1.25, None)),
                (Char('-'), Action::Zoom(0.8, None)),
                (Char('_'), Action::Zoom(0.8, None)),
            ],
            "arrow keys" => vec![
                (key(K::Left), Action::Pan([80.0, 0.0])),
                (key(K::Right), Action::Pan([-80.0, 0.0])),
                (key(K::Up), Action::Pan([0.0, 80.0])),
                (key(K::Down), Action::Pan([0.0, -80.0])),
            ],
            "S" => vec![(key(K::S), Action::SaveScreenshot(None))],
            "P" => vec![(key(K::P), Action::CaptureFrame)],
            "H" => vec![(key(K::H), Action::ToggleGui)],
            "Space" => vec![(key(K::Space), Action::ToggleGallery)],
            "F11" => vec![(key(K::F11), Action::ToggleFullscreen)],
            "Esc" => vec![(key(K::Escape), Action::Escape)],
            "A" => vec![(key(K::A), Action::AnalyzeDialog)],
            "L" => vec![(key(K::L), Action::LoadDialog)],
            "J" => vec![(key(K::J), Action::SaveDialog)],
            "W" => vec![(key(K::W), Action::ToggleWatch)],
            "?" => vec![(Char('?'), Action::ToggleHelp)],
            "Ctrl+Q" => vec![(Key(K::Q, true), Action::Quit)],
            "drag" | "click an image" => return None,
            other => panic!("the on-screen hotkey {other:?} is not covered by this test"),
        })
    }

    fn action(input: Input) -> Option<Action> {
        match input {
            Input::Key(k, ctrl) => action_for_key(k, ctrl),
            Input::Char(c) => action_for_char(c),
        }
    }

    /// Every key of the on-screen table gives the action the table describes, and `--press`
    /// gives the same action for the same letter.
    #[test]
    fn every_hotkey_of_the_help_table_maps_to_its_action() {
        let mut checked = 0;
        for (label, _) in ui::HOTKEYS {
            for (input, want) in expected(label).unwrap_or_default() {
                assert_eq!(action(input), Some(want.clone()), "{label}: {input:?}");
                checked += 1;
                let typed = match input {
                    Input::Char(c) => Some(c),
                    Input::Key(k, false) => match k {
                        K::G => Some('g'),
                        K::F => Some('f'),
                        K::S => Some('s'),
                        K::P => Some('p'),
                        K::H => Some('h'),
                        K::A => Some('a'),
                        K::L => Some('l'),
                        K::J => Some('j'),
                        K::W => Some('w'),
                        K::Space => Some(' '),
                        _ => None,
                    },
                    Input::Key(_, true) => None,
                };
                if let Some(c) = typed {
                    assert_eq!(action_for_press(c), Some(want.clone()), "--press {c:?}");
                    if c.is_ascii_lowercase() {
                        let upper = c.to_ascii_uppercase();
                        assert_eq!(action_for_press(upper), Some(want), "--press {upper:?}");
                    }
                }
            }
        }
        assert_eq!(checked, 22, "inputs named by the on-screen table");
    }

    /// Keys the table does not name do nothing: plain Q must not quit an installation, and Ctrl
    /// with anything but Q is not a shortcut.
    #[test]
    fn keys_outside_the_table_do_nothing() {
        let named = [K::G, K::F, K::S, K::P, K::H, K::A, K::L, K::J, K::W];
        let letters = [
            K::A,
            K::B,
            K::C,
            K::D,
            K::E,
            K::F,
            K::G,
            K::H,
            K::I,
            K::J,
            K::K,
            K::L,
            K::M,
            K::N,
            K::O,
            K::P,
            K::Q,
            K::R,
            K::S,
            K::T,
            K::U,
            K::V,
            K::W,
            K::X,
            K::Y,
            K::Z,
        ];
        for k in letters {
            if !named.contains(&k) {
                assert_eq!(action_for_key(k, false), None, "{k:?}");
            }
            if k != K::Q {
                assert_eq!(action_for_key(k, true), None, "Ctrl+{k:?}");
            }
        }
        for k in [K::F1, K::F5, K::F10, K::F12, K::Return, K::Tab, K::Back] {
            assert_eq!(action_for_key(k, false), None, "{k:?}");
        }
        for c in ['q', 'x', '!', '*', '0'] {
            assert_eq!(action_for_press(c), None, "--press {c:?}");
        }
    }
}
