//! Small helpers the stages share: [`atomic`] writes (temp file, then rename: nothing the user
//! saved is ever half-written) and [`signals`] (Ctrl-C / SIGTERM stop runs cleanly).

pub mod atomic;
pub mod signals;
