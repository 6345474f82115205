//! Writing reports so that a crash or a full disk never leaves a cut file: every file goes first
//! to a temporary folder beside it (a name no other writer holds), then is renamed over the old
//! one, so each file is either the previous version or the whole new one; the temporary folder
//! is removed on success and on error.

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
    let tmp = claim_tmp(&dir)?;
    let result = write_then_rename(&dir, &tmp, files);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// Creates a temporary folder in `dir` that no other writer uses: the pid alone is not enough
/// (shards writing their parts into one shared folder may have the same pid, as the first
/// process of every container has), so the name is claimed with `create_dir`, which fails on
/// an existing folder, trying the next number until one is free.
fn claim_tmp(dir: &Path) -> Result<PathBuf, Failure> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let pid = std::process::id();
    loop {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".licsim-tmp-{pid}-{n}"));
        match std::fs::create_dir(&tmp) {
            Ok(()) => return Ok(tmp),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1_000_000 => {}
            Err(e) => return Err(io("create", &tmp, e)),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Shards of one sweep may write their parts into one folder at the same time, from
    /// processes with the same pid (each container's first process is pid 1; hosts reuse
    /// pids): each writer must keep to its own temporary folder. Threads of this process share
    /// its pid, which is the same situation.
    #[test]
    fn concurrent_writers_with_one_pid_do_not_clash() {
        let dir = std::env::temp_dir().join(format!("licsim-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let writers: Vec<_> = (0..4)
            .map(|k| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let name = PathBuf::from(format!("shard-{k}-of-4.licsimpart"));
                        let bytes = format!("{k} {i}").into_bytes();
                        write_all(&dir, &[(name, bytes)])
                            .map_err(|e| format!("writer {k}, write {i}: {e:?}"))?;
                    }
                    Ok::<(), String>(())
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap().unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            (0..4)
                .map(|k| format!("shard-{k}-of-4.licsimpart"))
                .collect::<Vec<_>>(),
            "only the parts are left"
        );
        for k in 0..4 {
            let got = std::fs::read(dir.join(format!("shard-{k}-of-4.licsimpart"))).unwrap();
            assert_eq!(got, format!("{k} 199").into_bytes());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
