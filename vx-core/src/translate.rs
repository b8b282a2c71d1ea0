//! The translator: decode a block of i386 code and emit confined x86-64
//! code for it. This file drives a block and handles control transfers,
//! traps and helpers; `rewrite.rs` holds the single-instruction rewrites.
//!
//! Most instructions are re-encoded as they are with two changes: every
//! memory operand gets a GS override and keeps its 32-bit address size, so
//! the CPU computes the i386 address, wraps it at 4 GiB and adds the window
//! base; and guest `esp` is renamed to host `r12`. Instructions that touch
//! the stack, transfer control, use `fs:`/`gs:` guest segments, run string
//! operations, or do not exist in 64-bit mode are rewritten here; a few rare
//! ones leave to `emulate.rs`. Inserted code never changes the guest's
//! flags. A guest instruction's host code makes no guest-visible change
//! before its last possible fault, so a host fault always maps back to a
//! precise guest state (see `sigfault.rs`).

use crate::emit::*;
use crate::state::*;
use crate::window::{pf, Window, PAGE_SHIFT, PAGE_SIZE};
use iced_x86::{
    Code, Decoder, DecoderError, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, MemoryOperand,
    Mnemonic, OpAccess, OpKind, Register,
};

/// Maximum guest instructions in one block.
pub const MAX_BLOCK_INSNS: usize = 64;

/// `exit_arg` of an `exit::SYSCALL` made by sysenter rather than int 0x80.
pub const SYSENTER: u32 = 1;
/// `exit_arg` of an `exit::SYSCALL` made by syscall (AMD hosts).
pub const SYSCALL32: u32 = 2;

/// Trap kinds carried in `exit_arg` with `exit::TRAP`.
pub mod trap {
    /// Undefined or unsupported opcode: SIGILL/ILL_ILLOPN.
    pub const ILL: u32 = 1;
    /// General protection (privileged, int N, far transfers): SIGSEGV/SI_KERNEL.
    pub const GP: u32 = 2;
    /// int3: SIGTRAP/SI_KERNEL, eip after the instruction.
    pub const BRK: u32 = 3;
    /// Instruction fetch from a page the guest cannot execute; the address
    /// is in `next_eip`.
    pub const FETCH: u32 = 4;
    /// `into` with OF set: SIGSEGV, as Linux reports #OF.
    pub const OVERFLOW: u32 = 5;
}

/// One translated block before it is placed in the code cache.
pub struct Block {
    pub eip: u32,
    pub code: Vec<u8>,
    /// (host offset, guest eip, register swap) for each guest instruction;
    /// the swap is `0xffff` or two nibble pairs of host registers whose
    /// values are exchanged at that point (see `sigfault.rs`).
    pub insns: Vec<(u32, u32, u16)>,
    pub exits: Vec<ExitSite>,
    /// Guest pages the block's translation depends on (its instructions,
    /// and code it inlined from elsewhere).
    pub pages: Vec<u32>,
    /// The block ends in a fetch fault: the page may be mapped by the time
    /// it runs again, so it must not be kept in the cache.
    pub fetch_fault: bool,
    /// The guest bytes the translation was made from, by address: what
    /// `memo` compares before it reuses the translation in another guest.
    pub src: Vec<(u32, Vec<u8>)>,
    /// Guest instructions translated, and bytes from `eip` to the last's end.
    pub guest_insns: u32,
    pub guest_len: u32,
}

pub(crate) fn ren(r: Register) -> Register {
    match r {
        Register::ESP => Register::R12D,
        Register::SP => Register::R12W,
        _ => r,
    }
}

pub(crate) fn is_high8(r: Register) -> bool {
    matches!(r, Register::AH | Register::CH | Register::DH | Register::BH)
}

pub(crate) fn cond_code(m: Mnemonic) -> Option<u8> {
    Some(match m {
        Mnemonic::Jo => 0,
        Mnemonic::Jno => 1,
        Mnemonic::Jb => 2,
        Mnemonic::Jae => 3,
        Mnemonic::Je => 4,
        Mnemonic::Jne => 5,
        Mnemonic::Jbe => 6,
        Mnemonic::Ja => 7,
        Mnemonic::Js => 8,
        Mnemonic::Jns => 9,
        Mnemonic::Jp => 10,
        Mnemonic::Jnp => 11,
        Mnemonic::Jl => 12,
        Mnemonic::Jge => 13,
        Mnemonic::Jle => 14,
        Mnemonic::Jg => 15,
        _ => return None,
    })
}

/// Map 32-bit-mode-only encodings to their 64-bit-mode equivalents.
pub(crate) fn fix_code(c: Code) -> Code {
    match c {
        Code::Inc_r16 => Code::Inc_rm16,
        Code::Inc_r32 => Code::Inc_rm32,
        Code::Dec_r16 => Code::Dec_rm16,
        Code::Dec_r32 => Code::Dec_rm32,
        Code::Mov_AL_moffs8 => Code::Mov_r8_rm8,
        Code::Mov_AX_moffs16 => Code::Mov_r16_rm16,
        Code::Mov_EAX_moffs32 => Code::Mov_r32_rm32,
        Code::Mov_moffs8_AL => Code::Mov_rm8_r8,
        Code::Mov_moffs16_AX => Code::Mov_rm16_r16,
        Code::Mov_moffs32_EAX => Code::Mov_rm32_r32,
        // 0x82 is an alias of 0x80 that 64-bit mode dropped.
        Code::Add_rm8_imm8_82 => Code::Add_rm8_imm8,
        Code::Or_rm8_imm8_82 => Code::Or_rm8_imm8,
        Code::Adc_rm8_imm8_82 => Code::Adc_rm8_imm8,
        Code::Sbb_rm8_imm8_82 => Code::Sbb_rm8_imm8,
        Code::And_rm8_imm8_82 => Code::And_rm8_imm8,
        Code::Sub_rm8_imm8_82 => Code::Sub_rm8_imm8,
        Code::Xor_rm8_imm8_82 => Code::Xor_rm8_imm8,
        Code::Cmp_rm8_imm8_82 => Code::Cmp_rm8_imm8,
        _ => c,
    }
}

