//! Instructions run in Rust instead of translated: the ones that do not
//! exist in 64-bit mode (BCD adjust, bound, arpl, salc, 16-bit pusha/popa),
//! segment register loads, far-pointer loads, cpuid, and enter with a
//! nesting level. They are rare; each one costs an exit from translated
//! code. Guest state is in the state block while this runs.

use crate::cpuid::guest_cpuid;
use crate::guest::{si, Guest, Trap};
use crate::state::*;
use crate::translate::is_addr16;
use iced_x86::{Code, Decoder, DecoderOptions, Instruction, OpKind, Register};

const CF: u32 = 1;
const PF: u32 = 4;
const AF: u32 = 0x10;
const ZF: u32 = 0x40;
const SF: u32 = 0x80;
const OF: u32 = 0x800;

fn gp() -> Option<Trap> {
    Some(Trap::Signal { signo: libc::SIGSEGV, code: si::SI_KERNEL, addr: 0 })
}

fn reg_num(r: Register) -> usize {
    (r.full_register32() as usize) - (Register::EAX as usize)
}

fn get_reg(st: &VcpuState, r: Register) -> u32 {
    let v = st.regs[reg_num(r) & 7];
    match r.size() {
        1 if matches!(r, Register::AH | Register::CH | Register::DH | Register::BH) => {
            (st.regs[(r as usize - Register::AH as usize) & 3] >> 8) & 0xff
        }
        1 => v & 0xff,
        2 => v & 0xffff,
        _ => v,
    }
}

fn set_reg(st: &mut VcpuState, r: Register, v: u32) {
    let n = reg_num(r) & 7;
    match r.size() {
        2 => st.regs[n] = (st.regs[n] & 0xffff_0000) | (v & 0xffff),
        1 => st.regs[n] = (st.regs[n] & !0xff) | (v & 0xff),
        _ => st.regs[n] = v,
    }
}

fn seg_of(r: Register) -> usize {
    match r {
        Register::ES => SEG_ES,
        Register::CS => SEG_CS,
        Register::SS => SEG_SS,
        Register::DS => SEG_DS,
        Register::FS => SEG_FS,
        _ => SEG_GS,
    }
}

/// Effective guest address of the memory operand of `i`.
fn ea(st: &VcpuState, i: &Instruction) -> u32 {
    let mut a = i.memory_displacement32();
    if i.memory_base() != Register::None {
        a = a.wrapping_add(get_reg(st, i.memory_base()));
    }
    if i.memory_index() != Register::None {
        a = a.wrapping_add(get_reg(st, i.memory_index()).wrapping_mul(i.memory_index_scale()));
    }
    if is_addr16(i) {
        a &= 0xffff;
    }
    let seg = i.memory_segment();
    if seg == Register::FS || seg == Register::GS {
        a = a.wrapping_add(st.seg_base[seg_of(seg)]);
    }
    a
}

/// Flags of `a - b` (or `a + b` with `add`) at `size` bytes, as the CPU sets
/// CF PF AF ZF SF OF.
fn arith_flags(a: u32, b: u32, size: u32, add: bool) -> u32 {
    let bits = size * 8;
    let mask = if bits == 32 { u32::MAX } else { (1 << bits) - 1 };
    let (a, b) = (a & mask, b & mask);
    let r = if add { a.wrapping_add(b) } else { a.wrapping_sub(b) } & mask;
    let sign = 1u32 << (bits - 1);
    let mut f = 0;
    let carry = if add { (a as u64 + b as u64) > mask as u64 } else { b > a };
    if carry {
        f |= CF;
    }
    f |= parity(r);
    if (a ^ b ^ r) & 0x10 != 0 {
        f |= AF;
    }
    if r == 0 {
        f |= ZF;
    }
    if r & sign != 0 {
        f |= SF;
    }
    let ov = if add { (!(a ^ b) & (a ^ r)) & sign } else { ((a ^ b) & (a ^ r)) & sign };
    if ov != 0 {
        f |= OF;
    }
    f
}

fn parity(v: u32) -> u32 {
    if (v as u8).count_ones().is_multiple_of(2) {
        PF
    } else {
        0
    }
}

fn szp8(v: u32) -> u32 {
    let v = v & 0xff;
    (if v == 0 { ZF } else { 0 }) | (if v & 0x80 != 0 { SF } else { 0 }) | parity(v)
}

