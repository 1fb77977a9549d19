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