/// Instructions that do not exist in 64-bit mode or touch segments, done by
/// `emulate.rs`.
pub(crate) fn needs_emulation(c: Code) -> bool {
    matches!(
        c,
        Code::Daa
            | Code::Das
            | Code::Aaa
            | Code::Aas
            | Code::Aam_imm8
            | Code::Aad_imm8
            | Code::Cpuid
            | Code::Salc
            | Code::Bound_r16_m1616
            | Code::Bound_r32_m3232
            | Code::Arpl_rm16_r16
            | Code::Arpl_r32m16_r32
            | Code::Mov_Sreg_rm16
            | Code::Mov_Sreg_r32m16
            | Code::Popw_ES
            | Code::Popw_SS
            | Code::Popw_DS
            | Code::Popd_ES
            | Code::Popd_SS
            | Code::Popd_DS
            | Code::Popw_FS
            | Code::Popd_FS
            | Code::Popw_GS
            | Code::Popd_GS
            | Code::Enterw_imm16_imm8
            | Code::Pushaw
            | Code::Popaw
            | Code::Pushfw
            | Code::Popfw
            | Code::Leavew
    ) || crate::emulate::far_load_seg(c).is_some()
}

/// Tell whether an instruction touches x87 or MMX state (including the
/// instructions that save and restore it).
pub(crate) fn uses_x87(g: &Instruction) -> bool {
    use iced_x86::CpuidFeature as F;
    (0..g.op_count())
        .any(|n| g.op_kind(n) == OpKind::Register && (g.op_register(n).is_mm() || g.op_register(n).is_st()))
        || g.cpuid_features().iter().any(|f| {
            matches!(
                f,
                F::FPU
                    | F::FPU287
                    | F::FPU387
                    | F::FPU387SL_ONLY
                    | F::MMX
                    | F::FXSR
                    | F::XSAVE
                    | F::XSAVEOPT
                    | F::XSAVEC
                    | F::XSAVES
                    | F::D3NOW
                    | F::D3NOWEXT
                    | F::CYRIX_EMMI
            )
        })
        || matches!(g.mnemonic(), Mnemonic::Wait)
}

/// Tell whether an instruction's memory operand uses 16-bit addressing.
pub(crate) fn is_addr16(g: &Instruction) -> bool {
    let (b, i) = (g.memory_base(), g.memory_index());
    matches!(b, Register::BX | Register::BP | Register::SI | Register::DI)
        || matches!(i, Register::SI | Register::DI)
        || (b == Register::None && i == Register::None && g.memory_displ_size() == 2)
}

/// Far call, jump, return and iret, done by `emulate.rs`.
pub(crate) fn is_far_transfer(c: Code) -> bool {
    matches!(
        c,
        Code::Call_ptr1632
            | Code::Call_m1632
            | Code::Jmp_ptr1632
            | Code::Jmp_m1632
            | Code::Retfd
            | Code::Retfd_imm16
            | Code::Iretd
    )
}

/// Guest segment register index of a segment register, if any.
pub(crate) fn seg_index(r: Register) -> Option<usize> {
    Some(match r {
        Register::ES => SEG_ES,
        Register::CS => SEG_CS,
        Register::SS => SEG_SS,
        Register::DS => SEG_DS,
        Register::FS => SEG_FS,
        Register::GS => SEG_GS,
        _ => return None,
    })
}

/// A guest memory operand after renaming, ready to re-encode.
#[derive(Clone, Copy)]
pub(crate) struct GMem {
    pub(crate) base: Register,
    pub(crate) index: Register,
    pub(crate) scale: u32,
    pub(crate) disp: u32,
}

impl GMem {
    pub(crate) fn op(&self) -> MemoryOperand {
        let size = if self.base == Register::None && self.index == Register::None { 4 } else { 1 };
        MemoryOperand::new(self.base, self.index, self.scale, self.disp as i32 as i64, size, false, Register::GS)
    }
    pub(crate) fn plus(&self, d: u32) -> GMem {
        GMem { disp: self.disp.wrapping_add(d), ..*self }
    }
    pub(crate) fn uses(&self, r: Register) -> bool {
        self.base == r || self.index == r
    }
}

pub(crate) fn r12m(disp: i32) -> GMem {
    GMem { base: Register::R12D, index: Register::None, scale: 1, disp: disp as u32 }
}

pub(crate) struct Tx<'a> {
    pub(crate) win: &'a Window,
    pub(crate) fetch_fault: bool,
    /// Instructions of this block that a later branch in it jumps back to.
    pub(crate) loop_heads: Vec<u32>,
    /// This block already marked the guest as an x87/MMX user.
    pub(crate) x87_marked: bool,
    pub(crate) extra_pages: Vec<u32>,
    /// Guest bytes read besides the block's own (inlined thunks).
    pub(crate) extra_src: Vec<(u32, Vec<u8>)>,
    pub(crate) e: Emitter,
    pub(crate) insns: Vec<(u32, u32, u16)>,
    pub(crate) info: &'a mut InstructionInfoFactory,
    /// What the guest registers (eax..edi) will likely hold at this point
    /// of the block, from their values as it is first entered (the vCPU's
    /// state when it is translated) and the moves and loads before: guesses
    /// at the targets of indirect branches, never trusted.
    pub(crate) likely: [Option<u32>; 8],
    /// The register an inlined get_pc_thunk call set, and to what.
    pub(crate) thunk_set: Option<(usize, u32)>,
}

