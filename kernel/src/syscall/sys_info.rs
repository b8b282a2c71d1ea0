//! System information and small process-attribute calls: uname, sethostname,
//! getrandom, sysinfo, prctl, personality, priorities and scheduling
//! policies (answered as for the one policy vxos has: round robin among
//! equals), getcpu, mlock (nothing is ever swapped).

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::Process;

/// uname(2): the host's names, with machine "i686".
pub fn uname(p: &mut Process, a: Args) -> SysResult {
    let u = rustix::system::uname();
    let node = NODENAME.lock().clone();
    let fields: [&[u8]; 6] = [
        b"Linux",
        node.as_deref().unwrap_or(u.nodename().to_bytes()),
        u.release().to_bytes(),
        u.version().to_bytes(),
        b"i686",
        u.domainname().to_bytes(),
    ];
    let mut b = vec![0u8; 6 * 65];
    for (k, f) in fields.iter().enumerate() {
        let n = f.len().min(64);
        b[k * 65..k * 65 + n].copy_from_slice(&f[..n]);
    }
    p.uwrite(a[0], &b)?;
    Ok(0)
}

/// The guest's host name, once set (`vxos boot` and `vxos run` take the root's /etc/hostname);
/// until then the host's.
static NODENAME: parking_lot::Mutex<Option<Vec<u8>>> = parking_lot::Mutex::new(None);

/// Set the name uname(2) reports.
pub fn set_nodename(name: &[u8]) {
    *NODENAME.lock() = Some(name.iter().copied().take(64).collect());
}

/// getrandom(2).
pub fn getrandom(p: &mut Process, a: Args) -> SysResult {
    let len = (a[1] as usize).min(1 << 20);
    if a[2] & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    let mut b = vec![0u8; len];
    crate::exec::getrandom(&mut b)?;
    p.uwrite(a[0], &b)?;
    Ok(len as u32)
}

/// sethostname(2): root only, at most 64 bytes.
pub fn sethostname(p: &mut Process, a: Args) -> SysResult {
    if p.ids[1] != 0 {
        return Err(Errno::EPERM);
    }
    if a[1] > 64 {
        return Err(Errno::EINVAL);
    }
    let mut b = vec![0u8; a[1] as usize];
    p.uread(a[0], &mut b)?;
    set_nodename(&b);
    Ok(0)
}

/// sysinfo(2): uptime, memory (in pages of the guest's memory file) and
/// the number of processes.
pub fn sysinfo(p: &mut Process, a: Args) -> SysResult {
    let (used, all) = crate::mm::memory().usage();
    let mut w = [0u32; 16];
    w[0] = crate::procview::uptime().as_secs() as u32;
    w[4] = all; // totalram
    w[5] = all - used; // freeram
    w[10] = crate::proctab::count() as u32; // procs (a short, low half)
    w[13] = 4096; // mem_unit
    let b: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    p.uwrite(a[0], &b)?;
    Ok(0)
}

/// The name prctl(PR_SET_NAME) gave each thread.
static NAMES: parking_lot::Mutex<std::collections::BTreeMap<u32, [u8; 16]>> =
    parking_lot::Mutex::new(std::collections::BTreeMap::new());

