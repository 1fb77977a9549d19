# SPDX-License-Identifier: GPL-2.0
#
# selftests/vqos_dev.sh - create, bind and remove vqos devices, the way the
# README tells an operator to. Source after lib.sh.
#
#   vqos_dev_add NAME [ATTR=VALUE...]   create NAME unbound, set vqos/ATTRs
#   vqos_dev_bind NAME [DRIVER]         bind to virtio_vdpa (default) or
#                                       vhost_vdpa
#   vqos_dev_disk NAME                  /dev/<disk> of a virtio_vdpa-bound NAME
#   vqos_dev_vhost NAME                 /dev/vhost-vdpa-N of a vhost_vdpa-bound NAME
#   vqos_dev_del NAME                   vdpa dev del
#   vqos_sys NAME                       /sys/bus/vdpa/devices/NAME
#   vqos_ctl_start ERRFILE, vqos_ctl CMD...
#                                       selftests/vqos_ctl.pl as a coprocess:
#                                       the same and more, without an exec

vqos_sys() {
	echo "/sys/bus/vdpa/devices/$1"
}

vqos_dev_add() {
	local name=$1 kv
	shift
	# Nothing may bind before the device is configured.
	echo 0 > /sys/bus/vdpa/drivers_autoprobe || return 1
	vdpa dev add name "$name" mgmtdev vqos || return 1
	for kv in "$@"; do
		echo "${kv#*=}" > "$(vqos_sys "$name")/vqos/${kv%%=*}" || {
			echo "vqos_dev_add: cannot set ${kv%%=*}=${kv#*=}" >&2
			return 1
		}
	done
}

vqos_dev_bind() {
	local name=$1 drv=${2:-virtio_vdpa}
	echo "$name" > "/sys/bus/vdpa/drivers/$drv/bind"
}

# Waits up to 10 s for the disk to appear.
vqos_dev_disk() {
	local name=$1 i d
	for i in $(seq 100); do
		for d in "$(vqos_sys "$name")"/virtio*/block/*; do
			if [ -e "$d" ] && [ -b "/dev/${d##*/}" ]; then
				echo "/dev/${d##*/}"
				return 0
			fi
		done
		sleep 0.1
	done
	echo "vqos_dev_disk: no disk for $name" >&2
	return 1
}

# Waits up to 5 s for the character device to appear.
vqos_dev_vhost() {
	local _ p
	for _ in $(seq 50); do
		for p in "$(vqos_sys "$1")"/vhost-vdpa-*; do
			if [ -e "$p" ] && [ -c "/dev/${p##*/}" ]; then
				echo "/dev/${p##*/}"
				return 0
			fi
		done
		sleep 0.1
	done
	echo "vqos_dev_vhost: no /dev/vhost-vdpa-N for $1" >&2
	return 1
}

vqos_dev_del() {
	vdpa dev del "$1"
}

vqos_stat() {
	cat "$(vqos_sys "$1")/stats/$2"
}

# vqos_ctl_start ERRFILE: start selftests/vqos_ctl.pl (see there) as the
# coprocess VQOS_CTL, its stderr to ERRFILE: an exec costs about a second
# in the test VM, a vqos_ctl command almost nothing.
vqos_ctl_start() {
	export VQOS_SPLAT_RE
	coproc VQOS_CTL { exec perl "$VQOS_SELFTESTS/vqos_ctl.pl" 2>"$1"; }
}

# vqos_ctl CMD...: run one vqos_ctl.pl command; its reply is in $reply.
# Returns 1 on an error reply, 2 if none came within 90 s (a task stuck in
# the kernel: the coprocess is of no further use).
vqos_ctl() {
	reply=
	echo "$*" >&"${VQOS_CTL[1]}"
	if ! read -r -t 90 reply <&"${VQOS_CTL[0]}"; then
		reply="error: vqos_ctl.pl did not answer '$*' within 90 s"
		return 2
	fi
	[[ "$reply" != error:* ]]
}
