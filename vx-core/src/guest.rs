//! A guest: one address space window, its code cache and one vCPU, and
//! `run()`, the dispatcher loop that translates, chains and runs blocks
//! until something needs the embedder (a system call, a fault, a signal,
//! preemption).

use crate::cache::{CacheStats, CodeCache, Snapshot};
use crate::cpu::{PreemptHandle, Vcpu};
use crate::observe::{self, Event, Why};
use crate::state::*;
use crate::translate::{translate, trap};
use crate::window::{pf, MemFault, Window, PAGE_SHIFT, PAGE_SIZE};
use crate::{emulate, memo, sigfault};
use iced_x86::InstructionInfoFactory;
use std::io;
use std::sync::Arc;

/// Why `run` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trap {
    /// `int 0x80`: the system call number and arguments are in the
    /// registers; eip is past the instruction. Put the result in eax.
    Syscall,
    /// The preempt handle was used; eip is where to resume.
    Preempted,
    /// An access the window did not allow: `addr` is the guest address,
    /// `mapped` tells whether the page exists (SEGV_ACCERR) or not
    /// (SEGV_MAPERR). eip is the faulting instruction.
    PageFault { addr: u32, write: bool, exec: bool, mapped: bool },
    /// A synchronous signal as i386 Linux would raise it; eip is where
    /// Linux reports it.
    Signal { signo: i32, code: i32, addr: u32 },
}

/// Linux si_code values used here.
pub mod si {
    pub const SI_KERNEL: i32 = 0x80;
    pub const ILL_ILLOPN: i32 = 2;
    pub const FPE_INTDIV: i32 = 1;
    pub const FPE_INTOVF: i32 = 2;
    pub const SEGV_MAPERR: i32 = 1;
    pub const SEGV_ACCERR: i32 = 2;
    pub const BUS_ADRALN: i32 = 1;
}

/// Counters of one guest.
#[derive(Default, Clone, Copy, Debug)]
pub struct GuestStats {
    pub entries: u64,
    pub syscalls: u64,
    pub misses: u64,
    pub smc_faults: u64,
    pub helpers: u64,
    pub cache: CacheStats,
}

/// An i386 guest: address space, translations and CPU state.
pub struct Guest {
    win: Window,
    cache: CodeCache,
    vcpu: Vcpu,
    info: InstructionInfoFactory,
    pending: Option<u64>,
    /// The last system call came through sysenter or syscall (the host
    /// maker's fast one): return through the vDSO landing pad's
    /// `pop ebp; pop edx; pop ecx; ret`.
    sysenter_return: bool,
    stats: GuestStats,
}

/// A thread's CPU state as the guest sees it, kept while another thread
/// of the same address space runs.
#[derive(Clone)]
pub struct CpuSnapshot {
    pub regs: [u32; 8],
    pub eip: u32,
    pub eflags: u32,
    seg_base: [u32; 6],
    seg_sel: [u32; 6],
    tls: [crate::state::TlsDesc; 3],
    fx: Box<crate::state::FxArea>,
    xsave_hdr: [u64; 8],
    x87_live: u32,
    sysenter_return: bool,
}

impl Guest {
    /// Create a guest with an empty address space.
    pub fn new() -> io::Result<Guest> {
        sigfault::install();
        let win = Window::new()?;
        let cache = CodeCache::new()?;
        let vcpu = Vcpu::new(win.base())?;
        vcpu.state_mut().cache_ptr = &*cache.index as *const _ as u64;
        vcpu.state_mut().code_base = cache.code_base();
        Ok(Guest {
            win,
            cache,
            vcpu,
            info: InstructionInfoFactory::new(),
            pending: None,
            sysenter_return: false,
            stats: GuestStats::default(),
        })
    }

