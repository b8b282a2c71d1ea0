//! Loading an i386 ELF program into a fresh guest: its segments, its
//! interpreter's (the dynamic loader a PT_INTERP names, placed where mmap
//! would put it), the program break, and the initial stack with argv,
//! envp and the auxiliary vector laid out as Linux lays them out for i386.

use crate::mm::fault::Access;
use crate::mm::vma::Pager;
use crate::mm::vma::{Backing, Vma};
use crate::mm::{elf_flags, page_up, Mm, PAGE, STACK_INITIAL, STACK_MAX, STACK_TOP};
use std::fmt;
use std::sync::Arc;
use vx_core::elf::{Elf, ElfError, PT_LOAD, PT_PHDR};
use vx_core::state::*;
use vx_core::window::pf;
use vx_core::Guest;

/// Base address for position-independent (ET_DYN) executables.
const DYN_BASE: u32 = 0x5655_5000;

/// Why a program could not be started.
#[derive(Debug)]
pub enum ExecError {
    /// The file could not be read.
    Io(std::io::Error),
    /// The file is not a loadable i386 ELF.
    Elf(ElfError),
    /// The program's interpreter is missing or not a loadable ELF.
    Interp(String, Box<ExecError>),
    /// The host refused memory for the guest.
    Memory(std::io::Error),
    /// The arguments and environment do not fit the stack.
    TooBig,
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ExecError::Io(e) => {
                let s = e.to_string();
                write!(f, "{}", s.split(" (os error").next().unwrap_or(&s))
            }
            ExecError::Elf(e) => write!(f, "{e}"),
            ExecError::Interp(path, e) => write!(f, "its interpreter {path}: {e}"),
            ExecError::Memory(e) => write!(f, "cannot set up guest memory: {e}"),
            ExecError::TooBig => write!(f, "argument list too long"),
        }
    }
}

impl ExecError {
    /// The errno execve(2) returns for this failure.
    pub fn errno(&self) -> crate::errno::Errno {
        use crate::errno::Errno;
        match self {
            ExecError::Io(e) => Errno::from_host(e.raw_os_error().unwrap_or(libc::EIO)),
            ExecError::Elf(_) => Errno::ENOEXEC,
            // A missing interpreter is ENOENT, as on Linux; a bad one ELIBBAD.
            ExecError::Interp(_, e) => match &**e {
                ExecError::Io(_) | ExecError::Memory(_) | ExecError::TooBig => e.errno(),
                _ => Errno::ELIBBAD,
            },
            ExecError::Memory(_) => Errno::ENOMEM,
            ExecError::TooBig => Errno::E2BIG,
        }
    }

    /// The exit status a shell uses for this failure: 127 for a missing
    /// file, 126 for one that cannot be executed.
    pub fn exit_status(&self) -> i32 {
        match self {
            ExecError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => 127,
            ExecError::Interp(_, e) if matches!(**e, ExecError::Io(ref e) if e.kind() == std::io::ErrorKind::NotFound) => {
                127
            }
            _ => 126,
        }
    }
}

// Auxiliary vector keys.
const AT_NULL: u32 = 0;
const AT_PHDR: u32 = 3;
const AT_PHENT: u32 = 4;
const AT_PHNUM: u32 = 5;
const AT_PAGESZ: u32 = 6;
const AT_BASE: u32 = 7;
const AT_FLAGS: u32 = 8;
const AT_ENTRY: u32 = 9;
const AT_UID: u32 = 11;
const AT_EUID: u32 = 12;
const AT_GID: u32 = 13;
const AT_EGID: u32 = 14;
const AT_PLATFORM: u32 = 15;
const AT_HWCAP: u32 = 16;
const AT_CLKTCK: u32 = 17;
const AT_SECURE: u32 = 23;
const AT_RANDOM: u32 = 25;
const AT_HWCAP2: u32 = 26;
const AT_EXECFN: u32 = 31;
const AT_SYSINFO: u32 = 32;

