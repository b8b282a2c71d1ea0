//! The translator: decode a block of i386 code and emit confined x86-64
//! code for it.
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
    Mnemonic, OpKind, Register,
};

/// Maximum guest instructions in one block.
pub const MAX_BLOCK_INSNS: usize = 64;

/// `exit_arg` of an `exit::SYSCALL` made by sysenter rather than int 0x80.
pub const SYSENTER: u32 = 1;

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
}

fn ren(r: Register) -> Register {
    match r {
        Register::ESP => Register::R12D,
        Register::SP => Register::R12W,
        _ => r,
    }
}

fn is_high8(r: Register) -> bool {
    matches!(r, Register::AH | Register::CH | Register::DH | Register::BH)
}

fn cond_code(m: Mnemonic) -> Option<u8> {
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
fn fix_code(c: Code) -> Code {
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
fn needs_emulation(c: Code) -> bool {
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
            | Code::Lds_r16_m1616
            | Code::Lds_r32_m1632
            | Code::Les_r16_m1616
            | Code::Les_r32_m1632
            | Code::Lss_r16_m1616
            | Code::Lss_r32_m1632
            | Code::Lfs_r16_m1616
            | Code::Lfs_r32_m1632
            | Code::Lgs_r16_m1616
            | Code::Lgs_r32_m1632
            | Code::Enterw_imm16_imm8
            | Code::Pushaw
            | Code::Popaw
            | Code::Pushfw
            | Code::Popfw
            | Code::Leavew
    )
}

/// The tag a call pushes on the shadow stack with its return point:
/// `-(ret+1)`, so that `lea r11d, [tag + r13 + 1]` is zero when r13d is
/// the return address.
fn ret_tag(ret: u32) -> u32 {
    ret.wrapping_add(1).wrapping_neg()
}

/// Tell whether an instruction touches x87 or MMX state (including the
/// instructions that save and restore it).
fn uses_x87(g: &Instruction) -> bool {
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
fn is_far_transfer(c: Code) -> bool {
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
fn seg_index(r: Register) -> Option<usize> {
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
struct GMem {
    base: Register,
    index: Register,
    scale: u32,
    disp: u32,
}

impl GMem {
    fn op(&self) -> MemoryOperand {
        let size = if self.base == Register::None && self.index == Register::None { 4 } else { 1 };
        MemoryOperand::new(self.base, self.index, self.scale, self.disp as i32 as i64, size, false, Register::GS)
    }
    fn plus(&self, d: u32) -> GMem {
        GMem { disp: self.disp.wrapping_add(d), ..*self }
    }
    fn uses(&self, r: Register) -> bool {
        self.base == r || self.index == r
    }
}

fn r12m(disp: i32) -> GMem {
    GMem { base: Register::R12D, index: Register::None, scale: 1, disp: disp as u32 }
}

struct Tx<'a> {
    win: &'a Window,
    fetch_fault: bool,
    /// Instructions of this block that a later branch in it jumps back to.
    loop_heads: Vec<u32>,
    /// This block already marked the guest as an x87/MMX user.
    x87_marked: bool,
    extra_pages: Vec<u32>,
    e: Emitter,
    insns: Vec<(u32, u32, u16)>,
    info: &'a mut InstructionInfoFactory,
}

type R<T> = Result<T, String>;

/// Small operand wrapper so helpers can build iced instructions uniformly.
enum Op {
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
fn mk2(code: Code, a: impl Into<Op>, b: impl Into<Op>) -> R<Instruction> {
    match (a.into(), b.into()) {
        (Op::Reg(x), Op::Reg(y)) => Instruction::with2(code, x, y),
        (Op::Reg(x), Op::Mem(y)) => Instruction::with2(code, x, y),
        (Op::Mem(x), Op::Reg(y)) => Instruction::with2(code, x, y),
        (Op::Mem(_), Op::Mem(_)) => return Err("two memory operands".into()),
    }
    .map_err(|e| e.to_string())
}

fn mk_mem_imm(code: Code, m: MemoryOperand, imm: u32) -> R<Instruction> {
    Instruction::with2(code, m, imm).map_err(|e| e.to_string())
}

fn lea32(dst: Register, m: GMem) -> R<Instruction> {
    let op = MemoryOperand::new(m.base, m.index, m.scale, m.disp as i32 as i64, 1, false, Register::None);
    mk2(Code::Lea_r32_m, dst, op)
}

impl Tx<'_> {
    fn mark(&mut self, eip: u32) {
        self.insns.push((self.e.off(), eip, 0xffff));
    }

    fn ins(&mut self, i: R<Instruction>) -> R<()> {
        self.e.ins(&i?)
    }

    /// Compute the operand of a guest instruction as a GMem, adding the
    /// guest fs/gs base in r13 (and r14) when the instruction uses them.
    fn guest_mem(&mut self, g: &Instruction) -> R<GMem> {
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
    fn addr16(&mut self, g: &Instruction) -> R<()> {
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
    fn load_op_r13(&mut self, g: &Instruction, n: u32) -> R<()> {
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

    fn push_imm32(&mut self, v: u32) -> R<()> {
        self.ins(mk_mem_imm(Code::Mov_rm32_imm32, r12m(-4).op(), v))?;
        self.ins(lea32(Register::R12D, r12m(-4)))
    }

    /// Push r13d (4 bytes) or r13w (2 bytes).
    fn push_r13(&mut self, size: u32) -> R<()> {
        if size == 2 {
            self.ins(mk2(Code::Mov_rm16_r16, r12m(-2).op(), Register::R13W))?;
            self.ins(lea32(Register::R12D, r12m(-2)))
        } else {
            self.ins(mk2(Code::Mov_rm32_r32, r12m(-4).op(), Register::R13D))?;
            self.ins(lea32(Register::R12D, r12m(-4)))
        }
    }

    /// Host offset of guest instruction `eip` if this block translated it.
    fn local(&self, eip: u32) -> Option<u32> {
        self.insns.iter().find(|i| i.1 == eip && i.2 == 0xffff).map(|i| i.0)
    }

    /// Jump to guest `target`: inside the block when it is here, else a
    /// chainable exit.
    fn jmp_to(&mut self, target: u32) {
        match self.local(target) {
            Some(off) => self.e.jmp_local(off),
            None => self.e.jmp_guest(target),
        }
    }

    /// Conditional form of `jmp_to`.
    fn jcc_to(&mut self, cc: u8, target: u32) {
        match self.local(target) {
            Some(off) => self.e.jcc_local(cc, off),
            None => self.e.jcc_guest(cc, target),
        }
    }

    /// Preemption point. Every cycle in guest control flow contains a branch
    /// to a lower or equal address or an indirect one, so polling only
    /// before those bounds the time between polls.
    fn poll_if_backward(&mut self, g: &Instruction, target: u32) {
        // A loop inside this block polls at its head instead (see
        // `loop_heads`), which keeps cmp+jcc fused at its end.
        let polled_head = self.loop_heads.contains(&target) && self.local(target).is_some();
        if target <= g.ip32() && !polled_head {
            self.e.poll();
        }
    }

    fn trap(&mut self, g: &Instruction, kind: u32, next: u32) {
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
            // syscall is #UD for 32-bit code on Intel; sysenter is a system
            // call that returns through the vDSO's landing pad (guest.rs).
            Code::Syscall => {
                self.trap(g, trap::ILL, next);
                return Ok(true);
            }
            Code::Sysenter => {
                self.e.exit(exit::SYSCALL, eip, next, SYSENTER);
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
                    self.e.push_host_imm(ret_tag(next));
                    self.e.call_guest(target);
                    return Ok(false);
                }
                self.trap(g, trap::GP, next); // 16-bit or far call
                return Ok(true);
            }
            FlowControl::IndirectBranch | FlowControl::IndirectCall => {
                if matches!(code, Code::Jmp_rm32 | Code::Call_rm32) {
                    self.e.poll();
                    self.load_op_r13(g, 0)?;
                    if code == Code::Call_rm32 {
                        self.ins(mk_mem_imm(Code::Mov_rm32_imm32, r12m(-4).op(), next))?;
                        self.ins(lea32(Register::R12D, r12m(-4)))?;
                        self.e.push_host_imm(ret_tag(next));
                        self.e.call_lookup();
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
                    Code::Syscall => self.trap(g, trap::ILL, next),
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

    /// Recognise `mov REG, [esp]; ret` (gcc's __x86.get_pc_thunk.REG) at
    /// `target`, and remember its page: the inlined copy depends on it.
    fn pc_thunk(&mut self, target: u32) -> Option<Register> {
        let mut b = [0u8; 4];
        self.win.read_exec(target, &mut b).ok()?;
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

    fn cond_branch(&mut self, g: &Instruction) -> R<()> {
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
    fn cx_branch(&mut self, g: &Instruction, target: u32) -> R<()> {
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

    fn read_sreg(&mut self, g: &Instruction) -> R<()> {
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

    fn stack_op(&mut self, g: &Instruction) -> R<()> {
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

    fn string_op(&mut self, g: &Instruction) -> R<bool> {
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

    fn generic(&mut self, g: &Instruction) -> R<()> {
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
/// real pass stops, which only costs an unneeded poll).
fn loop_heads(bytes: &[u8], eip: u32, limit: usize) -> Vec<u32> {
    let mut dec = Decoder::with_ip(32, bytes, eip as u64, DecoderOptions::NONE);
    let mut seen = Vec::new();
    let mut heads = Vec::new();
    let mut g = Instruction::default();
    while dec.can_decode() && seen.len() < limit {
        dec.decode_out(&mut g);
        if g.is_invalid() {
            break;
        }
        seen.push(g.ip32());
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
    heads
}

/// Translate the block at `eip`. With `single`, translate one instruction
/// only (used to step over a write into the block's own page).
pub fn translate(win: &Window, eip: u32, single: bool, info: &mut InstructionInfoFactory) -> Block {
    let (bytes, fault_at) = fetch(win, eip, if single { 16 } else { 16 * MAX_BLOCK_INSNS });
    let limit = if single { 1 } else { MAX_BLOCK_INSNS };
    let mut tx = Tx {
        fetch_fault: false,
        win,
        loop_heads: loop_heads(&bytes, eip, limit),
        x87_marked: false,
        extra_pages: Vec::new(),
        e: Emitter::new(),
        insns: Vec::new(),
        info,
    };
    let mut dec = Decoder::with_ip(32, &bytes, eip as u64, DecoderOptions::NONE);
    let mut g = Instruction::default();
    let mut n = 0;
    let mut last_byte = eip;
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
        last_byte = g.next_ip32().wrapping_sub(1);
        if tx.loop_heads.contains(&at) {
            // Loop heads start a 32-byte fetch window, as compilers align them.
            tx.e.align(64);
            tx.mark(at);
            tx.e.poll();
        } else {
            tx.mark(at);
        }
        let save = (tx.e.code.len(), tx.e.exits.len(), tx.insns.len());
        match tx.one(&g) {
            Ok(true) => break,
            Ok(false) => {}
            Err(why) => {
                // Unsupported form: undo and raise SIGILL, as a CPU without
                // the feature would.
                tx.e.code.truncate(save.0);
                tx.e.exits.truncate(save.1);
                tx.insns.truncate(save.2);
                if std::env::var_os("VX_DEBUG").is_some() {
                    eprintln!("vx: cannot translate {:#x} {:?}: {}", at, g.code(), why);
                }
                tx.e.exit(exit::TRAP, at, at, trap::ILL);
                break;
            }
        }
    }
    tx.e.finish_stubs();
    let mut pages: Vec<u32> = ((eip >> PAGE_SHIFT)..=(last_byte.max(eip) >> PAGE_SHIFT)).collect();
    pages.extend(&tx.extra_pages);
    pages.sort_unstable();
    pages.dedup();
    Block { eip, code: tx.e.code, insns: tx.insns, exits: tx.e.exits, pages, fetch_fault: tx.fetch_fault }
}
