//! The i386 Linux system call table and dispatcher.
//!
//! The table is data: number, name, handler and how fully vxos supports
//! the call. `--stats` and the docs' compatibility list read it. Arguments
//! come in ebx, ecx, edx, esi, edi, ebp; the result goes back in eax as a
//! value or `-errno`. Handlers live in one file per family.

mod sys_evfd;
mod sys_file;
pub mod sys_info;
mod sys_ipc;
mod sys_mm;
mod sys_poll;
mod sys_proc;
mod sys_socket;
mod sys_sockopt;
pub(crate) mod sys_time;

use crate::errno::{Errno, SysResult};
use crate::process::Process;
use std::sync::OnceLock;
use vx_core::state::*;

/// The six argument registers of a system call.
pub type Args = [u32; 6];
pub type Handler = fn(&mut Process, Args) -> SysResult;

/// How completely vxos implements a call.
#[derive(Debug, Clone, Copy)]
pub enum Support {
    Full,
    Partial(&'static str),
}

pub struct SysEntry {
    pub nr: u32,
    pub name: &'static str,
    pub handler: Handler,
    pub support: Support,
}

macro_rules! sys {
    ($nr:expr, $name:ident, $h:path) => {
        SysEntry { nr: $nr, name: stringify!($name), handler: $h, support: Support::Full }
    };
    ($nr:expr, $name:ident, $h:path, $why:expr) => {
        SysEntry { nr: $nr, name: stringify!($name), handler: $h, support: Support::Partial($why) }
    };
}

use sys_evfd as ev;
use sys_file as f;
use sys_info as i;
use sys_ipc as ipc;
use sys_mm as m;
use sys_poll as poll;
use sys_proc as p;
use sys_socket as sock;
use sys_sockopt as opt;
use sys_time as t;

/// How epoll's edge-triggered mode differs from Linux's.
const EPOLLET: &str =
    "EPOLLET reports new conditions and new events of pipes, eventfds and timers; of other files only new conditions";
/// What timerfd_settime leaves out.
const TFD_CANCEL: &str = "TFD_TIMER_CANCEL_ON_SET is accepted but never cancels: the guest cannot set the clock";

/// Every system call vxos answers, by i386 number.
pub static TABLE: &[SysEntry] = &[
    sys!(1, exit, p::exit),
    sys!(2, fork, p::fork),
    sys!(3, read, f::read),
    sys!(4, write, f::write),
    sys!(5, open, f::open, "O_TMPFILE is refused"),
    sys!(6, close, f::close),
    sys!(7, waitpid, p::waitpid),
    sys!(8, creat, f::creat),
    sys!(9, link, f::link),
    sys!(10, unlink, f::unlink),
    sys!(11, execve, p::execve),
    sys!(12, chdir, f::chdir),
    sys!(13, time, t::time),
    sys!(14, mknod, f::mknod, "sockets and device nodes are names only (FIFOs work)"),
    sys!(15, chmod, f::chmod),
    sys!(16, lchown, f::lchown16),
    sys!(19, lseek, f::lseek),
    sys!(20, getpid, p::getpid),
    sys!(21, mount, f::mount, "MS_BIND, tmpfs/ramfs and proc"),
    sys!(22, umount, f::umount),
    sys!(23, setuid, p::setuid16),
    sys!(24, getuid, p::getuid),
    sys!(25, stime, t::stime, "EPERM: the host's clock"),
    sys!(27, alarm, t::alarm),
    sys!(29, pause, p::pause),
    sys!(30, utime, f::utime),
    sys!(33, access, f::access),
    sys!(36, sync, f::sync),
    sys!(37, kill, p::kill),
    sys!(38, rename, f::rename),
    sys!(39, mkdir, f::mkdir),
    sys!(40, rmdir, f::rmdir),
    sys!(41, dup, f::dup),
    sys!(42, pipe, f::pipe),
    sys!(43, times, t::times, "all CPU time counts as user time"),
    sys!(45, brk, m::brk),
    sys!(46, setgid, p::setgid16),
    sys!(47, getgid, p::getgid),
    sys!(48, signal, p::signal),
    sys!(49, geteuid, p::geteuid),
    sys!(50, getegid, p::getegid),
    sys!(52, umount2, f::umount2),
    sys!(54, ioctl, f::ioctl, "terminal and pseudo-terminal requests, FIONREAD, FIONBIO, FIOCLEX"),
    sys!(55, fcntl, f::fcntl),
    sys!(57, setpgid, p::setpgid),
    sys!(60, umask, p::umask),
    sys!(63, dup2, f::dup2),
    sys!(64, getppid, p::getppid),
    sys!(65, getpgrp, p::getpgrp),
    sys!(66, setsid, p::setsid),
    sys!(67, sigaction, p::sigaction),
    sys!(70, setreuid, p::setreuid16),
    sys!(71, setregid, p::setregid16),
    sys!(72, sigsuspend, p::sigsuspend),
    sys!(74, sethostname, i::sethostname),
    sys!(75, setrlimit, p::setrlimit),
    sys!(76, getrlimit, p::old_getrlimit),
    sys!(77, getrusage, t::getrusage, "CPU time (as user time) and resident size"),
    sys!(78, gettimeofday, t::gettimeofday),
    sys!(79, settimeofday, t::settimeofday, "EPERM: the host's clock"),
    sys!(80, getgroups, p::getgroups16),
    sys!(81, setgroups, p::setgroups16),
    sys!(82, select, poll::old_select),
    sys!(83, symlink, f::symlink),
    sys!(85, readlink, f::readlink),
    sys!(90, mmap, m::old_mmap),
    sys!(91, munmap, m::munmap),
    sys!(92, truncate, f::truncate),
    sys!(93, ftruncate, f::ftruncate),
    sys!(94, fchmod, f::fchmod),
    sys!(95, fchown, f::fchown16),
    sys!(96, getpriority, i::getpriority),
    sys!(97, setpriority, i::setpriority, "kept and shown; the scheduler runs every task alike"),
    sys!(99, statfs, f::statfs),
    sys!(100, fstatfs, f::fstatfs),
    sys!(102, socketcall, sock::socketcall, "AF_UNIX, and AF_INET/AF_INET6 TCP and UDP on loopback only; other families answer EAFNOSUPPORT"),
    sys!(104, setitimer, t::setitimer, "ITIMER_VIRTUAL and ITIMER_PROF count wall time"),
    sys!(105, getitimer, t::getitimer),
    sys!(106, stat, f::stat),
    sys!(107, lstat, f::lstat),
    sys!(108, fstat, f::fstat),
    sys!(114, wait4, p::wait4, "resource usage: CPU time only"),
    sys!(116, sysinfo, i::sysinfo),
    sys!(117, ipc, ipc::ipc, "shared memory calls; semaphores and message queues answer ENOSYS"),
    sys!(118, fsync, f::fsync),
    sys!(119, sigreturn, p::sigreturn),
    sys!(120, clone, p::clone, "processes and threads; no sharing of memory or signal actions between processes"),
    sys!(122, uname, i::uname),
    sys!(125, mprotect, m::mprotect),
    sys!(126, sigprocmask, p::sigprocmask),
    sys!(132, getpgid, p::getpgid),
    sys!(133, fchdir, f::fchdir),
    sys!(136, personality, i::personality, "PER_LINUX only"),
    sys!(138, setfsuid, p::setfsuid, "file access uses the effective ids"),
    sys!(139, setfsgid, p::setfsgid, "file access uses the effective ids"),
    sys!(140, _llseek, f::llseek),
    sys!(141, getdents, f::getdents),
    sys!(142, _newselect, poll::newselect),
    sys!(143, flock, f::flock),
    sys!(144, msync, m::msync),
    sys!(145, readv, f::readv),
    sys!(146, writev, f::writev),
    sys!(147, getsid, p::getsid),
    sys!(148, fdatasync, f::fsync),
    sys!(150, mlock, i::mlock),
    sys!(151, munlock, i::mlock),
    sys!(152, mlockall, i::mlock),
    sys!(153, munlockall, i::mlock),
    sys!(154, sched_setparam, i::sched_setparam),
    sys!(155, sched_getparam, i::sched_getparam),
    sys!(156, sched_setscheduler, i::sched_setscheduler, "SCHED_OTHER, SCHED_BATCH, SCHED_IDLE"),
    sys!(157, sched_getscheduler, i::sched_getscheduler),
    sys!(158, sched_yield, t::sched_yield),
    sys!(159, sched_get_priority_max, i::sched_get_priority_max),
    sys!(160, sched_get_priority_min, i::sched_get_priority_min),
    sys!(162, nanosleep, t::nanosleep),
    sys!(163, mremap, m::mremap),
    sys!(164, setresuid, p::setresuid16),
    sys!(165, getresuid, p::getresuid16),
    sys!(168, poll, poll::poll, "host streams are looked at every 10 ms"),
    sys!(170, setresgid, p::setresgid16),
    sys!(171, getresgid, p::getresgid16),
    sys!(172, prctl, i::prctl, "names, dumpable, no_new_privs and the other queries programs make at start"),
    sys!(173, rt_sigreturn, p::rt_sigreturn),
    sys!(174, rt_sigaction, p::rt_sigaction),
    sys!(175, rt_sigprocmask, p::rt_sigprocmask),
    sys!(176, rt_sigpending, p::rt_sigpending),
    sys!(177, rt_sigtimedwait, p::rt_sigtimedwait),
    sys!(179, rt_sigsuspend, p::rt_sigsuspend),
    sys!(180, pread64, f::pread64),
    sys!(181, pwrite64, f::pwrite64),
    sys!(182, chown, f::chown16),
    sys!(183, getcwd, f::getcwd),
    sys!(186, sigaltstack, p::sigaltstack),
    sys!(187, sendfile, f::sendfile),
    sys!(190, vfork, p::vfork, "the child gets a copy of the address space; the parent waits for its exec or exit"),
    sys!(191, ugetrlimit, p::ugetrlimit),
    sys!(192, mmap2, m::mmap2),
    sys!(193, truncate64, f::truncate64),
    sys!(194, ftruncate64, f::ftruncate64),
    sys!(195, stat64, f::stat64),
    sys!(196, lstat64, f::lstat64),
    sys!(197, fstat64, f::fstat64),
    sys!(198, lchown32, f::lchown32),
    sys!(199, getuid32, p::getuid),
    sys!(200, getgid32, p::getgid),
    sys!(201, geteuid32, p::geteuid),
    sys!(202, getegid32, p::getegid),
    sys!(203, setreuid32, p::setreuid32),
    sys!(204, setregid32, p::setregid32),
    sys!(205, getgroups32, p::getgroups32),
    sys!(206, setgroups32, p::setgroups32),
    sys!(207, fchown32, f::fchown32),
    sys!(208, setresuid32, p::setresuid32),
    sys!(209, getresuid32, p::getresuid32),
    sys!(210, setresgid32, p::setresgid32),
    sys!(211, getresgid32, p::getresgid32),
    sys!(212, chown32, f::chown32),
    sys!(213, setuid32, p::setuid32),
    sys!(214, setgid32, p::setgid32),
    sys!(215, setfsuid32, p::setfsuid, "file access uses the effective ids"),
    sys!(216, setfsgid32, p::setfsgid, "file access uses the effective ids"),
    sys!(218, mincore, m::mincore),
    sys!(219, madvise, m::madvise),
    sys!(220, getdents64, f::getdents64),
    sys!(221, fcntl64, f::fcntl64),
    sys!(224, gettid, p::gettid),
    sys!(226, setxattr, f::setxattr, "no file system keeps extended attributes"),
    sys!(227, lsetxattr, f::lsetxattr, "no file system keeps extended attributes"),
    sys!(228, fsetxattr, f::fsetxattr, "no file system keeps extended attributes"),
    sys!(229, getxattr, f::getxattr),
    sys!(230, lgetxattr, f::lgetxattr),
    sys!(231, fgetxattr, f::fgetxattr),
    sys!(232, listxattr, f::listxattr),
    sys!(233, llistxattr, f::llistxattr),
    sys!(234, flistxattr, f::flistxattr),
    sys!(235, removexattr, f::removexattr),
    sys!(236, lremovexattr, f::lremovexattr),
    sys!(237, fremovexattr, f::fremovexattr),
    sys!(238, tkill, p::tkill),
    sys!(239, sendfile64, f::sendfile64),
    sys!(240, futex, p::futex, "no priority-inheritance locks"),
    sys!(241, sched_setaffinity, i::sched_setaffinity, "accepted; tasks run on any vCPU"),
    sys!(242, sched_getaffinity, p::sched_getaffinity),
    sys!(243, set_thread_area, p::set_thread_area),
    sys!(250, fadvise64, f::fadvise64),
    sys!(252, exit_group, p::exit_group),
    sys!(254, epoll_create, ev::epoll_create),
    sys!(255, epoll_ctl, ev::epoll_ctl),
    sys!(256, epoll_wait, ev::epoll_wait, EPOLLET),
    sys!(258, set_tid_address, p::set_tid_address),
    sys!(264, clock_settime, t::clock_settime, "EPERM: the host's clock"),
    sys!(265, clock_gettime, t::clock_gettime),
    sys!(266, clock_getres, t::clock_getres),
    sys!(267, clock_nanosleep, t::clock_nanosleep),
    sys!(268, statfs64, f::statfs64),
    sys!(269, fstatfs64, f::fstatfs64),
    sys!(270, tgkill, p::tgkill),
    sys!(271, utimes, f::utimes),
    sys!(272, fadvise64_64, f::fadvise64_64),
    sys!(284, waitid, p::waitid, "WEXITED"),
    sys!(295, openat, f::openat, "O_TMPFILE is refused"),
    sys!(296, mkdirat, f::mkdirat),
    sys!(297, mknodat, f::mknodat, "sockets and device nodes are names only (FIFOs work)"),
    sys!(298, fchownat, f::fchownat),
    sys!(299, futimesat, f::futimesat),
    sys!(300, fstatat64, f::fstatat64),
    sys!(301, unlinkat, f::unlinkat),
    sys!(302, renameat, f::renameat),
    sys!(303, linkat, f::linkat),
    sys!(304, symlinkat, f::symlinkat),
    sys!(305, readlinkat, f::readlinkat),
    sys!(306, fchmodat, f::fchmodat),
    sys!(307, faccessat, f::faccessat),
    sys!(308, pselect6, poll::pselect6),
    sys!(309, ppoll, poll::ppoll),
    sys!(310, unshare, p::unshare, "CLONE_NEWNS"),
    sys!(311, set_robust_list, p::set_robust_list),
    sys!(318, getcpu, i::getcpu),
    sys!(319, epoll_pwait, ev::epoll_pwait, EPOLLET),
    sys!(320, utimensat, f::utimensat),
    sys!(321, signalfd, ev::signalfd),
    sys!(322, timerfd_create, ev::timerfd_create),
    sys!(323, eventfd, ev::eventfd),
    sys!(324, fallocate, f::fallocate, "nothing reserved ahead; modes 0, KEEP_SIZE and PUNCH_HOLE"),
    sys!(325, timerfd_settime, ev::timerfd_settime, TFD_CANCEL),
    sys!(326, timerfd_gettime, ev::timerfd_gettime),
    sys!(327, signalfd4, ev::signalfd4),
    sys!(328, eventfd2, ev::eventfd2),
    sys!(329, epoll_create1, ev::epoll_create1),
    sys!(330, dup3, f::dup3),
    sys!(331, pipe2, f::pipe2),
    sys!(333, preadv, f::preadv),
    sys!(334, pwritev, f::pwritev),
    sys!(337, recvmmsg, sock::recvmmsg, "after the first message, only those already queued; the timeout is ignored"),
    sys!(340, prlimit64, p::prlimit64),
    sys!(344, syncfs, f::syncfs),
    sys!(345, sendmmsg, sock::sendmmsg),
    sys!(353, renameat2, f::renameat2),
    sys!(355, getrandom, i::getrandom),
    sys!(356, memfd_create, f::memfd_create),
    sys!(359, socket, sock::socket, "AF_UNIX, and AF_INET/AF_INET6 TCP and UDP on loopback only (no raw sockets); other families answer EAFNOSUPPORT"),
    sys!(360, socketpair, sock::socketpair, "AF_UNIX only"),
    sys!(361, bind, sock::bind, "internet sockets: loopback and wildcard addresses only (EADDRNOTAVAIL)"),
    sys!(362, connect, sock::connect, "internet sockets: addresses beyond loopback are ENETUNREACH"),
    sys!(363, listen, sock::listen),
    sys!(364, accept4, sock::accept4),
    sys!(365, getsockopt, opt::getsockopt, "SOL_SOCKET, and inet TCP/UDP/IP/IPv6 options as set (Linux's defaults until then)"),
    sys!(366, setsockopt, opt::setsockopt, "kept for getsockopt; only buffer sizes, SO_PASSCRED, SO_REUSEADDR/SO_REUSEPORT and IPV6_V6ONLY have an effect"),
    sys!(367, getsockname, sock::getsockname),
    sys!(368, getpeername, sock::getpeername),
    sys!(369, sendto, sock::sendto, "no MSG_OOB; UDP beyond loopback is ENETUNREACH"),
    sys!(370, sendmsg, sock::sendmsg, "SCM_RIGHTS and SCM_CREDENTIALS; no MSG_OOB"),
    sys!(371, recvfrom, sock::recvfrom, "no MSG_OOB"),
    sys!(372, recvmsg, sock::recvmsg, "SCM_RIGHTS and SCM_CREDENTIALS; no MSG_OOB"),
    sys!(373, shutdown, sock::shutdown),
    sys!(383, statx, f::statx),
    sys!(395, shmget, ipc::shmget),
    sys!(396, shmctl, ipc::shmctl, "IPC_RMID, IPC_STAT, IPC_SET"),
    sys!(397, shmat, ipc::shmat),
    sys!(398, shmdt, ipc::shmdt),
    sys!(403, clock_gettime64, t::clock_gettime64),
    sys!(404, clock_settime64, t::clock_settime64, "EPERM: the host's clock"),
    sys!(407, clock_nanosleep_time64, t::clock_nanosleep_time64),
    sys!(410, timerfd_gettime64, ev::timerfd_gettime64),
    sys!(411, timerfd_settime64, ev::timerfd_settime64, TFD_CANCEL),
    sys!(412, utimensat_time64, f::utimensat_time64),
    sys!(413, pselect6_time64, poll::pselect6_time64),
    sys!(414, ppoll_time64, poll::ppoll_time64),
    sys!(421, rt_sigtimedwait_time64, p::rt_sigtimedwait_time64),
    sys!(422, futex_time64, p::futex_time64, "no priority-inheritance locks"),
    sys!(439, faccessat2, f::faccessat2),
    sys!(441, epoll_pwait2, ev::epoll_pwait2, EPOLLET),
];

const MAX_NR: usize = 512;

fn index() -> &'static [Option<&'static SysEntry>] {
    static INDEX: OnceLock<Vec<Option<&'static SysEntry>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut v = vec![None; MAX_NR];
        for e in TABLE {
            v[e.nr as usize] = Some(e);
        }
        v
    })
}

