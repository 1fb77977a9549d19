#!/usr/bin/perl
# SPDX-License-Identifier: GPL-2.0
#
# selftests/vqos_ctl.pl - one process that does, for a test script, what
# would otherwise cost an exec each (about a second apiece in the test VM,
# under TCG and KASAN, with the root on 9p). Run it as a bash coprocess:
# one command per line on stdin, one reply line per command on stdout.
# Errors are replied as "error: TEXT", never fatal.
#
#   add NAME | del NAME            vdpa dev add (mgmtdev vqos) / del, over
#                                  generic netlink: "ok"
#   disk NAME SECONDS              the /dev/vdX of a virtio_vdpa-bound NAME
#   vhost NAME SECONDS             the /dev/vhost-vdpa-N of NAME
#   mkdir PATH | rmdir PATH        "ok"
#   excl PATH                      O_EXCL open: "opened" or strerror
#   mount DEV DIR FSTYPE | umount DIR
#                                  read-only mount(2): "ok" or strerror
#   dwrite DEV OFF LEN SEED        O_DIRECT write of a pattern named SEED
#   dcheck DEV OFF LEN SEED        O_DIRECT read; "ok" if it is SEED's
#                                  pattern, "mismatch" if not
#   enable DEV COUNT               VHOST_SET_OWNER, a ring size of 32768
#                                  (more than the device takes) on queues
#                                  0-15, then COUNT times
#                                  VHOST_VDPA_SET_VRING_ENABLE {i % 16, 1}
#                                  (each refused): microseconds taken
#   splats MARK FILE [REGEX]       kernel log records after the marker
#                                  "vqos-selftest: mark MARK" that match
#                                  REGEX (default $VQOS_SPLAT_RE, what
#                                  lib.sh calls a splat): their number;
#                                  the first 30 records go to FILE
#   ops DISK OPS COUNT LEN         COUNT requests one after the other, OPS
#                                  a comma list cycled through: discard,
#                                  zeroout (BLKDISCARD, BLKZEROOUT of LEN
#                                  bytes, offsets advancing through the
#                                  first 32 MiB), flush (fsync), getid (a
#                                  read of /sys/block/vdX/serial):
#                                  "OK ERRORS MICROSECONDS FIRST-ERROR"
#   guest DISK STOP OUT N OPS      fork N processes looping over OPS (a
#                                  comma list: flush, getid, read) on DISK
#                                  until the file STOP exists; each writes
#                                  "ok errors" to OUT.K when done: the pid
#                                  of their parent, which ends after them
#
# Forked processes never keep the caller's stdout or stderr open: one
# stuck in the kernel must not hold a pipe a test runner waits on.
use strict;
use warnings;
use Errno;
use Fcntl;
use IO::Handle;
use Socket;
use Time::HiRes qw(time sleep);

STDOUT->autoflush(1);
$SIG{CHLD} = 'IGNORE';	# no zombies: a test polls pids with kill -0

my ($BLKDISCARD, $BLKZEROOUT) = (0x1277, 0x127f);
my ($VHOST_SET_OWNER, $VHOST_SET_VRING_NUM, $VHOST_VDPA_SET_VRING_ENABLE) =
	(0xaf01, 0x4008af10, 0x4008af75);
my ($SYS_mount, $SYS_umount2, $MS_RDONLY) = (165, 166, 1);

# --- generic netlink: vdpa dev add/del ------------------------------------

my ($nl, $nl_seq, $vdpa_family) = (undef, 0, undef);

sub nla {
	my ($type, $data) = @_;
	my $len = 4 + length $data;
	return pack('SS', $len, $type) . $data . ("\0" x ((4 - $len % 4) % 4));
}

# genl FAMILY CMD ATTRS: send a request, return (error, {attr => data})
# from the replies up to the ack.
sub genl {
	my ($family, $cmd, $attrs) = @_;
	my $payload = pack('CCS', $cmd, 1, 0) . $attrs;
	my $seq = ++$nl_seq;
	# NLM_F_REQUEST | NLM_F_ACK
	my $msg = pack('LSSLL', 16 + length $payload, $family, 1 | 4, $seq, 0) . $payload;
	defined(send($nl, $msg, 0)) or return ("send: $!", {});
	my %attr;
	while (1) {
		my $buf;
		defined(recv($nl, $buf, 65536, 0)) or return ("recv: $!", {});
		while (length $buf >= 16) {
			my ($len, $type, $flags, $rseq) = unpack('LSSL', $buf);
			last if $len < 16 || $len > length $buf;
			my $body = substr($buf, 16, $len - 16);
			substr($buf, 0, ($len + 3) & ~3, '');
			next if $rseq != $seq;
			if ($type == 2) {	# NLMSG_ERROR: the ack
				my $err = unpack('l', $body);
				return ($err ? do { local $! = -$err; "$!" } : '', \%attr);
			}
			my $a = substr($body, 4);
			while (length $a >= 4) {
				my ($alen, $atype) = unpack('SS', $a);
				last if $alen < 4;
				$attr{$atype & 0x3fff} = substr($a, 4, $alen - 4);
				substr($a, 0, ($alen + 3) & ~3, '');
			}
		}
	}
}

