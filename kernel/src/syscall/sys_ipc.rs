//! System V shared memory: shmget, shmat, shmdt, shmctl, and the i386
//! ipc(2) multiplexer that older programs call them through. A segment is
//! a set of shared pages (`mm/shared.rs`) with a key and an id; it lives
//! until IPC_RMID and the last detach.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::mm::shared::SharedPages;
use crate::mm::vma::{Backing, Vma};
use crate::mm::{page_up, MMAP_BASE, MMAP_MIN, PAGE};
use crate::process::Process;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use vx_core::window::pf;

const IPC_PRIVATE: u32 = 0;
const IPC_CREAT: u32 = 0o1000;
const IPC_EXCL: u32 = 0o2000;
const IPC_RMID: u32 = 0;
const IPC_SET: u32 = 1;
const IPC_STAT: u32 = 2;
const IPC_64: u32 = 0x100;
const SHM_RDONLY: u32 = 0o10000;
const SHM_RND: u32 = 0o20000;
const SHMMAX: u64 = 1 << 30;

struct Segment {
    key: u32,
    size: u32,
    mode: u32,
    pages: Arc<SharedPages>,
    nattch: u32,
    removed: bool,
    cpid: u32,
    lpid: u32,
}

#[derive(Default)]
struct Table {
    segs: BTreeMap<u32, Segment>,
    next: u32,
}

static SHM: Mutex<Option<Table>> = Mutex::new(None);

fn with_table<T>(f: impl FnOnce(&mut Table) -> T) -> T {
    let mut g = SHM.lock();
    f(g.get_or_insert_with(Table::default))
}

/// shmget(2).
pub fn shmget(p: &mut Process, a: Args) -> SysResult {
    let (key, size, flags) = (a[0], a[1], a[2]);
    with_table(|t| {
        if key != IPC_PRIVATE {
            if let Some((&id, s)) = t.segs.iter().find(|(_, s)| s.key == key && !s.removed) {
                if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
                if size > s.size {
                    return Err(Errno::EINVAL);
                }
                return Ok(id);
            }
            if flags & IPC_CREAT == 0 {
                return Err(Errno::ENOENT);
            }
        }
        if size == 0 || size as u64 > SHMMAX {
            return Err(Errno::EINVAL);
        }
        t.next += 1;
        let id = t.next;
        let npages = (page_up(size as u64) / PAGE as u64) as u32;
        let seg = Segment {
            key,
            size,
            mode: flags & 0o777,
            pages: SharedPages::new(npages, None),
            nattch: 0,
            removed: false,
            cpid: p.pid,
            lpid: 0,
        };
        t.segs.insert(id, seg);
        Ok(id)
    })
}

/// shmat(2): map the segment; return its address.
pub fn shmat(p: &mut Process, a: Args) -> SysResult {
    let (id, addr, flags) = (a[0], a[1], a[2]);
    let (pages, size) = with_table(|t| {
        let s = t.segs.get_mut(&id).ok_or(Errno::EINVAL)?;
        s.nattch += 1;
        s.lpid = p.pid;
        Ok::<_, Errno>((s.pages.clone(), s.size))
    })?;
    let len = page_up(size as u64);
    let undo = |e| {
        with_table(|t| {
            if let Some(s) = t.segs.get_mut(&id) {
                s.nattch -= 1;
            }
        });
        e
    };
    let at = if addr == 0 {
        let bottom = page_up(p.mm.brk as u64).max(MMAP_MIN as u64) as u32;
        p.mm.vmas.find_free(len, bottom, MMAP_BASE).ok_or(Errno::ENOMEM).map_err(undo)?
    } else {
        let a = if flags & SHM_RND != 0 { addr & !(0x3fff) } else { addr };
        if !a.is_multiple_of(PAGE) || a as u64 + len > 1 << 32 {
            return Err(undo(Errno::EINVAL));
        }
        a
    };
    let prot = if flags & SHM_RDONLY != 0 { pf::READ } else { pf::READ | pf::WRITE };
    let vma = Vma { end: at as u64 + len, prot, backing: Backing::Shared { obj: pages, page: 0 }, grows_down: false };
    p.mm.map(&mut p.guest, at, vma);
    Ok(at)
}