/// Return the table entry for a system call number.
pub fn entry(nr: u32) -> Option<&'static SysEntry> {
    index().get(nr as usize).copied().flatten()
}

/// Run system call `nr` for `p` with the arguments in its registers.
pub fn dispatch(p: &mut Process, nr: u32) -> SysResult {
    let r = &p.guest.cpu().regs;
    let args = [r[EBX], r[ECX], r[EDX], r[ESI], r[EDI], r[EBP]];
    match p.stats.counts.get_mut(nr as usize) {
        Some(c) => *c += 1,
        None => p.stats.other += 1,
    }
    crate::devkinfo::count_syscall(nr);
    let e = entry(nr);
    if crate::trace::on(crate::trace::SYSCALL | crate::trace::TIMELINE) {
        return crate::trace::syscall(p, nr, e, args);
    }
    match e {
        Some(e) => (e.handler)(p, args),
        None => Err(Errno::ENOSYS),
    }
}

/// Return the support level of each call, for `vxos syscalls`.
pub fn list() -> impl Iterator<Item = &'static SysEntry> {
    TABLE.iter()
}

/// The resource limits a process starts with.
pub fn default_rlimits() -> [(u64, u64); 16] {
    const INF: u64 = u64::MAX;
    let mut r = [(INF, INF); 16];
    r[3] = (8 << 20, INF); // RLIMIT_STACK
    r[4] = (0, INF); // RLIMIT_CORE: no core dumps
    r[6] = (crate::proctab::MAX_PROCS as u64, crate::proctab::MAX_PROCS as u64); // RLIMIT_NPROC
    r[7] = (1024, 1024); // RLIMIT_NOFILE (the descriptor table's size)
    r[8] = (8 << 20, 8 << 20); // RLIMIT_MEMLOCK
    r[13] = (0, 0); // RLIMIT_NICE
    r
}

/// Report whether system call `nr`, interrupted by a signal whose handler
/// has SA_RESTART (or that was not handled), runs again instead of
/// failing with EINTR.
pub fn restartable(nr: u32) -> bool {
    matches!(
        nr,
        3 | 4 | 5 | 7 | 55 | 102 | 114 | 143 | 145 | 146 | 180 | 181 | 221 | 240 | 284 | 295 | 362 | 364 | 369..=372
    )
}

/// Copy a NUL-terminated path from the guest.
pub(crate) fn path_arg(p: &mut Process, addr: u32) -> SysResult<Vec<u8>> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    let s = p.read_cstr(addr, 4096)?;
    // PATH_MAX counts the terminating NUL.
    if s.len() >= 4096 {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in TABLE.windows(2) {
            assert!(w[0].nr < w[1].nr, "{} before {}", w[0].name, w[1].name);
        }
        assert!(TABLE.iter().all(|e| (e.nr as usize) < MAX_NR));
    }

    #[test]
    fn looks_up_by_number() {
        assert_eq!(entry(4).unwrap().name, "write");
        assert_eq!(entry(252).unwrap().name, "exit_group");
        assert!(entry(999).is_none());
    }
}