sub vdpa {
	my ($cmd, $name) = @_;
	if (!$nl) {
		socket($nl, 16, SOCK_RAW, 16) or return "error: netlink socket: $!";
		bind($nl, pack('SSLL', 16, 0, 0, 0)) or return "error: netlink bind: $!";
		# GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_NAME
		my ($err, $attr) = genl(0x10, 3, nla(2, "vdpa\0"));
		return "error: vdpa family: $err" if $err;
		$vdpa_family = unpack('S', $attr->{1} // return 'error: no vdpa family id');
	}
	# VDPA_CMD_DEV_NEW with VDPA_ATTR_MGMTDEV_DEV_NAME, or VDPA_CMD_DEV_DEL;
	# VDPA_ATTR_DEV_NAME.
	my ($err) = $cmd eq 'add' ?
		genl($vdpa_family, 3, nla(2, "vqos\0") . nla(4, "$name\0")) :
		genl($vdpa_family, 4, nla(4, "$name\0"));
	return $err ? "error: vdpa dev $cmd $name: $err" : 'ok';
}

# --- block I/O --------------------------------------------------------------

# A pattern that differs for every SEED and every 16 bytes.
sub pattern {
	my ($seed, $len) = @_;
	return substr(join('', map { sprintf("%-15s\n", "$seed:$_") } 0 .. $len / 16), 0, $len);
}

# A buffer with LEN bytes 4096-aligned at the returned offset (O_DIRECT).
sub aligned {
	my $len = shift;
	my $buf = "\0" x ($len + 4096);
	substr($buf, 0, 1) = "\1";	# own the buffer: no copy-on-write later
	my $addr = unpack('J', pack('p', $buf));
	return (\$buf, (4096 - $addr % 4096) % 4096);
}

sub dio {
	my ($write, $dev, $off, $len, $seed) = @_;
	sysopen(my $fh, $dev, ($write ? O_WRONLY : O_RDONLY) | O_DIRECT)
		or return "error: open $dev: $!";
	my ($buf, $a) = aligned($len);
	sysseek($fh, $off, 0) or return "error: seek: $!";
	if ($write) {
		substr($$buf, $a, $len) = pattern($seed, $len);
		my $n = syswrite($fh, $$buf, $len, $a);
		return defined $n ? ($n == $len ? 'ok' : "error: short write $n") :
			"error: write: $!";
	}
	my $n = sysread($fh, $$buf, $len, $a);
	return "error: read: $!" unless defined $n;
	return "error: short read $n" if $n != $len;
	return substr($$buf, $a, $len) eq pattern($seed, $len) ? 'ok' : 'mismatch';
}

# --- waiting for a device's node ------------------------------------------

sub wait_node {
	my ($glob, $prefix, $secs) = @_;
	my $end = time + $secs;
	while (1) {
		for my $p (glob $glob) {
			(my $n = $p) =~ s{.*/}{};
			return "/dev/$n" if -e "$prefix$n" || -e "/dev/$n";
		}
		return 'error: none' if time > $end;
		sleep 0.05;
	}
}

# --- the kernel log ---------------------------------------------------------

sub splats {
	my ($mark, $file, $re) = @_;
	$re //= $ENV{VQOS_SPLAT_RE} // return 'error: VQOS_SPLAT_RE not set';
	sysopen(my $k, '/dev/kmsg', O_RDONLY | O_NONBLOCK) or return "error: /dev/kmsg: $!";
	my ($after, $n, @hits) = (0, 0);
	while (1) {
		my $r = sysread($k, my $rec, 8192);
		if (!defined $r) {
			next if $!{EPIPE};	# records overwritten meanwhile
			last;			# EAGAIN: the end
		}
		last if !$r;
		my ($text) = $rec =~ /^[^;]*;([^\n]*)/ or next;
		if (!$after) {
			$after = 1 if index($text, "vqos-selftest: mark $mark") == 0;
			next;
		}
		if ($text =~ /$re/) {
			$n++;
			push @hits, $text if @hits < 30;
		}
	}
	return 'error: marker not found' unless $after;
	open(my $o, '>', $file) or return "error: $file: $!";
	print $o "$_\n" for @hits;
	return $n;
}

# --- guest request loops ----------------------------------------------------

sub detach {
	open(STDIN, '<', '/dev/null');
	open(STDOUT, '>', '/dev/null');
	open(STDERR, '>', '/dev/null');
}

# One get-id request: virtio_blk asks the device for each read of serial.
sub getid {
	open(my $s, '<', shift) or return 0;
	return defined(scalar <$s>);
}

sub guest {
	my ($disk, $stop, $out, $n, $ops) = @_;
	my @ops = split /,/, $ops;
	(my $serial = $disk) =~ s{^/dev/}{/sys/block/};
	$serial .= '/serial';
	my $parent = fork() // return "error: fork: $!";
	return $parent if $parent;
	detach();
	$SIG{CHLD} = 'DEFAULT';
	my @kids;
	for my $k (0 .. $n - 1) {
		my $pid = fork() // exit 1;
		if (!$pid) {
			my ($ok, $err) = (0, 0);
			sysopen(my $fh, $disk, O_RDWR) or exit 1;
			my ($buf, $a) = aligned(4096);
			my ($dio, $d);
			for (my $i = 0; !-e $stop; $i++) {
				my $op = $ops[($i + $k) % @ops];
				my $r;
				if ($op eq 'flush') {
					$r = $fh->sync;
				} elsif ($op eq 'getid') {
					$r = getid($serial);
				} elsif ($op eq 'read') {
					$dio //= sysopen($d, $disk, O_RDONLY | O_DIRECT) ? $d : 0;
					$r = $dio && sysseek($dio, 4096 * ($i % 64), 0) &&
					     sysread($dio, $$buf, 4096, $a);
				}
				$r ? $ok++ : $err++;
			}
			open(my $o, '>', "$out.$k") or exit 1;
			print $o "$ok $err\n";
			exit 0;
		}
		push @kids, $pid;
	}
	waitpid($_, 0) for @kids;
	exit 0;
}

sub ops {
	my ($disk, $ops, $count, $len) = @_;
	my @ops = split /,/, $ops;
	(my $serial = $disk) =~ s{^/dev/}{/sys/block/};
	$serial .= '/serial';
	sysopen(my $fh, $disk, O_RDWR) or return "error: open $disk: $!";
	my ($ok, $err, $off, $msg) = (0, 0, 0, '');
	my $t0 = time;
	for my $i (0 .. $count - 1) {
		my $op = $ops[$i % @ops];
		my $r;
		if ($op eq 'discard' || $op eq 'zeroout') {
			$r = ioctl($fh, $op eq 'discard' ? $BLKDISCARD : $BLKZEROOUT,
				   pack('QQ', $off, $len));
			$off = ($off + $len) % (32 << 20);
		} elsif ($op eq 'flush') {
			$r = $fh->sync;
		} elsif ($op eq 'getid') {
			$r = getid($serial);
		} else {
			return "error: unknown op $op";
		}
		if ($r) { $ok++ } else { $err++; $msg ||= "$op: $!" }
	}
	my $us = int((time - $t0) * 1e6);
	return sprintf('%d %d %d %s', $ok, $err, $us > 0 ? $us : 1, $msg);
}

# --- the command loop -------------------------------------------------------

while (my $line = <STDIN>) {
	my ($cmd, @a) = split ' ', $line;
	next unless defined $cmd;
	my $r;
	if ($cmd eq 'add' || $cmd eq 'del') {
		$r = vdpa($cmd, $a[0]);
	} elsif ($cmd eq 'disk') {
		$r = wait_node("/sys/bus/vdpa/devices/$a[0]/virtio*/block/*", '/dev/', $a[1]);
	} elsif ($cmd eq 'vhost') {
		$r = wait_node("/sys/bus/vdpa/devices/$a[0]/vhost-vdpa-*", '/dev/', $a[1]);
	} elsif ($cmd eq 'mkdir') {
		$r = mkdir($a[0]) ? 'ok' : "error: mkdir $a[0]: $!";
	} elsif ($cmd eq 'rmdir') {
		$r = rmdir($a[0]) ? 'ok' : "error: rmdir $a[0]: $!";
	} elsif ($cmd eq 'excl') {
		$r = sysopen(my $f, $a[0], O_RDONLY | O_EXCL) ? 'opened' : "$!";
	} elsif ($cmd eq 'mount') {
		$r = syscall($SYS_mount, $a[0], $a[1], $a[2], $MS_RDONLY, 0) == 0 ? 'ok' : "$!";
	} elsif ($cmd eq 'umount') {
		$r = syscall($SYS_umount2, $a[0], 0) == 0 ? 'ok' : "$!";
	} elsif ($cmd eq 'dwrite' || $cmd eq 'dcheck') {
		$r = dio($cmd eq 'dwrite', @a);
	} elsif ($cmd eq 'enable') {
		if (open(my $f, '+<', $a[0])) {
			if (ioctl($f, $VHOST_SET_OWNER, 0)) {
				# A size vhost takes and the device refuses.
				for my $i (0 .. 15) {
					ioctl($f, $VHOST_SET_VRING_NUM, pack('LL', $i, 32768))
						or ($r = "error: VHOST_SET_VRING_NUM: $!"), last;
				}
				my $t0 = time;
				for my $i (0 .. ($r ? -1 : $a[1] - 1)) {
					ioctl($f, $VHOST_VDPA_SET_VRING_ENABLE, pack('LL', $i % 16, 1))
						or ($r = "error: VHOST_VDPA_SET_VRING_ENABLE: $!"), last;
				}
				$r //= int((time - $t0) * 1e6);
			} else {
				$r = "error: VHOST_SET_OWNER: $!";
			}
		} else {
			$r = "error: open $a[0]: $!";
		}
	} elsif ($cmd eq 'splats') {
		$r = splats(@a);
	} elsif ($cmd eq 'ops') {
		$r = ops(@a);
	} elsif ($cmd eq 'guest') {
		$r = guest(@a);
	} else {
		$r = "error: unknown command $cmd";
	}
	print "$r\n";
}