    /// Create a guest on the window of an ended one (see `into_window`):
    /// its host mappings stay, for the embedder to keep those that show
    /// what the new address space holds (`Window::for_each_mapped`) and
    /// evict the rest; marks of translated code are cleared.
    pub fn with_window(mut win: Window) -> io::Result<Guest> {
        win.clear_code();
        let cache = CodeCache::new()?;
        let vcpu = Vcpu::new(win.base())?;
        vcpu.state_mut().cache_ptr = &*cache.index as *const _ as u64;
        vcpu.state_mut().code_base = cache.code_base();
        Ok(Guest {
            win,
            cache,
            vcpu,
            info: InstructionInfoFactory::new(),
            pending: None,
            sysenter_return: false,
            stats: GuestStats::default(),
        })
    }

    /// Start this guest, whose program has ended, afresh for a new image
    /// of the same program: a new vCPU (registers, segments, FPU, shadow
    /// stack and indirect-branch table all as `new` leaves them) and zero
    /// counters. The window's mappings and the translations stay: the
    /// embedder keeps only those that show what the new image holds (see
    /// `Window::for_each_page`, `evict`, `forget_code`) before it runs.
    pub fn renew(&mut self) -> io::Result<()> {
        self.vcpu = Vcpu::new(self.win.base())?;
        self.vcpu.state_mut().cache_ptr = &*self.cache.index as *const _ as u64;
        self.vcpu.state_mut().code_base = self.cache.code_base();
        self.pending = None;
        self.sysenter_return = false;
        self.stats = GuestStats::default();
        self.cache.stats = Default::default();
        Ok(())
    }

    /// Drop the translations made from the pages of `[addr, addr+len)`,
    /// which no longer hold what they were made from; mappings stay.
    pub fn forget_code(&mut self, addr: u32, len: u64) {
        self.drop_code(addr, len, Why::Unmapped);
    }

    /// Set aside the pages of `[addr, addr+len)` of a renewed guest whose
    /// new image has nothing there yet: their host mappings stay but are
    /// hidden (`Window::park`), and the translations made from them stay
    /// but cannot be reached (`CodeCache::park_page`), until `unpark`
    /// shows the same bytes there again or `discard_parked` forgets them.
    pub fn park(&mut self, addr: u32, len: u64) {
        let first = addr >> PAGE_SHIFT;
        let last = ((addr as u64 + len - 1) >> PAGE_SHIFT) as u32;
        if self.win.any_code(first, last) {
            for p in first..=last {
                if self.win.page_flags(p << PAGE_SHIFT) & pf::CODE != 0 {
                    for eip in self.cache.park_page(p) {
                        self.vcpu.clear_ind(eip);
                    }
                }
            }
            self.vcpu.reset_shadow();
            self.win.set_code(first, last, false);
        }
        let _ = self.win.park(addr, len);
    }

    /// Show pages set aside by `park` again: their host mappings (those
    /// still there) with guest protection `prot`, if given; with `code`,
    /// their translations too. The embedder vouches that the pages hold
    /// the bytes they held when set aside.
    pub fn unpark(&mut self, addr: u32, len: u64, prot: Option<u8>, code: bool) {
        if let Some(prot) = prot {
            let _ = self.win.unpark(addr, len, prot);
        }
        if code {
            let first = addr >> PAGE_SHIFT;
            let last = ((addr as u64 + len - 1) >> PAGE_SHIFT) as u32;
            for p in first..=last {
                if self.cache.unpark_page(p) {
                    self.win.mark_code(p);
                }
            }
        }
    }

    /// Forget the translations set aside from `page` (see `park`).
    pub fn discard_parked(&mut self, page: u32) {
        self.cache.discard_parked(page);
    }

    /// Whether translations made from `page` are set aside (see `park`).
    pub fn has_parked(&self, page: u32) -> bool {
        self.cache.has_parked(page)
    }

    /// Take this guest's window, mappings included, for `with_window`.
    /// The guest is left with no window: it must not run or reach guest
    /// memory again (take the window just before dropping the guest).
    pub fn take_window(&mut self) -> Window {
        std::mem::replace(&mut self.win, Window::empty())
    }

    /// Return the CPU state (registers, eip, eflags, segments, FPU).
    pub fn cpu(&self) -> &VcpuState {
        self.vcpu.state()
    }

    /// Return the CPU state for changes.
    pub fn cpu_mut(&mut self) -> &mut VcpuState {
        self.vcpu.state_mut()
    }

