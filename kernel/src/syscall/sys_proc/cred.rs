//! Identity: user and group ids (32-bit and 16-bit calls), supplementary
//! groups, and the file-creation mask.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::Process;

pub fn getuid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.ids[0])
}
pub fn geteuid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.ids[1])
}
pub fn getgid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.ids[2])
}
pub fn getegid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.ids[3])
}

/// umask(2).
pub fn umask(p: &mut Process, a: Args) -> SysResult {
    let old = p.fs.umask;
    p.fs.umask = a[0] & 0o777;
    Ok(old)
}

/// The ids a set*id call may pick from without privilege.
fn may_set(p: &Process, v: u32, user: bool) -> bool {
    let (r, e, s) = if user { (p.ids[0], p.ids[1], p.saved_ids[0]) } else { (p.ids[2], p.ids[3], p.saved_ids[1]) };
    p.ids[1] == 0 || v == r || v == e || v == s
}

/// setresuid/setresgid: each of real, effective, saved (-1 keeps).
fn set_res(p: &mut Process, r: u32, e: u32, s: u32, user: bool) -> SysResult {
    for v in [r, e, s] {
        if v != u32::MAX && !may_set(p, v, user) {
            return Err(Errno::EPERM);
        }
    }
    let (ri, ei, si) = if user { (0, 1, 0) } else { (2, 3, 1) };
    if r != u32::MAX {
        p.ids[ri] = r;
    }
    if e != u32::MAX {
        p.ids[ei] = e;
    }
    if s != u32::MAX {
        p.saved_ids[si] = s;
    }
    Ok(0)
}

/// setuid/setgid: root sets all three; others only the effective id, to
/// the real or saved one.
fn set_one(p: &mut Process, v: u32, user: bool) -> SysResult {
    if v == u32::MAX {
        return Err(Errno::EINVAL);
    }
    if p.ids[1] == 0 {
        set_res(p, v, v, v, user)
    } else if may_set(p, v, user) {
        set_res(p, u32::MAX, v, u32::MAX, user)
    } else {
        Err(Errno::EPERM)
    }
}

/// setreuid/setregid (Linux's rules): the real id may become the real or
/// effective one, the effective id any of the three; the saved id follows
/// the new effective one when the real one is set or the effective one
/// moves away from the old real one. Root may set anything.
fn set_re(p: &mut Process, r: u32, e: u32, user: bool) -> SysResult {
    let (ri, ei, si) = if user { (0, 1, 0) } else { (2, 3, 1) };
    let (old_r, old_e, old_s) = (p.ids[ri], p.ids[ei], p.saved_ids[si]);
    let root = p.ids[1] == 0;
    if r != u32::MAX && !root && r != old_r && r != old_e {
        return Err(Errno::EPERM);
    }
    if e != u32::MAX && !root && e != old_r && e != old_e && e != old_s {
        return Err(Errno::EPERM);
    }
    if r != u32::MAX {
        p.ids[ri] = r;
    }
    if e != u32::MAX {
        p.ids[ei] = e;
    }
    if r != u32::MAX || (e != u32::MAX && e != old_r) {
        p.saved_ids[si] = p.ids[ei];
    }
    Ok(0)
}

fn id16(v: u32) -> u32 {
    if v as u16 == u16::MAX {
        u32::MAX
    } else {
        v & 0xffff
    }
}