pub(crate) type R<T> = Result<T, String>;

/// Small operand wrapper so helpers can build iced instructions uniformly.
pub(crate) enum Op {
    Reg(Register),
    Mem(MemoryOperand),
}
impl From<Register> for Op {
    fn from(r: Register) -> Op {
        Op::Reg(r)
    }
}
impl From<MemoryOperand> for Op {
    fn from(m: MemoryOperand) -> Op {
        Op::Mem(m)
    }
}
pub(crate) fn mk2(code: Code, a: impl Into<Op>, b: impl Into<Op>) -> R<Instruction> {
    match (a.into(), b.into()) {
        (Op::Reg(x), Op::Reg(y)) => Instruction::with2(code, x, y),
        (Op::Reg(x), Op::Mem(y)) => Instruction::with2(code, x, y),
        (Op::Mem(x), Op::Reg(y)) => Instruction::with2(code, x, y),
        (Op::Mem(_), Op::Mem(_)) => return Err("two memory operands".into()),
    }
    .map_err(|e| e.to_string())
}

pub(crate) fn mk_mem_imm(code: Code, m: MemoryOperand, imm: u32) -> R<Instruction> {
    Instruction::with2(code, m, imm).map_err(|e| e.to_string())
}

pub(crate) fn lea32(dst: Register, m: GMem) -> R<Instruction> {
    let op = MemoryOperand::new(m.base, m.index, m.scale, m.disp as i32 as i64, 1, false, Register::None);
    mk2(Code::Lea_r32_m, dst, op)
}