    /// Return the x87/MMX/SSE state image for changes. Use this rather
    /// than `cpu_mut().fx`: it makes the next entry load the whole image
    /// (a guest that never used x87 otherwise only reloads MXCSR and xmm).
    pub fn fpu_mut(&mut self) -> &mut FxArea {
        let st = self.vcpu.state_mut();
        st.x87_live = 1;
        &mut st.fx
    }

    /// Return the address space window (read-only use; change mappings
    /// through the Guest so translations stay consistent).
    pub fn window(&self) -> &Window {
        &self.win
    }

    /// Return the counters.
    pub fn stats(&self) -> GuestStats {
        GuestStats { cache: self.cache.stats, ..self.stats }
    }

    /// Return the translated code and the (host offset, guest eip) of each
    /// block in it, for debugging and teaching tools.
    pub fn dump_code(&self) -> (Vec<u8>, Vec<(u32, u32)>) {
        self.cache.dump()
    }

    /// Save the CPU state as the guest sees it (for a thread switched out
    /// of a shared address space).
    pub fn save_cpu(&self) -> CpuSnapshot {
        let st = self.vcpu.state();
        CpuSnapshot {
            regs: st.regs,
            eip: st.eip,
            eflags: st.eflags,
            seg_base: st.seg_base,
            seg_sel: st.seg_sel,
            tls: st.tls,
            fx: Box::new(st.fx),
            xsave_hdr: st.xsave_hdr,
            x87_live: st.x87_live,
            sysenter_return: self.sysenter_return,
        }
    }

    /// Load a CPU state saved by `save_cpu` (another thread's, or a new
    /// thread's copy of its creator's).
    pub fn load_cpu(&mut self, s: &CpuSnapshot) {
        let st = self.vcpu.state_mut();
        st.regs = s.regs;
        st.eip = s.eip;
        st.eflags = s.eflags;
        st.seg_base = s.seg_base;
        st.seg_sel = s.seg_sel;
        st.tls = s.tls;
        st.fx = *s.fx;
        st.xsave_hdr = s.xsave_hdr;
        st.x87_live = s.x87_live;
        self.sysenter_return = s.sysenter_return;
        self.pending = None;
        // Predicted return points belong to the thread that pushed them.
        self.vcpu.reset_shadow();
    }

    /// Make this guest's CPU a copy of `other`'s as the guest sees it:
    /// registers, flags, segments, TLS descriptors, the FPU, and a pending
    /// return from sysenter (for fork: the child resumes where the parent
    /// will). Address spaces are not touched.
    pub fn copy_cpu_from(&mut self, other: &Guest) {
        let (src, dst) = (other.vcpu.state(), self.vcpu.state_mut());
        dst.regs = src.regs;
        dst.eip = src.eip;
        dst.eflags = src.eflags;
        dst.seg_base = src.seg_base;
        dst.seg_sel = src.seg_sel;
        dst.tls = src.tls;
        dst.fx = src.fx;
        dst.xsave_hdr = src.xsave_hdr;
        dst.x87_live = src.x87_live;
        self.sysenter_return = other.sysenter_return;
        self.pending = None;
    }

    /// Return a handle that makes `run` return `Trap::Preempted` soon.
    pub fn preempt_handle(&self) -> PreemptHandle {
        self.vcpu.preempt_handle()
    }

    fn drop_code(&mut self, addr: u32, len: u64, why: Why) {
        if len == 0 {
            return;
        }
        let first = addr >> PAGE_SHIFT;
        let last = ((addr as u64 + len - 1) >> PAGE_SHIFT) as u32;
        if !self.win.any_code(first, last) {
            return;
        }
        for p in first..=last {
            if self.win.page_flags(p << PAGE_SHIFT) & pf::CODE != 0 {
                self.invalidate_page(p, why);
            }
        }
    }

