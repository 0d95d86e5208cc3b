//! Input: which images a map is made of — [`scan`] finds the images of a folder (recursively,
//! by extension, with a seeded random subset), [`watch`] notices images copied into or removed
//! from a watched folder once their copy is complete, [`demo`] unpacks the bundled demo set.

pub mod demo;
pub mod scan;
pub mod watch;