impl Tx<'_> {
    pub(crate) fn mark(&mut self, eip: u32) {
        self.insns.push((self.e.off(), eip, 0xffff));
    }

    pub(crate) fn ins(&mut self, i: R<Instruction>) -> R<()> {
        self.e.ins(&i?)
    }

    /// Compute the operand of a guest instruction as a GMem, adding the
    /// guest fs/gs base in r13 (and r14) when the instruction uses them.
    pub(crate) fn guest_mem(&mut self, g: &Instruction) -> R<GMem> {
        let base = ren(g.memory_base());
        let index = ren(g.memory_index());
        if is_addr16(g) {
            self.addr16(g)?;
            let seg = g.memory_segment();
            if seg == Register::FS || seg == Register::GS {
                self.e.load_state32(R14, OFF_SEG_BASE + 4 * seg_index(seg).unwrap());
                let sum = GMem { base: Register::R13D, index: Register::R14D, scale: 1, disp: 0 };
                self.ins(lea32(Register::R13D, sum))?;
            }
            return Ok(GMem { base: Register::R13D, index: Register::None, scale: 1, disp: 0 });
        }
        let mut m = GMem { base, index, scale: g.memory_index_scale(), disp: g.memory_displacement32() };
        let seg = g.memory_segment();
        if seg == Register::FS || seg == Register::GS {
            let idx = seg_index(seg).unwrap();
            self.e.load_state32(R13, OFF_SEG_BASE + 4 * idx);
            match (m.base == Register::None, m.index == Register::None) {
                (true, _) => m.base = Register::R13D,
                (false, true) => {
                    m.index = Register::R13D;
                    m.scale = 1;
                }
                (false, false) => {
                    let sum = GMem { disp: 0, ..m };
                    self.ins(lea32(Register::R14D, sum))?;
                    m = GMem { base: Register::R13D, index: Register::R14D, scale: 1, disp: m.disp };
                }
            }
        }
        Ok(m)
    }

    /// Compute a 16-bit effective address (address-size prefix in 32-bit
    /// code, which 64-bit mode cannot encode) into r13d, without flags.
    pub(crate) fn addr16(&mut self, g: &Instruction) -> R<()> {
        let (base, index) = (g.memory_base(), g.memory_index());
        let disp = g.memory_displacement32() & 0xffff;
        if base != Register::None {
            self.ins(mk2(Code::Movzx_r32_rm16, Register::R13D, base))?;
        } else {
            self.ins(Instruction::with2(Code::Mov_r32_imm32, Register::R13D, 0u32).map_err(|e| e.to_string()))?;
        }
        let mut sum = GMem { base: Register::R13D, index: Register::None, scale: 1, disp };
        if index != Register::None {
            self.ins(mk2(Code::Movzx_r32_rm16, Register::R14D, index))?;
            sum.index = Register::R14D;
        }
        self.ins(lea32(Register::R13D, sum))?;
        self.ins(mk2(Code::Movzx_r32_rm16, Register::R13D, Register::R13W))
    }

    /// Load a 32-bit value (register or memory operand `n` of `g`) into r13d.
    pub(crate) fn load_op_r13(&mut self, g: &Instruction, n: u32) -> R<()> {
        match g.op_kind(n) {
            OpKind::Register => {
                let r = ren(g.op_register(n));
                if r.size() == 2 {
                    self.ins(mk2(Code::Movzx_r32_rm16, Register::R13D, r))
                } else {
                    self.ins(mk2(Code::Mov_r32_rm32, Register::R13D, r))
                }
            }
            OpKind::Memory => {
                let m = self.guest_mem(g)?;
                if g.memory_size().size() == 2 {
                    self.ins(mk2(Code::Movzx_r32_rm16, Register::R13D, m.op()))
                } else {
                    self.ins(mk2(Code::Mov_r32_rm32, Register::R13D, m.op()))
                }
            }
            k => Err(format!("operand kind {k:?}")),
        }
    }

    pub(crate) fn push_imm32(&mut self, v: u32) -> R<()> {
        self.ins(mk_mem_imm(Code::Mov_rm32_imm32, r12m(-4).op(), v))?;
        self.ins(lea32(Register::R12D, r12m(-4)))
    }

    /// Push r13d (4 bytes) or r13w (2 bytes).
    pub(crate) fn push_r13(&mut self, size: u32) -> R<()> {
        if size == 2 {
            self.ins(mk2(Code::Mov_rm16_r16, r12m(-2).op(), Register::R13W))?;
            self.ins(lea32(Register::R12D, r12m(-2)))
        } else {
            self.ins(mk2(Code::Mov_rm32_r32, r12m(-4).op(), Register::R13D))?;
            self.ins(lea32(Register::R12D, r12m(-4)))
        }
    }

    /// Host offset of guest instruction `eip` if this block translated it.
    pub(crate) fn local(&self, eip: u32) -> Option<u32> {
        self.insns.iter().find(|i| i.1 == eip && i.2 == 0xffff).map(|i| i.0)
    }

    /// Jump to guest `target`: inside the block when it is here, else a
    /// chainable exit.
    pub(crate) fn jmp_to(&mut self, target: u32) {
        match self.local(target) {
            Some(off) => self.e.jmp_local(off),
            None => self.e.jmp_guest(target),
        }
    }

    /// Conditional form of `jmp_to`.
    pub(crate) fn jcc_to(&mut self, cc: u8, target: u32) {
        match self.local(target) {
            Some(off) => self.e.jcc_local(cc, off),
            None => self.e.jcc_guest(cc, target),
        }
    }

    /// Preemption point. Every cycle in guest control flow contains a branch
    /// to a lower or equal address or an indirect one, so polling only
    /// before those bounds the time between polls.
    pub(crate) fn poll_if_backward(&mut self, g: &Instruction, target: u32) {
        // A loop inside this block polls at its head instead (see
        // `loop_heads`), which keeps cmp+jcc fused at its end.
        let polled_head = self.loop_heads.contains(&target) && self.local(target).is_some();
        if target <= g.ip32() && !polled_head {
            self.e.poll();
        }
    }

    pub(crate) fn trap(&mut self, g: &Instruction, kind: u32, next: u32) {
        self.e.exit(exit::TRAP, g.ip32(), next, kind);
    }

    /// Translate one instruction; return true if it ends the block.
    fn one(&mut self, g: &Instruction) -> R<bool> {
        let eip = g.ip32();
        let next = g.next_ip32();
        let code = g.code();

        if is_far_transfer(code) {
            self.e.exit(exit::HELPER, eip, next, 0);
            return Ok(true);
        }
        if needs_emulation(code) || (code == Code::Enterd_imm16_imm8 && g.immediate8_2nd() != 0) {
            self.e.exit(exit::HELPER, eip, next, 0);
            return Ok(true);
        }
        match code {
            // 32-bit code has one fast system call instruction, as the
            // host's maker has it: sysenter on Intel, syscall on AMD; the
            // other is #UD. Both return through the vDSO's landing pad
            // (guest.rs).
            Code::Syscall | Code::Sysenter => {
                let amd = crate::cpuid::host_is_amd();
                match (code == Code::Syscall, amd) {
                    (true, true) => self.e.exit(exit::SYSCALL, eip, next, SYSCALL32),
                    (false, false) => self.e.exit(exit::SYSCALL, eip, next, SYSENTER),
                    _ => self.trap(g, trap::ILL, next),
                }
                return Ok(true);
            }
            _ => {}
        }
        if g.is_privileged()
            || code == Code::Hlt
            || matches!(
                g.mnemonic(),
                Mnemonic::Insb
                    | Mnemonic::Insw
                    | Mnemonic::Insd
                    | Mnemonic::Outsb
                    | Mnemonic::Outsw
                    | Mnemonic::Outsd
                    | Mnemonic::In
                    | Mnemonic::Out
            )
        {
            self.trap(g, trap::GP, next);
            return Ok(true);
        }
        if !self.x87_marked && uses_x87(g) {
            // From now on the whole FPU image travels with this guest.
            self.e.store_state_imm(OFF_X87_LIVE, 1);
            self.x87_marked = true;
        }
        if g.is_string_instruction() {
            return self.string_op(g);
        }
        match g.flow_control() {
            FlowControl::Next => {}
            // Blocks continue past conditional branches: the not-taken
            // path falls through with no jump at all.
            FlowControl::ConditionalBranch => return self.cond_branch(g).map(|_| false),
            FlowControl::UnconditionalBranch => {
                if g.op0_kind() == OpKind::NearBranch32 || g.op0_kind() == OpKind::NearBranch16 {
                    let target = g.near_branch_target() as u32;
                    self.poll_if_backward(g, target);
                    self.jmp_to(target);
                } else {
                    self.trap(g, trap::GP, next); // far jmp
                }
                return Ok(true);
            }
            FlowControl::Call => {
                if g.op0_kind() == OpKind::NearBranch32 {
                    let target = g.near_branch_target() as u32;
                    if let Some(reg) = self.pc_thunk(target) {
                        // call __x86.get_pc_thunk.REG: REG = return address;
                        // the stack slot below esp is written as the call would.
                        self.ins(mk_mem_imm(Code::Mov_rm32_imm32, r12m(-4).op(), next))?;
                        self.ins(Instruction::with2(Code::Mov_r32_imm32, reg, next).map_err(|e| e.to_string()))?;
                        self.thunk_set = Some((reg as usize - Register::EAX as usize, next));
                        return Ok(false);
                    }
                    if target == next {
                        // call $+5 reads eip: a push, and nothing to return to.
                        self.push_imm32(next)?;
                        return Ok(false);
                    }
                    self.poll_if_backward(g, target);
                    self.push_imm32(next)?;
                    // The host call leaves the return point on the shadow
                    // stack; the block goes on there (see ret_shadow).
                    self.e.call_guest(target, next);
                    return Ok(false);
                }
                self.trap(g, trap::GP, next); // 16-bit or far call
                return Ok(true);
            }
            FlowControl::IndirectBranch | FlowControl::IndirectCall => {
                if matches!(code, Code::Jmp_rm32 | Code::Call_rm32) {
                    if let Some(guess) = self.ic_guess(g) {
                        self.indirect_ic(g, code == Code::Call_rm32, guess)?;
                        return Ok(code != Code::Call_rm32);
                    }
                    self.e.poll();
                    self.load_op_r13(g, 0)?;
                    if code == Code::Call_rm32 {
                        self.ins(mk_mem_imm(Code::Mov_rm32_imm32, r12m(-4).op(), next))?;
                        self.ins(lea32(Register::R12D, r12m(-4)))?;
                        self.e.call_lookup(next);
                        return Ok(false);
                    }
                    self.e.lookup_r13();
                } else {
                    self.trap(g, trap::GP, next); // far or 16-bit indirect
                }
                return Ok(true);
            }
            FlowControl::Return => {
                match code {
                    Code::Retnd | Code::Retnd_imm16 => {
                        self.e.poll();
                        let extra = if code == Code::Retnd_imm16 { g.immediate16() as i32 } else { 0 };
                        self.ins(mk2(Code::Mov_r32_rm32, Register::R13D, r12m(0).op()))?;
                        self.ins(lea32(Register::R12D, r12m(4 + extra)))?;
                        self.e.ret_shadow();
                    }
                    _ => self.trap(g, trap::GP, next), // retf, iret, 16-bit ret
                }
                return Ok(true);
            }
            FlowControl::Interrupt => {
                match code {
                    Code::Int_imm8 if g.immediate8() == 0x80 => self.e.exit(exit::SYSCALL, eip, next, 0),
                    // Vectors 3 and 4 are open to user mode: traps, eip after.
                    Code::Int_imm8 if g.immediate8() == 3 => self.trap(g, trap::BRK, next),
                    Code::Int_imm8 if g.immediate8() == 4 => self.trap(g, trap::OVERFLOW, next),
                    Code::Int3 => self.trap(g, trap::BRK, next),
                    Code::Into => {
                        // jno over the trap exit
                        let mut t = Emitter::new();
                        t.exit(exit::TRAP, eip, next, trap::OVERFLOW);
                        self.e.bytes(&[0x71, t.code.len() as u8]);
                        self.e.bytes(&t.code);
                        self.e.jmp_guest(next);
                    }
                    _ => self.trap(g, trap::GP, next),
                }
                return Ok(true);
            }
            FlowControl::Exception => {
                let kind = match code {
                    Code::Int1 => trap::BRK,
                    Code::Ud0
                    | Code::Ud0_r16_rm16
                    | Code::Ud0_r32_rm32
                    | Code::Ud1_r16_rm16
                    | Code::Ud1_r32_rm32
                    | Code::Ud2 => trap::ILL,
                    _ => trap::GP,
                };
                self.trap(g, kind, next);
                return Ok(true);
            }
            FlowControl::XbeginXabortXend => {
                self.trap(g, trap::ILL, next);
                return Ok(true);
            }
        }
        if g.is_stack_instruction() {
            return self.stack_op(g).map(|_| false);
        }
        match code {
            Code::Mov_rm16_Sreg | Code::Mov_r32m16_Sreg => return self.read_sreg(g).map(|_| false),
            Code::Sysexitd => {
                self.trap(g, trap::GP, next);
                return Ok(true);
            }
            _ => {}
        }
        self.generic(g).map(|_| false)
    }

    /// Guess the target of an indirect jmp or call (a PLT entry's
    /// `jmp *GOT(%ebx)`, a call through a function pointer): the value of
    /// its operand from the likely registers, read from guest memory now
    /// for a memory operand.
    fn ic_guess(&self, g: &Instruction) -> Option<u32> {
        match g.op0_kind() {
            OpKind::Register => self.likely_reg(g.op0_register()),
            OpKind::Memory => self.likely_load(g),
            _ => None,
        }
    }

    fn likely_reg(&self, r: Register) -> Option<u32> {
        if r == Register::None {
            return Some(0);
        }
        let i = (r as usize).checked_sub(Register::EAX as usize).filter(|&i| i < 8)?;
        self.likely[i]
    }

    /// The likely address of `g`'s memory operand.
    fn likely_addr(&self, g: &Instruction) -> Option<u32> {
        if is_addr16(g) || matches!(g.memory_segment(), Register::FS | Register::GS) {
            return None;
        }
        let index = self.likely_reg(g.memory_index())?.wrapping_mul(g.memory_index_scale());
        Some(self.likely_reg(g.memory_base())?.wrapping_add(index).wrapping_add(g.memory_displacement32()))
    }

    /// The dword `g`'s memory operand likely reads: what guest memory holds
    /// there now.
    fn likely_load(&self, g: &Instruction) -> Option<u32> {
        let mut b = [0u8; 4];
        self.win.read(self.likely_addr(g)?, &mut b).ok()?;
        Some(u32::from_le_bytes(b))
    }

    /// An indirect jmp or call with an inline cache: when the target is
    /// `guess`, a direct (chainable) jump or call to it; else the table
    /// lookup. The guess only decides speed, never where the guest goes.
    fn indirect_ic(&mut self, g: &Instruction, call: bool, guess: u32) -> R<()> {
        let next = g.next_ip32();
        self.load_op_r13(g, 0)?;
        let hit = self.e.ic_test(guess);
        self.e.restore_rcx();
        self.e.poll();
        let mut skip = None;
        if call {
            self.push_imm32(next)?;
            self.e.call_lookup(next);
            skip = Some(self.e.jmp_short());
        } else {
            self.e.lookup_r13();
        }
        self.e.patch_rel8(hit)?;
        self.e.restore_rcx();
        // The hit path is a direct branch to `guess`: it polls as one.
        if guess <= g.ip32() {
            self.e.poll();
        }
        if call {
            self.push_imm32(next)?;
            self.e.call_guest(guess, next);
            if let Some(skip) = skip {
                self.e.patch_rel8(skip)?;
            }
        } else {
            self.jmp_to(guess);
        }
        Ok(())
    }

    /// The pushes (`push` true) or pops that follow `first` at `pos` in
    /// `bytes`, to go with it in one run: none of them a loop head, at most
    /// `room` of them.
    fn stack_run(&self, first: &Instruction, push: bool, bytes: &[u8], pos: usize, room: usize) -> Vec<Instruction> {
        let mut run = Vec::new();
        let mut dec = Decoder::with_ip(32, &bytes[pos..], first.next_ip32() as u64, DecoderOptions::NONE);
        while run.len() + 1 < STACK_RUN_MAX.min(room + 1) && dec.can_decode() {
            let g = dec.decode();
            if g.is_invalid() || stack_run_kind(&g) != Some(push) || self.loop_heads.contains(&g.ip32()) {
                break;
            }
            run.push(g);
        }
        run
    }

    /// Emit `first` and `run` (all pushes or all pops) with one esp
    /// update: the stores (loads) go through r12 at their final offsets,
    /// then one lea moves it. Each later instruction gets its own entry in
    /// the block index, which tells the fault handler how far esp would
    /// have moved by then, so a fault in the run stays precise.
    fn emit_stack_run(&mut self, first: &Instruction, push: bool, run: &[Instruction]) -> R<()> {
        for (j, g) in std::iter::once(first).chain(run).enumerate() {
            let j32 = j as u32;
            if j > 0 {
                let delta = if push { j32 } else { 7 + j32 };
                self.insns.push((self.e.off(), g.ip32(), 0xfff0 | delta as u16));
            }
            if push {
                let slot = r12m(-4 * (j as i32 + 1)).op();
                if g.code() == Code::Push_r32 {
                    self.ins(mk2(Code::Mov_rm32_r32, slot, g.op0_register()))?;
                } else {
                    self.ins(mk_mem_imm(Code::Mov_rm32_imm32, slot, g.immediate(0) as u32))?;
                }
            } else {
                self.ins(mk2(Code::Mov_r32_rm32, g.op0_register(), r12m(4 * j as i32).op()))?;
            }
        }
        let n = 4 * (run.len() as i32 + 1);
        self.ins(lea32(Register::R12D, r12m(if push { -n } else { n })))
    }

    /// Follow the likely register values past `g` (translated, not the
    /// end of the block): moves, loads, lea and stack steps are followed,
    /// any other write makes a register unknown.
    fn note_writes(&mut self, g: &Instruction) {
        if self.likely.iter().all(|v| v.is_none()) {
            return;
        }
        let reg = |r: Register| (r as usize).checked_sub(Register::EAX as usize).filter(|&i| i < 8);
        let value = match g.code() {
            Code::Mov_r32_rm32 | Code::Mov_rm32_r32 if g.op1_kind() == OpKind::Register => {
                self.likely_reg(g.op1_register())
            }
            Code::Mov_r32_rm32 => self.likely_load(g),
            Code::Mov_r32_imm32 => Some(g.immediate32()),
            Code::Lea_r32_m => self.likely_addr(g),
            _ => None,
        };
        let esp = self.likely[ESP];
        let call = matches!(g.flow_control(), FlowControl::Call | FlowControl::IndirectCall);
        for u in self.info.info(g).used_registers() {
            let w = matches!(
                u.access(),
                OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite
            );
            if w && u.register().is_gpr() {
                if let Some(i) = reg(u.register().full_register32()) {
                    self.likely[i] = None;
                }
            }
        }
        if call {
            // The callee returns with esp where it was; it may change
            // the caller-saved registers.
            self.likely[ESP] = esp;
            self.likely[EAX] = None;
            self.likely[ECX] = None;
            self.likely[EDX] = None;
            if let Some((r, v)) = self.thunk_set.take() {
                self.likely[r] = Some(v);
            }
            return;
        }
        if g.op0_kind() == OpKind::Register && g.op0_register().size() == 4 {
            if let Some(i) = reg(g.op0_register()).filter(|_| value.is_some()) {
                self.likely[i] = value;
            }
        }
        let step = match g.code() {
            Code::Sub_rm32_imm8 | Code::Sub_rm32_imm32 if g.op0_register() == Register::ESP => {
                Some(g.immediate32().wrapping_neg() as i32)
            }
            Code::Add_rm32_imm8 | Code::Add_rm32_imm32 if g.op0_register() == Register::ESP => {
                Some(g.immediate32() as i32)
            }
            Code::Push_r32 | Code::Pushd_imm8 | Code::Pushd_imm32 | Code::Push_rm32 => Some(-4),
            Code::Pop_r32 if g.op0_register() != Register::ESP => Some(4),
            _ => None,
        };
        if let (Some(s), Some(sp)) = (step, esp) {
            self.likely[ESP] = Some(sp.wrapping_add(s as u32));
        }
    }

    /// Recognise `mov REG, [esp]; ret` (gcc's __x86.get_pc_thunk.REG) at
    /// `target`, and remember its page: the inlined copy depends on it.
    fn pc_thunk(&mut self, target: u32) -> Option<Register> {
        let mut b = [0u8; 4];
        self.win.read_exec(target, &mut b).ok()?;
        self.extra_src.push((target, b.to_vec()));
        if b[0] != 0x8b || b[2] != 0x24 || b[3] != 0xc3 || b[1] & 0xc7 != 0x04 {
            return None;
        }
        let r = (b[1] >> 3) & 7;
        if r == 4 {
            return None;
        }
        self.extra_pages.push(target >> PAGE_SHIFT);
        Register::try_from(Register::EAX as usize + r as usize).ok()
    }
}