pub fn setuid32(p: &mut Process, a: Args) -> SysResult {
    set_one(p, a[0], true)
}
pub fn setgid32(p: &mut Process, a: Args) -> SysResult {
    set_one(p, a[0], false)
}
pub fn setuid16(p: &mut Process, a: Args) -> SysResult {
    set_one(p, id16(a[0]), true)
}
pub fn setgid16(p: &mut Process, a: Args) -> SysResult {
    set_one(p, id16(a[0]), false)
}
pub fn setreuid32(p: &mut Process, a: Args) -> SysResult {
    set_re(p, a[0], a[1], true)
}
pub fn setregid32(p: &mut Process, a: Args) -> SysResult {
    set_re(p, a[0], a[1], false)
}
pub fn setreuid16(p: &mut Process, a: Args) -> SysResult {
    set_re(p, id16(a[0]), id16(a[1]), true)
}
pub fn setregid16(p: &mut Process, a: Args) -> SysResult {
    set_re(p, id16(a[0]), id16(a[1]), false)
}
pub fn setresuid32(p: &mut Process, a: Args) -> SysResult {
    set_res(p, a[0], a[1], a[2], true)
}
pub fn setresgid32(p: &mut Process, a: Args) -> SysResult {
    set_res(p, a[0], a[1], a[2], false)
}
pub fn setresuid16(p: &mut Process, a: Args) -> SysResult {
    set_res(p, id16(a[0]), id16(a[1]), id16(a[2]), true)
}
pub fn setresgid16(p: &mut Process, a: Args) -> SysResult {
    set_res(p, id16(a[0]), id16(a[1]), id16(a[2]), false)
}

fn get_res(p: &mut Process, a: Args, user: bool, wide: bool) -> SysResult {
    let v = if user { [p.ids[0], p.ids[1], p.saved_ids[0]] } else { [p.ids[2], p.ids[3], p.saved_ids[1]] };
    for (addr, id) in a[..3].iter().zip(v) {
        if wide {
            p.write_u32(*addr, id)?;
        } else {
            p.uwrite(*addr, &(id.min(65534) as u16).to_le_bytes())?;
        }
    }
    Ok(0)
}

pub fn getresuid32(p: &mut Process, a: Args) -> SysResult {
    get_res(p, a, true, true)
}
pub fn getresgid32(p: &mut Process, a: Args) -> SysResult {
    get_res(p, a, false, true)
}
pub fn getresuid16(p: &mut Process, a: Args) -> SysResult {
    get_res(p, a, true, false)
}
pub fn getresgid16(p: &mut Process, a: Args) -> SysResult {
    get_res(p, a, false, false)
}

fn get_groups(p: &mut Process, a: Args, wide: bool) -> SysResult {
    let (size, list) = (a[0] as i32, a[1]);
    let n = p.groups.len() as u32;
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    if size == 0 {
        return Ok(n);
    }
    if (size as u32) < n {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = if wide {
        p.groups.iter().flat_map(|g| g.to_le_bytes()).collect()
    } else {
        p.groups.iter().flat_map(|g| (*g.min(&65534) as u16).to_le_bytes()).collect()
    };
    p.uwrite(list, &bytes)?;
    Ok(n)
}

fn set_groups(p: &mut Process, a: Args, wide: bool) -> SysResult {
    let n = a[0];
    if n > 65536 {
        return Err(Errno::EINVAL);
    }
    if p.ids[1] != 0 {
        return Err(Errno::EPERM);
    }
    let w = if wide { 4 } else { 2 };
    let mut b = vec![0u8; n as usize * w];
    p.uread(a[1], &mut b)?;
    p.groups = b
        .chunks(w)
        .map(|c| {
            if wide {
                u32::from_le_bytes(c.try_into().unwrap())
            } else {
                u16::from_le_bytes(c.try_into().unwrap()) as u32
            }
        })
        .collect();
    Ok(0)
}

pub fn getgroups32(p: &mut Process, a: Args) -> SysResult {
    get_groups(p, a, true)
}
pub fn setgroups32(p: &mut Process, a: Args) -> SysResult {
    set_groups(p, a, true)
}
pub fn getgroups16(p: &mut Process, a: Args) -> SysResult {
    get_groups(p, a, false)
}
pub fn setgroups16(p: &mut Process, a: Args) -> SysResult {
    set_groups(p, a, false)
}

/// setfsuid/setfsgid: file access uses the effective ids here; the call
/// answers with them and changes nothing.
pub fn setfsuid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.ids[1])
}
pub fn setfsgid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.ids[3])
}
