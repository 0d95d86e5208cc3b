//! Colour: the user's `#RRGGBB` and the premultiplied linear colours the GPU blends with.

/// `#RRGGBB` / `RRGGBB` → bytes.
pub fn parse_hex_color(s: &str) -> Option<[u8; 3]> {
    let hex = s.trim().trim_start_matches('#');
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

/// Converts an sRGB colour (bytes, straight alpha) to a premultiplied linear `wgpu::Color`,
/// e.g. for the clear colour.
pub fn srgb_u8_to_clear_color(rgba: [u8; 4]) -> wgpu::Color {
    let a = rgba[3] as f64 / 255.0;
    let l = |v: u8| super::atlas::srgb_u8_to_linear(v) as f64 * a;
    wgpu::Color {
        r: l(rgba[0]),
        g: l(rgba[1]),
        b: l(rgba[2]),
        a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_colours() {
        assert_eq!(parse_hex_color("#ff8000"), Some([255, 128, 0]));
        assert_eq!(parse_hex_color("0A0b0C"), Some([10, 11, 12]));
        assert_eq!(parse_hex_color("#fff"), None);
        assert_eq!(parse_hex_color("#gg0000"), None);
        assert_eq!(parse_hex_color("#ééé"), None);
    }
}