    fn invalidate_page(&mut self, page: u32, why: Why) {
        let eips = self.cache.invalidate_page(page);
        if observe::on() {
            observe::emit(Event::Invalidated { page, blocks: eips.len() as u32, why });
        }
        // Return points on the shadow stack may be in the dropped code.
        self.vcpu.reset_shadow();
        for eip in eips {
            self.vcpu.clear_ind(eip);
        }
        self.win.set_code(page, page, false);
    }

    /// Copy out the translations made only from guest pages that pass
    /// `keep`, for another guest to start from (see `restore`). The
    /// embedder vouches that the other guest will hold the same bytes in
    /// those pages: e.g. read-only pages of the same version of the same
    /// program file, mapped at the same addresses.
    pub fn snapshot(&self, mut keep: impl FnMut(u32) -> bool) -> Snapshot {
        self.cache.snapshot(&mut keep)
    }

    /// How many blocks `snapshot` with `keep` would copy out; with
    /// `fresh`, only of those translated here (not taken in by `restore`).
    pub fn count_kept(&self, mut keep: impl FnMut(u32) -> bool, fresh: bool) -> usize {
        self.cache.count_kept(&mut keep, fresh)
    }

    /// Take the blocks of a snapshot into the guest's code cache, beside
    /// those it has. Their pages are marked as translated, so writes,
    /// unmaps and protection changes drop the blocks made from them, as for
    /// blocks of its own. Returns false (and does nothing) if they do not
    /// fit. The embedder vouches that the guest holds the bytes they were
    /// made from (see `snapshot`).
    pub fn restore(&mut self, s: &Snapshot) -> bool {
        if !self.cache.restore(s) {
            return false;
        }
        for p in s.pages() {
            self.win.mark_code(p);
        }
        if observe::on() {
            observe::emit(Event::Restored { blocks: s.blocks() as u32, pages: s.pages().count() as u32 });
        }
        true
    }

    /// Map zeroed memory (see `Window::map_anon`).
    pub fn map_anon(&mut self, addr: u32, len: u64, prot: u8) -> io::Result<()> {
        self.drop_code(addr, len, Why::Unmapped);
        self.win.map_anon(addr, len, prot)
    }

    /// Change protection (see `Window::protect`).
    pub fn protect(&mut self, addr: u32, len: u64, prot: u8) -> io::Result<()> {
        self.drop_code(addr, len, Why::Protected);
        self.win.protect(addr, len, prot)
    }

    /// Map part of a file (the kernel's memory file) shared at `addr`
    /// (see `Window::map_fd`).
    pub fn map_fd(
        &mut self,
        addr: u32,
        len: u64,
        fd: std::os::fd::BorrowedFd,
        offset: u64,
        prot: u8,
    ) -> io::Result<()> {
        self.win.map_fd(addr, len, fd, offset, prot)
    }

    /// Drop host mappings of a range (a TLB flush): the pages fault back in
    /// on the next touch. With `drop_code`, translations made from them go
    /// too, for the reason it gives (their contents or their execute
    /// permission changed).
    pub fn evict(&mut self, addr: u32, len: u64, drop_code: Option<Why>) -> io::Result<()> {
        if let Some(why) = drop_code {
            self.drop_code(addr, len, why);
        }
        self.win.evict(addr, len)
    }

    /// Unmap (see `Window::unmap`).
    pub fn unmap(&mut self, addr: u32, len: u64) -> io::Result<()> {
        self.drop_code(addr, len, Why::Unmapped);
        self.win.unmap(addr, len)
    }

    /// Copy guest memory out, as the guest could read it.
    pub fn read(&self, addr: u32, buf: &mut [u8]) -> Result<(), MemFault> {
        self.win.read(addr, buf)
    }

    /// Copy into guest memory where the guest could write, dropping
    /// translations of the pages written.
    pub fn write(&mut self, addr: u32, data: &[u8]) -> Result<(), MemFault> {
        self.drop_code(addr, data.len() as u64, Why::Written);
        self.win.write_raw(addr, data)
    }