/// The segment register lds/les/lss/lfs/lgs load, if `c` is one of them.
pub(crate) fn far_load_seg(c: Code) -> Option<usize> {
    Some(match c {
        Code::Lds_r16_m1616 | Code::Lds_r32_m1632 => SEG_DS,
        Code::Les_r16_m1616 | Code::Les_r32_m1632 => SEG_ES,
        Code::Lss_r16_m1616 | Code::Lss_r32_m1632 => SEG_SS,
        Code::Lfs_r16_m1616 | Code::Lfs_r32_m1632 => SEG_FS,
        Code::Lgs_r16_m1616 | Code::Lgs_r32_m1632 => SEG_GS,
        _ => return None,
    })
}

/// Emulate the instruction at eip; None means continue running.
pub(crate) fn step(g: &mut Guest) -> Option<Trap> {
    let eip = g.cpu().eip;
    let mut bytes = [0u8; 15];
    let mut n = 15;
    while n > 0 && g.window().check(eip, n, crate::window::pf::EXEC).is_err() {
        n -= 1;
    }
    g.window().read_exec(eip, &mut bytes[..n]).ok()?;
    let mut dec = Decoder::with_ip(32, &bytes[..n], eip as u64, DecoderOptions::NONE);
    let i = dec.decode();
    if i.is_invalid() && dec.last_error() == iced_x86::DecoderError::NoMoreBytes {
        // The instruction runs into a page the window has not mapped (code
        // translated earlier, or restored from a snapshot, runs without
        // its page): let the embedder map it, then come back here.
        if let Err(e) = g.window().check(eip, 15, crate::window::pf::EXEC) {
            return Some(Trap::PageFault { addr: e.addr, write: false, exec: true, mapped: e.mapped });
        }
    }
    let next = i.next_ip32();
    if let Some(r) = far(g, &i) {
        return r;
    }
    let r = exec(g, &i);
    if r.is_none() {
        g.cpu_mut().eip = next;
    }
    r
}

fn read_u(g: &Guest, a: u32, n: usize) -> Result<u32, Option<Trap>> {
    let mut b = [0u8; 4];
    g.read(a, &mut b[..n]).map_err(|e| mem_fault(e, false))?;
    Ok(u32::from_le_bytes(b))
}

fn push32(g: &mut Guest, v: u32) -> Result<(), Option<Trap>> {
    let sp = g.cpu().regs[ESP].wrapping_sub(4);
    g.write(sp, &v.to_le_bytes()).map_err(|e| mem_fault(e, true))?;
    g.cpu_mut().regs[ESP] = sp;
    Ok(())
}

/// Far call, jump, return and iret within the user code segment, as i386
/// Linux allows them. Returns None if `i` is not one of them.
fn far(g: &mut Guest, i: &Instruction) -> Option<Option<Trap>> {
    let code = i.code();
    let next = i.next_ip32();
    let r: Result<u32, Option<Trap>> = (|| {
        let target = |g: &Guest| -> Result<(u32, u32), Option<Trap>> {
            if i.op0_kind() == OpKind::FarBranch32 {
                Ok((i.far_branch32(), i.far_branch_selector() as u32))
            } else {
                let a = ea(g.cpu(), i);
                Ok((read_u(g, a, 4)?, read_u(g, a.wrapping_add(4), 2)?))
            }
        };
        match code {
            Code::Call_ptr1632 | Code::Call_m1632 | Code::Jmp_ptr1632 | Code::Jmp_m1632 => {
                let (off, sel) = target(g)?;
                if sel != USER_CS {
                    return Err(gp());
                }
                if matches!(code, Code::Call_ptr1632 | Code::Call_m1632) {
                    let sp0 = g.cpu().regs[ESP];
                    push32(g, USER_CS)?;
                    if let Err(e) = push32(g, next) {
                        g.cpu_mut().regs[ESP] = sp0;
                        return Err(e);
                    }
                }
                Ok(off)
            }
            Code::Retfd | Code::Retfd_imm16 | Code::Iretd => {
                let sp = g.cpu().regs[ESP];
                let eip = read_u(g, sp, 4)?;
                let cs = read_u(g, sp.wrapping_add(4), 2)?;
                if cs != USER_CS {
                    return Err(gp());
                }
                let mut pop = 8;
                if code == Code::Iretd {
                    let fl = read_u(g, sp.wrapping_add(8), 4)?;
                    const USER: u32 = 0x0004_4cd5; // arithmetic flags, DF, NT, AC (not TF)
                    let st = g.cpu_mut();
                    st.eflags = (st.eflags & !USER) | (fl & USER);
                    pop = 12;
                }
                let extra = if code == Code::Retfd_imm16 { i.immediate16() as u32 } else { 0 };
                g.cpu_mut().regs[ESP] = sp.wrapping_add(pop + extra);
                Ok(eip)
            }
            _ => Err(None),
        }
    })();
    match r {
        Ok(eip) => {
            g.cpu_mut().eip = eip;
            Some(None)
        }
        Err(None) => None,
        Err(Some(t)) => Some(Some(t)),
    }
}

