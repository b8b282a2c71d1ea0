//! The guest address space window: 4 GiB of host virtual memory, aligned to
//! 4 GiB, with guard regions on both sides.
//!
//! Translated code reaches guest memory only as `gs:[addr32]` with GS base
//! set to the window base, so no guest address can leave the window; string
//! instructions, which run with 64-bit host pointers, can step at most into
//! a guard region and fault there. Because the base is 4 GiB aligned, the
//! low 32 bits of a host pointer into the window are the guest address.
//!
//! The window keeps one flag byte per guest page: the guest's protection,
//! whether the page is mapped, and whether translated code was made from it
//! (such pages are write-protected on the host so writes invalidate the
//! translations). This module is one of vx-core's few unsafe ones: it owns
//! the host mappings and the raw copies in and out of guest memory.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Size of the guest address space.
pub const GUEST_SIZE: u64 = 1 << 32;
/// Guard region on each side of the window.
pub const GUARD: u64 = 1 << 24;
pub const PAGE_SIZE: u32 = 4096;
pub const PAGE_SHIFT: u32 = 12;
const NPAGES: usize = 1 << 20;

/// Page flags kept by the window.
pub mod pf {
    pub const READ: u8 = 1;
    pub const WRITE: u8 = 2;
    pub const EXEC: u8 = 4;
    pub const MAPPED: u8 = 8;
    /// Translated code was made from this page.
    pub const CODE: u8 = 16;
    /// The page's host mapping is kept but hidden (no access), for a new
    /// image of the same program to show again (see `Window::park`).
    pub const KEPT: u8 = 32;
    pub const PROT_MASK: u8 = READ | WRITE | EXEC;
}

/// Why a guest memory access failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemFault {
    /// The first guest address that could not be accessed.
    pub addr: u32,
    /// The page was mapped, but not with the needed protection.
    pub mapped: bool,
}

/// The host reservation behind one guest address space.
pub struct Window {
    reserve: *mut libc::c_void,
    reserve_len: usize,
    base: u64,
    flags: crate::zeroed::Zeroed<u8>,
    /// For each page `map_fd` mapped: its offset in the file, in pages,
    /// plus one (so that a window can be handed to another guest, which
    /// keeps the mappings that show what its own memory holds).
    src: crate::zeroed::Zeroed<u32>,
    /// Which stretches of `TOUCH_PAGES` pages had flags set: only those
    /// can hold mapped pages.
    touched: [u64; NPAGES / TOUCH_PAGES / 64],
}

/// Pages per bit of `Window::touched` (2 MiB of guest space).
const TOUCH_PAGES: usize = 512;

// SAFETY: the window owns its reservation; moving it to another thread moves
// that ownership. Concurrent guest access goes through host page tables.
unsafe impl Send for Window {}

fn page_range(addr: u32, len: u64) -> Option<(usize, usize)> {
    if !addr.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE as u64) || addr as u64 + len > GUEST_SIZE {
        return None;
    }
    let first = (addr >> PAGE_SHIFT) as usize;
    Some((first, first + (len >> PAGE_SHIFT) as usize))
}

/// Tell whether any flag byte has a bit of `mask`, eight bytes at a time.
fn any_bits(flags: &[u8], mask: u8) -> bool {
    let m = u64::from_ne_bytes([mask; 8]);
    let (chunks, rest) = flags.as_chunks::<8>();
    chunks.iter().any(|c| u64::from_ne_bytes(*c) & m != 0) || rest.iter().any(|&f| f & mask != 0)
}

fn host_prot(flags: u8) -> libc::c_int {
    if flags & pf::MAPPED == 0 {
        return libc::PROT_NONE;
    }
    let mut p = libc::PROT_NONE;
    // Guest code is never run from the window, so EXEC only needs READ.
    if flags & (pf::READ | pf::EXEC) != 0 {
        p |= libc::PROT_READ;
    }
    if flags & pf::WRITE != 0 && flags & pf::CODE == 0 {
        p |= libc::PROT_WRITE;
    }
    p
}

