//! Memory system calls: brk, mmap2 and old mmap, munmap, mprotect, mremap,
//! madvise, msync, mincore. Argument checking and VMA bookkeeping; pages
//! arrive on demand through `mm/fault.rs`.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::files::Object;
use crate::mm::fault::Access;
use crate::mm::shared::SharedPages;
use crate::mm::vma::Pager;
use crate::mm::vma::{Backing, Vma};
use crate::mm::{page_up, prot_flags, MMAP_BASE, MMAP_MIN, PAGE};
use crate::process::Process;
use std::sync::Arc;
use vx_core::window::pf;

const MAP_SHARED: u32 = 1;
const MAP_PRIVATE: u32 = 2;
const MAP_FIXED: u32 = 0x10;
const MAP_ANONYMOUS: u32 = 0x20;
const MAP_GROWSDOWN: u32 = 0x100;
const MAP_POPULATE: u32 = 0x8000;
const MAP_FIXED_NOREPLACE: u32 = 0x100000;

/// brk(2): move the program break; return the new (or unchanged) break.
pub fn brk(p: &mut Process, a: Args) -> SysResult {
    let want = a[0];
    let mm = &mut p.mm;
    if want < mm.brk_start {
        return Ok(mm.brk);
    }
    let old_end = page_up(mm.brk as u64);
    let new_end = page_up(want as u64);
    if new_end > old_end {
        let over = mm.vmas.mapped() + (new_end - old_end) > p.rlimits[9].0;
        if over || new_end > MMAP_BASE as u64 || !mm.vmas.is_free(old_end as u32, new_end) {
            return Ok(mm.brk);
        }
        let heap = Vma { end: new_end, prot: pf::READ | pf::WRITE, backing: Backing::Anon, grows_down: false };
        mm.vmas.insert(old_end as u32, heap);
        // Heap pages the program's last run wrote are made at once.
        mm.settle(&mut p.guest, old_end as u32, new_end);
    } else if new_end < old_end {
        mm.unmap(&mut p.guest, new_end as u32, old_end);
    }
    mm.brk = want;
    Ok(want)
}

fn do_mmap(p: &mut Process, addr: u32, len: u32, prot: u32, flags: u32, fd: u32, off: u64) -> SysResult {
    let kind = flags & (MAP_SHARED | MAP_PRIVATE);
    if len == 0 || kind == 0 || kind == (MAP_SHARED | MAP_PRIVATE) || !off.is_multiple_of(PAGE as u64) {
        return Err(Errno::EINVAL);
    }
    let size = page_up(len as u64);
    if size > 0xffff_f000 {
        return Err(Errno::ENOMEM);
    }
    let backing = if flags & MAP_ANONYMOUS != 0 {
        if kind == MAP_SHARED {
            Backing::Shared { obj: SharedPages::new((size / PAGE as u64) as u32, None), page: 0 }
        } else {
            Backing::Anon
        }
    } else {
        let f = p.files.get(fd)?.file.clone();
        let f = f.borrow();
        if !f.readable() {
            return Err(Errno::EACCES);
        }
        let file: Arc<dyn Pager> = match &f.obj {
            Object::Chan { open, .. } if open.chan.qid.kind == devices::FileType::File => open.clone(),
            Object::Stdio(h) if h.metadata()?.is_file() => Arc::new(h.try_clone()?),
            _ => return Err(Errno::ENODEV),
        };
        if kind == MAP_SHARED {
            if prot & 2 != 0 && f.flags & crate::files::O_ACCMODE != crate::files::O_RDWR {
                return Err(Errno::EACCES);
            }
            Backing::Shared { obj: SharedPages::for_file(file)?, page: (off / PAGE as u64) as u32 }
        } else {
            Backing::File { file, offset: off, file_end: u64::MAX }
        }
    };
    // RLIMIT_AS: the whole address space, with this mapping.
    if p.mm.vmas.mapped() + size > p.rlimits[9].0 {
        return Err(Errno::ENOMEM);
    }
    let start = if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0 {
        if !addr.is_multiple_of(PAGE) || addr as u64 + size > 1 << 32 {
            return Err(Errno::EINVAL);
        }
        if flags & MAP_FIXED_NOREPLACE != 0 && !p.mm.vmas.is_free(addr, addr as u64 + size) {
            return Err(Errno::EEXIST);
        }
        addr
    } else if addr >= MMAP_MIN
        && addr.is_multiple_of(PAGE)
        && addr as u64 + size <= MMAP_BASE as u64
        && p.mm.vmas.is_free(addr, addr as u64 + size)
    {
        addr
    } else {
        let bottom = page_up(p.mm.brk as u64).max(MMAP_MIN as u64) as u32;
        p.mm.vmas.find_free(size, bottom, MMAP_BASE).ok_or(Errno::ENOMEM)?
    };
    let file_code = prot & 4 != 0 && matches!(backing, Backing::File { .. });
    let vma = Vma { end: start as u64 + size, prot: prot_flags(prot), backing, grows_down: flags & MAP_GROWSDOWN != 0 };
    p.mm.map(&mut p.guest, start, vma);
    if file_code {
        // A library's code: its kept translations, if any (progcache.rs).
        crate::progcache::attach(&mut p.guest, &mut p.mm);
    }
    if flags & MAP_POPULATE != 0 {
        let access = if prot & 2 != 0 { Access::Write } else { Access::Read };
        let _ = p.mm.populate(&mut p.guest, start, size, access);
    }
    Ok(start)
}

