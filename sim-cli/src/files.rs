//! Writing reports so that a crash or a full disk never leaves a cut file: every file goes first
//! to a temporary folder beside it (a unique name), then is renamed over the old one, so each
//! file is either the previous version or the whole new one; the temporary folder is removed
//! on success and on error.

use crate::Failure;
use std::io::Write;
use std::path::{Path, PathBuf};

fn io(what: &str, p: &Path, e: std::io::Error) -> Failure {
    Failure::bad_input(format!("cannot {what} {}: {e}", p.display()))
}

/// Writes `files` (paths relative to `dir`) into `dir`, each atomically. A `dir` that is a
/// symbolic link is followed (the files go where it points).
pub fn write_all(dir: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
    let dir = dir.canonicalize().map_err(|e| io("resolve", dir, e))?;
    let tmp = dir.join(format!(".licsim-tmp-{}", std::process::id()));
    let result = write_then_rename(&dir, &tmp, files);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn write_then_rename(dir: &Path, tmp: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<(), Failure> {
    for (rel, bytes) in files {
        let p = tmp.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
        }
        let mut f = std::fs::File::create(&p).map_err(|e| io("write", &p, e))?;
        f.write_all(bytes).map_err(|e| io("write", &p, e))?;
        f.sync_all().map_err(|e| io("write", &p, e))?;
    }
    for (rel, _) in files {
        let to = dir.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
        }
        if to.is_dir() {
            return Err(Failure::bad_input(format!(
                "cannot write {}: it is a folder",
                to.display()
            )));
        }
        std::fs::rename(tmp.join(rel), &to).map_err(|e| io("write", &to, e))?;
    }
    Ok(())
}