impl Window {
    /// Reserve a new, empty window.
    pub fn new() -> io::Result<Window> {
        let len = (3 * GUEST_SIZE) as usize;
        // SAFETY: a fresh PROT_NONE reservation at an address the kernel picks.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let start = p as u64;
        let base = (start + GUARD + GUEST_SIZE - 1) & !(GUEST_SIZE - 1);
        debug_assert!(base + GUEST_SIZE + GUARD <= start + len as u64);
        // SAFETY: all-zero bits are a valid u8 and u32.
        let (flags, src) = unsafe { (crate::zeroed::Zeroed::new(NPAGES), crate::zeroed::Zeroed::new(NPAGES)) };
        Ok(Window { reserve: p, reserve_len: len, base, flags, src, touched: Default::default() })
    }

    /// A window with no reservation, left to a guest that has ended (see
    /// `Guest::take_window`).
    pub(crate) fn empty() -> Window {
        Window {
            reserve: std::ptr::null_mut(),
            reserve_len: 0,
            base: 0,
            flags: crate::zeroed::Zeroed::empty(),
            src: crate::zeroed::Zeroed::empty(),
            touched: Default::default(),
        }
    }

    /// Tell whether `page` is mapped from file page `frame` with guest
    /// protection `prot`.
    pub fn maps(&self, page: u32, frame: u32, prot: u8) -> bool {
        let f = self.flags[page as usize];
        f & pf::MAPPED != 0 && f & pf::PROT_MASK == prot && self.src[page as usize] == frame + 1
    }

    /// The file page (frame of the memory file) `page` is mapped from, if
    /// `map_fd` mapped it (and it is mapped, or kept hidden by `park`).
    pub fn mapped_from(&self, page: u32) -> Option<u32> {
        if self.flags[page as usize] & (pf::MAPPED | pf::KEPT) == 0 {
            return None;
        }
        self.src[page as usize].checked_sub(1)
    }

    /// Hide the mapped pages of a range: no access on the host, but their
    /// mappings (and the host page table's entries) stay, for `unpark` to
    /// show again at the cost of one protection change. They read as
    /// unmapped meanwhile.
    pub fn park(&mut self, addr: u32, len: u64) -> io::Result<()> {
        self.retag(addr, len, pf::MAPPED, pf::KEPT)
    }

    /// Show the pages of a range hidden by `park` again, with guest
    /// protection `prot`.
    pub fn unpark(&mut self, addr: u32, len: u64, prot: u8) -> io::Result<()> {
        self.retag(addr, len, pf::KEPT, pf::MAPPED | (prot & pf::PROT_MASK))
    }

    /// Give the pages of a range whose flags have a bit of `which` the
    /// flags `to`, and the host protection those call for.
    fn retag(&mut self, addr: u32, len: u64, which: u8, to: u8) -> io::Result<()> {
        let (first, end) = page_range(addr, len).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut any = false;
        for f in &mut self.flags[first..end] {
            if *f & which != 0 {
                *f = to;
                any = true;
            }
        }
        if any {
            self.set_host_prot(first, end)?;
        }
        Ok(())
    }

    fn touch(&mut self, first: usize, end: usize) {
        for t in first / TOUCH_PAGES..end.div_ceil(TOUCH_PAGES) {
            self.touched[t / 64] |= 1 << (t % 64);
        }
    }

    /// Visit every mapped page: its number, its flags, and the file
    /// page `map_fd` mapped it from (None for anonymous memory).
    pub fn for_each_mapped(&self, f: impl FnMut(u32, u8, Option<u32>)) {
        self.for_each_page(pf::MAPPED, f)
    }

    /// Visit, in address order, every page whose flags have a bit of
    /// `mask` (`pf::MAPPED`, `pf::CODE`, ...), as `for_each_mapped` does.
    pub fn for_each_page(&self, mask: u8, mut f: impl FnMut(u32, u8, Option<u32>)) {
        for t in 0..NPAGES / TOUCH_PAGES {
            if self.touched[t / 64] & (1 << (t % 64)) == 0 {
                continue;
            }
            let (a, b) = (t * TOUCH_PAGES, (t + 1) * TOUCH_PAGES);
            let (chunks, _) = self.flags[a..b].as_chunks::<8>();
            for (i, c) in chunks.iter().enumerate() {
                if u64::from_ne_bytes(*c) & u64::from_ne_bytes([mask; 8]) == 0 {
                    continue;
                }
                for (j, &fl) in c.iter().enumerate() {
                    if fl & mask != 0 {
                        let page = a + i * 8 + j;
                        let src = if fl & pf::MAPPED != 0 { self.src[page].checked_sub(1) } else { None };
                        f(page as u32, fl, src);
                    }
                }
            }
        }
    }

