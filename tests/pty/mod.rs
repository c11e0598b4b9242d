//! The real binary in a pseudo-terminal (120×40, NO_COLOR=1), read back as a vt100 screen:
//! ratatui skips unchanged cells, so tests match on the screen, never on the byte stream.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

pub const ROWS: u16 = 40;
pub const COLS: u16 = 120;
/// How long a test waits for the screen to show something before it fails.
const PATIENCE: Duration = Duration::from_secs(20);

pub struct Tui {
    child: Box<dyn Child + Send + Sync>,
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    screen: Arc<Mutex<vt100::Parser>>,
    /// Every byte the program wrote, to check how it left the terminal.
    raw: Arc<Mutex<Vec<u8>>>,
}

impl Tui {
    /// Starts `runsheet ARGS` in `dir` inside a fresh pseudo-terminal.
    pub fn start(dir: &Path, args: &[&str]) -> Tui {
        let pair =
            native_pty_system().openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 }).unwrap();
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_runsheet"));
        command.args(args);
        command.cwd(dir);
        command.env("NO_COLOR", "1");
        command.env("TERM", "xterm-256color");
        command.env("RUNSHEET_LOG_DIR", dir.join("logs"));
        command.env("HOME", dir);
        command.env_remove("DATABASE_URL");
        let child = pair.slave.spawn_command(command).unwrap();
        drop(pair.slave);
        let rows = NonZeroU16::new(ROWS).unwrap();
        let cols = NonZeroU16::new(COLS).unwrap();
        let screen = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pair.master.try_clone_reader().unwrap();
        let (screen_in, raw_in) = (Arc::clone(&screen), Arc::clone(&raw));
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen_in.lock().unwrap().process(&buf[..n]);
                raw_in.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let writer = pair.master.take_writer().unwrap();
        Tui { child, master: pair.master, writer, screen, raw }
    }

    pub fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits until the screen shows `text`; fails with the screen when it does not.
    pub fn wait_for(&self, text: &str) {
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            if self.contents().contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the screen never showed {text:?}; it shows:\n{}", self.contents());
    }

    /// Waits until the screen satisfies `ready`; fails with the screen when it never does.
    pub fn wait_until(&self, what: &str, ready: impl Fn(&str) -> bool) {
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            if ready(&self.contents()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the screen never showed {what}; it shows:\n{}", self.contents());
    }

    /// Sends keys as the terminal would: `\r` Enter, ` ` Space, `\x1b[B` down.
    pub fn keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
        // let the UI take each batch in before the next (a person types slower still)
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Resizes the terminal as a window manager would (the program gets SIGWINCH).
    pub fn resize(&mut self, rows: u16, cols: u16) {
        let (r, c) = (NonZeroU16::new(rows).unwrap(), NonZeroU16::new(cols).unwrap());
        self.screen.lock().unwrap().screen_mut().set_size(r, c);
        self.master.resize(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).unwrap();
    }

    /// Row `n` (0-based) of the screen as text.
    pub fn row(&self, n: u16) -> String {
        let parser = self.screen.lock().unwrap();
        let (_, cols) = parser.screen().size();
        parser.screen().contents_between(n, 0, n, cols.get())
    }

    /// Waits for the program to end and gives its exit code.
    pub fn exit_code(&mut self) -> u32 {
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            if let Some(status) = self.child.try_wait().unwrap() {
                // let the reader take in the last bytes (the terminal's restoration)
                std::thread::sleep(Duration::from_millis(300));
                return status.exit_code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("the program did not end; the screen shows:\n{}", self.contents());
    }

    /// Whether the program left the alternate screen and showed the cursor again, the last
    /// things a restored terminal sees.
    pub fn terminal_restored(&self) -> bool {
        let raw = self.raw.lock().unwrap();
        let text = String::from_utf8_lossy(&raw);
        let left = text.rfind("\x1b[?1049l");
        let shown = text.rfind("\x1b[?25h");
        let entered = text.rfind("\x1b[?1049h");
        matches!((entered, left, shown), (Some(e), Some(l), Some(_)) if l > e)
    }
}