impl Tx<'_> {
    /// Decode and translate the block's instructions from `bytes` (at
    /// `eip`); return how many bytes the decoder read and how many
    /// instructions the block holds.
    fn body(
        &mut self,
        bytes: &[u8],
        eip: u32,
        limit: usize,
        single: bool,
        fault_at: Option<u32>,
        last_byte: &mut u32,
    ) -> (usize, usize) {
        let tx = self;
        let mut dec = Decoder::with_ip(32, bytes, eip as u64, DecoderOptions::NONE);
        let mut g = Instruction::default();
        let mut n = 0;
        loop {
            let at = dec.ip() as u32;
            if n == limit {
                tx.mark(at);
                if single {
                    tx.e.exit(exit::NOCHAIN, at, at, 0);
                } else {
                    tx.e.jmp_guest(at);
                }
                break;
            }
            if !dec.can_decode() {
                tx.mark(at);
                match fault_at {
                    Some(addr) => {
                        tx.fetch_fault = true;
                        tx.e.exit(exit::TRAP, at, addr, trap::FETCH)
                    }
                    None => tx.e.jmp_guest(at),
                }
                break;
            }
            dec.decode_out(&mut g);
            if g.is_invalid() {
                tx.mark(at);
                if dec.last_error() == DecoderError::NoMoreBytes {
                    match fault_at {
                        Some(addr) => {
                            tx.fetch_fault = true;
                            tx.e.exit(exit::TRAP, at, addr, trap::FETCH)
                        }
                        None => tx.e.jmp_guest(at), // instruction continues past this fetch
                    }
                } else {
                    tx.e.exit(exit::TRAP, at, at, trap::ILL);
                }
                break;
            }
            n += 1;
            *last_byte = g.next_ip32().wrapping_sub(1);
            if tx.loop_heads.contains(&at) {
                // Loop heads start a 32-byte fetch window, as compilers align them.
                tx.e.align(64);
                tx.mark(at);
                tx.e.poll();
            } else {
                tx.mark(at);
            }
            let save = (tx.e.code.len(), tx.e.exits.len(), tx.insns.len());
            if let Some(k) = stack_run_kind(&g) {
                let run = tx.stack_run(&g, k, bytes, dec.position(), limit - n);
                if !run.is_empty() {
                    let after = run[run.len() - 1].next_ip32();
                    let skipped: usize = run.iter().map(|r| r.len()).sum();
                    if tx.emit_stack_run(&g, k, &run).is_ok() && dec.set_position(dec.position() + skipped).is_ok() {
                        dec.set_ip(after as u64);
                        n += run.len();
                        *last_byte = after.wrapping_sub(1);
                        tx.note_writes(&g);
                        for r in &run {
                            tx.note_writes(r);
                        }
                        continue;
                    }
                    tx.e.truncate(save.0, save.1);
                    tx.insns.truncate(save.2);
                }
            }
            match tx.one(&g) {
                Ok(true) => break,
                Ok(false) => tx.note_writes(&g),
                Err(why) => {
                    // Unsupported form: undo and raise SIGILL, as a CPU without
                    // the feature would.
                    tx.e.truncate(save.0, save.1);
                    tx.insns.truncate(save.2);
                    if std::env::var_os("VX_DEBUG").is_some() {
                        eprintln!("vx: cannot translate {:#x} {:?}: {}", at, g.code(), why);
                    }
                    tx.e.exit(exit::TRAP, at, at, trap::ILL);
                    break;
                }
            }
        }
        (dec.position(), n)
    }
}