/// mmap2(2): offset in 4096-byte units.
pub fn mmap2(p: &mut Process, a: Args) -> SysResult {
    do_mmap(p, a[0], a[1], a[2], a[3], a[4], a[5] as u64 * PAGE as u64)
}

/// old_mmap: the i386 mmap(2) taking a pointer to its six arguments.
pub fn old_mmap(p: &mut Process, a: Args) -> SysResult {
    let mut v = [0u32; 6];
    for (k, x) in v.iter_mut().enumerate() {
        *x = p.read_u32(a[0].wrapping_add(4 * k as u32))?;
    }
    if !v[5].is_multiple_of(PAGE) {
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
    p.mm.unmap(&mut p.guest, a[0], a[0] as u64 + size);
    Ok(0)
}

/// mprotect(2).
pub fn mprotect(p: &mut Process, a: Args) -> SysResult {
    let size = range(a[0], a[1])?;
    if a[2] & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    if !p.mm.protect(&mut p.guest, a[0], a[0] as u64 + size, prot_flags(a[2])) {
        return Err(Errno::ENOMEM);
    }
    if a[2] & 4 != 0 {
        crate::progcache::attach(&mut p.guest, &mut p.mm);
    }
    Ok(0)
}

/// mremap(2): shrink in place, grow in place when the pages after are
/// free, or move the pages (their frames, not copies) when MREMAP_MAYMOVE
/// allows.
pub fn mremap(p: &mut Process, a: Args) -> SysResult {
    let (old, old_len, new_len, flags) = (a[0], a[1], a[2], a[3]);
    let old_size = range(old, old_len)?;
    let new_size = page_up(new_len as u64);
    if new_size == 0 || flags & !3 != 0 {
        return Err(Errno::EINVAL);
    }
    let old_end = old as u64 + old_size;
    let v = match p.mm.vmas.find(old) {
        Some((s, v)) if v.end >= old_end => {
            let mut v = v.clone();
            if let Backing::File { offset, .. } = &mut v.backing {
                *offset += (old - s) as u64;
            }
            if let Backing::Shared { page, .. } = &mut v.backing {
                *page += (old - s) / PAGE;
            }
            v
        }
        _ => return Err(Errno::EFAULT),
    };
    if new_size <= old_size {
        p.mm.unmap(&mut p.guest, old + new_size as u32, old_end);
        return Ok(old);
    }
    let grow_end = old as u64 + new_size;
    if grow_end <= MMAP_BASE as u64 && p.mm.vmas.is_free(old_end as u32, grow_end) {
        let mut tail = v.clone();
        tail.end = grow_end;
        if let Backing::File { offset, .. } = &mut tail.backing {
            *offset += old_size;
        }
        if let Backing::Shared { page, .. } = &mut tail.backing {
            *page += (old_size / PAGE as u64) as u32;
        }
        p.mm.vmas.insert(old_end as u32, tail);
        return Ok(old);
    }
    if flags & 1 == 0 {
        return Err(Errno::ENOMEM);
    }
    let bottom = page_up(p.mm.brk as u64).max(MMAP_MIN as u64) as u32;
    let at = p.mm.vmas.find_free(new_size, bottom, MMAP_BASE).ok_or(Errno::ENOMEM)?;
    // Move the VMA and the page table entries; the frames stay.
    p.mm.vmas.remove(old, old_end);
    let mut moved = v.clone();
    moved.end = at as u64 + new_size;
    p.mm.vmas.insert(at, moved);
    let entries: Vec<_> = p.mm.pt.range(old >> 12, (old_end >> 12) as u32).collect();
    for (page, e) in entries {
        p.mm.pt.set(page, None);
        p.mm.pt.set(page - (old >> 12) + (at >> 12), Some(e));
    }
    let _ = p.guest.unmap(old, old_size);
    Ok(at)
}

/// madvise(2): DONTNEED (and FREE) drop the pages of private mappings, so
/// they read as zeros (or the file) again, as Linux does; the rest are hints.
pub fn madvise(p: &mut Process, a: Args) -> SysResult {
    let size = range(a[0], a[1])?;
    let end = a[0] as u64 + size;
    match a[2] {
        4 | 8 => {
            if !p.mm.vmas.covered(a[0], end) {
                return Err(Errno::ENOMEM);
            }
            let private: Vec<(u32, u64)> =
                p.mm.vmas
                    .iter()
                    .filter(|(s, v)| (*s as u64) < end && v.end > a[0] as u64)
                    .filter(|(_, v)| !matches!(v.backing, Backing::Shared { .. }))
                    .map(|(s, v)| (s.max(a[0]), v.end.min(end)))
                    .collect();
            for (s, e) in private {
                p.mm.drop_pages(s >> 12, (e >> 12) as u32);
                let _ = p.guest.evict(s, e - s as u64, Some(vx_core::observe::Why::Discarded));
            }
            Ok(0)
        }
        0..=3 | 9..=19 | 100 | 101 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// msync(2): write the dirty pages of shared file mappings back.
pub fn msync(p: &mut Process, a: Args) -> SysResult {
    let size = range(a[0], a[1])?;
    if a[2] & !7 != 0 || a[2] & 5 == 5 {
        return Err(Errno::EINVAL);
    }
    let end = a[0] as u64 + size;
    if !p.mm.vmas.covered(a[0], end) {
        return Err(Errno::ENOMEM);
    }
    for (s, v) in p.mm.vmas.iter().filter(|(s, v)| (*s as u64) < end && v.end > a[0] as u64) {
        if let Backing::Shared { obj, page } = &v.backing {
            let from = s.max(a[0]);
            let to = v.end.min(end);
            let first = page + (from - s) / PAGE;
            let last = page + ((to - s as u64) / PAGE as u64) as u32;
            obj.write_back(first, last).map_err(Errno::from)?;
        }
    }
    Ok(0)
}

/// mincore(2): one byte a page, 1 if resident.
pub fn mincore(p: &mut Process, a: Args) -> SysResult {
    let size = range(a[0], a[1])?;
    let end = a[0] as u64 + size;
    if !p.mm.vmas.covered(a[0], end) {
        return Err(Errno::ENOMEM);
    }
    let v: Vec<u8> = ((a[0] >> 12)..(end >> 12) as u32).map(|pg| p.mm.pt.get(pg).is_some() as u8).collect();
    p.uwrite(a[2], &v)?;
    Ok(0)
}
