//! How a step's rendered body reaches its interpreter: through an inherited
//! descriptor (`bash -euo pipefail /dev/fd/N`), never argv (visible in `ps`)
//! and never a file left on disk.
//!
//! On Linux it is a memfd: anonymous memory that disappears with its last
//! descriptor, which bash reads in blocks. Elsewhere (or where memfds are not
//! allowed) a pipe, which bash, unable to seek it, reads one byte per
//! `read(2)`.
//!
//! **Memfds are reused.** Creating one (a new inode) and faulting in its
//! first page took about as long as all the rest of the engine's work for a
//! trivial step (scripts/bench seq). So a step's memfd goes back to a small
//! pool when its process is done with it, and the next step overwrites it.
//! Shrinking a memfd (`ftruncate`) costs nearly as much as creating one, so
//! a body shorter than the previous one by at most [`PAD_MAX`] bytes is
//! padded with newlines instead: blank lines at the end of a script change
//! nothing (except inside a here-document left unterminated, which bash and
//! shellcheck warn about anyway). A body stays in the pool's memory until it is
//! overwritten or the engine exits: no longer than in the engine's own
//! memory, and readable by no one who could not read that (`/proc/<pid>/fd`
//! needs the same permission as `/proc/<pid>/mem`). The descriptors are
//! close-on-exec: only the step's own child clears the flag on its copy
//! ([`super::launch::Launch::inherit`]), so a step spawned in parallel never
//! inherits another step's body.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Mutex;

/// What surely fits in a fresh pipe (Linux: 64 KiB; POSIX guarantees 4 KiB).
const PIPE_ROOM: usize = 4096;

/// Memfds kept for reuse, at most (one per step running in parallel is
/// plenty; more would only be kept open for nothing).
const POOL_MAX: usize = 16;

/// A reused memfd this much longer than the new body is padded with
/// newlines rather than truncated.
const PAD_MAX: usize = 4096;

/// A memfd and the length of what it holds.
pub struct Memfd {
    file: File,
    len: usize,
}

static POOL: Mutex<Vec<Memfd>> = Mutex::new(Vec::new());

/// Where the interpreter reads the body from. Keep it until the step's
/// process has exited: dropping a memfd script puts it back in the pool.
pub enum Script {
    /// Written already; the interpreter reads it in blocks.
    Memory(Option<Memfd>),
    /// The read end (until the spawn), and the write end still to fill.
    Pipe(Option<std::io::PipeReader>, Option<std::io::PipeWriter>),
}

impl Script {
    pub fn new(body: &[u8]) -> std::io::Result<Script> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(mut m) = memfd() {
            // On an error it is not put back: its content is unknown.
            fill(&mut m, body)?;
            return Ok(Script::Memory(Some(m)));
        }
        let (reader, writer) = std::io::pipe()?;
        Ok(Script::Pipe(Some(reader), Some(writer)))
    }

    /// The descriptor the interpreter reads (`/dev/fd/N`); close-on-exec.
    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Script::Memory(Some(m)) => m.file.as_fd(),
            Script::Pipe(Some(r), _) => r.as_fd(),
            // Taken only by `hand_over` and `drop`, which consume the script.
            _ => unreachable!("script descriptor used after hand-over"),
        }
    }

    /// An empty pipe, whatever the platform: the interpreter started on it
    /// waits for its body until [`Script::fill`] (see [`super::warm`]).
    pub fn empty_pipe() -> std::io::Result<Script> {
        let (reader, writer) = std::io::pipe()?;
        Ok(Script::Pipe(Some(reader), Some(writer)))
    }

    /// After the spawn: close our copy of a pipe's read end and fill the
    /// pipe. A memfd is kept until the script is dropped.
    pub fn hand_over(&mut self, body: &[u8]) {
        self.close_reader();
        self.fill(body);
    }

    /// After the spawn: only the interpreter holds a pipe's read end now, so
    /// it sees the end of its script when the write end closes.
    pub fn close_reader(&mut self) {
        if let Script::Pipe(reader, _) = self {
            drop(reader.take());
        }
    }

    /// Write the body into a pipe and close it: the interpreter reads it,
    /// then the end of its script. Nothing for a memfd (written already).
    pub fn fill(&mut self, body: &[u8]) {
        let Script::Pipe(_, writer) = self else { return };
        let Some(mut w) = writer.take() else { return };
        if body.len() <= PIPE_ROOM {
            // Fits in the pipe buffer: written at once, without blocking.
            let _ = w.write_all(body);
        } else {
            // A larger body would block until the interpreter reads: a thread writes it.
            let body = body.to_vec();
            std::thread::spawn(move || {
                let _ = w.write_all(&body);
            });
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if let Script::Memory(fd) = self
            && let Some(fd) = fd.take()
        {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < POOL_MAX {
                pool.push(fd);
            }
        }
    }
}

