//! Loading a static i386 ELF program into a fresh guest: segments, the
//! program break, and the initial stack with argv, envp and the auxiliary
//! vector laid out as Linux lays them out for i386.

use crate::mm::{page_up, prot_flags, Mm, PAGE, STACK_SIZE, STACK_TOP};
use std::fmt;
use std::path::Path;
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
    /// The program needs a dynamic loader, which T1 does not provide.
    Dynamic,
    /// The host refused memory for the guest.
    Memory(std::io::Error),
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ExecError::Io(e) => write!(f, "{e}"),
            ExecError::Elf(e) => write!(f, "{e}"),
            ExecError::Dynamic => write!(f, "dynamically linked programs are not supported yet"),
            ExecError::Memory(e) => write!(f, "cannot set up guest memory: {e}"),
        }
    }
}

impl ExecError {
    /// The exit status a shell uses for this failure: 127 for a missing
    /// file, 126 for one that cannot be executed.
    pub fn exit_status(&self) -> i32 {
        match self {
            ExecError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => 127,
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

/// What exec tells the process about the new image.
pub struct Image {
    pub mm: Mm,
}

/// Load the ELF file `path` into `g` and build its stack.
pub fn load(g: &mut Guest, path: &Path, argv: &[Vec<u8>], envp: &[Vec<u8>], ids: [u32; 4]) -> Result<Image, ExecError> {
    let file = std::fs::read(path).map_err(ExecError::Io)?;
    let elf = Elf::parse(&file).map_err(ExecError::Elf)?;
    if elf.interp(&file).is_some() {
        return Err(ExecError::Dynamic);
    }
    let bias = if elf.e_type == vx_core::elf::ET_DYN { DYN_BASE } else { 0 };

    // Union of protections per page over all segments, so pages shared by
    // two segments get both.
    let loads: Vec<_> = elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD && p.memsz > 0).collect();
    let mut pages: std::collections::BTreeMap<u32, u8> = std::collections::BTreeMap::new();
    let mut end = 0u64;
    for p in &loads {
        let start = (p.vaddr.wrapping_add(bias)) & !(PAGE - 1);
        let stop = page_up(p.vaddr as u64 + bias as u64 + p.memsz as u64);
        if stop > STACK_TOP as u64 - STACK_SIZE as u64 {
            return Err(ExecError::Elf(ElfError::Malformed("segment overlaps the stack")));
        }
        let mut a = start as u64;
        while a < stop {
            *pages.entry(a as u32).or_insert(0) |=
                prot_flags(((p.flags & 4) >> 2) | (p.flags & 2) | ((p.flags & 1) << 2));
            a += PAGE as u64;
        }
        end = end.max(stop);
    }
    for (&a, _) in pages.iter() {
        g.map_anon(a, PAGE as u64, pf::READ | pf::WRITE).map_err(ExecError::Memory)?;
    }
    for p in &loads {
        let data = &file[p.offset as usize..p.offset as usize + p.filesz as usize];
        g.write(p.vaddr.wrapping_add(bias), data)
            .map_err(|_| ExecError::Elf(ElfError::Malformed("segment not writable")))?;
    }
    for (&a, &f) in pages.iter() {
        g.protect(a, PAGE as u64, f).map_err(ExecError::Memory)?;
    }

    // Program headers in memory, for AT_PHDR.
    let phdr_addr = match elf.phdrs.iter().find(|p| p.p_type == PT_PHDR) {
        Some(p) => p.vaddr.wrapping_add(bias),
        None => loads
            .iter()
            .find(|p| p.offset <= elf.phoff && elf.phoff < p.offset + p.filesz)
            .map(|p| p.vaddr.wrapping_add(bias) + (elf.phoff - p.offset))
            .unwrap_or(0),
    };

    // The stack.
    let stack_low = STACK_TOP - STACK_SIZE;
    g.map_anon(stack_low, STACK_SIZE as u64, pf::READ | pf::WRITE).map_err(ExecError::Memory)?;
    // Linux keeps a pointer-sized zero at the very top, above the strings.
    let mut sp = STACK_TOP - 4;
    let put = |g: &mut Guest, sp: &mut u32, bytes: &[u8]| -> u32 {
        *sp -= bytes.len() as u32;
        g.write(*sp, bytes).expect("stack is mapped");
        *sp
    };
    let execfn = {
        let mut s = argv.first().cloned().unwrap_or_default();
        s.push(0);
        put(g, &mut sp, &s)
    };
    let mut env_ptrs = Vec::new();
    for e in envp.iter().rev() {
        let mut s = e.clone();
        s.push(0);
        env_ptrs.push(put(g, &mut sp, &s));
    }
    env_ptrs.reverse();
    let mut arg_ptrs = Vec::new();
    for a in argv.iter().rev() {
        let mut s = a.clone();
        s.push(0);
        arg_ptrs.push(put(g, &mut sp, &s));
    }
    arg_ptrs.reverse();
    let platform = put(g, &mut sp, b"i686\0");
    let mut rnd = [0u8; 16];
    let _ = getrandom(&mut rnd);
    let random = put(g, &mut sp, &rnd);
    sp &= !15;

    let auxv: Vec<(u32, u32)> = vec![
        (AT_HWCAP, vx_core::cpuid::guest_hwcap()),
        (AT_PAGESZ, PAGE),
        (AT_CLKTCK, 100),
        (AT_PHDR, phdr_addr),
        (AT_PHENT, 32),
        (AT_PHNUM, elf.phdrs.len() as u32),
        (AT_BASE, 0),
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
    g.write(sp, &bytes).expect("stack is mapped");

    let st = g.cpu_mut();
    st.regs = [0; 8];
    st.regs[ESP] = sp;
    st.eip = elf.entry.wrapping_add(bias);
    st.eflags = 0x202;
    Ok(Image { mm: Mm::new(end as u32) })
}

/// Fill `buf` from the host's random source.
pub fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}