/// A push or pop that `Tx::stack_run` can fuse with its neighbours:
/// `Some(true)` for a push of a register (not esp) or an immediate,
/// `Some(false)` for a pop into a register other than esp.
fn stack_run_kind(g: &Instruction) -> Option<bool> {
    match g.code() {
        Code::Push_r32 if g.op0_register() != Register::ESP => Some(true),
        Code::Pushd_imm8 | Code::Pushd_imm32 => Some(true),
        Code::Pop_r32 if g.op0_register() != Register::ESP => Some(false),
        _ => None,
    }
}

/// Pushes (pops) a run may hold; the fault handler's esp correction
/// (`sigfault.rs`) counts at most 7 before the faulting one.
const STACK_RUN_MAX: usize = 8;

/// Fetch guest code at `eip`: bytes up to the first page the guest cannot
/// execute, at most `max` bytes. Returns the bytes and the fault address if
/// the fetch stopped at a non-executable page.
fn fetch(win: &Window, eip: u32, max: usize) -> (Vec<u8>, Option<u32>) {
    let mut out = Vec::with_capacity(max);
    let mut a = eip;
    while out.len() < max {
        let f = win.page_flags(a);
        if f & pf::MAPPED == 0 || f & pf::EXEC == 0 {
            return (out, Some(a));
        }
        let page_left = (PAGE_SIZE - a % PAGE_SIZE) as usize;
        let n = page_left.min(max - out.len());
        let start = out.len();
        out.resize(start + n, 0);
        if win.read_exec(a, &mut out[start..]).is_err() {
            out.truncate(start);
            return (out, Some(a));
        }
        a = a.wrapping_add(n as u32);
        if a == 0 {
            return (out, Some(0)); // no wrap past 4 GiB
        }
    }
    (out, None)
}