/// A memfd from the pool, or a new one; `None` where memfds are not allowed
/// (seccomp, old kernels): a pipe is used then.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn memfd() -> Option<Memfd> {
    if let Some(m) = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop() {
        return Some(m);
    }
    use nix::sys::memfd::{MFdFlags, memfd_create};
    // Never executable (required by `vm.memfd_noexec=2`); kernels before
    // 6.3 do not know the flag.
    let noexec = MFdFlags::from_bits_retain(nix::libc::MFD_NOEXEC_SEAL as _);
    let fd = memfd_create(c"runbook-step", MFdFlags::MFD_CLOEXEC | noexec)
        .or_else(|_| memfd_create(c"runbook-step", MFdFlags::MFD_CLOEXEC));
    fd.ok().map(|fd| Memfd { file: File::from(fd), len: 0 })
}

/// `body` as the content of `m`, from offset 0: all of it, or followed by
/// newlines up to the previous body's length (see the module's doc).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn fill(m: &mut Memfd, body: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let pad = m.len.saturating_sub(body.len());
    if pad == 0 {
        m.file.write_all_at(body, 0)?;
    } else if pad <= PAD_MAX {
        let mut padded = Vec::with_capacity(m.len);
        padded.extend_from_slice(body);
        padded.resize(m.len, b'\n');
        m.file.write_all_at(&padded, 0)?;
        return Ok(());
    } else {
        m.file.write_all_at(body, 0)?;
        m.file.set_len(body.len() as u64)?;
    }
    m.len = body.len();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn read_back(s: &Script) -> String {
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&s.fd()));
        let mut out = String::new();
        std::fs::File::open(path).unwrap().read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn a_reused_memfd_holds_the_new_body_then_only_newlines() {
        let mut m = memfd().unwrap();
        let read = |m: &Memfd| {
            let mut out = String::new();
            std::fs::File::open(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&m.file)))
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            out
        };
        fill(&mut m, b"echo a longer first body\n").unwrap();
        assert_eq!(read(&m), "echo a longer first body\n");
        fill(&mut m, b"true\n").unwrap();
        assert_eq!(read(&m), format!("true\n{}", "\n".repeat(20)));
        fill(&mut m, b"echo the third, longest body\n").unwrap();
        assert_eq!(read(&m), "echo the third, longest body\n");
        let long = "x".repeat(PAD_MAX + 10);
        fill(&mut m, long.as_bytes()).unwrap();
        fill(&mut m, b"").unwrap();
        assert_eq!(read(&m), "", "shrunk by more than PAD_MAX: truncated");
    }

    #[test]
    fn a_script_goes_back_to_the_pool_and_reads_as_its_body() {
        let s = Script::new(b"echo one\n").unwrap();
        assert!(read_back(&s).starts_with("echo one\n"));
        drop(s);
        let s = Script::new(b"echo two, longer\n").unwrap();
        assert_eq!(read_back(&s), "echo two, longer\n");
    }
}