fn mem_fault(e: crate::window::MemFault, write: bool) -> Option<Trap> {
    Some(Trap::PageFault { addr: e.addr, write, exec: false, mapped: e.mapped })
}

fn exec(g: &mut Guest, i: &Instruction) -> Option<Trap> {
    let code = i.code();
    let st = g.cpu_mut();
    let fl = st.eflags;
    let al = st.regs[EAX] & 0xff;
    let ah = (st.regs[EAX] >> 8) & 0xff;
    match code {
        Code::Cpuid => {
            let r = guest_cpuid(st.regs[EAX], st.regs[ECX]);
            st.regs[EAX] = r[0];
            st.regs[EBX] = r[1];
            st.regs[ECX] = r[2];
            st.regs[EDX] = r[3];
        }
        Code::Salc => set_reg(st, Register::AL, if fl & CF != 0 { 0xff } else { 0 }),
        Code::Daa | Code::Das => {
            let (old_al, old_cf) = (al, fl & CF);
            let mut a = al;
            let mut f = fl & !(CF | AF | ZF | SF | PF | OF);
            let sub = code == Code::Das;
            let mut adjust = 0;
            if (al & 0xf) > 9 || fl & AF != 0 {
                a = if sub { a.wrapping_sub(6) } else { a.wrapping_add(6) } & 0xff;
                adjust = 6;
                f |= AF;
                if sub && old_al < 6 || !sub && old_al + 6 > 0xff {
                    f |= CF;
                }
                f |= old_cf;
            }
            if old_al > 0x99 || old_cf != 0 {
                a = if sub { a.wrapping_sub(0x60) } else { a.wrapping_add(0x60) } & 0xff;
                adjust |= 0x60;
                f |= CF;
            }
            f |= szp8(a);
            // Undefined OF: Intel clears it; AMD leaves the signed overflow
            // of AL plus (minus) the whole adjustment.
            if crate::cpuid::host_is_amd() {
                let carried = if sub { (old_al ^ adjust) & (old_al ^ a) } else { !(old_al ^ adjust) & (old_al ^ a) };
                if carried & 0x80 != 0 {
                    f |= OF;
                }
            }
            set_reg(st, Register::AL, a);
            st.eflags = f;
        }
        Code::Aaa | Code::Aas => {
            let mut f = fl & !(CF | AF | ZF | SF | PF | OF);
            let ax = st.regs[EAX] & 0xffff;
            let aaa = code == Code::Aaa;
            let adjust = (al & 0xf) > 9 || fl & AF != 0;
            let nax = if adjust {
                f |= AF | CF;
                if aaa {
                    ax.wrapping_add(0x106)
                } else {
                    let a = ax.wrapping_sub(6) & 0xffff;
                    (a & 0xff) | ((((a >> 8).wrapping_sub(1)) & 0xff) << 8)
                }
            } else {
                ax
            };
            let nax = nax & 0xff0f;
            if crate::cpuid::host_is_amd() {
                // Undefined SF, ZF, PF, OF: AMD leaves those of the 16-bit
                // add (sub) of AX and 0x106 (0 when there is no adjustment).
                let t = if adjust { 0x106 } else { 0 };
                let r = if aaa { ax.wrapping_add(t) } else { ax.wrapping_sub(t) } & 0xffff;
                f |= szp8(r) & PF;
                if r == 0 {
                    f |= ZF;
                }
                if r & 0x8000 != 0 {
                    f |= SF;
                }
                let carried = if aaa { !(ax ^ t) & (ax ^ r) } else { (ax ^ t) & (ax ^ r) };
                if carried & 0x8000 != 0 {
                    f |= OF;
                }
            } else {
                // Intel: those of the result in AL.
                f |= szp8(nax);
            }
            set_reg(st, Register::AX, nax);
            st.eflags = f;
        }
        Code::Aam_imm8 => {
            let base = i.immediate8() as u32;
            if base == 0 {
                return Some(Trap::Signal { signo: libc::SIGFPE, code: si::FPE_INTDIV, addr: st.eip });
            }
            let (h, l) = (al / base, al % base);
            set_reg(st, Register::AX, (h << 8) | l);
            st.eflags = (fl & !(CF | AF | ZF | SF | PF | OF)) | szp8(l);
        }
        Code::Aad_imm8 => {
            // The CPU leaves the flags of the 8-bit add al + ah*imm.
            let t = (ah * i.immediate8() as u32) & 0xff;
            let l = (al + t) & 0xff;
            set_reg(st, Register::AX, l);
            st.eflags = (fl & !(CF | AF | ZF | SF | PF | OF)) | arith_flags(al, t, 1, true);
        }
        Code::Arpl_rm16_r16 | Code::Arpl_r32m16_r32 => {
            let src = get_reg(st, i.op1_register()) & 0xffff;
            if i.op0_kind() != OpKind::Register {
                let a = ea(st, i);
                let mut b = [0u8; 2];
                if let Err(e) = g.read(a, &mut b) {
                    return mem_fault(e, false);
                }
                let dst = u16::from_le_bytes(b) as u32;
                if dst & 3 < src & 3 {
                    let v = ((dst & !3) | (src & 3)) as u16;
                    if let Err(e) = g.write(a, &v.to_le_bytes()) {
                        return mem_fault(e, true);
                    }
                    g.cpu_mut().eflags = fl | ZF;
                } else {
                    g.cpu_mut().eflags = fl & !ZF;
                }
                return None;
            }
            let dst = get_reg(st, i.op0_register()) & 0xffff;
            if dst & 3 < src & 3 {
                set_reg(
                    st,
                    Register::try_from(reg_num(i.op0_register()) + Register::AX as usize).unwrap(),
                    (dst & !3) | (src & 3),
                );
                st.eflags = fl | ZF;
            } else {
                st.eflags = fl & !ZF;
            }
        }
        Code::Bound_r32_m3232 | Code::Bound_r16_m1616 => {
            let a = ea(st, i);
            let wide = code == Code::Bound_r32_m3232;
            let idx = get_reg(st, i.op0_register());
            let mut b = [0u8; 8];
            let len = if wide { 8 } else { 4 };
            if let Err(e) = g.read(a, &mut b[..len]) {
                return mem_fault(e, false);
            }
            let (lo, hi, v) = if wide {
                (
                    i32::from_le_bytes(b[0..4].try_into().unwrap()),
                    i32::from_le_bytes(b[4..8].try_into().unwrap()),
                    idx as i32,
                )
            } else {
                (i16::from_le_bytes([b[0], b[1]]) as i32, i16::from_le_bytes([b[2], b[3]]) as i32, idx as i16 as i32)
            };
            if v < lo || v > hi {
                return gp();
            }
        }
        Code::Mov_Sreg_rm16 | Code::Mov_Sreg_r32m16 => {
            let seg = seg_of(i.op0_register());
            if seg == SEG_CS {
                return Some(Trap::Signal { signo: libc::SIGILL, code: si::ILL_ILLOPN, addr: st.eip });
            }
            let v = if i.op1_kind() == OpKind::Register {
                get_reg(st, i.op1_register())
            } else {
                let a = ea(st, i);
                let mut b = [0u8; 2];
                if let Err(e) = g.read(a, &mut b) {
                    return mem_fault(e, false);
                }
                u16::from_le_bytes(b) as u32
            };
            if !g.load_segment(seg, v) {
                return gp();
            }
        }
        Code::Popd_ES
        | Code::Popd_SS
        | Code::Popd_DS
        | Code::Popd_FS
        | Code::Popd_GS
        | Code::Popw_ES
        | Code::Popw_SS
        | Code::Popw_DS
        | Code::Popw_FS
        | Code::Popw_GS => {
            let size = (-i.stack_pointer_increment()).unsigned_abs();
            let esp = st.regs[ESP];
            let mut b = [0u8; 2];
            if let Err(e) = g.read(esp, &mut b) {
                return mem_fault(e, false);
            }
            if !g.load_segment(seg_of(i.op0_register()), u16::from_le_bytes(b) as u32) {
                return gp();
            }
            g.cpu_mut().regs[ESP] = esp.wrapping_add(size);
        }
        _ if far_load_seg(code).is_some() => {
            let seg = far_load_seg(code).unwrap();
            let r = i.op0_register();
            let osz = r.size() as u32;
            let a = ea(st, i);
            let mut b = [0u8; 6];
            if let Err(e) = g.read(a, &mut b[..osz as usize + 2]) {
                return mem_fault(e, false);
            }
            let off = if osz == 4 {
                u32::from_le_bytes(b[0..4].try_into().unwrap())
            } else {
                u16::from_le_bytes([b[0], b[1]]) as u32
            };
            let sel = u16::from_le_bytes([b[osz as usize], b[osz as usize + 1]]) as u32;
            if !g.load_segment(seg, sel) {
                return gp();
            }
            set_reg(g.cpu_mut(), r, off);
        }
        Code::Enterd_imm16_imm8 | Code::Enterw_imm16_imm8 => {
            let (size, level) = (i.immediate16() as u32, (i.immediate8_2nd() & 31) as u32);
            let w: u32 = if code == Code::Enterd_imm16_imm8 { 4 } else { 2 };
            let mut esp = st.regs[ESP];
            let mut ebp = st.regs[EBP];
            let push = |g: &mut Guest, esp: &mut u32, v: u32| -> Result<(), crate::window::MemFault> {
                *esp = esp.wrapping_sub(w);
                g.write(*esp, &v.to_le_bytes()[..w as usize])
            };
            if let Err(e) = push(g, &mut esp, ebp) {
                return mem_fault(e, true);
            }
            let frame = esp;
            for _ in 1..level {
                ebp = ebp.wrapping_sub(w);
                let mut b = [0u8; 4];
                if let Err(e) = g.read(ebp, &mut b[..w as usize]) {
                    return mem_fault(e, false);
                }
                if let Err(e) = push(g, &mut esp, u32::from_le_bytes(b)) {
                    return mem_fault(e, true);
                }
            }
            if level > 0 {
                if let Err(e) = push(g, &mut esp, frame) {
                    return mem_fault(e, true);
                }
            }
            let st = g.cpu_mut();
            if w == 4 {
                st.regs[EBP] = frame;
            } else {
                set_reg(st, Register::BP, frame);
            }
            st.regs[ESP] = esp.wrapping_sub(size);
        }
        Code::Pushaw => {
            let esp = st.regs[ESP];
            let vals: Vec<u8> = [EDI, ESI, EBP, ESP, EBX, EDX, ECX, EAX]
                .iter()
                .flat_map(|&r| (st.regs[r] as u16).to_le_bytes())
                .collect();
            let a = esp.wrapping_sub(16);
            if let Err(e) = g.write(a, &vals) {
                return mem_fault(e, true);
            }
            g.cpu_mut().regs[ESP] = a;
        }
        Code::Popaw => {
            let esp = st.regs[ESP];
            let mut b = [0u8; 16];
            if let Err(e) = g.read(esp, &mut b) {
                return mem_fault(e, false);
            }
            let st = g.cpu_mut();
            for (k, r) in [EDI, ESI, EBP, ESP, EBX, EDX, ECX, EAX].iter().enumerate() {
                if *r != ESP {
                    st.regs[*r] = (st.regs[*r] & 0xffff_0000) | u16::from_le_bytes([b[2 * k], b[2 * k + 1]]) as u32;
                }
            }
            st.regs[ESP] = esp.wrapping_add(16);
        }
        Code::Pushfw => {
            let a = st.regs[ESP].wrapping_sub(2);
            let v = (fl as u16).to_le_bytes();
            if let Err(e) = g.write(a, &v) {
                return mem_fault(e, true);
            }
            g.cpu_mut().regs[ESP] = a;
        }
        Code::Popfw => {
            let esp = st.regs[ESP];
            let mut b = [0u8; 2];
            if let Err(e) = g.read(esp, &mut b) {
                return mem_fault(e, false);
            }
            let st = g.cpu_mut();
            // CF PF AF ZF SF DF OF NT; TF is dropped (single-stepping
            // translated code would trap the host), IF and IOPL are the
            // kernel's.
            const USER: u32 = 0x4cd5;
            st.eflags = (fl & !USER) | (u16::from_le_bytes(b) as u32 & USER);
            st.regs[ESP] = esp.wrapping_add(2);
        }
        Code::Leavew => {
            let ebp = st.regs[EBP];
            let mut b = [0u8; 2];
            if let Err(e) = g.read(ebp, &mut b) {
                return mem_fault(e, false);
            }
            let st = g.cpu_mut();
            st.regs[ESP] = ebp.wrapping_add(2);
            set_reg(st, Register::BP, u16::from_le_bytes(b) as u32);
        }
        _ if i.is_string_instruction() => return string16(g, i),
        _ => return Some(Trap::Signal { signo: libc::SIGILL, code: si::ILL_ILLOPN, addr: st.eip }),
    }
    None
}