/// shmdt(2): unmap the segment attached at `addr`.
pub fn shmdt(p: &mut Process, a: Args) -> SysResult {
    let addr = a[0];
    let Some((start, v)) = p.mm.vmas.find(addr) else { return Err(Errno::EINVAL) };
    if start != addr {
        return Err(Errno::EINVAL);
    }
    let Backing::Shared { obj, page: 0 } = &v.backing else { return Err(Errno::EINVAL) };
    let obj = obj.clone();
    let end = v.end;
    let found = with_table(|t| {
        let id = t.segs.iter().find(|(_, s)| Arc::ptr_eq(&s.pages, &obj)).map(|(&id, _)| id)?;
        let s = t.segs.get_mut(&id)?;
        s.nattch = s.nattch.saturating_sub(1);
        s.lpid = p.pid;
        if s.removed && s.nattch == 0 {
            t.segs.remove(&id);
        }
        Some(())
    });
    if found.is_none() {
        return Err(Errno::EINVAL);
    }
    drop(obj);
    p.mm.unmap(&mut p.guest, addr, end);
    Ok(0)
}

/// shmctl(2): IPC_RMID, IPC_STAT, IPC_SET.
pub fn shmctl(p: &mut Process, a: Args) -> SysResult {
    let (id, cmd, buf) = (a[0], a[1] & !IPC_64, a[2]);
    match cmd {
        IPC_RMID => with_table(|t| {
            let s = t.segs.get_mut(&id).ok_or(Errno::EINVAL)?;
            s.removed = true;
            if s.nattch == 0 {
                t.segs.remove(&id);
            }
            Ok(0)
        }),
        IPC_STAT => {
            // struct shmid64_ds (i386): ipc64_perm (key, uid, gid, cuid,
            // cgid, mode, seq ...: 36 bytes), shm_segsz, times, cpid, lpid,
            // nattch.
            let st = with_table(|t| {
                t.segs
                    .get(&id)
                    .map(|s| (s.key, s.mode | if s.removed { 0o1000 } else { 0 }, s.size, s.cpid, s.lpid, s.nattch))
            });
            let (key, mode, size, cpid, lpid, nattch) = st.ok_or(Errno::EINVAL)?;
            let mut b = [0u8; 84];
            let mut put = |o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_le_bytes());
            put(0, key);
            put(4, p.ids[1]);
            put(8, p.ids[3]);
            put(12, p.ids[1]);
            put(16, p.ids[3]);
            put(20, mode);
            put(36, size);
            put(64, cpid);
            put(68, lpid);
            put(72, nattch);
            p.uwrite(buf, &b)?;
            Ok(0)
        }
        IPC_SET => {
            let mode = p.read_u32(buf + 20)?;
            with_table(|t| {
                let s = t.segs.get_mut(&id).ok_or(Errno::EINVAL)?;
                s.mode = mode & 0o777;
                Ok(0)
            })
        }
        _ => Err(Errno::EINVAL),
    }
}

/// ipc(2): the i386 multiplexer; shared memory calls only (semaphores and
/// message queues answer ENOSYS).
pub fn ipc(p: &mut Process, a: Args) -> SysResult {
    let (call, first, second, third, ptr) = (a[0] & 0xffff, a[1], a[2], a[3], a[4]);
    match call {
        21 => {
            // SHMAT: the address goes to *third
            let at = shmat(p, [first, ptr, second, 0, 0, 0])?;
            p.write_u32(third, at)?;
            Ok(0)
        }
        22 => shmdt(p, [ptr, 0, 0, 0, 0, 0]),
        23 => shmget(p, [first, second, third, 0, 0, 0]),
        24 => shmctl(p, [first, second, ptr, 0, 0, 0]),
        _ => Err(Errno::ENOSYS),
    }
}
