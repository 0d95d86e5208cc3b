//! Command-line subcommands that live in the library (so tests and examples can call them):
//! [`render`] draws a layout JSON to a PNG offscreen; [`args`] holds the argument checks the
//! subcommands and the app share.

pub mod args;
pub mod render;
