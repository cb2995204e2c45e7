//! How a step's rendered body reaches its interpreter: through an inherited
//! descriptor (`bash -euo pipefail /dev/fd/N`), never argv (visible in `ps`)
//! and never a file left on disk.
//!
//! On Linux it is a memfd: anonymous memory that disappears with its last
//! descriptor, which bash reads in blocks. Elsewhere (or where memfds are not
//! allowed) a pipe, which bash, unable to seek it, reads one byte per
//! `read(2)`. A warm interpreter (see [`super::warm`]) reads a pipe too.
//!
//! **One memfd per step, sealed.** The interpreter's copy of the descriptor
//! stays open in every process the step starts, including one that escapes
//! its process group (`setsid … &`) and outlives it. So a memfd is never
//! reused for another step (an earlier version kept a pool: such a leftover
//! could read, and rewrite, the bodies of later steps, secrets included),
//! and once written it is sealed against writes, growing and shrinking, so
//! that no process can change the script under its interpreter. What a
//! leftover can still read is its own step's body. The descriptors are
//! close-on-exec: only the step's own child clears the flag on its copy
//! ([`super::launch::Launch::inherit`]), so a step spawned in parallel never
//! inherits another step's body.
//!
//! **Nothing runs before the record.** The memfd is written before the
//! spawn, so what holds a step back until its process group is in the
//! journal is its `execve`, at the gate ([`super::launch`]). A pipe is
//! filled only after that record ([`Script::fill`]): an engine killed before
//! leaves an interpreter that reads an empty script.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};

/// What surely fits in a fresh pipe (Linux: 64 KiB; POSIX guarantees 4 KiB).
const PIPE_ROOM: usize = 4096;

/// Where the interpreter reads the body from. Keep it until the step's
/// process has exited.
pub enum Script {
    /// Written (and sealed) already; the interpreter reads it in blocks.
    Memory(File),
    /// The read end (until the spawn), and the write end still to fill.
    Pipe(Option<std::io::PipeReader>, Option<std::io::PipeWriter>),
}

impl Script {
    pub fn new(body: &[u8]) -> std::io::Result<Script> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(m) = memfd(body)? {
            return Ok(Script::Memory(m));
        }
        let (reader, writer) = std::io::pipe()?;
        Ok(Script::Pipe(Some(reader), Some(writer)))
    }

    /// The descriptor the interpreter reads (`/dev/fd/N`); close-on-exec.
    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Script::Memory(m) => m.as_fd(),
            Script::Pipe(Some(r), _) => r.as_fd(),
            // Taken only by `close_reader`, after the spawn.
            _ => unreachable!("script descriptor used after hand-over"),
        }
    }

    /// An empty pipe, whatever the platform: the interpreter started on it
    /// waits for its body until [`Script::fill`] (see [`super::warm`]).
    pub fn empty_pipe() -> std::io::Result<Script> {
        let (reader, writer) = std::io::pipe()?;
        Ok(Script::Pipe(Some(reader), Some(writer)))
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
    /// An error when no thread could be made to write a body larger than
    /// the pipe holds: the pipe is closed with nothing in it, and the
    /// caller kills the interpreter (the step did not run).
    pub fn fill(&mut self, body: &[u8]) -> std::io::Result<()> {
        self.fill_with(body, |write| std::thread::Builder::new().name("script-body".into()).spawn(write).map(drop))
    }

    /// [`Script::fill`], with `thread` making the thread that writes a body
    /// larger than the pipe holds.
    fn fill_with(
        &mut self,
        body: &[u8],
        thread: impl FnOnce(Box<dyn FnOnce() + Send>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let Script::Pipe(_, writer) = self else { return Ok(()) };
        let Some(mut w) = writer.take() else { return Ok(()) };
        if body.len() <= PIPE_ROOM {
            // Fits in the pipe buffer: written at once, without blocking.
            let _ = w.write_all(body);
            return Ok(());
        }
        // A larger body would block until the interpreter reads: a thread writes it.
        let body = body.to_vec();
        thread(Box::new(move || {
            let _ = w.write_all(&body);
        }))
        .map_err(|e| std::io::Error::new(e.kind(), format!("no thread to hand the interpreter its script ({e}); free memory or threads on this machine, then resume the run")))
    }
}

/// A new memfd holding `body`, sealed; `None` where memfds are not allowed
/// (seccomp, old kernels): a pipe is used then.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn memfd(body: &[u8]) -> std::io::Result<Option<File>> {
    use nix::fcntl::{FcntlArg, SealFlag, fcntl};
    use nix::sys::memfd::{MFdFlags, memfd_create};
    // Never executable (required by `vm.memfd_noexec=2`); kernels before
    // 6.3 do not know the flag.
    let noexec = MFdFlags::from_bits_retain(nix::libc::MFD_NOEXEC_SEAL as _);
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let Ok(fd) = memfd_create(c"runbook-step", flags | noexec).or_else(|_| memfd_create(c"runbook-step", flags)) else {
        return Ok(None);
    };
    let mut file = File::from(fd);
    file.write_all(body)?;
    // Best effort: a kernel without seals still gets a memfd of its own per step.
    let seals = SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_SEAL;
    let _ = fcntl(&file, FcntlArg::F_ADD_SEALS(seals));
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn path(s: &Script) -> String {
        format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&s.fd()))
    }

    #[test]
    fn a_script_reads_as_its_body_and_cannot_be_changed() {
        let s = Script::new(b"echo one\n").unwrap();
        let mut out = String::new();
        File::open(path(&s)).unwrap().read_to_string(&mut out).unwrap();
        assert_eq!(out, "echo one\n");
        let Script::Memory(m) = &s else { panic!("a memfd on Linux") };
        let mut w = m.try_clone().unwrap();
        assert!(w.write_all(b"touch pwned\n").is_err(), "sealed against writes");
        assert!(m.set_len(0).is_err(), "sealed against shrinking");
        // Each step its own: a second script is another file.
        let t = Script::new(b"echo two\n").unwrap();
        use std::os::unix::fs::MetadataExt;
        let ino = |s: &Script| std::fs::metadata(path(s)).unwrap().ino();
        assert_ne!(ino(&s), ino(&t));
    }

    /// The reading end of a pipe script, as the interpreter has it.
    fn reader(s: &mut Script) -> std::io::PipeReader {
        let Script::Pipe(r, _) = s else { panic!("a pipe") };
        r.take().unwrap()
    }

    #[test]
    fn a_body_larger_than_the_pipe_is_handed_over_whole_or_not_at_all() {
        let body = format!("echo start\n{}echo end\n", "# filler\n".repeat(PIPE_ROOM));
        let mut s = Script::empty_pipe().unwrap();
        let mut r = reader(&mut s);
        s.fill(body.as_bytes()).unwrap();
        let mut got = String::new();
        r.read_to_string(&mut got).unwrap();
        assert_eq!(got, body, "written whole by its thread");

        let mut s = Script::empty_pipe().unwrap();
        let mut r = reader(&mut s);
        let no_thread = |_| Err(std::io::Error::from(std::io::ErrorKind::WouldBlock));
        let e = s.fill_with(body.as_bytes(), no_thread).unwrap_err();
        assert!(e.to_string().starts_with("no thread to hand the interpreter its script"), "{e}");
        got.clear();
        r.read_to_string(&mut got).unwrap();
        assert_eq!(got, "", "nothing of it written: the caller kills the interpreter");
    }
}
