//! Names to inodes: the directory tree, live and durable.
//!
//! Directories are implicit, as the `Vfs` contract says: a directory exists while a file
//! lives beneath it, and is always durable (mkdir is not modelled). File names have two
//! states, as in a journalling filesystem such as ext4: the *live* namespace every call sees,
//! and the *durable* one power loss returns to. A creation, rename or unlink in a directory
//! reaches the durable namespace only when that directory is synced (`fsync_dir`); a rename
//! across directories needs both synced, and with only the target synced both names survive
//! (the crash leaves a hard link, as a real journal can).

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::vfs::{Errno, VfsError, VfsResult};

/// `EISDIR`, which `Errno` names only by number.
pub const EISDIR: i32 = 21;
/// `ENOTDIR`.
pub const ENOTDIR: i32 = 20;

/// Check a file path: relative, `/`-separated, no empty, `.` or `..` components.
pub fn check_path(path: &str) -> VfsResult<()> {
    if path.is_empty() {
        return Err(VfsError::new(Errno::NoEnt, "empty path"));
    }
    check_components(path)
}

/// Check a directory path: like [`check_path`], and `""` names the root.
pub fn check_dir(dir: &str) -> VfsResult<()> {
    if dir.is_empty() {
        Ok(())
    } else {
        check_components(dir)
    }
}

