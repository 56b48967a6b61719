/* SPDX-License-Identifier: Apache-2.0 */
/* Entry: rdi = boot info, rsp = top of the stack (host-set), CPL3. */
	.section .text.start, "ax"
	.globl _start
	.type _start, @function
_start:
	xor %ebp, %ebp
	and $-16, %rsp
	call mvm_start
	ud2
	.section .note.GNU-stack, "", @progbits
