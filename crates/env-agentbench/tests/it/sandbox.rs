//! The OS sandbox: state across commands, and containment of adversarial commands.

use std::time::{Duration, Instant};

use lifeharness_env_agentbench::os::{Sandbox, SandboxConfig, ScriptKind};

pub fn skeleton() -> tempfile::TempDir {
    lifeharness_env_agentbench::os::etc::build_skeleton().expect("skeleton")
}

pub async fn sandbox(config: &SandboxConfig, etc: &tempfile::TempDir) -> Sandbox {
    Sandbox::start(config, etc.path()).await.expect("sandbox")
}

async fn sh(s: &mut Sandbox, code: &str) -> (i32, String) {
    let out = s.run(ScriptKind::Shell, code, &[]).await.expect("run");
    (
        out.exit_code,
        String::from_utf8_lossy(&out.output).into_owned(),
    )
}

#[tokio::test]
async fn shell_state_carries_over() {
    let etc = skeleton();
    let mut s = sandbox(&SandboxConfig::default(), &etc).await;
    assert_eq!(sh(&mut s, "pwd; id -u").await, (0, "/\n0\n".into()));
    sh(&mut s, "mkdir -p /tmp/a && cd /tmp/a && X=5 && export Y=6 && f() { echo fn; } && alias ll='echo al'").await;
    let (_, out) = sh(&mut s, "pwd; echo $X $Y; f; ll").await;
    assert_eq!(out, "/tmp/a\n5 6\nfn\nal\n");
    let (code, out) = sh(&mut s, "echo out; echo err >&2; exit 3").await;
    assert_eq!((code, out.as_str()), (3, "out\nerr\n"));
    let py = s
        .run(
            ScriptKind::Python,
            "import sys; print(sys.argv[1:])",
            &["a b".into(), "c\n".into()],
        )
        .await
        .expect("py");
    assert_eq!(String::from_utf8_lossy(&py.output), "['a b', 'c\\n']\n");
    let bash = s
        .run(
            ScriptKind::Bash,
            "echo \"$1|$2|$(pwd)\"",
            &["x".into(), "y".into()],
        )
        .await
        .expect("bash");
    assert_eq!(String::from_utf8_lossy(&bash.output), "x|y|/\n");
    s.kill().await;
}

#[tokio::test]
async fn network_is_unreachable() {
    // A listener on the host's loopback must not be reachable from inside.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let etc = skeleton();
    let mut s = sandbox(&SandboxConfig::default(), &etc).await;
    let (code, out) = sh(
        &mut s,
        &format!("exec 3<>/dev/tcp/127.0.0.1/{port} && echo CONNECTED"),
    )
    .await;
    assert_ne!(code, 0, "{out}");
    assert!(!out.contains("CONNECTED"));
    let (code, out) = sh(&mut s, "timeout 5 bash -c 'exec 3<>/dev/tcp/1.1.1.1/80' && echo CONNECTED; curl -sS -m 5 http://example.com 2>&1 | head -c 200").await;
    assert!(!out.contains("CONNECTED"), "{code} {out}");
    let (_, out) = sh(
        &mut s,
        "ls /sys/class/net 2>/dev/null; cat /proc/net/dev | tail -n +3 | cut -d: -f1",
    )
    .await;
    assert!(!out.contains("eth"), "{out}");
    s.kill().await;
}

#[tokio::test]
async fn host_files_are_out_of_reach() {
    let etc = skeleton();
    let mut s = sandbox(&SandboxConfig::default(), &etc).await;
    let marker = format!("/tmp/lh-sandbox-escape-{}", std::process::id());
    let (_, out) = sh(&mut s, &format!(
        "ls /work 2>&1; cat /root/.bashrc 2>&1 | head -1; echo pwned > /etc/shadow; echo pwned > {marker}; echo x > /usr/bin/lh-test 2>&1; cat /.lh-skel/shadow | head -1"
    )).await;
    assert!(
        out.contains("No such file") || out.contains("cannot access"),
        "{out}"
    );
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(!std::path::Path::new(&marker).exists());
    assert!(!std::path::Path::new("/usr/bin/lh-test").exists());
    let host_shadow = std::fs::read_to_string("/etc/shadow").unwrap_or_default();
    assert!(!host_shadow.contains("pwned"));
    assert!(out.contains("root:*:"), "synthetic shadow expected: {out}");
    s.kill().await;
}

