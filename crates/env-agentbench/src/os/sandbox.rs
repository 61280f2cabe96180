//! The OS sandbox: one bubblewrap sandbox per episode standing in for
//! AgentBench's Ubuntu docker container.
//!
//! - All namespaces are unshared (no network: only a private loopback; no
//!   view of host processes); nested user namespaces are disabled.
//! - The sandbox root is a size-limited tmpfs (the "disk") holding `/etc`,
//!   `/root`, `/home`, `/tmp`, `/var`, `/usr`, `/usr/local`, ...; the host's
//!   `/usr/*` directories (and `/bin`, `/lib`, ...) are bound read-only.
//!   `/etc` starts from a whitelisted copy of the host's (`alternatives`,
//!   `ld.so.cache`, ...) with synthetic `passwd`/`group`/`shadow`.
//! - A bash server runs as PID 1 (immune to `kill -9 -1` from inside) and
//!   runs each request under `timeout -s KILL` with per-process limits on
//!   processes (`ulimit -u`) and address space (`ulimit -v`); output is capped.
//! - The sandbox dies with its host process (`--die-with-parent`), and is
//!   killed when the [`Sandbox`] is closed or dropped, taking every process
//!   in it along (PID namespace).
//!
//! There is never an unsandboxed fallback: if bubblewrap is missing or
//! namespaces are denied, [`Sandbox::start`] fails with
//! [`AgentBenchError::SandboxUnavailable`].

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::b64;
use crate::error::AgentBenchError;

const SERVER: &str = include_str!("server.sh");
/// Longest protocol line accepted from the sandbox.
const MAX_LINE: usize = 4 << 20;

/// Limits of one sandbox.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    /// The bubblewrap binary.
    pub bwrap: PathBuf,
    /// Size of the writable root tmpfs (the episode's disk).
    pub disk_bytes: u64,
    /// Wall-clock limit of one command.
    pub command_timeout: Duration,
    /// Most processes at once (`ulimit -u`).
    pub max_processes: u32,
    /// Address-space limit per process (`ulimit -v`).
    pub memory_bytes: u64,
    /// Most output bytes returned per command.
    pub max_output_bytes: usize,
    /// The unprivileged host uid/gid the sandbox runs as when the harness
    /// runs as root (via `setpriv`): the kernel does not apply the process
    /// limit to host root, so the sandbox must never map to it.
    pub host_uid: u32,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            bwrap: PathBuf::from("bwrap"),
            disk_bytes: 256 << 20,
            command_timeout: Duration::from_secs(30),
            max_processes: 256,
            memory_bytes: 2 << 30,
            max_output_bytes: 64 << 10,
            host_uid: 4_200_000,
        }
    }
}

/// How a script is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    /// The agent's persistent shell (cwd, variables, functions carry over).
    Shell,
    /// A fresh `bash -c SCRIPT -- ARGS...` in `/`.
    Bash,
    /// A fresh `python3 -c SCRIPT ARGS...` in `/`.
    Python,
}

impl ScriptKind {
    fn wire(self) -> &'static str {
        match self {
            Self::Shell => "sh",
            Self::Bash => "bash",
            Self::Python => "python",
        }
    }
}

/// What a script produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    /// Exit status (137 when killed by the time limit).
    pub exit_code: i32,
    /// stdout+stderr for the shell; stdout for bash/python scripts (capped).
    pub output: Vec<u8>,
    /// stderr of bash/python scripts (first 4 KiB).
    pub stderr: Vec<u8>,
    /// Whether the time limit killed it.
    pub timed_out: bool,
}

/// One running sandbox.
pub struct Sandbox {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    config: SandboxConfig,
}

fn usr_layout_args(args: &mut Vec<String>, root: &str) {
    for dir in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        let host = Path::new("/").join(dir);
        match std::fs::symlink_metadata(&host) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(&host) {
                    args.extend([
                        "--symlink".into(),
                        target.to_string_lossy().into_owned(),
                        format!("{root}/{dir}"),
                    ]);
                }
            }
            Ok(meta) if meta.is_dir() => {
                args.extend([
                    "--ro-bind".into(),
                    format!("/{dir}"),
                    format!("{root}/{dir}"),
                ]);
            }
            _ => {}
        }
    }
}

