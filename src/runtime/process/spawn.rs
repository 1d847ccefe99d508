//! What a container's (or an exec's) child process does between `fork` and
//! `exec`: join its cgroups and namespaces, mount its filesystem, chroot.
//!
//! Everything is prepared in the parent ([`Plan`] holds only C strings and
//! file descriptors), so the child only makes system calls — allocation is
//! not allowed after `fork` in a multi-threaded program.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::RawFd;
use std::path::Path;

/// A bind mount, prepared.
#[derive(Debug)]
pub(crate) struct Bind {
    pub source: CString,
    /// Directories to create (each prefix of the target), in order.
    pub make_dirs: Vec<CString>,
    /// The target, created as an empty file when the source is a file.
    pub target: CString,
    pub target_is_file: bool,
    pub readonly: bool,
}

/// A private root filesystem: an overlay of the image rootfs.
#[derive(Debug)]
pub(crate) struct Rootfs {
    pub merged: CString,
    pub overlay_options: CString,
    pub proc_dir: CString,
    pub dev_dir: CString,
    pub sys_dir: CString,
    pub binds: Vec<Bind>,
}

/// The steps the child takes, in order.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// `cgroup.procs` files to write `0` (this process) to.
    pub cgroup_procs: Vec<CString>,
    /// Start a new session (the container's process group).
    pub setsid: bool,
    /// Join this network namespace.
    pub netns_fd: Option<RawFd>,
    /// Join this UTS namespace (exec).
    pub uts_fd: Option<RawFd>,
    /// Make a new UTS namespace with this hostname.
    pub hostname: Option<CString>,
    /// Join this mount namespace (exec)…
    pub mnt_fd: Option<RawFd>,
    /// …and chroot to this directory (the container's `/proc/<pid>/root`).
    pub root_fd: Option<RawFd>,
    /// Make a new mount namespace with this root and chroot into it.
    pub rootfs: Option<Rootfs>,
    /// Then change to this directory.
    pub chdir: Option<CString>,
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `mkdir`, ignoring "exists".
fn mkdir(path: &CString) -> io::Result<()> {
    // SAFETY: a valid NUL-terminated path.
    let ret = unsafe { libc::mkdir(path.as_ptr(), 0o755) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EEXIST) {
            return Err(err);
        }
    }
    Ok(())
}

fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> io::Result<()> {
    let ptr = |s: Option<&CStr>| s.map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: valid NUL-terminated strings or null pointers, as mount(2) allows.
    check(unsafe {
        libc::mount(
            ptr(source),
            target.as_ptr(),
            ptr(fstype),
            flags,
            ptr(data).cast(),
        )
    })
}

impl Plan {
    /// Runs in the child after `fork`: system calls only.
    pub(crate) fn apply(&self) -> io::Result<()> {
        for procs in &self.cgroup_procs {
            // SAFETY: a valid path; the fd is closed below.
            let fd = unsafe { libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
            if fd >= 0 {
                // SAFETY: writing two bytes from a static buffer.
                unsafe {
                    libc::write(fd, b"0\n".as_ptr().cast(), 2);
                    libc::close(fd);
                }
            }
        }
        if self.setsid {
            // SAFETY: no preconditions.
            check(unsafe { libc::setsid() })?;
        }
        if let Some(fd) = self.netns_fd {
            // SAFETY: fd is an open namespace file.
            check(unsafe { libc::setns(fd, libc::CLONE_NEWNET) })?;
        }
        if let Some(fd) = self.uts_fd {
            // SAFETY: as above.
            check(unsafe { libc::setns(fd, libc::CLONE_NEWUTS) })?;
        }
        if let Some(name) = &self.hostname {
            // SAFETY: no pointers; then a valid buffer and its length.
            check(unsafe { libc::unshare(libc::CLONE_NEWUTS) })?;
            check(unsafe { libc::sethostname(name.as_ptr(), name.as_bytes().len()) })?;
        }
        if let Some(fd) = self.mnt_fd {
            // SAFETY: fd is an open namespace file.
            check(unsafe { libc::setns(fd, libc::CLONE_NEWNS) })?;
        }
        if let Some(fd) = self.root_fd {
            // SAFETY: fd is an open directory; "." is a valid path.
            check(unsafe { libc::fchdir(fd) })?;
            check(unsafe { libc::chroot(c".".as_ptr()) })?;
        }
        if let Some(root) = &self.rootfs {
            root.apply()?;
        }
        if let Some(dir) = &self.chdir {
            // SAFETY: a valid path.
            check(unsafe { libc::chdir(dir.as_ptr()) })?;
        }
        Ok(())
    }
}

impl Rootfs {
    fn apply(&self) -> io::Result<()> {
        // SAFETY: no pointers.
        check(unsafe { libc::unshare(libc::CLONE_NEWNS) })?;
        // Nothing mounted here propagates back to the host.
        mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None)?;
        let overlay = c"overlay";
        mount(
            Some(overlay),
            &self.merged,
            Some(overlay),
            0,
            Some(&self.overlay_options),
        )?;
        let proc_fs = c"proc";
        mkdir(&self.proc_dir)?;
        mount(
            Some(proc_fs),
            &self.proc_dir,
            Some(proc_fs),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            None,
        )?;
        mkdir(&self.dev_dir)?;
        mount(
            Some(c"/dev"),
            &self.dev_dir,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )?;
        mkdir(&self.sys_dir)?;
        mount(
            Some(c"/sys"),
            &self.sys_dir,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )?;
        for bind in &self.binds {
            for dir in &bind.make_dirs {
                mkdir(dir)?;
            }
            if bind.target_is_file {
                // SAFETY: a valid path; the fd is closed at once.
                let fd = unsafe {
                    libc::open(
                        bind.target.as_ptr(),
                        libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                        0o644,
                    )
                };
                if fd >= 0 {
                    // SAFETY: an fd we opened.
                    unsafe { libc::close(fd) };
                }
            } else {
                mkdir(&bind.target)?;
            }
            mount(
                Some(&bind.source),
                &bind.target,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )?;
            if bind.readonly {
                mount(
                    None,
                    &bind.target,
                    None,
                    libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_REC,
                    None,
                )?;
            }
        }
        // SAFETY: a valid path, then a static one.
        check(unsafe { libc::chroot(self.merged.as_ptr()) })?;
        check(unsafe { libc::chdir(c"/".as_ptr()) })
    }
}

/// A path as a C string (`InvalidInput` for interior NULs).
pub(crate) fn cstr(path: impl AsRef<Path>) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_ref().as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
}

/// Prepares a bind of `source` at `container_path` under `merged`.
pub(crate) fn bind(
    merged: &Path,
    source: &Path,
    container_path: &str,
    readonly: bool,
) -> io::Result<Bind> {
    let rel = container_path.trim_start_matches('/');
    let mut make_dirs = Vec::new();
    let mut prefix = merged.to_path_buf();
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") || parts.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("mount path {container_path:?} must be absolute, without `..`"),
        ));
    }
    for part in &parts[..parts.len() - 1] {
        prefix.push(part);
        make_dirs.push(cstr(&prefix)?);
    }
    let target = merged.join(parts.join("/"));
    Ok(Bind {
        source: cstr(source)?,
        make_dirs,
        target: cstr(&target)?,
        target_is_file: !source.is_dir(),
        readonly,
    })
}