#[tokio::test]
async fn fork_bomb_is_contained() {
    let etc = skeleton();
    let config = SandboxConfig {
        command_timeout: Duration::from_secs(5),
        ..SandboxConfig::default()
    };
    let mut s = sandbox(&config, &etc).await;
    let started = Instant::now();
    // The bomb either returns (fork errors) or takes the sandbox shell down with it;
    // never the harness.
    let _ = s.run(ScriptKind::Shell, ":(){ :|:& };:", &[]).await;
    assert!(started.elapsed() < Duration::from_secs(25));
    assert!(
        std::process::Command::new("true")
            .status()
            .expect("host fork")
            .success()
    );
    // Usually the next request reclaims the sandbox (and says so); if the
    // bomb killed the sandbox shell, the episode gets a clean error instead.
    let mut recovered = false;
    for _ in 0..3 {
        match s.run(ScriptKind::Shell, "echo alive", &[]).await {
            Ok(out) if String::from_utf8_lossy(&out.output).ends_with("alive\n") => {
                recovered = true;
                break;
            }
            Ok(_) => {}
            Err(err) => {
                assert!(err.to_string().contains("sandbox"), "{err}");
                break;
            }
        }
    }
    s.kill().await;
    if !recovered {
        let mut fresh = sandbox(&config, &etc).await;
        assert_eq!(sh(&mut fresh, "echo alive").await.1, "alive\n");
        fresh.kill().await;
    }
}

#[tokio::test]
async fn killing_everything_inside_leaves_the_server_running() {
    let etc = skeleton();
    let mut s = sandbox(&SandboxConfig::default(), &etc).await;
    sh(&mut s, "kill -9 $PPID").await;
    assert_eq!(sh(&mut s, "echo alive").await.1, "alive\n");
    sh(&mut s, "kill -9 -1").await;
    assert_eq!(sh(&mut s, "echo alive").await.1, "alive\n");
    sh(&mut s, "kill -9 1").await;
    assert_eq!(sh(&mut s, "echo alive").await.1, "alive\n");
    s.kill().await;
}

#[tokio::test]
async fn disk_filling_stops_at_the_quota() {
    let etc = skeleton();
    let config = SandboxConfig {
        disk_bytes: 32 << 20,
        ..SandboxConfig::default()
    };
    let mut s = sandbox(&config, &etc).await;
    let (_, out) = sh(
        &mut s,
        "dd if=/dev/zero of=/root/fill bs=1M 2>&1; df -m / | tail -1",
    )
    .await;
    assert!(out.contains("No space left on device"), "{out}");
    // The agent's shell still works (state files live on a separate tmpfs).
    assert_eq!(sh(&mut s, "rm /root/fill; echo ok").await.1, "ok\n");
    s.kill().await;
}

#[tokio::test]
async fn sleeping_forever_is_cut_by_the_time_limit() {
    let etc = skeleton();
    let config = SandboxConfig {
        command_timeout: Duration::from_secs(2),
        ..SandboxConfig::default()
    };
    let mut s = sandbox(&config, &etc).await;
    let started = Instant::now();
    let out = s
        .run(ScriptKind::Shell, "echo before; sleep infinity", &[])
        .await
        .expect("run");
    assert!(out.timed_out);
    assert_eq!(String::from_utf8_lossy(&out.output), "before\n");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(sh(&mut s, "echo alive").await.1, "alive\n");
    s.kill().await;
}

#[tokio::test]
async fn nothing_survives_the_sandbox() {
    let etc = skeleton();
    let mut s = sandbox(&SandboxConfig::default(), &etc).await;
    let tag = format!("lh-survivor-{}", std::process::id());
    sh(
        &mut s,
        &format!(
            "(exec -a {tag} sleep 1000) & setsid bash -c 'exec -a {tag} sleep 1000' & disown; true"
        ),
    )
    .await;
    let pid = s.pid().expect("pid");
    s.kill().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ps = std::process::Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()
        .expect("ps");
    let listing = String::from_utf8_lossy(&ps.stdout);
    assert!(!listing.contains(&tag), "{listing}");
    assert!(
        !listing
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{pid} ")))
    );
}

#[tokio::test]
async fn output_is_capped() {
    let etc = skeleton();
    let config = SandboxConfig {
        command_timeout: Duration::from_secs(5),
        ..SandboxConfig::default()
    };
    let mut s = sandbox(&config, &etc).await;
    let out = s
        .run(ScriptKind::Shell, "yes | head -c 100000000", &[])
        .await
        .expect("run");
    assert!(out.output.len() <= config.max_output_bytes);
    assert_eq!(sh(&mut s, "echo alive").await.1, "alive\n");
    s.kill().await;
}