/// Find the instructions that branches later in the block jump back to:
/// a first pass over what the block will hold (it may overshoot where the
/// real pass stops, which only costs an unneeded poll). Also returns how
/// many bytes it decoded, and whether it met an indirect jmp or call.
fn loop_heads(bytes: &[u8], eip: u32, limit: usize) -> (Vec<u32>, usize, bool) {
    let mut dec = Decoder::with_ip(32, bytes, eip as u64, DecoderOptions::NONE);
    let mut seen = Vec::new();
    let mut heads = Vec::new();
    let mut g = Instruction::default();
    let mut indirect = false;
    while dec.can_decode() && seen.len() < limit {
        dec.decode_out(&mut g);
        if g.is_invalid() {
            break;
        }
        seen.push(g.ip32());
        indirect |= matches!(g.flow_control(), FlowControl::IndirectBranch | FlowControl::IndirectCall);
        match g.flow_control() {
            FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch => {
                let t = g.near_branch_target() as u32;
                if t <= g.ip32() && seen.contains(&t) && !heads.contains(&t) {
                    heads.push(t);
                }
                if g.flow_control() == FlowControl::UnconditionalBranch {
                    break;
                }
            }
            FlowControl::Next | FlowControl::Call => {}
            _ => break,
        }
    }
    (heads, dec.position(), indirect)
}

