//! Memory system calls (T1): brk, mmap2 and old mmap, munmap, mprotect,
//! mremap, madvise, over the window's page flags. File mappings are
//! private copies read at map time until T2 brings paging.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::files::Object;
use crate::mm::{page_up, prot_flags, PAGE};
use crate::process::Process;
use vx_core::window::pf;

const MAP_SHARED: u32 = 1;
const MAP_PRIVATE: u32 = 2;
const MAP_FIXED: u32 = 0x10;
const MAP_ANONYMOUS: u32 = 0x20;
const MAP_FIXED_NOREPLACE: u32 = 0x100000;

/// brk(2).
pub fn brk(p: &mut Process, a: Args) -> SysResult {
    Ok(p.mm.set_brk(&mut p.guest, a[0]))
}

fn do_mmap(p: &mut Process, addr: u32, len: u32, prot: u32, flags: u32, fd: u32, off: u64) -> SysResult {
    if len == 0 || flags & (MAP_SHARED | MAP_PRIVATE) == 0 || !off.is_multiple_of(PAGE as u64) {
        return Err(Errno::EINVAL);
    }
    let size = page_up(len as u64);
    if size > 0xffff_f000 {
        return Err(Errno::ENOMEM);
    }
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    if flags & MAP_FIXED_NOREPLACE != 0
        && (0..size / PAGE as u64).any(|i| p.guest.window().page_flags(addr + i as u32 * PAGE) & pf::MAPPED != 0)
    {
        return Err(Errno::EEXIST);
    }
    let file = if flags & MAP_ANONYMOUS == 0 {
        let f = p.files.get(fd)?.file.clone();
        if matches!(f.borrow().obj, Object::Dir { .. }) {
            return Err(Errno::ENODEV);
        }
        Some(f)
    } else {
        None
    };
    let at = p.mm.place(&p.guest, addr, size, fixed)?;
    p.guest.map_anon(at, size, pf::READ | pf::WRITE).map_err(|_| Errno::ENOMEM)?;
    if let Some(f) = file {
        let mut data = vec![0u8; size as usize];
        let mut done = 0;
        while done < data.len() {
            let n = f.borrow_mut().pread(&mut data[done..], off + done as u64)?;
            if n == 0 {
                break;
            }
            done += n;
        }
        p.guest.write(at, &data[..done])?;
    }
    p.guest.protect(at, size, prot_flags(prot)).map_err(|_| Errno::ENOMEM)?;
    Ok(at)
}

/// mmap2(2): offset in 4096-byte units.
pub fn mmap2(p: &mut Process, a: Args) -> SysResult {
    do_mmap(p, a[0], a[1], a[2], a[3], a[4], a[5] as u64 * PAGE as u64)
}

/// old_mmap: the i386 mmap(2) taking a pointer to its six arguments.
pub fn old_mmap(p: &mut Process, a: Args) -> SysResult {
    let mut v = [0u32; 6];
    for (k, x) in v.iter_mut().enumerate() {
        *x = p.guest.read_u32(a[0].wrapping_add(4 * k as u32))?;
    }
    if v[5] % PAGE != 0 {
        return Err(Errno::EINVAL);
    }
    do_mmap(p, v[0], v[1], v[2], v[3], v[4], v[5] as u64)
}

fn range(addr: u32, len: u32) -> SysResult<u64> {
    if !addr.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let size = page_up(len as u64);
    if addr as u64 + size > 1 << 32 {
        return Err(Errno::EINVAL);
    }
    Ok(size)
}

/// munmap(2).
pub fn munmap(p: &mut Process, a: Args) -> SysResult {
    let size = range(a[0], a[1])?;
    if a[1] == 0 {
        return Err(Errno::EINVAL);
    }
    p.guest.unmap(a[0], size).map_err(|_| Errno::EINVAL)?;
    Ok(0)
}

/// mprotect(2).
pub fn mprotect(p: &mut Process, a: Args) -> SysResult {
    let size = range(a[0], a[1])?;
    p.guest.protect(a[0], size, prot_flags(a[2])).map_err(Errno::from)?;
    Ok(0)
}

/// mremap(2): shrink in place, grow in place when the pages after are
/// free, or move when MREMAP_MAYMOVE allows.
pub fn mremap(p: &mut Process, a: Args) -> SysResult {
    let (old, old_len, new_len, flags) = (a[0], a[1], a[2], a[3]);
    let old_size = range(old, old_len)?;
    let new_size = page_up(new_len as u64);
    if new_size == 0 || flags & !3 != 0 {
        return Err(Errno::EINVAL);
    }
    let w = p.guest.window();
    if (0..old_size / PAGE as u64).any(|i| w.page_flags(old + i as u32 * PAGE) & pf::MAPPED == 0) {
        return Err(Errno::EFAULT);
    }
    let prot = w.page_flags(old) & pf::PROT_MASK;
    if new_size <= old_size {
        if new_size < old_size {
            p.guest.unmap(old + new_size as u32, old_size - new_size).map_err(|_| Errno::EINVAL)?;
        }
        return Ok(old);
    }
    let tail = old as u64 + old_size;
    let grow = new_size - old_size;
    let tail_free = tail + grow <= crate::mm::MMAP_BASE as u64
        && (0..grow / PAGE as u64).all(|i| w.page_flags(tail as u32 + i as u32 * PAGE) & pf::MAPPED == 0);
    if tail_free {
        p.guest.map_anon(tail as u32, grow, prot).map_err(|_| Errno::ENOMEM)?;
        return Ok(old);
    }
    if flags & 1 == 0 {
        return Err(Errno::ENOMEM);
    }
    let at = p.mm.find_free(&p.guest, new_size)?;
    p.guest.map_anon(at, new_size, pf::READ | pf::WRITE).map_err(|_| Errno::ENOMEM)?;
    let mut data = vec![0u8; old_size as usize];
    // Copy what the guest could read; unreadable pages stay zero.
    for i in 0..old_size / PAGE as u64 {
        let o = (i * PAGE as u64) as usize;
        let _ = p.guest.window().read(old + o as u32, &mut data[o..o + PAGE as usize]);
    }
    p.guest.write(at, &data)?;
    p.guest.protect(at, new_size, prot).map_err(|_| Errno::ENOMEM)?;
    p.guest.unmap(old, old_size).map_err(|_| Errno::EINVAL)?;
    Ok(at)
}

/// madvise(2): DONTNEED zeroes private anonymous pages, as Linux does;
/// the rest are hints.
pub fn madvise(p: &mut Process, a: Args) -> SysResult {
    let size = range(a[0], a[1])?;
    if a[2] == 4 {
        for i in 0..size / PAGE as u64 {
            let addr = a[0] + i as u32 * PAGE;
            let f = p.guest.window().page_flags(addr);
            if f & pf::MAPPED != 0 {
                p.guest.map_anon(addr, PAGE as u64, f & pf::PROT_MASK).map_err(|_| Errno::ENOMEM)?;
            }
        }
    }
    Ok(0)
}
