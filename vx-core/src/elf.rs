//! ELF32 (i386) parsing: the file header and program headers, checked
//! against the file's size. Loading policy (where segments go, the stack,
//! the auxiliary vector) belongs to the kernel.

use std::fmt;

pub const PT_LOAD: u32 = 1;
pub const PT_INTERP: u32 = 3;
pub const PT_PHDR: u32 = 6;
pub const PT_GNU_STACK: u32 = 0x6474e551;
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;
pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;

/// Why a file is not a loadable i386 ELF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElfError {
    /// Not an ELF file at all.
    NotElf,
    /// An ELF file, but not 32-bit little-endian i386.
    WrongArch(&'static str),
    /// A header or segment lies outside the file or is inconsistent.
    Malformed(&'static str),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ElfError::NotElf => write!(f, "not an ELF file"),
            ElfError::WrongArch(why) => write!(f, "not an i386 ELF executable ({why})"),
            ElfError::Malformed(why) => write!(f, "malformed ELF file ({why})"),
        }
    }
}

impl std::error::Error for ElfError {}

/// One program header.
#[derive(Debug, Clone, Copy)]
pub struct Phdr {
    pub p_type: u32,
    pub offset: u32,
    pub vaddr: u32,
    pub filesz: u32,
    pub memsz: u32,
    pub flags: u32,
    pub align: u32,
}

/// The parts of an ELF32 file a loader needs.
#[derive(Debug, Clone)]
pub struct Elf {
    pub e_type: u16,
    pub entry: u32,
    pub phoff: u32,
    pub phentsize: u16,
    pub phdrs: Vec<Phdr>,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

impl Elf {
    /// Parse and check the headers of an ELF32 i386 file held in `file`.
    pub fn parse(file: &[u8]) -> Result<Elf, ElfError> {
        Elf::parse_head(file, file.len() as u64)
    }

    /// Parse and check the headers of an ELF32 i386 file of `file_len`
    /// bytes from its first bytes `file` (at least the ELF header and the
    /// program headers; segments are checked against `file_len`).
    pub fn parse_head(file: &[u8], file_len: u64) -> Result<Elf, ElfError> {
        if file.len() < 4 || &file[0..4] != b"\x7fELF" {
            return Err(ElfError::NotElf);
        }
        if file.len() < 52 {
            return Err(ElfError::Malformed("truncated header"));
        }
        if file[4] != 1 {
            return Err(ElfError::WrongArch("64-bit"));
        }
        if file[5] != 1 {
            return Err(ElfError::WrongArch("big-endian"));
        }
        let e_type = u16_at(file, 16);
        let machine = u16_at(file, 18);
        if machine != 3 {
            return Err(ElfError::WrongArch("machine is not i386"));
        }
        if e_type != ET_EXEC && e_type != ET_DYN {
            return Err(ElfError::WrongArch("not an executable"));
        }
        let entry = u32_at(file, 24);
        let phoff = u32_at(file, 28);
        let phentsize = u16_at(file, 42);
        let phnum = u16_at(file, 44) as usize;
        if phentsize != 32 {
            return Err(ElfError::Malformed("bad program header size"));
        }
        if phnum == 0 {
            return Err(ElfError::Malformed("no program headers"));
        }
        let end = phoff as usize + phnum * 32;
        if end > file.len() {
            return Err(ElfError::Malformed("program headers past end of file"));
        }
        let mut phdrs = Vec::with_capacity(phnum);
        for i in 0..phnum {
            let o = phoff as usize + i * 32;
            let p = Phdr {
                p_type: u32_at(file, o),
                offset: u32_at(file, o + 4),
                vaddr: u32_at(file, o + 8),
                filesz: u32_at(file, o + 16),
                memsz: u32_at(file, o + 20),
                flags: u32_at(file, o + 24),
                align: u32_at(file, o + 28),
            };
            if p.p_type == PT_LOAD {
                if p.filesz > p.memsz {
                    return Err(ElfError::Malformed("segment file size exceeds memory size"));
                }
                if p.offset as u64 + p.filesz as u64 > file_len {
                    return Err(ElfError::Malformed("segment past end of file"));
                }
                if p.vaddr as u64 + p.memsz as u64 > 1 << 32 {
                    return Err(ElfError::Malformed("segment past 4 GiB"));
                }
                if p.vaddr % 4096 != p.offset % 4096 && p.align > 1 {
                    return Err(ElfError::Malformed("segment misaligned"));
                }
            }
            phdrs.push(p);
        }
        if !phdrs.iter().any(|p| p.p_type == PT_LOAD) {
            return Err(ElfError::Malformed("no loadable segment"));
        }
        Ok(Elf { e_type, entry, phoff, phentsize, phdrs })
    }

    /// Return the interpreter path if the file asks for one.
    pub fn interp<'a>(&self, file: &'a [u8]) -> Option<&'a [u8]> {
        let p = self.phdrs.iter().find(|p| p.p_type == PT_INTERP)?;
        let s = file.get(p.offset as usize..(p.offset as usize).checked_add(p.filesz as usize)?)?;
        Some(s.split(|&b| b == 0).next().unwrap_or(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Vec<u8> {
        let mut f = vec![0u8; 52 + 32];
        f[0..4].copy_from_slice(b"\x7fELF");
        f[4] = 1;
        f[5] = 1;
        f[6] = 1;
        f[16..18].copy_from_slice(&2u16.to_le_bytes());
        f[18..20].copy_from_slice(&3u16.to_le_bytes());
        f[24..28].copy_from_slice(&0x8048000u32.to_le_bytes());
        f[28..32].copy_from_slice(&52u32.to_le_bytes());
        f[42..44].copy_from_slice(&32u16.to_le_bytes());
        f[44..46].copy_from_slice(&1u16.to_le_bytes());
        let o = 52;
        f[o..o + 4].copy_from_slice(&PT_LOAD.to_le_bytes());
        f[o + 8..o + 12].copy_from_slice(&0x8048000u32.to_le_bytes());
        f[o + 16..o + 20].copy_from_slice(&84u32.to_le_bytes());
        f[o + 20..o + 24].copy_from_slice(&84u32.to_le_bytes());
        f[o + 24..o + 28].copy_from_slice(&(PF_R | PF_X).to_le_bytes());
        f
    }

    #[test]
    fn parses_minimal() {
        let e = Elf::parse(&minimal()).unwrap();
        assert_eq!(e.entry, 0x8048000);
        assert_eq!(e.phdrs.len(), 1);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(Elf::parse(b"#!/bin/sh\n").unwrap_err(), ElfError::NotElf);
        let mut f = minimal();
        f[4] = 2;
        assert!(matches!(Elf::parse(&f), Err(ElfError::WrongArch(_))));
        let f = minimal();
        assert!(matches!(Elf::parse(&f[..60]), Err(ElfError::Malformed(_))));
        let mut f = minimal();
        f[52 + 16..52 + 20].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(Elf::parse(&f), Err(ElfError::Malformed(_))));
    }
}
