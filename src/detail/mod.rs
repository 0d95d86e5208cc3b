//! Detail: sharper copies of the images on screen. [`decode`] makes a detail image of a file at
//! a level's size (cached, from the scaled decoder); [`stream`] decides, frame by frame and off
//! the render thread, which images need which level and feeds them to the renderer's detail
//! arrays ([`crate::render::detail`]).

pub mod decode;
pub mod stream;
