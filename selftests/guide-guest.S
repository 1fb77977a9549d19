/* SPDX-License-Identifier: GPL-2.0 */
/*
 * guide-guest.S - the guest that selftests/test_admin_guide.sh boots with
 * the operator guide's QEMU command: a boot sector, the whole of the
 * guest's root disk (/var/lib/vqos/vm1-root.img).
 *
 * The firmware (SeaBIOS) boots it from BIOS disk 0x80, the root disk (the
 * guide gives it bootindex=0); the two vqos disks are 0x81 and 0x82. It
 * reads the first sector of each with int 13h, through SeaBIOS's
 * virtio-blk driver and so through vqos, prints to COM1
 *
 *	vqos-guide-guest: 81:SS 82:SS\r\n
 *
 * SS being the int 13h status of each read in hex (00: read, 01: no such
 * disk, 80: timeout...), and halts. Built by the test:
 *
 *	as --32 -o guide-guest.o guide-guest.S
 *	ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o vm1-root.img guide-guest.o
 */
	.code16
	.text
	.globl	_start
_start:
	cli
	xor	%ax, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0x7c00, %sp
	sti
	mov	$hello, %si
	call	puts
	mov	$0x81, %dl
	call	readone
	mov	$0x82, %dl
	call	readone
	mov	$crlf, %si
	call	puts
1:	cli
	hlt
	jmp	1b

/* readone: read sector 0 (CHS 0/0/1) of disk %dl to 0x7e00, print " DL:AH" */
readone:
	mov	%dl, %bl
	mov	$' ', %al
	call	putc
	mov	%bl, %al
	call	puthex
	mov	$':', %al
	call	putc
	mov	%bl, %dl
	mov	$0x0201, %ax		/* read, 1 sector */
	mov	$0x0001, %cx		/* cylinder 0, sector 1 */
	xor	%dh, %dh		/* head 0 */
	mov	$0x7e00, %bx
	int	$0x13
	mov	%ah, %al
	jmp	puthex

/* puthex: %al as two hex digits */
puthex:
	push	%ax
	shr	$4, %al
	call	nibble
	pop	%ax
nibble:
	and	$0x0f, %al
	add	$'0', %al
	cmp	$'9', %al
	jbe	putc
	add	$('a' - '0' - 10), %al
/* putc: %al to COM1, once its transmitter is empty */
putc:
	push	%dx
	push	%ax
	mov	$0x3fd, %dx
2:	in	%dx, %al
	test	$0x20, %al
	jz	2b
	pop	%ax
	mov	$0x3f8, %dx
	out	%al, %dx
	pop	%dx
	ret

/* puts: the NUL-terminated string at %si */
puts:
	lodsb
	test	%al, %al
	jz	3f
	call	putc
	jmp	puts
3:	ret

hello:	.asciz	"vqos-guide-guest:"
crlf:	.asciz	"\r\n"

	.org	510
	.byte	0x55, 0xaa