    /// Forget which pages held translated code (the translations are
    /// gone): their host protection is the guest's again.
    pub(crate) fn clear_code(&mut self) {
        for t in 0..NPAGES / TOUCH_PAGES {
            if self.touched[t / 64] & (1 << (t % 64)) == 0 {
                continue;
            }
            let (a, b) = (t * TOUCH_PAGES, (t + 1) * TOUCH_PAGES);
            if any_bits(&self.flags[a..b], pf::CODE) {
                self.set_code(a as u32, b as u32 - 1, false);
            }
        }
    }

    /// Return the host address of guest address 0.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Return the flags of the page holding `addr`.
    pub fn page_flags(&self, addr: u32) -> u8 {
        self.flags[(addr >> PAGE_SHIFT) as usize]
    }

    /// Tell whether a host address lies in the window or its guards, and
    /// return the guest address it stands for.
    pub fn guest_addr_of(&self, host: u64) -> Option<u32> {
        if host + GUARD >= self.base && host < self.base + GUEST_SIZE + GUARD {
            Some(host.wrapping_sub(self.base) as u32)
        } else {
            None
        }
    }

    fn set_host_prot(&self, first: usize, end: usize) -> io::Result<()> {
        let mut i = first;
        while i < end {
            let f = self.flags[i];
            let mut j = i + 1;
            while j < end && host_prot(self.flags[j]) == host_prot(f) {
                j += 1;
            }
            let addr = self.base + ((i as u64) << PAGE_SHIFT);
            // SAFETY: the range lies inside our own reservation.
            let r = unsafe { libc::mprotect(addr as *mut libc::c_void, (j - i) << PAGE_SHIFT, host_prot(f)) };
            if r != 0 {
                return Err(io::Error::last_os_error());
            }
            i = j;
        }
        Ok(())
    }