/// Translate the block at `eip`. With `single`, translate one instruction
/// only (used to step over a write into the block's own page). `regs`, the
/// guest registers as the block is about to run, give indirect branches a
/// first guess at their target.
pub fn translate(
    win: &Window,
    eip: u32,
    single: bool,
    info: &mut InstructionInfoFactory,
    regs: Option<[u32; 8]>,
) -> Block {
    let (mut bytes, fault_at) = fetch(win, eip, if single { 16 } else { 16 * MAX_BLOCK_INSNS });
    let limit = if single { 1 } else { MAX_BLOCK_INSNS };
    // Nothing fetched: the block is just its fetch fault, made without
    // the decoder (whose tables a run served from kept translations may
    // otherwise never need).
    let (heads, scanned, indirect) =
        if bytes.is_empty() { (Vec::new(), 0, false) } else { loop_heads(&bytes, eip, limit) };
    // Register values are followed only for blocks with an indirect branch
    // to guess for.
    let regs = regs.filter(|_| indirect);
    let mut tx = Tx {
        fetch_fault: false,
        win,
        loop_heads: heads,
        x87_marked: false,
        extra_pages: Vec::new(),
        extra_src: Vec::new(),
        e: Emitter::new(),
        insns: Vec::new(),
        info,
        likely: regs.map(|r| r.map(Some)).unwrap_or_default(),
        thunk_set: None,
    };
    let mut last_byte = eip;
    let (decoded, n) = match fault_at {
        Some(addr) if bytes.is_empty() => {
            tx.mark(eip);
            tx.fetch_fault = true;
            tx.e.exit(exit::TRAP, eip, addr, trap::FETCH);
            (0, 0)
        }
        _ => tx.body(&bytes, eip, limit, single, fault_at, &mut last_byte),
    };
    tx.e.finish_stubs();
    let mut pages: Vec<u32> = ((eip >> PAGE_SHIFT)..=(last_byte.max(eip) >> PAGE_SHIFT)).collect();
    pages.extend(&tx.extra_pages);
    pages.sort_unstable();
    pages.dedup();
    // The translation depends on the bytes either pass decoded, and on no
    // more than one instruction's length past them (an instruction that
    // failed to decode): the rest of the fetch window is not kept, so a
    // change there does not make the translation look stale.
    let used = scanned.max(decoded) + 15;
    bytes.truncate(used);
    let mut src = vec![(eip, bytes)];
    src.append(&mut tx.extra_src);
    let guest_len = if n == 0 { 0 } else { last_byte.wrapping_sub(eip).wrapping_add(1) };
    let (code, insns, exits, fetch_fault) = (tx.e.code, tx.insns, tx.e.exits, tx.fetch_fault);
    Block { eip, code, insns, exits, pages, fetch_fault, src, guest_insns: n as u32, guest_len }
}