/// prctl(2): the options programs use at start; others are EINVAL.
pub fn prctl(p: &mut Process, a: Args) -> SysResult {
    const PR_SET_PDEATHSIG: u32 = 1;
    const PR_GET_PDEATHSIG: u32 = 2;
    const PR_GET_DUMPABLE: u32 = 3;
    const PR_SET_DUMPABLE: u32 = 4;
    const PR_GET_KEEPCAPS: u32 = 7;
    const PR_SET_KEEPCAPS: u32 = 8;
    const PR_SET_NAME: u32 = 15;
    const PR_GET_NAME: u32 = 16;
    const PR_GET_SECCOMP: u32 = 21;
    const PR_CAPBSET_READ: u32 = 23;
    const PR_GET_TIMERSLACK: u32 = 30;
    const PR_SET_TIMERSLACK: u32 = 29;
    const PR_SET_CHILD_SUBREAPER: u32 = 36;
    const PR_GET_CHILD_SUBREAPER: u32 = 37;
    const PR_SET_NO_NEW_PRIVS: u32 = 38;
    const PR_GET_NO_NEW_PRIVS: u32 = 39;
    match a[0] {
        PR_SET_PDEATHSIG => {
            if a[1] > 64 {
                return Err(Errno::EINVAL);
            }
            Ok(0)
        }
        PR_GET_PDEATHSIG | PR_GET_CHILD_SUBREAPER => {
            p.write_u32(a[1], 0)?;
            Ok(0)
        }
        PR_GET_DUMPABLE => Ok(1),
        PR_SET_DUMPABLE => (a[1] <= 1).then_some(0).ok_or(Errno::EINVAL),
        PR_GET_KEEPCAPS | PR_GET_SECCOMP | PR_GET_NO_NEW_PRIVS => Ok(0),
        PR_SET_KEEPCAPS | PR_SET_CHILD_SUBREAPER => Ok(0),
        PR_SET_NO_NEW_PRIVS => (a[1] == 1 && a[2] == 0).then_some(0).ok_or(Errno::EINVAL),
        PR_CAPBSET_READ => (a[1] <= 40).then_some(1).ok_or(Errno::EINVAL),
        PR_SET_TIMERSLACK => Ok(0),
        PR_GET_TIMERSLACK => Ok(50_000),
        PR_SET_NAME => {
            let s = p.read_cstr(a[1], 16)?;
            let mut name = [0u8; 16];
            let n = s.len().min(15);
            name[..n].copy_from_slice(&s[..n]);
            NAMES.lock().insert(p.tid, name);
            Ok(0)
        }
        PR_GET_NAME => {
            let name = match NAMES.lock().get(&p.tid) {
                Some(n) => *n,
                None => {
                    let comm = crate::devproc::entry(p.pid).map(|e| e.comm).unwrap_or_default();
                    let base = comm.as_bytes();
                    let mut name = [0u8; 16];
                    let n = base.len().min(15);
                    name[..n].copy_from_slice(&base[..n]);
                    name
                }
            };
            p.uwrite(a[1], &name)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// personality(2): only Linux's own; 0xffffffff asks.
pub fn personality(_p: &mut Process, a: Args) -> SysResult {
    const ADDR_NO_RANDOMIZE: u32 = 0x0040000;
    match a[0] {
        0xffff_ffff => Ok(0),
        x if x & !ADDR_NO_RANDOMIZE == 0 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// The processes a getpriority/setpriority target names: PRIO_PROCESS,
/// PRIO_PGRP or PRIO_USER with an id (0 is the caller's).
fn prio_targets(p: &Process, which: u32, who: u32) -> SysResult<Vec<u32>> {
    let list = match which {
        0 => vec![if who == 0 { p.pid } else { who }],
        1 => {
            let g = if who == 0 { crate::proctab::get(p.pid).map_or(p.pid, |e| e.pgid) } else { who };
            crate::proctab::find(|_, e| e.pgid == g)
        }
        2 => {
            let u = if who == 0 { p.ids[0] } else { who };
            crate::proctab::find(|pid, _| crate::devproc::entry(pid).is_some_and(|e| e.uid == u))
        }
        _ => return Err(Errno::EINVAL),
    };
    let list: Vec<u32> = list.into_iter().filter(|&pid| crate::devproc::entry(pid).is_some()).collect();
    if list.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(list)
}

fn prio_target(p: &Process, which: u32, who: u32) -> SysResult<()> {
    prio_targets(p, which, who).map(drop)
}

/// getpriority(2): the highest priority (lowest nice) among the targets,
/// returned as 20 - nice as Linux's system call does. The scheduler
/// keeps the value for programs to read; it runs every task alike.
pub fn getpriority(p: &mut Process, a: Args) -> SysResult {
    let nice = prio_targets(p, a[0], a[1])?
        .into_iter()
        .filter_map(|pid| crate::devproc::entry(pid).map(|e| e.nice))
        .min()
        .unwrap_or(0);
    Ok((20 - nice) as u32)
}

/// setpriority(2): lowering the nice value needs root, as on Linux.
pub fn setpriority(p: &mut Process, a: Args) -> SysResult {
    let nice = (a[2] as i32).clamp(-20, 19);
    for pid in prio_targets(p, a[0], a[1])? {
        let e = crate::devproc::entry(pid).ok_or(Errno::ESRCH)?;
        if e.uid != p.ids[1] && p.ids[1] != 0 {
            return Err(Errno::EPERM);
        }
        if nice < e.nice && p.ids[1] != 0 {
            return Err(Errno::EACCES);
        }
        crate::devproc::update(pid, |e| e.nice = nice);
    }
    Ok(0)
}

/// sched_getscheduler(2): SCHED_OTHER.
pub fn sched_getscheduler(p: &mut Process, a: Args) -> SysResult {
    prio_target(p, 0, a[0])?;
    Ok(0)
}

/// sched_setscheduler(2): SCHED_OTHER, SCHED_BATCH and SCHED_IDLE are
/// taken (and make no difference); real-time policies need root.
pub fn sched_setscheduler(p: &mut Process, a: Args) -> SysResult {
    prio_target(p, 0, a[0])?;
    let prio = p.read_u32(a[2])?;
    match a[1] & !0x4000_0000 {
        0 | 3 | 5 if prio == 0 => Ok(0),
        1 | 2 if (1..=99).contains(&prio) => Err(Errno::EPERM),
        _ => Err(Errno::EINVAL),
    }
}

/// sched_getparam(2): priority 0.
pub fn sched_getparam(p: &mut Process, a: Args) -> SysResult {
    prio_target(p, 0, a[0])?;
    p.write_u32(a[1], 0)?;
    Ok(0)
}

/// sched_setparam(2): priority 0 only (SCHED_OTHER's).
pub fn sched_setparam(p: &mut Process, a: Args) -> SysResult {
    prio_target(p, 0, a[0])?;
    if p.read_u32(a[1])? != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// sched_get_priority_max(2).
pub fn sched_get_priority_max(_p: &mut Process, a: Args) -> SysResult {
    match a[0] {
        1 | 2 => Ok(99),
        0 | 3 | 5 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// sched_get_priority_min(2).
pub fn sched_get_priority_min(_p: &mut Process, a: Args) -> SysResult {
    match a[0] {
        1 | 2 => Ok(1),
        0 | 3 | 5 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// sched_setaffinity(2): accepted if the set names a vCPU, and kept for
/// sched_getaffinity to report; tasks still run on any vCPU.
pub fn sched_setaffinity(p: &mut Process, a: Args) -> SysResult {
    // A thread's affinity is its process's here; init (pid 1 under
    // `vxos run`) has no entry and all CPUs.
    let pid = if a[0] == 0 { p.pid } else { crate::proctab::get(a[0]).ok_or(Errno::ESRCH)?.tgid };
    let e = crate::devproc::entry(pid).unwrap_or_default();
    let n = (a[1] as usize).min(128);
    let mut b = vec![0u8; n];
    p.uread(a[2], &mut b)?;
    let cpus = crate::sched::cpus();
    let any = (0..cpus).any(|c| b.get(c / 8).is_some_and(|x| x & (1 << (c % 8)) != 0));
    if !any {
        return Err(Errno::EINVAL);
    }
    if e.uid != p.ids[1] && p.ids[1] != 0 {
        return Err(Errno::EPERM);
    }
    let mut w = [0u8; 4];
    let k = b.len().min(4);
    w[..k].copy_from_slice(&b[..k]);
    crate::devproc::update(pid, |e| e.affinity = u32::from_le_bytes(w));
    Ok(0)
}

/// getcpu(2): the vCPU the caller runs on, node 0.
pub fn getcpu(p: &mut Process, a: Args) -> SysResult {
    let cpu = crate::sched::this_cpu() as u32;
    if a[0] != 0 {
        p.write_u32(a[0], cpu)?;
    }
    if a[1] != 0 {
        p.write_u32(a[1], 0)?;
    }
    Ok(0)
}

/// mlock(2), munlock(2), mlockall(2), munlockall(2): guest memory is
/// never swapped out, so every page is as good as locked.
pub fn mlock(_p: &mut Process, _a: Args) -> SysResult {
    Ok(0)
}