/// `/usr` itself is writable (tasks write `/usr/stock.log`); its host
/// subdirectories are bound read-only, except `/usr/local`, which is private.
fn usr_entries_args(args: &mut Vec<String>) {
    args.extend([
        "--dir".into(),
        "/r/usr".into(),
        "--dir".into(),
        "/r/usr/local".into(),
    ]);
    let Ok(entries) = std::fs::read_dir("/usr") else {
        return;
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        if name == "local" {
            continue;
        }
        let host = format!("/usr/{name}");
        match std::fs::symlink_metadata(&host) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(&host) {
                    let target = target.to_string_lossy().into_owned();
                    args.extend(["--symlink".into(), target, format!("/r{host}")]);
                }
            }
            Ok(_) => args.extend(["--ro-bind".into(), host.clone(), format!("/r{host}")]),
            Err(_) => {}
        }
    }
}

fn bwrap_args(config: &SandboxConfig, etc_skeleton: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--unshare-all",
        "--unshare-user",
        "--cap-add",
        "ALL",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--as-pid-1",
        "--uid",
        "0",
        "--gid",
        "0",
        "--hostname",
        "lifeharness",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--setenv",
        "HOME",
        "/root",
        "--setenv",
        "USER",
        "root",
        "--setenv",
        "LOGNAME",
        "root",
        "--setenv",
        "SHELL",
        "/bin/bash",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "TERM",
        "dumb",
        "--setenv",
        "HOSTNAME",
        "lifeharness",
        // The outer root only holds what is needed to chroot into the episode root.
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    usr_layout_args(&mut args, "");
    args.extend([
        "--size".into(),
        config.disk_bytes.to_string(),
        "--tmpfs".into(),
        "/r".into(),
    ]);
    usr_entries_args(&mut args);
    usr_layout_args(&mut args, "/r");
    args.extend([
        "--proc".into(),
        "/r/proc".into(),
        "--dev".into(),
        "/r/dev".into(),
        "--size".into(),
        (16u64 << 20).to_string(),
        "--tmpfs".into(),
        "/r/.lh".into(),
        "--ro-bind".into(),
        etc_skeleton.to_string_lossy().into_owned(),
        "/r/.lh-skel".into(),
        "--setenv".into(),
        "LH_NPROC".into(),
        config.max_processes.to_string(),
        "--setenv".into(),
        "LH_AS_KB".into(),
        (config.memory_bytes / 1024).to_string(),
        "--setenv".into(),
        "LH_MAX_OUT".into(),
        config.max_output_bytes.to_string(),
        "--chdir".into(),
        "/".into(),
        "--".into(),
        "/usr/sbin/chroot".into(),
        "/r".into(),
        "/bin/bash".into(),
        "--noprofile".into(),
        "--norc".into(),
        "-c".into(),
        SERVER.into(),
    ]);
    args
}

/// Whether this process runs as root (then the sandbox is started as
/// [`SandboxConfig::host_uid`]).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Reads one `\n`-terminated line of at most [`MAX_LINE`] bytes.
async fn read_line(reader: &mut BufReader<ChildStdout>) -> Result<Option<String>, AgentBenchError> {
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(None);
        }
        if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&buf[..pos]);
            reader.consume(pos + 1);
            return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
        }
        let n = buf.len();
        line.extend_from_slice(buf);
        reader.consume(n);
        if line.len() > MAX_LINE {
            return Err(AgentBenchError::Sandbox(
                "oversized reply from the sandbox".into(),
            ));
        }
    }
}

