//! Small helpers the stages share: [`atomic`] writes (temp file, then rename: nothing the user
//! saved is ever half-written), [`signals`] (Ctrl-C / SIGTERM stop runs cleanly) and
//! [`folder_of`].

pub mod atomic;
pub mod signals;

use std::path::{Path, PathBuf};

/// The folder a file is in: its parent, or `.` for a bare file name (what relative paths in it,
/// and files written beside it, are taken against).
pub fn folder_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bare_file_name_is_in_the_current_folder() {
        use std::path::{Path, PathBuf};
        assert_eq!(super::folder_of(Path::new("a/b.json")), PathBuf::from("a"));
        assert_eq!(super::folder_of(Path::new("b.json")), PathBuf::from("."));
        assert_eq!(super::folder_of(Path::new("/b.json")), PathBuf::from("/"));
    }
}
