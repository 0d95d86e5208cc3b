//! Command-line subcommands that live in the library (so tests and examples can call them):
//! [`render`] draws a layout JSON to a PNG offscreen.

pub mod render;