/// Read up to `len` bytes of an opened program file from its start.
fn read_head(f: &dyn Pager, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < buf.len() {
        match f.read_at(&mut buf[got..], got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// An ELF file's headers, read without the rest of it.
fn read_elf(prog: &dyn Pager) -> Result<(Elf, Vec<u8>), ExecError> {
    let size = prog.size().map_err(ExecError::Io)?;
    let mut file = read_head(prog, 4096).map_err(ExecError::Io)?;
    if file.len() >= 52 && file.starts_with(b"\x7fELF") {
        let phoff = u32::from_le_bytes(file[28..32].try_into().unwrap()) as usize;
        let phnum = u16::from_le_bytes(file[44..46].try_into().unwrap()) as usize;
        let end = phoff.saturating_add(phnum * 32);
        if end > file.len() && (end as u64) <= size && end <= 1 << 20 {
            file = read_head(prog, end).map_err(ExecError::Io)?;
        }
    }
    let elf = Elf::parse_head(&file, size).map_err(ExecError::Elf)?;
    Ok((elf, file))
}

/// Map the PT_LOAD segments of `elf` (file `prog`) at `bias`: file pages
/// paged in on first touch, bss demand-zero. Returns the end of the last.
fn map_segments(g: &mut Guest, mm: &mut Mm, elf: &Elf, prog: &Arc<dyn Pager>, bias: u32) -> Result<u64, ExecError> {
    let loads: Vec<_> = elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD && p.memsz > 0).collect();
    let mut end = 0u64;
    for p in &loads {
        let vaddr = p.vaddr.wrapping_add(bias);
        let start = vaddr & !(PAGE - 1);
        let file_stop = page_up(vaddr as u64 + p.filesz as u64);
        let stop = page_up(vaddr as u64 + p.memsz as u64);
        if stop > STACK_TOP as u64 - STACK_MAX as u64 {
            return Err(ExecError::Elf(ElfError::Malformed("segment overlaps the stack")));
        }
        let prot = elf_flags(p.flags);
        if p.filesz > 0 {
            let backing = Backing::File {
                file: prog.clone(),
                offset: (p.offset - (vaddr - start)) as u64,
                file_end: p.offset as u64 + p.filesz as u64,
            };
            mm.map(g, start, Vma { end: file_stop, prot, backing, grows_down: false });
        }
        let anon_start = if p.filesz > 0 { file_stop } else { start as u64 };
        if stop > anon_start {
            mm.map(g, anon_start as u32, Vma { end: stop, prot, backing: Backing::Anon, grows_down: false });
        }
        end = end.max(stop);
    }
    Ok(end)
}

/// The span of an ELF file's loadable segments: (lowest page, bytes).
fn span(elf: &Elf) -> (u32, u64) {
    let loads = elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD && p.memsz > 0);
    let lo = loads.clone().map(|p| p.vaddr & !(PAGE - 1)).min().unwrap_or(0);
    let hi = loads.map(|p| page_up(p.vaddr as u64 + p.memsz as u64)).max().unwrap_or(0);
    (lo, hi.saturating_sub(lo as u64))
}

/// Opens a program's interpreter by path.
pub type OpenInterp<'a> = &'a dyn Fn(&str) -> Result<Arc<dyn Pager>, ExecError>;

/// Load the opened ELF file `prog` into the empty address space `g`/`mm`
/// and build its stack. A program with a PT_INTERP gets its interpreter,
/// opened through `open_interp`, loaded too and started there.
pub fn load(
    g: &mut Guest,
    mm: &mut Mm,
    prog: Arc<dyn Pager>,
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    ids: [u32; 4],
    open_interp: OpenInterp,
) -> Result<(), ExecError> {
    // Only the headers are read: segments are paged in from the file.
    let (elf, file) = read_elf(&*prog)?;
    let interp = match elf.interp(&file) {
        Some(path) => {
            let path = String::from_utf8_lossy(path).into_owned();
            let wrap = |e: ExecError| ExecError::Interp(path.clone(), Box::new(e));
            let f = open_interp(&path).map_err(wrap)?;
            let (ie, _) = read_elf(&*f).map_err(wrap)?;
            if ie.e_type != vx_core::elf::ET_DYN {
                return Err(wrap(ExecError::Elf(ElfError::Malformed("the interpreter is not position-independent"))));
            }
            Some((f, ie))
        }
        None => None,
    };
    let bias = if elf.e_type == vx_core::elf::ET_DYN { DYN_BASE } else { 0 };
    let end = map_segments(g, mm, &elf, &prog, bias)?;
    mm.brk_start = end as u32;
    mm.brk = end as u32;
    let loads: Vec<_> = elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD && p.memsz > 0).collect();
    // The interpreter goes where mmap would put it, below the stack's reserve.
    let (entry, interp_base) = match &interp {
        Some((f, ie)) => {
            let (lo, len) = span(ie);
            let at = mm.vmas.find_free(len, crate::mm::MMAP_MIN, crate::mm::MMAP_BASE).ok_or(ExecError::TooBig)?;
            let ibias = at.wrapping_sub(lo);
            map_segments(g, mm, ie, f, ibias)?;
            (ie.entry.wrapping_add(ibias), ibias)
        }
        None => (elf.entry.wrapping_add(bias), 0),
    };

    // The system call entry glibc calls through %gs:0x10 (AT_SYSINFO), as
    // Linux's __kernel_vsyscall: here simply `int $0x80; ret`, since the
    // trap costs no more than a call under the translator. It sits just
    // above the stack, where i386 Linux once kept it (0xffffe000): in the
    // stack's page directory, so it never makes the page-table walks of
    // mmap'd ranges scan a directory for it.
    let vsyscall = STACK_TOP;
    mm.map(
        g,
        vsyscall,
        Vma { end: (vsyscall + PAGE) as u64, prot: pf::READ | pf::WRITE, backing: Backing::Anon, grows_down: false },
    );
    copy_to_stack(g, mm, vsyscall, &[0xcd, 0x80, 0xc3]);
    mm.protect(g, vsyscall, (vsyscall + PAGE) as u64, pf::READ | pf::EXEC);
    mm.vdso = vsyscall;

    // Program headers in memory, for AT_PHDR.
    let phdr_addr = match elf.phdrs.iter().find(|p| p.p_type == PT_PHDR) {
        Some(p) => p.vaddr.wrapping_add(bias),
        None => loads
            .iter()
            .find(|p| p.offset <= elf.phoff && elf.phoff < p.offset + p.filesz)
            .map(|p| p.vaddr.wrapping_add(bias) + (elf.phoff - p.offset))
            .unwrap_or(0),
    };

    // The stack: grows down on faults below it.
    mm.map(
        g,
        STACK_TOP - STACK_INITIAL,
        Vma { end: STACK_TOP as u64, prot: pf::READ | pf::WRITE, backing: Backing::Anon, grows_down: true },
    );
    // Linux keeps a pointer-sized zero at the very top, above the strings.
    let mut sp = STACK_TOP - 4;
    let put = |g: &mut Guest, mm: &mut Mm, sp: &mut u32, bytes: &[u8]| -> u32 {
        *sp -= bytes.len() as u32;
        copy_to_stack(g, mm, *sp, bytes);
        *sp
    };
    let execfn = {
        let mut s = argv.first().cloned().unwrap_or_default();
        s.push(0);
        put(g, mm, &mut sp, &s)
    };
    let mut env_ptrs = Vec::new();
    for e in envp.iter().rev() {
        let mut s = e.clone();
        s.push(0);
        env_ptrs.push(put(g, mm, &mut sp, &s));
    }
    env_ptrs.reverse();
    let mut arg_ptrs = Vec::new();
    for a in argv.iter().rev() {
        let mut s = a.clone();
        s.push(0);
        arg_ptrs.push(put(g, mm, &mut sp, &s));
    }
    arg_ptrs.reverse();
    let platform = put(g, mm, &mut sp, b"i686\0");
    let mut rnd = [0u8; 16];
    let _ = getrandom(&mut rnd);
    let random = put(g, mm, &mut sp, &rnd);
    sp &= !15;

    let auxv: Vec<(u32, u32)> = vec![
        (AT_HWCAP, vx_core::cpuid::guest_hwcap()),
        (AT_PAGESZ, PAGE),
        (AT_CLKTCK, 100),
        (AT_PHDR, phdr_addr),
        (AT_PHENT, 32),
        (AT_PHNUM, elf.phdrs.len() as u32),
        (AT_BASE, interp_base),
        (AT_FLAGS, 0),
        (AT_ENTRY, elf.entry.wrapping_add(bias)),
        (AT_UID, ids[0]),
        (AT_EUID, ids[1]),
        (AT_GID, ids[2]),
        (AT_EGID, ids[3]),
        (AT_SECURE, 0),
        (AT_RANDOM, random),
        (AT_HWCAP2, 0),
        (AT_EXECFN, execfn),
        (AT_SYSINFO, vsyscall),
        (AT_PLATFORM, platform),
        (AT_NULL, 0),
    ];
    let mut words: Vec<u32> = vec![argv.len() as u32];
    words.extend(&arg_ptrs);
    words.push(0);
    words.extend(&env_ptrs);
    words.push(0);
    for (k, v) in auxv {
        words.push(k);
        words.push(v);
    }
    sp -= words.len() as u32 * 4;
    sp &= !15;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    if (STACK_TOP - sp) as usize > STACK_MAX as usize / 2 {
        return Err(ExecError::TooBig);
    }
    copy_to_stack(g, mm, sp, &bytes);

    let st = g.cpu_mut();
    st.regs = [0; 8];
    st.regs[ESP] = sp;
    st.eip = entry;
    st.eflags = 0x202;
    Ok(())
}

/// Write what exec puts in guest memory (the stack, the vsyscall page), faulting the pages in.
fn copy_to_stack(g: &mut Guest, mm: &mut Mm, at: u32, bytes: &[u8]) {
    mm.populate(g, at, bytes.len() as u64, Access::Write).expect("the VMA covers what exec writes");
    g.write(at, bytes).expect("populated stack pages are writable");
}

/// Fill `buf` from the host's random source (getrandom(2): no descriptor
/// opened, and never blocking once the host's pool is ready).
pub fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match rustix::rand::getrandom(&mut buf[done..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
