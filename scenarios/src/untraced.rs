//! What the executor may learn about the filesystem without a call of the run (calls are
//! traced and digested): a file listing and whether anything changed since a given moment.

use sim::SimFs;

/// A point in a filesystem's history: its traced calls and its events so far. Every change
/// to a file is a traced call or a power loss (an event), so while the mark is the same no
/// file has changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FsMark {
    calls: u64,
    events: u64,
}

impl FsMark {
    pub(crate) fn of(fs: &SimFs) -> FsMark {
        FsMark {
            calls: fs.calls(),
            events: fs.event_total(),
        }
    }
}

/// The entries directly inside `dir` as [`sim::Vfs::list`] gives them (in path order, each
/// subdirectory once with a trailing `/`), from every live file sorted by path
/// ([`SimFs::files`], which is not a call of the run). `None` where `list` would fail (no file
/// beneath `dir`, or `dir` is a file): the caller then asks the filesystem, for its error.
pub(crate) fn entries_of(files: &[(String, sim::Stat)], dir: &str) -> Option<Vec<String>> {
    if files.binary_search_by(|(p, _)| p.as_str().cmp(dir)).is_ok() {
        return None;
    }
    let prefix = engine::mailbox::path_in(dir, "");
    let from = files.partition_point(|(p, _)| p.as_str() < prefix.as_str());
    let mut out: Vec<String> = Vec::with_capacity(files.len() - from);
    for (path, _) in files[from..].iter() {
        let Some(rest) = path.strip_prefix(&prefix) else {
            break;
        };
        match rest.find('/') {
            None => out.push(rest.to_string()),
            Some(i) => {
                let sub = &rest[..=i];
                if out.last().is_none_or(|l| l != sub) {
                    out.push(sub.to_string());
                }
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::{OpenFlags, SimConfig, Vfs};

    #[test]
    fn entries_are_what_list_gives() {
        let mut fs = SimFs::new(SimConfig::default());
        let pid = fs.spawn("t");
        for path in [
            "user/bob/Spam/cyrus.index",
            "user/bob/Spam/1.",
            "user/bob/Spam/sub/2.",
            "user/bob/Spam/sub/3.",
            "user/bob/Spam/a.b",
            "user/bob/Spam.x/4.",
            "user/bob/Spamz",
            "user/bob/Other/5.",
            "user/bobby/6.",
        ] {
            let fd = fs.open(pid, path, OpenFlags::RDWR_CREATE).unwrap();
            fs.close(pid, fd).unwrap();
        }
        let files = fs.files();
        for dir in ["user/bob/Spam", "user/bob", "user", "user/bob/Spam/sub"] {
            let listed = fs.list(dir).unwrap();
            assert_eq!(entries_of(&files, dir), Some(listed), "{dir}");
        }
        // Where list fails (no such directory; a file), the caller must ask for the error.
        for dir in ["user/bob/None", "user/bob/Spamz", "user/bob/Spam/1."] {
            assert!(fs.list(dir).is_err(), "{dir}");
            assert_eq!(entries_of(&files, dir), None, "{dir}");
        }
    }

    #[test]
    fn a_mark_moves_with_every_call_and_every_power_loss() {
        let mut fs = SimFs::new(SimConfig::default());
        let at_start = FsMark::of(&fs);
        assert_eq!(FsMark::of(&fs.snapshot()), at_start);
        fs.spawn("t");
        let after_spawn = FsMark::of(&fs);
        assert_ne!(after_spawn, at_start);
        fs.power_loss();
        assert_ne!(FsMark::of(&fs), after_spawn);
    }
}
