//! The rewrites of single guest instructions: the generic re-encode (GS
//! override, 32-bit addressing, esp renamed to r12, ah..bh next to REX
//! registers), and the instructions whose meaning depends on where the
//! guest's stack, counters and strings live: branches on (e)cx, loops,
//! pushes and pops, enter/leave, pusha/popa, pushf/popf, segment register
//! reads and string instructions. The block driver and control transfers
//! are in `translate.rs`; the same rules hold here: only flag-free glue,
//! and no guest-visible change before the last access that can fault.

use crate::emit::*;
use crate::state::*;
use crate::translate::*;
use iced_x86::{Code, Instruction, OpKind, Register};

impl Tx<'_> {
    pub(crate) fn cond_branch(&mut self, g: &Instruction) -> R<()> {
        let target = g.near_branch_target() as u32;
        self.poll_if_backward(g, target);
        if let Some(cc) = cond_code(g.mnemonic()) {
            self.jcc_to(cc, target);
            return Ok(());
        }
        if g.memory_size() != iced_x86::MemorySize::Unknown
            || !matches!(g.op0_kind(), OpKind::NearBranch32 | OpKind::NearBranch16)
        {
            return Err("odd branch".into());
        }
        // loop/loope/loopne/jecxz with a 32-bit counter: 67 E0..E3 rel8
        let op = match g.code() {
            Code::Loopne_rel8_32_ECX | Code::Loopne_rel8_16_ECX => 0xe0,
            Code::Loope_rel8_32_ECX | Code::Loope_rel8_16_ECX => 0xe1,
            Code::Loop_rel8_32_ECX | Code::Loop_rel8_16_ECX => 0xe2,
            Code::Jecxz_rel8_32 | Code::Jecxz_rel8_16 => 0xe3,
            _ => return self.cx_branch(g, target),
        };
        // op taken(+2) ; jmp short fall ; taken: jmp target ; fall: ...
        self.e.bytes(&[0x67, op, 0x02, 0xeb]);
        let patch_at = self.e.code.len();
        self.e.code.push(0);
        self.e.jmp_guest(target);
        let fall = self.e.code.len();
        self.e.code[patch_at] = (fall - patch_at - 1) as u8;
        Ok(())
    }

    /// loop/loope/loopne/jcxz with the 16-bit counter cx (address-size
    /// prefix), which 64-bit mode cannot encode: decrement cx with lea and
    /// test it with jrcxz on a zero-extended copy, keeping the flags.
    pub(crate) fn cx_branch(&mut self, g: &Instruction, target: u32) -> R<()> {
        let code = g.code();
        let (is_loop, cond) = match code {
            Code::Loop_rel8_16_CX | Code::Loop_rel8_32_CX => (true, None),
            Code::Loope_rel8_16_CX | Code::Loope_rel8_32_CX => (true, Some(0x75u8)), // jne fall
            Code::Loopne_rel8_16_CX | Code::Loopne_rel8_32_CX => (true, Some(0x74u8)), // je fall
            Code::Jcxz_rel8_16 | Code::Jcxz_rel8_32 => (false, None),
            _ => return Err(format!("branch {code:?}")),
        };
        let mut short_to_fall = Vec::new();
        if is_loop {
            self.e.bytes(&[0x44, 0x8d, 0x69, 0xff]); // lea r13d, [rcx-1]
            self.e.bytes(&[0x66, 0x44, 0x89, 0xe9]); // mov cx, r13w
        }
        if let Some(jcc) = cond {
            self.e.bytes(&[jcc, 0]);
            short_to_fall.push(self.e.code.len() - 1);
        }
        self.e.bytes(&[0x44, 0x0f, 0xb7, 0xe9]); // movzx r13d, cx
        self.e.bytes(&[0x4c, 0x87, 0xe9]); // xchg rcx, r13
        self.e.bytes(&[0xe3, 0]); // jrcxz zero
        let to_zero = self.e.code.len() - 1;
        self.e.bytes(&[0x4c, 0x87, 0xe9]); // xchg rcx, r13 (cx != 0)
        if is_loop {
            self.jmp_to(target);
        } else {
            self.e.bytes(&[0xeb, 0]);
            short_to_fall.push(self.e.code.len() - 1);
        }
        let zero = self.e.code.len();
        self.e.code[to_zero] = (zero - to_zero - 1) as u8;
        self.e.bytes(&[0x4c, 0x87, 0xe9]); // zero: xchg rcx, r13
        if !is_loop {
            self.jmp_to(target);
        }
        let fall = self.e.code.len();
        for at in short_to_fall {
            let d = fall - at - 1;
            if d > 127 {
                return Err("cx branch too long".into());
            }
            self.e.code[at] = d as u8;
        }
        Ok(())
    }

    pub(crate) fn read_sreg(&mut self, g: &Instruction) -> R<()> {
        let idx = seg_index(g.op1_register()).ok_or("sreg")?;
        match g.op0_kind() {
            OpKind::Register => {
                self.e.load_state32(R13, OFF_SEG_SEL + 4 * idx);
                let r = ren(g.op0_register());
                if r.size() == 2 {
                    self.ins(mk2(Code::Mov_r16_rm16, r, Register::R13W))
                } else {
                    self.ins(mk2(Code::Mov_r32_rm32, r, Register::R13D))
                }
            }
            _ => {
                // The address may need r13 and r14; the selector uses r11.
                let m = self.guest_mem(g)?;
                self.e.load_state32(R11, OFF_SEG_SEL + 4 * idx);
                self.ins(mk2(Code::Mov_rm16_r16, m.op(), Register::R11W))
            }
        }
    }

    pub(crate) fn stack_op(&mut self, g: &Instruction) -> R<()> {
        let code = g.code();
        match code {
            Code::Push_r32 | Code::Push_rm32 | Code::Push_r16 | Code::Push_rm16 => {
                let size = if matches!(code, Code::Push_r16 | Code::Push_rm16) { 2 } else { 4 };
                if g.op0_kind() == OpKind::Register {
                    let r = ren(g.op0_register());
                    let (mc, d) = if size == 2 { (Code::Mov_rm16_r16, -2) } else { (Code::Mov_rm32_r32, -4) };
                    self.ins(mk2(mc, r12m(d).op(), r))?;
                    self.ins(lea32(Register::R12D, r12m(d)))
                } else {
                    self.load_op_r13(g, 0)?;
                    self.push_r13(size)
                }
            }
            Code::Pushd_imm32 | Code::Pushd_imm8 => self.push_imm32(g.immediate(0) as u32),
            Code::Push_imm16 | Code::Pushw_imm8 => {
                self.ins(
                    Instruction::with2(Code::Mov_rm16_imm16, r12m(-2).op(), g.immediate(0) as u16 as u32)
                        .map_err(|e| e.to_string()),
                )?;
                self.ins(lea32(Register::R12D, r12m(-2)))
            }
            Code::Pushd_ES
            | Code::Pushd_CS
            | Code::Pushd_SS
            | Code::Pushd_DS
            | Code::Pushd_FS
            | Code::Pushd_GS
            | Code::Pushw_ES
            | Code::Pushw_CS
            | Code::Pushw_SS
            | Code::Pushw_DS
            | Code::Pushw_FS
            | Code::Pushw_GS => {
                let idx = seg_index(g.op0_register()).ok_or("sreg")?;
                let size = if g.stack_pointer_increment() == -2 { 2 } else { 4 };
                self.e.load_state32(R13, OFF_SEG_SEL + 4 * idx);
                // Recent CPUs store only 16 bits of a selector push.
                self.ins(mk2(Code::Mov_rm16_r16, r12m(-size).op(), Register::R13W))?;
                self.ins(lea32(Register::R12D, r12m(-size)))
            }
            Code::Pop_r32 | Code::Pop_r16 => {
                let r = ren(g.op0_register());
                let size = if code == Code::Pop_r16 { 2 } else { 4 };
                if size == 2 {
                    self.ins(mk2(Code::Mov_r16_rm16, r, r12m(0).op()))?;
                } else {
                    self.ins(mk2(Code::Mov_r32_rm32, r, r12m(0).op()))?;
                }
                if r == Register::R12D {
                    return Ok(()); // pop esp: esp = the popped value
                }
                self.ins(lea32(Register::R12D, r12m(size)))
            }
            Code::Pop_rm32 | Code::Pop_rm16 => {
                let size: u32 = if code == Code::Pop_rm16 { 2 } else { 4 };
                // The value goes through r11: computing the destination
                // address may need r13 and r14.
                let (ld, st, reg) = if size == 2 {
                    (Code::Movzx_r32_rm16, Code::Mov_rm16_r16, Register::R11W)
                } else {
                    (Code::Mov_r32_rm32, Code::Mov_rm32_r32, Register::R11D)
                };
                self.ins(mk2(ld, Register::R11D, r12m(0).op()))?;
                if g.op0_kind() == OpKind::Register {
                    let r = ren(g.op0_register());
                    self.ins(lea32(Register::R12D, r12m(size as i32)))?;
                    let mv = if size == 2 { Code::Mov_r16_rm16 } else { Code::Mov_r32_rm32 };
                    return self.ins(mk2(mv, r, reg));
                }
                // The address uses esp after the pop; store first so a
                // fault leaves esp as it was.
                let mut m = self.guest_mem(g)?;
                if m.uses(Register::R12D) {
                    let k = if m.base == Register::R12D { 1 } else { 0 }
                        + if m.index == Register::R12D { m.scale } else { 0 };
                    m = m.plus(size.wrapping_mul(k));
                }
                self.ins(mk2(st, m.op(), reg))?;
                self.ins(lea32(Register::R12D, r12m(size as i32)))
            }
            Code::Pushfd => {
                self.e.bytes(&[0x9c, 0x41, 0x5d]); // pushfq; pop r13
                self.push_r13(4)
            }
            Code::Popfd => {
                self.ins(mk2(Code::Mov_r32_rm32, Register::R13D, r12m(0).op()))?;
                // Drop TF: single-stepping translated code would trap the host.
                self.e.bytes(&[0x41, 0x81, 0xe5]); // and r13d, imm32
                self.e.bytes(&(!0x100u32).to_le_bytes());
                self.e.bytes(&[0x41, 0x55, 0x9d]); // push r13; popfq
                self.ins(lea32(Register::R12D, r12m(4)))
            }
            Code::Pushad => {
                let order = [
                    Register::EAX,
                    Register::ECX,
                    Register::EDX,
                    Register::EBX,
                    Register::R12D,
                    Register::EBP,
                    Register::ESI,
                    Register::EDI,
                ];
                for (i, r) in order.iter().enumerate() {
                    self.ins(mk2(Code::Mov_rm32_r32, r12m(-4 * (i as i32 + 1)).op(), *r))?;
                }
                self.ins(lea32(Register::R12D, r12m(-32)))
            }
            Code::Popad => {
                // Touch both ends first so no register changes before a fault.
                self.ins(mk2(Code::Mov_r32_rm32, Register::R13D, r12m(28).op()))?;
                self.ins(mk2(Code::Mov_r32_rm32, Register::R13D, r12m(0).op()))?;
                let order = [
                    Register::EDI,
                    Register::ESI,
                    Register::EBP,
                    Register::None,
                    Register::EBX,
                    Register::EDX,
                    Register::ECX,
                    Register::EAX,
                ];
                for (i, r) in order.iter().enumerate() {
                    if *r != Register::None {
                        self.ins(mk2(Code::Mov_r32_rm32, *r, r12m(4 * i as i32).op()))?;
                    }
                }
                self.ins(lea32(Register::R12D, r12m(32)))
            }
            Code::Enterd_imm16_imm8 if g.immediate8_2nd() == 0 => {
                self.ins(mk2(Code::Mov_rm32_r32, r12m(-4).op(), Register::EBP))?;
                self.ins(lea32(Register::R12D, r12m(-4)))?;
                self.ins(mk2(Code::Mov_r32_rm32, Register::EBP, Register::R12D))?;
                self.ins(lea32(Register::R12D, r12m(-(g.immediate16() as i32))))
            }
            Code::Leaved => {
                let m = GMem { base: Register::EBP, index: Register::None, scale: 1, disp: 0 };
                self.ins(mk2(Code::Mov_r32_rm32, Register::R13D, m.op()))?;
                self.ins(lea32(Register::R12D, m.plus(4)))?;
                self.ins(mk2(Code::Mov_r32_rm32, Register::EBP, Register::R13D))
            }
            _ => Err(format!("stack instruction {code:?}")),
        }
    }

    pub(crate) fn string_op(&mut self, g: &Instruction) -> R<bool> {
        use iced_x86::Mnemonic as M;
        let m = g.mnemonic();
        let seg = g.memory_segment();
        if seg == Register::FS || seg == Register::GS {
            return Err("fs/gs string source".into());
        }
        if (0..g.op_count())
            .any(|n| matches!(g.op_kind(n), OpKind::MemorySegSI | OpKind::MemorySegDI | OpKind::MemoryESDI))
        {
            // si/di/cx forms (address-size prefix): rare, done in Rust.
            self.e.exit(exit::HELPER, g.ip32(), g.next_ip32(), 0);
            return Ok(true);
        }
        let size = g.memory_size().size();
        let base_op: u8 = match m {
            M::Movsb | M::Movsw | M::Movsd => 0xa4,
            M::Cmpsb | M::Cmpsw | M::Cmpsd => 0xa6,
            M::Stosb | M::Stosw | M::Stosd => 0xaa,
            M::Lodsb | M::Lodsw | M::Lodsd => 0xac,
            M::Scasb | M::Scasw | M::Scasd => 0xae,
            _ => return Err(format!("string {m:?}")),
        };
        let op = if size == 1 { base_op } else { base_op + 1 };
        let uses_dst = base_op != 0xac;
        let uses_src = matches!(base_op, 0xa4 | 0xa6 | 0xac);
        let mut pre = Vec::new();
        if g.has_repe_prefix() {
            pre.push(0xf3);
        } else if g.has_repne_prefix() {
            pre.push(0xf2);
        }
        if size == 2 {
            pre.push(0x66);
        }
        if uses_src {
            pre.push(0x65);
        }
        if !uses_dst {
            // lods: source only, addr32 keeps the i386 wrap
            pre.push(0x67);
            self.e.bytes(&pre);
            self.e.code.push(op);
            return Ok(false);
        }
        // Host pointers: rdi = window base + edi (and rsi = base + esi), so
        // the CPU's fast-string microcode applies; it does not with a
        // segment override.
        self.e.bytes(&[0x89, 0xff]); // mov edi, edi
        if uses_src {
            self.e.bytes(&[0x89, 0xf6]); // mov esi, esi
        }
        self.e.bytes(&[0x89, 0xc9]); // mov ecx, ecx
        self.e.load_state64(R13, OFF_WIN_BASE);
        self.e.bytes(&[0x4a, 0x8d, 0x3c, 0x2f]); // lea rdi, [rdi + r13]
        if uses_src {
            self.e.bytes(&[0x4a, 0x8d, 0x34, 0x2e]); // lea rsi, [rsi + r13]
            pre.retain(|&b| b != 0x65);
        }
        self.e.bytes(&pre);
        self.e.code.push(op);
        self.e.bytes(&[0x89, 0xff]); // mov edi, edi
        if uses_src {
            self.e.bytes(&[0x89, 0xf6]); // mov esi, esi
        }
        Ok(false)
    }

    pub(crate) fn generic(&mut self, g: &Instruction) -> R<()> {
        let mut h = *g;
        h.set_code(fix_code(g.code()));
        let mut high8 = false;
        let mut rex_regs = false;
        for n in 0..g.op_count() {
            match g.op_kind(n) {
                OpKind::Register => {
                    let r = ren(g.op_register(n));
                    high8 |= is_high8(r);
                    rex_regs |= r == Register::R12D || r == Register::R12W;
                    h.set_op_register(n, r);
                }
                OpKind::Memory => {
                    if g.code() == Code::Lea_r32_m || g.code() == Code::Lea_r16_m {
                        if is_addr16(g) {
                            self.addr16(g)?;
                            let r = ren(g.op0_register());
                            let (c, src) = if r.size() == 2 {
                                (Code::Mov_r16_rm16, Register::R13W)
                            } else {
                                (Code::Mov_r32_rm32, Register::R13D)
                            };
                            return self.ins(mk2(c, r, src));
                        }
                        let b = ren(g.memory_base());
                        let i = ren(g.memory_index());
                        h.set_memory_base(b);
                        h.set_memory_index(i);
                        h.set_segment_prefix(Register::None);
                        rex_regs |= b == Register::R12D || i == Register::R12D;
                    } else {
                        let m = self.guest_mem(g)?;
                        h.set_memory_base(m.base);
                        h.set_memory_index(m.index);
                        h.set_memory_index_scale(m.scale);
                        h.set_memory_displacement32(m.disp);
                        let absolute = m.base == Register::None && m.index == Register::None;
                        if is_addr16(g) {
                            h.set_memory_displ_size(0); // the address is all in r13
                        }
                        let changed = m.disp != g.memory_displacement32() || h.memory_displ_size() == 0 && m.disp != 0;
                        if !is_addr16(g) && (absolute || changed) {
                            h.set_memory_displ_size(4);
                        }
                        h.set_segment_prefix(Register::GS);
                        rex_regs |= m.uses(Register::R12D) || m.uses(Register::R13D) || m.uses(Register::R14D);
                    }
                }
                OpKind::MemorySegESI | OpKind::MemorySegEDI => {
                    // xlat, maskmovq/maskmovdqu: GS override with addr32
                    let seg = g.memory_segment();
                    if seg == Register::FS || seg == Register::GS {
                        return Err("fs/gs implicit memory".into());
                    }
                    h.set_segment_prefix(Register::GS);
                }
                OpKind::MemorySegSI | OpKind::MemorySegDI => return Err("16-bit addressing".into()),
                _ => {}
            }
        }
        if high8 && rex_regs {
            return self.generic_swapped(g, h);
        }
        self.e.ins(&h)
    }

    /// Re-encode an instruction that names ah/ch/dh/bh and also needs a REX
    /// register: swap each REX register with a free legacy register around
    /// it, and tell the fault handler about the swap.
    fn generic_swapped(&mut self, g: &Instruction, mut h: Instruction) -> R<()> {
        let used: Vec<Register> =
            self.info.info(g).used_registers().iter().map(|u| u.register().full_register32()).collect();
        let legacy =
            [Register::EBX, Register::ESI, Register::EDI, Register::EBP, Register::EDX, Register::ECX, Register::EAX];
        let mut free = legacy.iter().filter(|r| !used.contains(r));
        let mut swaps: Vec<(Register, Register)> = Vec::new();
        let map = |r: Register,
                   swaps: &mut Vec<(Register, Register)>,
                   free: &mut dyn Iterator<Item = &Register>|
         -> R<Register> {
            let full = r.full_register32();
            if !matches!(full, Register::R12D | Register::R13D | Register::R14D) {
                return Ok(r);
            }
            let l = match swaps.iter().find(|s| s.0 == full) {
                Some(s) => s.1,
                None => {
                    let l = *free.next().ok_or("no free register")?;
                    swaps.push((full, l));
                    l
                }
            };
            Ok(if r.size() == 2 {
                Register::try_from(l as usize - Register::EAX as usize + Register::AX as usize).unwrap()
            } else {
                l
            })
        };
        for n in 0..h.op_count() {
            if h.op_kind(n) == OpKind::Register {
                let r = map(h.op_register(n), &mut swaps, &mut free)?;
                h.set_op_register(n, r);
            }
        }
        if h.memory_base() != Register::None {
            let r = map(h.memory_base(), &mut swaps, &mut free)?;
            h.set_memory_base(r);
        }
        if h.memory_index() != Register::None {
            let r = map(h.memory_index(), &mut swaps, &mut free)?;
            h.set_memory_index(r);
        }
        let num = |r: Register| -> u16 { (r.full_register() as u16) - (Register::RAX as u16) };
        let xchg = |e: &mut Emitter, a: Register, b: Register| {
            let (a, b) = (num(a) as u8, num(b) as u8); // a: r12..r14, b: legacy
            e.bytes(&[0x49, 0x87, 0xc0 | ((b & 7) << 3) | (a & 7)]); // xchg a, b
        };
        for s in &swaps {
            xchg(&mut self.e, s.0, s.1);
        }
        let mut sw: u16 = 0xffff;
        for (i, s) in swaps.iter().enumerate().take(2) {
            let pair = (num(s.0) << 4) | num(s.1);
            sw = if i == 0 { 0xff00 | pair } else { (sw & 0xff) | (pair << 8) };
        }
        let eip = g.ip32();
        self.insns.push((self.e.off(), eip, sw));
        self.e.ins(&h)?;
        self.insns.push((self.e.off(), eip, 0xffff));
        for s in swaps.iter().rev() {
            xchg(&mut self.e, s.0, s.1);
        }
        Ok(())
    }
}