/// A string instruction with 16-bit addressing (si, di, cx), with its rep
/// prefix. Rare enough to run here; eip moves on only when it is done.
fn string16(g: &mut Guest, i: &Instruction) -> Option<Trap> {
    use iced_x86::Mnemonic as M;
    let m = i.mnemonic();
    let size = i.memory_size().size() as u32;
    let rep = i.has_rep_prefix() || i.has_repe_prefix() || i.has_repne_prefix();
    let (repe, repne) = (i.has_repe_prefix(), i.has_repne_prefix());
    let cmp = matches!(m, M::Cmpsb | M::Cmpsw | M::Cmpsd | M::Scasb | M::Scasw | M::Scasd);
    let src_base = match i.memory_segment() {
        Register::FS | Register::GS => g.cpu().seg_base[seg_of(i.memory_segment())],
        _ => 0,
    };
    loop {
        let st = g.cpu();
        let cx = st.regs[ECX] & 0xffff;
        if rep && cx == 0 {
            break;
        }
        let (si16, di16) = (st.regs[ESI] & 0xffff, st.regs[EDI] & 0xffff);
        let step = if st.eflags & 0x400 != 0 { size.wrapping_neg() } else { size };
        let (src, dst) = (src_base.wrapping_add(si16), di16);
        let mut b = [0u8; 4];
        let read =
            |g: &Guest, a: u32, b: &mut [u8; 4]| g.read(a, &mut b[..size as usize]).map(|_| u32::from_le_bytes(*b));
        let acc = st.regs[EAX];
        let (mut nsi, mut ndi) = (si16, di16);
        match m {
            M::Movsb | M::Movsw | M::Movsd => {
                let v = match read(g, src, &mut b) {
                    Ok(v) => v,
                    Err(e) => return mem_fault(e, false),
                };
                if let Err(e) = g.write(dst, &v.to_le_bytes()[..size as usize]) {
                    return mem_fault(e, true);
                }
                nsi = si16.wrapping_add(step);
                ndi = di16.wrapping_add(step);
            }
            M::Stosb | M::Stosw | M::Stosd => {
                if let Err(e) = g.write(dst, &acc.to_le_bytes()[..size as usize]) {
                    return mem_fault(e, true);
                }
                ndi = di16.wrapping_add(step);
            }
            M::Lodsb | M::Lodsw | M::Lodsd => {
                let v = match read(g, src, &mut b) {
                    Ok(v) => v,
                    Err(e) => return mem_fault(e, false),
                };
                let reg = match size {
                    1 => Register::AL,
                    2 => Register::AX,
                    _ => Register::EAX,
                };
                set_reg(g.cpu_mut(), reg, v);
                nsi = si16.wrapping_add(step);
            }
            _ => {
                // cmps compares [si] with [di]; scas compares the accumulator.
                let a = if matches!(m, M::Cmpsb | M::Cmpsw | M::Cmpsd) {
                    nsi = si16.wrapping_add(step);
                    match read(g, src, &mut b) {
                        Ok(v) => v,
                        Err(e) => return mem_fault(e, false),
                    }
                } else {
                    acc
                };
                let d = match read(g, dst, &mut b) {
                    Ok(v) => v,
                    Err(e) => return mem_fault(e, false),
                };
                ndi = di16.wrapping_add(step);
                let st = g.cpu_mut();
                st.eflags = (st.eflags & !(CF | PF | AF | ZF | SF | OF)) | arith_flags(a, d, size, false);
            }
        }
        let st = g.cpu_mut();
        st.regs[ESI] = (st.regs[ESI] & 0xffff_0000) | (nsi & 0xffff);
        st.regs[EDI] = (st.regs[EDI] & 0xffff_0000) | (ndi & 0xffff);
        if !rep {
            break;
        }
        st.regs[ECX] = (st.regs[ECX] & 0xffff_0000) | (cx.wrapping_sub(1) & 0xffff);
        if cmp && ((repe && st.eflags & ZF == 0) || (repne && st.eflags & ZF != 0)) {
            break;
        }
    }
    None
}