    /// Read from a host descriptor straight into guest memory (at file
    /// offset `at` if given), dropping translations of the pages written.
    pub fn read_fd(
        &mut self,
        fd: std::os::fd::BorrowedFd,
        addr: u32,
        len: usize,
        at: Option<u64>,
    ) -> io::Result<usize> {
        self.win.check(addr, len, pf::WRITE).map_err(|_| io::Error::from_raw_os_error(libc::EFAULT))?;
        self.drop_code(addr, len as u64, Why::Written);
        self.win.read_fd(fd, addr, len, at)
    }

    /// Write guest memory straight to a host descriptor (at offset `at`
    /// if given, as pwrite(2)).
    pub fn write_fd(&self, fd: std::os::fd::BorrowedFd, addr: u32, len: usize, at: Option<u64>) -> io::Result<usize> {
        self.win.write_fd(fd, addr, len, at)
    }

    /// Read a little-endian u32 from guest memory.
    pub fn read_u32(&self, addr: u32) -> Result<u32, MemFault> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Write a little-endian u32 to guest memory.
    pub fn write_u32(&mut self, addr: u32, v: u32) -> Result<(), MemFault> {
        self.write(addr, &v.to_le_bytes())
    }

    /// Install TLS descriptor `entry` (12..=14), as set_thread_area does,
    /// and reload fs/gs if they use it.
    pub fn set_tls(&mut self, entry: u32, d: TlsDesc) -> bool {
        if !(TLS_ENTRY_MIN..TLS_ENTRY_MIN + 3).contains(&entry) {
            return false;
        }
        let st = self.vcpu.state_mut();
        st.tls[(entry - TLS_ENTRY_MIN) as usize] = d;
        for seg in [SEG_FS, SEG_GS] {
            if st.seg_sel[seg] >> 3 == entry {
                st.seg_base[seg] = d.base;
            }
        }
        true
    }

    /// Load a segment register as `mov sreg` does; false is a #GP.
    pub fn load_segment(&mut self, seg: usize, sel: u32) -> bool {
        let st = self.vcpu.state_mut();
        let sel = sel & 0xffff;
        let base = if sel & !3 == 0 {
            if seg == SEG_SS || seg == SEG_CS {
                return false;
            }
            0
        } else if sel & 3 != 3 || sel & 4 != 0 {
            return false; // kernel RPL or LDT (no modify_ldt yet)
        } else if sel == USER_DS || (sel == USER_CS && seg != SEG_SS) {
            0
        } else {
            let e = sel >> 3;
            if !(TLS_ENTRY_MIN..TLS_ENTRY_MIN + 3).contains(&e) || seg == SEG_SS || seg == SEG_CS {
                return false;
            }
            let d = st.tls[(e - TLS_ENTRY_MIN) as usize];
            if !d.present {
                return false;
            }
            d.base
        };
        st.seg_sel[seg] = sel;
        st.seg_base[seg] = base;
        true
    }

    /// The host code of the block at `eip`, translated now if need be;
    /// with `indirect` (an indirect branch missed the table) the table
    /// learns it. Only indirect targets go in: each second-level page
    /// the table touches costs a host fault.
    fn entry_for(&mut self, eip: u32, indirect: bool) -> u64 {
        if let Some(h) = self.cache.lookup(eip) {
            if indirect {
                self.vcpu.set_ind(eip, h);
            }
            return h;
        }
        let (b, from_memo, kept) = match memo::find(&self.win, eip) {
            Some(b) => (b, true, false),
            None => match crate::xcache::find(&self.win, eip) {
                Some(b) => {
                    let b = Arc::new(b);
                    memo::add_kept(b.clone());
                    (b, false, true)
                }
                None => {
                    let regs = self.vcpu.state().regs;
                    let b = Arc::new(translate(&self.win, eip, false, &mut self.info, Some(regs)));
                    memo::add(b.clone());
                    (b, false, false)
                }
            },
        };
        if !self.cache.has_room(&b) {
            self.flush();
        }
        if observe::on() {
            observe::emit(translated(&b, from_memo, kept, false));
        }
        if b.fetch_fault {
            // Not cached: the embedder may map the page and retry.
            return self.cache.insert(&b, false);
        }
        let h = self.cache.insert(&b, true);
        for &p in &b.pages {
            self.win.set_code(p, p, true);
        }
        if indirect {
            self.vcpu.set_ind(eip, h);
        }
        h
    }