impl Sandbox {
    /// Starts a sandbox whose `/etc` is copied from `etc_skeleton`.
    pub async fn start(
        config: &SandboxConfig,
        etc_skeleton: &Path,
    ) -> Result<Self, AgentBenchError> {
        let mut command = if running_as_root() {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={}", config.host_uid))
                .arg(format!("--regid={}", config.host_uid))
                .arg("--clear-groups")
                .arg("--")
                .arg(&config.bwrap);
            c
        } else {
            Command::new(&config.bwrap)
        };
        let mut child = command
            .args(bwrap_args(config, etc_skeleton))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                AgentBenchError::SandboxUnavailable(format!(
                    "cannot run bubblewrap ({}, via setpriv when root): {e}; install it (Debian: apt-get install bubblewrap)",
                    config.bwrap.display()
                ))
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(AgentBenchError::Sandbox("sandbox pipes missing".into()));
        };
        let mut stdout = BufReader::new(stdout);
        let ready = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match read_line(&mut stdout).await? {
                    Some(line) if line == "__LH_READY__" => return Ok(true),
                    Some(_) => {}
                    None => return Ok::<bool, AgentBenchError>(false),
                }
            }
        })
        .await;
        if !matches!(ready, Ok(Ok(true))) {
            let _ = child.start_kill();
            let stderr = match child.stderr.take() {
                Some(mut err) => {
                    let mut text = String::new();
                    let _ = tokio::time::timeout(
                        Duration::from_secs(2),
                        tokio::io::AsyncReadExt::read_to_string(&mut err, &mut text),
                    )
                    .await;
                    text
                }
                None => String::new(),
            };
            let _ = child.wait().await;
            return Err(AgentBenchError::SandboxUnavailable(format!(
                "bubblewrap could not create the sandbox (are user namespaces allowed?): {}",
                stderr.trim()
            )));
        }
        // Later stderr is not read; drop the pipe so the sandbox never blocks on it.
        drop(child.stderr.take());
        Ok(Self {
            child,
            stdin,
            stdout,
            config: config.clone(),
        })
    }

    /// Runs `script` with the configured time limit.
    pub async fn run(
        &mut self,
        kind: ScriptKind,
        script: &str,
        args: &[String],
    ) -> Result<RunOutput, AgentBenchError> {
        let timeout = self.config.command_timeout;
        self.run_with_timeout(kind, script, args, timeout).await
    }

    /// Runs `script` with the time limit `timeout` (whole seconds, at least 1).
    pub async fn run_with_timeout(
        &mut self,
        kind: ScriptKind,
        script: &str,
        args: &[String],
        timeout: Duration,
    ) -> Result<RunOutput, AgentBenchError> {
        let secs = timeout.as_secs().max(1);
        let mut request = format!(
            "{} {} {}",
            kind.wire(),
            secs,
            b64::encode(script.as_bytes())
        );
        for arg in args {
            request.push(' ');
            request.push_str(&b64::encode(arg.as_bytes()));
        }
        request.push('\n');
        let io = async {
            self.stdin.write_all(request.as_bytes()).await?;
            self.stdin.flush().await?;
            loop {
                let Some(line) = read_line(&mut self.stdout).await? else {
                    return Err(AgentBenchError::Sandbox("the sandbox shell exited".into()));
                };
                if let Some(reply) = line.strip_prefix("__LH__ ") {
                    return parse_reply(reply);
                }
            }
        };
        // The server enforces `secs`; give it slack before declaring it hung.
        match tokio::time::timeout(Duration::from_secs(secs + 15), io).await {
            Ok(result) => result,
            Err(_) => {
                self.kill().await;
                Err(AgentBenchError::Sandbox(
                    "the sandbox stopped responding and was killed".into(),
                ))
            }
        }
    }

    /// Kills the sandbox and every process in it, and reaps it.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// The sandbox's host process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

fn parse_reply(reply: &str) -> Result<RunOutput, AgentBenchError> {
    let mut parts = reply.split(' ');
    let code = parts
        .next()
        .and_then(|c| c.trim().parse::<i32>().ok())
        .ok_or_else(|| AgentBenchError::Sandbox(format!("malformed reply: {reply:.80}")))?;
    let output = b64::decode(parts.next().unwrap_or(""));
    let stderr = b64::decode(parts.next().unwrap_or(""));
    Ok(RunOutput {
        exit_code: code,
        output,
        stderr,
        timed_out: code == 137,
    })
}
