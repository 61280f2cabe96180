//! AgentBench OS interaction: operate or inspect a Linux system with bash.
//!
//! AgentBench gives each task a fresh Ubuntu docker container and keeps one
//! interactive `bash --login` open in it for the episode. Here each episode
//! gets a bubblewrap sandbox ([`sandbox`]) and every command runs in a fresh
//! bash that restores the previous command's working directory, variables,
//! functions and aliases. Differences from the docker original:
//!
//! - the system is the host's `/usr` (read-only below `/usr/*`), not Ubuntu's
//!   image: tools the host lacks are missing and listings differ;
//! - only uid 0 exists (one-uid user namespace): `useradd` works on
//!   `/etc/passwd` but `chown` to other users, `su`, `sudo -u` fail;
//! - there is no tty: output has no colour and `ls` prints one name per line;
//!   programs see stdin at end of file;
//! - background processes keep running between commands (as in docker) but
//!   are killed with the command when it hits the time limit;
//! - no network at all.
//!
//! [`excluded`] lists the tasks this makes unreproducible.

pub mod b64;
pub mod data;
pub mod env;
pub mod etc;
pub mod protocol;
pub mod sandbox;

pub use data::OsTask;
pub use env::OsEnv;
pub use sandbox::{RunOutput, Sandbox, SandboxConfig, ScriptKind};

use crate::db::Excluded;

const OTHER_USERS: &str = "needs a second user (chown/chgrp/su/runuser to a non-root uid): \
the sandbox's user namespace maps only uid 0";
const UNREADABLE_HOST_DIRS: &str = "its check runs `find /`, which exits non-zero on host \
directories the sandbox cannot read (/proc/tty/driver, root-only dirs under /usr); in docker \
as real root it does not";
const DECIMAL_SIZE: &str = "broken in the original: the check's size parser does int() on \
du's decimal output (e.g. 4.0K), so the example answer fails in AgentBench too";
const APT: &str = "installs packages with apt: no network and no package database in the sandbox";

/// OS tasks not reproducible in the sandbox, with reasons (found by the
/// full gold replay; see the crate README section in the lead's report).
pub fn excluded() -> Vec<Excluded> {
    let list: [(&str, &str); 18] = [
        ("dev-001-dev-00008", DECIMAL_SIZE),
        ("dev-001-dev-00024", OTHER_USERS),
        ("std-002-environment-00002", UNREADABLE_HOST_DIRS),
        ("std-002-environment-00003", UNREADABLE_HOST_DIRS),
        (
            "std-002-environment-00004",
            "its example searches `find \"$(pwd)\"` for the \
            executable and its check needs the result in ~/.bashrc; the host's unreadable \
            directories make the example fail",
        ),
        ("std-004-N37-00000", UNREADABLE_HOST_DIRS),
        (
            "std-004-Q09-00000",
            "its init writes to file descriptor 123321 (`echo 123321>file`), \
            above the host's open-file hard limit (docker's is 1048576)",
        ),
        (
            "std-005-new-00001",
            "its check script does not finish within the 30 s command limit \
            in the sandbox (not investigated further)",
        ),
        ("std-005-new-00005", DECIMAL_SIZE),
        ("std-006-new-00000", OTHER_USERS),
        ("std-006-new-00001", OTHER_USERS),
        ("std-006-new-00002", OTHER_USERS),
        (
            "std-006-new-00003",
            "its init changes permissions of /usr/bin/find: the host's /usr \
            is read-only in the sandbox",
        ),
        ("std-006-new-00005", APT),
        ("std-006-new-00006", APT),
        ("std-006-new-00008", APT),
        (
            "std-007-bootstrap-00029",
            "its example and check disagree in the sandbox (the check \
            recomputes a different count; not investigated further)",
        ),
        (
            "std-007-bootstrap-00067",
            "its example prints nothing in the sandbox, so the check's \
            int() fails (not investigated further)",
        ),
    ];
    list.iter()
        .map(|(id, reason)| Excluded {
            task_id: (*id).to_string(),
            reason: reason.split_whitespace().collect::<Vec<_>>().join(" "),
        })
        .collect()
}
