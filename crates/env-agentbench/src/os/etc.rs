//! The `/etc` every sandbox starts from: a whitelisted copy of the host's
//! (what programs need to run: dynamic linker cache, alternatives, shell
//! profiles, login defaults) plus synthetic account files, so nothing
//! private of the host (its users, password hashes, secrets) is visible.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use crate::error::AgentBenchError;

/// Host `/etc` entries copied into the sandbox.
const WHITELIST: &[&str] = &[
    "adduser.conf",
    "alternatives",
    "bash.bashrc",
    "debian_version",
    "default",
    "deluser.conf",
    "environment",
    "host.conf",
    "inputrc",
    "issue",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "login.defs",
    "magic",
    "magic.mime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "profile",
    "profile.d",
    "python3",
    "python3.11",
    "python3.12",
    "shells",
    "skel",
    "timezone",
];

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
games:x:5:60:games:/usr/games:/usr/sbin/nologin
man:x:6:12:man:/var/cache/man:/usr/sbin/nologin
lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
news:x:9:9:news:/var/spool/news:/usr/sbin/nologin
uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin
proxy:x:13:13:proxy:/bin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin
irc:x:39:39:ircd:/run/ircd:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
";

const GROUPS: &[(&str, u32)] = &[
    ("root", 0),
    ("daemon", 1),
    ("bin", 2),
    ("sys", 3),
    ("adm", 4),
    ("tty", 5),
    ("disk", 6),
    ("lp", 7),
    ("mail", 8),
    ("news", 9),
    ("uucp", 10),
    ("man", 12),
    ("proxy", 13),
    ("kmem", 15),
    ("dialout", 20),
    ("cdrom", 24),
    ("sudo", 27),
    ("audio", 29),
    ("www-data", 33),
    ("backup", 34),
    ("operator", 37),
    ("list", 38),
    ("irc", 39),
    ("src", 40),
    ("shadow", 42),
    ("utmp", 43),
    ("video", 44),
    ("plugdev", 46),
    ("staff", 50),
    ("games", 60),
    ("users", 100),
    ("nogroup", 65534),
];

/// Builds the skeleton in a fresh temporary directory.
pub fn build_skeleton() -> Result<TempDir, AgentBenchError> {
    let dir = tempfile::Builder::new().prefix("lh-etc-").tempdir()?;
    // The sandbox runs as an unprivileged host uid that must be able to read it.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    for name in WHITELIST {
        let host = Path::new("/etc").join(name);
        if std::fs::symlink_metadata(&host).is_err() {
            continue;
        }
        let status = Command::new("cp")
            .arg("-a")
            .arg(&host)
            .arg(dir.path())
            .status()?;
        if !status.success() {
            return Err(AgentBenchError::SandboxUnavailable(format!(
                "cannot copy {} into the sandbox /etc",
                host.display()
            )));
        }
    }
    let users: Vec<&str> = PASSWD.lines().filter_map(|l| l.split(':').next()).collect();
    let shadow: String = users
        .iter()
        .map(|u| format!("{u}:*:19700:0:99999:7:::\n"))
        .collect();
    let group: String = GROUPS
        .iter()
        .map(|(g, id)| format!("{g}:x:{id}:\n"))
        .collect();
    let gshadow: String = GROUPS.iter().map(|(g, _)| format!("{g}:*::\n")).collect();
    let files = [
        ("passwd", PASSWD.to_string()),
        ("shadow", shadow),
        ("group", group),
        ("gshadow", gshadow),
        ("hostname", "lifeharness\n".to_string()),
        ("hosts", "127.0.0.1\tlocalhost\n127.0.1.1\tlifeharness\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_string()),
        ("resolv.conf", String::new()),
    ];
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content)?;
    }
    std::os::unix::fs::symlink("../proc/self/mounts", dir.path().join("mtab"))?;
    Ok(dir)
}