    /// Replace the host memory of a guest range with fresh, inaccessible,
    /// zero-on-touch anonymous memory.
    fn fresh_host(&self, addr: u32, len: u64) -> io::Result<()> {
        let host = self.base + addr as u64;
        // SAFETY: MAP_FIXED over a range inside our own reservation.
        let p = unsafe {
            libc::mmap(
                host as *mut libc::c_void,
                len as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Map fresh zeroed memory at `[addr, addr+len)` with protection `prot`
    /// (`pf::READ|WRITE|EXEC`), replacing whatever was there.
    pub fn map_anon(&mut self, addr: u32, len: u64, prot: u8) -> io::Result<()> {
        let (first, end) = page_range(addr, len).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        if first == end {
            return Ok(());
        }
        self.fresh_host(addr, len)?;
        self.touch(first, end);
        for f in &mut self.flags[first..end] {
            *f = pf::MAPPED | (prot & pf::PROT_MASK);
        }
        self.src[first..end].fill(0);
        self.set_host_prot(first, end)
    }

    /// Map `len` bytes of file `fd` from `offset` at `addr`, shared (the
    /// pages are the file's: frames of the kernel's memory file), with
    /// protection `prot`. Translations of the pages stay valid: the caller
    /// maps the same contents again, or drops them first.
    pub fn map_fd(&mut self, addr: u32, len: u64, fd: BorrowedFd, offset: u64, prot: u8) -> io::Result<()> {
        let (first, end) = page_range(addr, len).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        if first == end {
            return Ok(());
        }
        self.touch(first, end);
        for f in &mut self.flags[first..end] {
            *f = (*f & pf::CODE) | pf::MAPPED | (prot & pf::PROT_MASK);
        }
        let from = (offset >> PAGE_SHIFT) as u32 + 1;
        for (i, s) in self.src[first..end].iter_mut().enumerate() {
            *s = from + i as u32;
        }
        let host = self.base + addr as u64;
        // SAFETY: MAP_FIXED over a range inside our own reservation.
        let p = unsafe {
            libc::mmap(
                host as *mut libc::c_void,
                len as usize,
                host_prot(self.flags[first]),
                libc::MAP_SHARED | libc::MAP_FIXED,
                fd.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        if len > 4096 {
            // Fill the host page table now, writable if the run is: one call
            // instead of a host fault per page (and cheaper than MAP_POPULATE,
            // which maps shared pages read-only first). Failure only means
            // the pages fault in one by one.
            let how = if host_prot(self.flags[first]) & libc::PROT_WRITE != 0 {
                libc::MADV_POPULATE_WRITE
            } else {
                libc::MADV_POPULATE_READ
            };
            // SAFETY: advice on the mapping just made, inside our reservation.
            unsafe { libc::madvise(host as *mut libc::c_void, len as usize, how) };
        }
        // Pages of the run may differ in CODE (write protection).
        if self.flags[first..end].iter().any(|&f| host_prot(f) != host_prot(self.flags[first])) {
            self.set_host_prot(first, end)?;
        }
        Ok(())
    }

    /// Drop the host mappings of a range; its pages fault until mapped
    /// again. Whether pages hold translated code is kept.
    pub fn evict(&mut self, addr: u32, len: u64) -> io::Result<()> {
        let (first, end) = page_range(addr, len).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        if first == end {
            return Ok(());
        }
        self.fresh_host(addr, len)?;
        for f in &mut self.flags[first..end] {
            *f &= pf::CODE;
        }
        Ok(())
    }

    /// Change the guest protection of mapped pages in a range. Returns
    /// ENOMEM if part of the range is not mapped, as mprotect(2) does.
    pub fn protect(&mut self, addr: u32, len: u64, prot: u8) -> io::Result<()> {
        let (first, end) = page_range(addr, len).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        if self.flags[first..end].iter().any(|f| f & pf::MAPPED == 0) {
            return Err(io::Error::from_raw_os_error(libc::ENOMEM));
        }
        for f in &mut self.flags[first..end] {
            *f = (*f & !pf::PROT_MASK) | (prot & pf::PROT_MASK);
        }
        self.set_host_prot(first, end)
    }

    /// Unmap a range; its pages read as unmapped afterwards.
    pub fn unmap(&mut self, addr: u32, len: u64) -> io::Result<()> {
        let (first, end) = page_range(addr, len).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        if first == end {
            return Ok(());
        }
        if !any_bits(&self.flags[first..end], u8::MAX) {
            return Ok(()); // nothing there: no host call needed
        }
        self.fresh_host(addr, len)?;
        self.flags[first..end].fill(0);
        Ok(())
    }

    /// Tell whether any page in `[first, last]` holds translated code.
    pub(crate) fn any_code(&self, first: u32, last: u32) -> bool {
        any_bits(&self.flags[first as usize..=last as usize], pf::CODE)
    }

    /// Mark pages as holding translated code (write-protected on the host)
    /// or not. Returns whether anything changed.
    pub(crate) fn set_code(&mut self, first_page: u32, last_page: u32, code: bool) -> bool {
        let (a, b) = (first_page as usize, last_page as usize + 1);
        let (mut changed, mut reprotect) = (false, false);
        for f in &mut self.flags[a..b] {
            let n = if code && *f & pf::MAPPED != 0 { *f | pf::CODE } else { *f & !pf::CODE };
            changed |= n != *f;
            // Only writable pages change on the host (read-only code
            // pages, the usual case, need no host call).
            reprotect |= host_prot(n) != host_prot(*f);
            *f = n;
        }
        if reprotect {
            let _ = self.set_host_prot(a, b);
        }
        changed
    }

    /// Mark a page as holding translated code whether or not it is mapped
    /// yet (translations restored from a snapshot): it is write-protected
    /// when it is mapped.
    pub(crate) fn mark_code(&mut self, page: u32) {
        self.touch(page as usize, page as usize + 1);
        let f = &mut self.flags[page as usize];
        if *f & pf::CODE == 0 {
            let was = host_prot(*f);
            *f |= pf::CODE;
            if host_prot(*f) != was {
                let _ = self.set_host_prot(page as usize, page as usize + 1);
            }
        }
    }

    /// Check that `[addr, addr+len)` is mapped with all of `need`.
    pub fn check(&self, addr: u32, len: usize, need: u8) -> Result<(), MemFault> {
        if len == 0 {
            return Ok(());
        }
        let end = addr as u64 + len as u64;
        if end > GUEST_SIZE {
            // Find the first bad page below 4 GiB, else report the wrap.
            self.check(addr, (GUEST_SIZE - addr as u64) as usize, need)?;
            return Err(MemFault { addr: 0, mapped: false });
        }
        let mut page = addr >> PAGE_SHIFT;
        let last = ((end - 1) >> PAGE_SHIFT) as u32;
        while page <= last {
            let f = self.flags[page as usize];
            if f & pf::MAPPED == 0 || f & need != need {
                let at = if page == addr >> PAGE_SHIFT { addr } else { page << PAGE_SHIFT };
                return Err(MemFault { addr: at, mapped: f & pf::MAPPED != 0 });
            }
            page += 1;
        }
        Ok(())
    }

    /// Copy guest memory out, checking the guest's read permission.
    pub fn read(&self, addr: u32, buf: &mut [u8]) -> Result<(), MemFault> {
        self.check(addr, buf.len(), pf::READ)?;
        // SAFETY: the range was checked to be mapped and readable in the window.
        unsafe {
            std::ptr::copy_nonoverlapping((self.base + addr as u64) as *const u8, buf.as_mut_ptr(), buf.len());
        }
        Ok(())
    }

    /// Copy guest memory out without the permission check of `read`, for
    /// code fetch (which checks EXEC itself).
    pub(crate) fn read_exec(&self, addr: u32, buf: &mut [u8]) -> Result<(), MemFault> {
        self.check(addr, buf.len(), pf::EXEC)?;
        // SAFETY: checked mapped; EXEC pages are host-readable.
        unsafe {
            std::ptr::copy_nonoverlapping((self.base + addr as u64) as *const u8, buf.as_mut_ptr(), buf.len());
        }
        Ok(())
    }

    /// Copy into guest memory, checking the guest's write permission.
    /// Translated pages written this way must be invalidated by the caller
    /// first (see `Guest::write`), since the host keeps them read-only.
    pub(crate) fn write_raw(&self, addr: u32, data: &[u8]) -> Result<(), MemFault> {
        self.check(addr, data.len(), pf::WRITE)?;
        // SAFETY: the range was checked to be mapped and writable for the
        // guest, and the caller lifted host write protection of CODE pages.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), (self.base + addr as u64) as *mut u8, data.len());
        }
        Ok(())
    }

    /// read(2) from host descriptor `fd` straight into guest memory the
    /// guest could write (no intermediate copy).
    pub(crate) fn read_fd(&self, fd: BorrowedFd, addr: u32, len: usize, at: Option<u64>) -> io::Result<usize> {
        self.check(addr, len, pf::WRITE).map_err(|_| io::Error::from_raw_os_error(libc::EFAULT))?;
        let p = (self.base + addr as u64) as *mut libc::c_void;
        // SAFETY: the range was checked to be mapped and writable (the
        // caller lifted write protection of translated pages); the host
        // kernel writes into it, no Rust reference to it exists.
        let n = unsafe {
            match at {
                Some(off) => libc::pread(fd.as_raw_fd(), p, len, off as libc::off_t),
                None => libc::read(fd.as_raw_fd(), p, len),
            }
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// write(2) guest memory the guest could read straight to `fd` (at
    /// offset `at` with pwrite(2)).
    pub(crate) fn write_fd(&self, fd: BorrowedFd, addr: u32, len: usize, at: Option<u64>) -> io::Result<usize> {
        self.check(addr, len, pf::READ).map_err(|_| io::Error::from_raw_os_error(libc::EFAULT))?;
        let p = (self.base + addr as u64) as *const libc::c_void;
        // SAFETY: the range was checked to be mapped and readable.
        let n = unsafe {
            match at {
                Some(off) => libc::pwrite(fd.as_raw_fd(), p, len, off as libc::off_t),
                None => libc::write(fd.as_raw_fd(), p, len),
            }
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// Read a NUL-terminated string of at most `max` bytes.
    pub fn read_cstr(&self, addr: u32, max: usize) -> Result<Vec<u8>, MemFault> {
        let mut out = Vec::new();
        let mut a = addr;
        loop {
            let page_left = (PAGE_SIZE - (a % PAGE_SIZE)) as usize;
            let mut chunk = vec![0u8; page_left.min(max + 1 - out.len())];
            self.read(a, &mut chunk)?;
            if let Some(n) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..n]);
                return Ok(out);
            }
            out.extend_from_slice(&chunk);
            if out.len() > max {
                return Err(MemFault { addr: a, mapped: true });
            }
            a = a.wrapping_add(chunk.len() as u32);
        }
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        if self.reserve_len == 0 {
            return;
        }
        // SAFETY: unmapping our own reservation; nothing refers to it now.
        unsafe {
            libc::munmap(self.reserve, self.reserve_len);
        }
    }
}
