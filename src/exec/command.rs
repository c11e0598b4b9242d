//! `command` steps: a shell command with a timeout, its output captured.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

/// Output kept per command: the tail, which holds the error when there is one.
const KEEP_BYTES: usize = 16 * 1024;

pub struct CommandResult {
    pub exit_code: i32,
    /// stdout then stderr, each cut to its last bytes.
    pub output: String,
}

/// Runs `script` with `sh -c` in its own process group, killed whole on timeout or when the
/// returned future is dropped (Ctrl-C). `on_line` sees each line of output as it comes.
pub async fn run(
    script: &str,
    env: &[(String, String)],
    timeout: Option<Duration>,
    on_line: &mut impl FnMut(&str),
) -> Result<CommandResult, String> {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(script)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command.spawn().map_err(|e| format!("cannot start sh: {e}"))?;
    let mut group = GroupGuard(child.id());
    let (lines, mut live) = unbounded_channel();
    let stdout = tail(child.stdout.take(), lines.clone());
    let stderr = tail(child.stderr.take(), lines);
    let waited = async { tokio::join!(child.wait(), stdout, stderr) };
    let deadline = async {
        match timeout {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(waited, deadline);
    let (status, out, err) = loop {
        tokio::select! {
            done = &mut waited => break done,
            Some(line) = live.recv() => on_line(&line),
            () = &mut deadline => {
                let limit = timeout.unwrap_or_default();
                return Err(format!("timed out after {}", humantime::format_duration(limit)));
            }
        }
    };
    while let Ok(line) = live.try_recv() {
        on_line(&line);
    }
    group.0 = None;
    let status = status.map_err(|e| format!("waiting for the command: {e}"))?;
    let exit_code = status.code().unwrap_or_else(|| 128 + signal_of(&status));
    let mut output = out;
    if !err.is_empty() {
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str(&err);
    }
    Ok(CommandResult { exit_code, output })
}

/// Keeps the last bytes of a stream and passes each complete line on as it arrives.
async fn tail(stream: Option<impl AsyncRead + Unpin>, lines: UnboundedSender<String>) -> String {
    let Some(mut stream) = stream else { return String::new() };
    let mut kept: Vec<u8> = Vec::new();
    let mut partial: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * KEEP_BYTES {
            kept.drain(..kept.len() - KEEP_BYTES);
        }
        partial.extend_from_slice(&buf[..n]);
        while let Some(end) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=end).collect();
            let _ = lines.send(String::from_utf8_lossy(&line[..end]).into_owned());
        }
        if partial.len() > KEEP_BYTES {
            // a "line" this long is not one to show live
            partial.clear();
        }
    }
    if !partial.is_empty() {
        let _ = lines.send(String::from_utf8_lossy(&partial).into_owned());
    }
    if kept.len() > KEEP_BYTES {
        kept.drain(..kept.len() - KEEP_BYTES);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

fn signal_of(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.signal().unwrap_or(0)
}

/// Kills the command's process group when dropped while armed: on timeout, and when the
/// run is cancelled mid-command (its future is dropped), so that no child keeps running
/// behind the operator's back.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            kill_group(pid);
        }
    }
}

fn kill_group(pid: u32) {
    // The command runs in its own process group (process_group(0)), so its children die too.
    // `--` keeps the negative pid (the group) from being read as an option: procps reads
    // `kill -KILL -PID` as signal options and may signal every process it can (`kill -1`).
    let group = format!("-{pid}");
    let _ = std::process::Command::new("kill").args(["-s", "KILL", "--", &group]).status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn captures_output_exit_code_and_environment() {
        let env = vec![("GREETING".to_string(), "hello".to_string())];
        let r = run("echo \"$GREETING\"; echo oops >&2; exit 3", &env, None, &mut |_| {}).await.unwrap();
        assert_eq!(r.exit_code, 3);
        assert_eq!(r.output, "hello\noops\n");
    }

    #[tokio::test]
    async fn kills_the_whole_group_on_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let script = format!("(sleep 1; touch {}) & sleep 5", marker.display());
        let err = run(&script, &[], Some(Duration::from_millis(200)), &mut |_| {}).await.err().unwrap();
        assert_eq!(err, "timed out after 200ms");
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(!marker.exists(), "the background child was killed with its group");
    }

    #[tokio::test]
    async fn cancelling_the_run_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let script = format!("(sleep 1; touch {}) & sleep 5", marker.display());
        // the outer timeout drops run()'s future, as Ctrl-C does
        let cancelled = tokio::time::timeout(Duration::from_millis(200), run(&script, &[], None, &mut |_| {})).await;
        assert!(cancelled.is_err());
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(!marker.exists(), "the background child was killed with its group");
    }

    #[tokio::test]
    async fn passes_each_line_on_as_it_comes() {
        let mut seen = Vec::new();
        let script = "echo one; sleep 0.2; printf 'two\\nthree'";
        let r = run(script, &[], None, &mut |line| seen.push(line.to_string())).await.unwrap();
        assert_eq!(seen, ["one", "two", "three"]);
        assert_eq!(r.output, "one\ntwo\nthree");
    }

    #[tokio::test]
    async fn keeps_only_the_tail_of_long_output() {
        let r = run("seq 1 100000", &[], None, &mut |_| {}).await.unwrap();
        assert!(r.output.len() <= KEEP_BYTES);
        assert!(r.output.ends_with("99999\n100000\n"));
    }
}