fn check_components(path: &str) -> VfsResult<()> {
    if path.starts_with('/') {
        return Err(VfsError::new(
            Errno::Acces,
            format!("absolute path {path:?} escapes the root"),
        ));
    }
    for c in path.split('/') {
        match c {
            ".." => {
                return Err(VfsError::new(
                    Errno::Acces,
                    format!("path {path:?} escapes the root with '..'"),
                ));
            }
            "" | "." => {
                return Err(VfsError::new(
                    Errno::Inval,
                    format!("path {path:?} has an empty or '.' component"),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The directory holding `path` (`""` for the root).
pub fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// Live and durable name tables.
#[derive(Debug, Clone, Default)]
pub struct Namespace {
    live: BTreeMap<String, u64>,
    durable: BTreeMap<String, u64>,
}

impl Namespace {
    pub fn lookup(&self, path: &str) -> Option<u64> {
        self.live.get(path).copied()
    }

    /// Whether `dir` is a directory now: the root, or some live file lies beneath it.
    pub fn is_dir(&self, dir: &str) -> bool {
        dir.is_empty() || first_under(&self.live, dir).is_some()
    }

    /// Refuse to create a file at `path` if it is a directory, or one of its ancestors a file.
    pub fn check_creatable(&self, path: &str) -> VfsResult<()> {
        if self.is_dir(path) {
            return Err(VfsError::new(
                Errno::Other(EISDIR),
                format!("{path:?} is a directory"),
            ));
        }
        let mut at = 0;
        while let Some(i) = path[at..].find('/') {
            let anc = &path[..at + i];
            if self.live.contains_key(anc) {
                return Err(VfsError::new(
                    Errno::Other(ENOTDIR),
                    format!("{anc:?} (in {path:?}) is a file, not a directory"),
                ));
            }
            at += i + 1;
        }
        Ok(())
    }

    /// Bind `path` to `ino`, returning the inode it replaces.
    pub fn insert(&mut self, path: &str, ino: u64) -> Option<u64> {
        self.live.insert(path.to_string(), ino)
    }

    pub fn remove(&mut self, path: &str) -> Option<u64> {
        self.live.remove(path)
    }

    /// The names directly inside `dir`, sorted; subdirectories end in `/`.
    pub fn list(&self, dir: &str) -> Vec<String> {
        children(&self.live, dir)
            .into_iter()
            .map(|(name, ino)| match ino {
                Some(_) => name,
                None => format!("{name}/"),
            })
            .collect()
    }

    /// Every live name with its inode, sorted by path.
    pub fn live(&self) -> impl Iterator<Item = (&str, u64)> {
        self.live.iter().map(|(p, &i)| (p.as_str(), i))
    }

    /// Every durable name with its inode, sorted by path.
    pub fn durable(&self) -> impl Iterator<Item = (&str, u64)> {
        self.durable.iter().map(|(p, &i)| (p.as_str(), i))
    }

    /// `fsync` of a directory: its file entries in the durable namespace become what they
    /// are live. Returns the inodes that lost a durable name and those that gained one.
    pub fn sync_dir(&mut self, dir: &str) -> (Vec<u64>, Vec<u64>) {
        let live: Vec<(String, u64)> = files_in(&self.live, dir);
        let durable: Vec<(String, u64)> = files_in(&self.durable, dir);
        let mut lost = Vec::new();
        let mut gained = Vec::new();
        for (name, ino) in &durable {
            if self.live.get(name) != Some(ino) {
                self.durable.remove(name);
                lost.push(*ino);
            }
        }
        for (name, ino) in live {
            if self.durable.get(&name) != Some(&ino) {
                self.durable.insert(name, ino);
                gained.push(ino);
            }
        }
        (lost, gained)
    }

    /// Power loss: the live namespace becomes the durable one.
    pub fn revert(&mut self) {
        self.live = self.durable.clone();
    }
}

/// The first name strictly beneath `dir`.
fn first_under<'a>(map: &'a BTreeMap<String, u64>, dir: &str) -> Option<&'a str> {
    // Keys after `dir` that extend it: those whose next byte sorts before '/' ("dir-x",
    // "dir.x") come first and are skipped; the first "dir/..." key is the answer; a key
    // not starting with `dir`, or going on with a byte after '/', means there is none.
    for (k, _) in map.range::<str, _>((Bound::Excluded(dir), Bound::Unbounded)) {
        match k.strip_prefix(dir)?.as_bytes().first() {
            Some(b'/') => return Some(k.as_str()),
            Some(&c) if c < b'/' => continue,
            _ => return None,
        }
    }
    None
}

/// Direct children of `dir`: (name, Some(ino)) for files, (name, None) for subdirectories.
/// Skips each subdirectory's subtree with one range jump.
fn children(map: &BTreeMap<String, u64>, dir: &str) -> Vec<(String, Option<u64>)> {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut out = Vec::new();
    let mut from = prefix.clone();
    loop {
        let next = map
            .range::<str, _>((Bound::Included(from.as_str()), Bound::Unbounded))
            .next();
        let Some((k, &ino)) = next else { break };
        let Some(rest) = k.strip_prefix(&prefix) else {
            break;
        };
        match rest.find('/') {
            None => {
                out.push((rest.to_string(), Some(ino)));
                from = format!("{k}\0");
            }
            Some(i) => {
                let sub = &rest[..i];
                out.push((sub.to_string(), None));
                // '0' is the character after '/': the first name past this subtree.
                from = format!("{prefix}{sub}0");
            }
        }
    }
    out
}

/// Files directly in `dir`, with full paths.
fn files_in(map: &BTreeMap<String, u64>, dir: &str) -> Vec<(String, u64)> {
    children(map, dir)
        .into_iter()
        .filter_map(|(name, ino)| {
            let full = if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            };
            ino.map(|i| (full, i))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_escape_the_root_are_refused_and_malformed_ones_invalid() {
        assert_eq!(check_path("/etc/passwd").unwrap_err().errno, Errno::Acces);
        assert_eq!(check_path("a/../b").unwrap_err().errno, Errno::Acces);
        assert_eq!(check_path("a//b").unwrap_err().errno, Errno::Inval);
        assert_eq!(check_path("a/").unwrap_err().errno, Errno::Inval);
        assert_eq!(check_path("").unwrap_err().errno, Errno::NoEnt);
        assert!(check_path("user/joe/cyrus.index").is_ok());
        assert!(check_dir("").is_ok());
    }

    #[test]
    fn list_gives_sorted_names_with_subdirectories_marked_once() {
        let mut ns = Namespace::default();
        for (i, p) in ["b", "a/x", "a/y/z", "a/y/w", "a/y0", "c/d"]
            .iter()
            .enumerate()
        {
            ns.insert(p, i as u64);
        }
        assert_eq!(ns.list(""), vec!["a/", "b", "c/"]);
        assert_eq!(ns.list("a"), vec!["x", "y/", "y0"]);
        assert_eq!(ns.list("a/y"), vec!["w", "z"]);
        assert!(ns.is_dir("a/y") && !ns.is_dir("a/x") && !ns.is_dir("q"));
    }

    #[test]
    fn files_cannot_shadow_directories_or_live_under_files() {
        let mut ns = Namespace::default();
        ns.insert("a/b", 1);
        assert_eq!(
            ns.check_creatable("a").unwrap_err().errno,
            Errno::Other(EISDIR)
        );
        assert_eq!(
            ns.check_creatable("a/b/c").unwrap_err().errno,
            Errno::Other(ENOTDIR)
        );
        assert!(ns.check_creatable("a/c").is_ok());
    }

    #[test]
    fn entries_become_durable_only_when_their_directory_is_synced() {
        let mut ns = Namespace::default();
        ns.insert("d/new", 1);
        ns.insert("e/other", 2);
        assert_eq!(ns.sync_dir("d"), (vec![], vec![1]));
        ns.remove("d/new");
        ns.insert("d/renamed", 1);
        ns.revert();
        assert_eq!(ns.lookup("d/new"), Some(1));
        assert_eq!(ns.lookup("d/renamed"), None);
        assert_eq!(ns.lookup("e/other"), None);
    }
}

#[cfg(test)]
mod first_under_tests {
    use super::*;

    #[test]
    fn a_directory_is_found_past_siblings_that_sort_before_its_slash() {
        let mut ns = Namespace::default();
        for (p, i) in [
            ("a/dir-x", 1),
            ("a/dir.x", 2),
            ("a/dirA", 3),
            ("a/dirs/f", 4),
        ] {
            ns.insert(p, i);
        }
        // "dir-x" and "dir.x" sort between "dir" and "dir/"; "dirA" after every "dir/...".
        assert!(!ns.is_dir("a/dir"));
        ns.insert("a/dir/f", 5);
        assert!(ns.is_dir("a/dir"));
        assert!(ns.is_dir("a/dirs") && ns.is_dir("a") && ns.is_dir(""));
        assert!(!ns.is_dir("a/dir-x") && !ns.is_dir("a/di") && !ns.is_dir("b"));
        ns.remove("a/dirs/f");
        assert!(!ns.is_dir("a/dirs"));
    }
}