    fn flush(&mut self) {
        if observe::on() {
            observe::emit(Event::Flushed { blocks: self.cache.len() as u32 });
        }
        self.cache.flush();
        self.vcpu.reset_shadow();
        self.win.set_code(0, (1 << 20) - 1, false);
        self.vcpu.clear_all_ind();
    }

    /// Finish a sysenter or syscall system call as the vDSO's landing pad
    /// does.
    fn sysenter_landing(&mut self) -> Option<Trap> {
        self.sysenter_return = false;
        let sp = self.vcpu.state().regs[ESP];
        let mut w = [0u32; 4];
        for (k, v) in w.iter_mut().enumerate() {
            match self.read_u32(sp.wrapping_add(4 * k as u32)) {
                Ok(x) => *v = x,
                Err(e) => return Some(Trap::PageFault { addr: e.addr, write: false, exec: false, mapped: e.mapped }),
            }
        }
        let st = self.vcpu.state_mut();
        st.regs[EBP] = w[0];
        st.regs[EDX] = w[1];
        st.regs[ECX] = w[2];
        st.eip = w[3];
        st.regs[ESP] = sp.wrapping_add(16);
        None
    }

    /// Enter a system call made by sysenter (Intel) or syscall (AMD), as
    /// Linux's compat entries read them: the sixth argument is at [ebp]
    /// after sysenter, which also left the caller's stack pointer in ebp;
    /// after syscall, the second argument is in ebp (ecx holds the return
    /// address) and the sixth at [esp]. The vDSO's landing pad ends it.
    fn fast_syscall_entry(&mut self, sysenter: bool) -> Option<Trap> {
        let st = self.vcpu.state();
        let (eip, sp, bp) = (st.eip, st.regs[ESP], st.regs[EBP]);
        match self.read_u32(if sysenter { bp } else { sp }) {
            Ok(arg6) => {
                let st = self.vcpu.state_mut();
                if sysenter {
                    st.regs[ESP] = bp;
                } else {
                    st.regs[ECX] = bp;
                }
                st.regs[EBP] = arg6;
                self.sysenter_return = true;
                None
            }
            Err(e) => {
                self.vcpu.state_mut().eip = eip;
                Some(Trap::PageFault { addr: e.addr, write: false, exec: false, mapped: e.mapped })
            }
        }
    }

    /// Run the guest until it needs the embedder.
    pub fn run(&mut self) -> Trap {
        sigfault::ensure_altstack();
        if self.sysenter_return {
            if let Some(t) = self.sysenter_landing() {
                return t;
            }
        }
        loop {
            let host = match self.pending.take() {
                Some(h) => h,
                None => {
                    let eip = self.vcpu.state().eip;
                    self.entry_for(eip, false)
                }
            };
            self.stats.entries += 1;
            let reason = self.vcpu.enter(host);
            let st = self.vcpu.state_mut();
            match reason {
                exit::CHAIN => {
                    let (target, site) = (st.next_eip, st.patch_site);
                    st.eip = target;
                    let flushes = self.cache.stats.flushes;
                    let h = self.entry_for(target, false);
                    if self.cache.stats.flushes == flushes {
                        self.cache.chain(site, target);
                    }
                    self.pending = Some(h);
                }
                exit::MISS => {
                    let target = st.next_eip;
                    st.eip = target;
                    self.stats.misses += 1;
                    // entry_for fills the table (except for blocks that
                    // must not be kept).
                    let h = self.entry_for(target, true);
                    self.pending = Some(h);
                }
                exit::SYSCALL => {
                    let how = st.exit_arg;
                    st.eip = st.next_eip;
                    self.stats.syscalls += 1;
                    if how != 0 {
                        if let Some(t) = self.fast_syscall_entry(how == crate::translate::SYSENTER) {
                            return t;
                        }
                    }
                    return Trap::Syscall;
                }
                exit::NOCHAIN => st.eip = st.next_eip,
                exit::HELPER => {
                    self.stats.helpers += 1;
                    if let Some(t) = emulate::step(self) {
                        return t;
                    }
                }
                exit::TRAP => {
                    let (kind, next) = (st.exit_arg, st.next_eip);
                    let eip = st.eip;
                    return match kind {
                        trap::ILL => Trap::Signal { signo: libc::SIGILL, code: si::ILL_ILLOPN, addr: eip },
                        trap::BRK => {
                            st.eip = next;
                            Trap::Signal { signo: libc::SIGTRAP, code: si::SI_KERNEL, addr: 0 }
                        }
                        trap::OVERFLOW => {
                            // #OF is a trap: Linux reports the next eip.
                            st.eip = next;
                            Trap::Signal { signo: libc::SIGSEGV, code: si::SI_KERNEL, addr: 0 }
                        }
                        trap::FETCH => {
                            let mapped = self.win.page_flags(next) & pf::MAPPED != 0;
                            Trap::PageFault { addr: next, write: false, exec: true, mapped }
                        }
                        _ => Trap::Signal { signo: libc::SIGSEGV, code: si::SI_KERNEL, addr: 0 },
                    };
                }
                exit::PREEMPT => {
                    self.vcpu.disarm();
                    return Trap::Preempted;
                }
                exit::FAULT => {
                    if let Some(t) = self.fault() {
                        return t;
                    }
                }
                r => panic!("vx-core: unknown exit reason {r}"),
            }
        }
    }

    /// Handle a host fault in translated code; None means resume.
    fn fault(&mut self) -> Option<Trap> {
        let st = self.vcpu.state();
        let f = st.fault;
        let eip = st.eip;
        match f.signo {
            // Alignment check (AC set): si_addr is the instruction.
            libc::SIGBUS if f.code == si::BUS_ADRALN => {
                Some(Trap::Signal { signo: libc::SIGBUS, code: si::BUS_ADRALN, addr: eip })
            }
            libc::SIGSEGV | libc::SIGBUS => {
                let Some(ga) = self.win.guest_addr_of(f.host_addr) else {
                    return Some(Trap::Signal { signo: libc::SIGSEGV, code: si::SI_KERNEL, addr: 0 });
                };
                if f.signo == libc::SIGBUS {
                    return Some(Trap::Signal { signo: libc::SIGBUS, code: f.code, addr: ga });
                }
                let write = f.err & 2 != 0;
                let flags = self.win.page_flags(ga);
                if write && flags & pf::CODE != 0 && flags & pf::WRITE != 0 {
                    // The guest wrote to a page we translated: drop its
                    // translations, then run the writing instruction alone
                    // so the rest of its block is translated afresh.
                    self.stats.smc_faults += 1;
                    self.invalidate_page(ga >> PAGE_SHIFT, Why::Written);
                    let b = translate(&self.win, eip, true, &mut self.info, None);
                    if !self.cache.has_room(&b) {
                        self.flush();
                    }
                    if observe::on() {
                        observe::emit(translated(&b, false, false, true));
                    }
                    self.pending = Some(self.cache.insert(&b, false));
                    return None;
                }
                let mapped = flags & pf::MAPPED != 0;
                Some(Trap::PageFault { addr: ga, write, exec: false, mapped })
            }
            libc::SIGFPE => Some(Trap::Signal { signo: libc::SIGFPE, code: f.code, addr: eip }),
            libc::SIGILL => Some(Trap::Signal { signo: libc::SIGILL, code: f.code, addr: eip }),
            s => Some(Trap::Signal { signo: s, code: f.code, addr: eip }),
        }
    }
}

/// Page size of the guest.
pub const PAGE: u32 = PAGE_SIZE;

/// The event for block `b` entering a code cache.
fn translated(b: &crate::translate::Block, memo: bool, kept: bool, single: bool) -> Event {
    Event::Translated {
        eip: b.eip,
        insns: b.guest_insns,
        guest_bytes: b.guest_len,
        host_bytes: b.code.len() as u32,
        memo,
        kept,
        single,
        fetch_fault: b.fetch_fault,
    }
}
