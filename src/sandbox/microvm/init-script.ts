// The guest's init, in busybox shell stages. Stage 1 runs from the initramfs: it loads the drivers, lays the
// agent's writable disk over the read-only base image and switches to that root. Stage 2 is PID 1 there: it
// mounts what the sandbox contract promises, runs the command with its stdio on the host's ports, reports the
// exit code and powers the VM off. ENTER is the agent's side: a mount namespace of its own, then run.sh drops
// every capability (dropcaps.ts) before the command, so inside its VM the agent has the shape it has on the
// container backends. Every path of the agent's root is touched only after the switch, so a link the agent
// planted in its layer resolves inside its own root, never in the initramfs. Nothing that runs with
// capabilities comes from the agent's root: busybox, the scripts and dropcaps are the initramfs's.
import { SANDBOX_GATEWAY_SOCKET } from '../../protocol/sandbox-env.ts';
import {
  BASE_DISK_SERIAL,
  GUEST_VM_DIR,
  INIT_ERROR,
  LAUNCH_RUN,
  LAUNCH_VM,
  LAYER_DISK_SERIAL,
  PORTS,
  PROBE_ARG,
  PROBE_OK,
  SHARE,
  SHARE_TAG,
} from './guest-abi.ts';

/** The Node the image puts at /usr/local/bin/node runs the gateway relay inside the guest. */
export const GUEST_NODE = '/usr/local/bin/node';
/** How long the init waits for a device or the relay's socket: generous, TCG guests on a busy host are slow. */
const WAIT_TICKS = 6000;
const TICK_US = 10_000;
/** After "stop": SIGTERM to everything, then SIGKILL after this many seconds. */
export const GUEST_STOP_GRACE_S = 2;
/** procfs entries that configure the guest's kernel: visible to the agent, never writable (as on runc) */
export const GUEST_READONLY_PATHS = [
  '/proc/sys',
  '/proc/sysrq-trigger',
  '/proc/irq',
  '/proc/bus',
  '/proc/fs',
];

export const STAGE1 = `#!/bin/busybox sh
# corral microVM init, stage 1 (initramfs)
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
die() { echo "${INIT_ERROR} $*"; sync; poweroff -f; }
while read -r m; do insmod "/lib/modules/$m.ko" || die "cannot load module $m"; done < /lib/modules/load-order
case " $(cat /proc/cmdline) " in *" ${PROBE_ARG} "*) echo ${PROBE_OK}; poweroff -f ;; esac

# a device by the name QEMU gave it; drivers bring devices up asynchronously, so wait for it
find_dev() {
  for d in /sys/$1/*; do
    [ "$(cat "$d/$2" 2>/dev/null)" = "$3" ] && { echo "/dev/\${d##*/}"; return 0; }
  done
  return 1
}
await_dev() {
  n=0
  until find_dev "$@"; do
    n=$((n + 1)); [ "$n" -lt ${WAIT_TICKS} ] || return 1
    usleep ${TICK_US}
  done
}
BASE=$(await_dev block serial ${BASE_DISK_SERIAL}) || die "no base image disk"
LAYER=$(await_dev block serial ${LAYER_DISK_SERIAL}) || die "no layer disk"
for p in STDIN:${PORTS.stdin} STDOUT:${PORTS.stdout} STDERR:${PORTS.stderr} CTL:${PORTS.ctl} GW:${PORTS.gateway}; do
  dev=$(await_dev class/virtio-ports name "\${p#*:}") || die "no port \${p#*:}"
  # stage 2 mounts the devices under ${GUEST_VM_DIR}/dev, out of the agent's /dev
  echo "\${p%%:*}=${GUEST_VM_DIR}$dev" >> /ports
done

mkdir -p /m/base /m/layer /m/share /newroot
mount -t ext4 -o ro "$BASE" /m/base || die "cannot mount the base image disk"
mount -t ext4 -o rw,noatime "$LAYER" /m/layer || die "cannot mount the layer disk"
mkdir -p /m/layer/upper /m/layer/work || die "cannot prepare the layer disk"
mount -t overlay -o lowerdir=/m/base,upperdir=/m/layer/upper,workdir=/m/layer/work overlay /newroot ||
  die "cannot mount the overlay root"
mount -t virtiofs ${SHARE_TAG} /m/share || die "cannot mount the shared directory"

# /run is the one path of the agent's root used before the switch: a link planted there is dropped
R=/newroot
[ -L "$R/run" ] && rm -f "$R/run"
mkdir -p "$R/run" && mount -t tmpfs -o mode=0755,nosuid,nodev,size=16m tmpfs "$R/run" || die "cannot mount /run"
V="$R${GUEST_VM_DIR}"
mkdir -p "$V/share" "$V/bin" && cp /bin/busybox /stage2 /enter /dropcaps /relay.mjs /ports "$V/" || die "cannot stage the init"
mount --move /m/share "$V/share" || die "cannot move the shared directory"
umount /proc /sys
umount -l /dev
exec switch_root "$R" ${GUEST_VM_DIR}/busybox sh ${GUEST_VM_DIR}/stage2
`;

export const STAGE2 = `# corral microVM init, stage 2: PID 1 in the agent's root
V=${GUEST_VM_DIR}
S=$V/share
B=$V/busybox
$B mkdir -p /proc && $B mount -t proc proc /proc || { echo "${INIT_ERROR} cannot mount /proc"; $B poweroff -f; }
$B --install -s $V/bin
export PATH=$V/bin
die() { echo "${INIT_ERROR} $*"; [ -n "$PORTS_OPEN" ] && echo "${INIT_ERROR} $*" >&6; echo "exit 1" >&3; sync; poweroff -f; }
# the kernel's devices on a devtmpfs of the init's own, unmounted once their ports are open
mkdir -p /sys /dev /tmp $V/dev && mount -t sysfs sysfs /sys && mount -t devtmpfs devtmpfs $V/dev ||
  die "cannot mount /sys or the devices"
. $V/ports
exec 3<>"$CTL" 4<"$STDIN" 5>"$STDOUT" 6>"$STDERR" && PORTS_OPEN=1
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp || die "cannot mount /tmp"
# the agent's /dev, as on the container backends: the harmless character devices and its own pseudo-terminals
mount -t tmpfs -o mode=0755,nosuid,noexec,size=64k tmpfs /dev &&
  mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/zero c 1 5 && mknod -m 666 /dev/full c 1 7 &&
  mknod -m 666 /dev/random c 1 8 && mknod -m 666 /dev/urandom c 1 9 && mknod -m 666 /dev/tty c 5 0 &&
  ln -s pts/ptmx /dev/ptmx && ln -s /proc/self/fd /dev/fd && ln -s /proc/self/fd/0 /dev/stdin &&
  ln -s /proc/self/fd/1 /dev/stdout && ln -s /proc/self/fd/2 /dev/stderr || die "cannot make /dev"
mkdir -p /dev/pts /dev/shm /run/lock /run/corral && chmod 1777 /run/lock &&
  mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts &&
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm &&
  mount -t tmpfs -o mode=0755,size=64k tmpfs /run/corral || die "cannot mount /dev/pts, /dev/shm or /run/corral"
hostname corral

bind_rw() { mkdir -p "$2" && mount --bind "$1" "$2" || die "cannot mount $2"; }
bind_ro() {
  if [ -d "$1" ]; then mkdir -p "$2"; else mkdir -p "\${2%/*}" && { [ -e "$2" ] || : > "$2"; }; fi &&
    mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" || die "cannot mount $2 read-only"
}
bind_rw $S/${SHARE.workspace} /workspace
bind_ro $S/${SHARE.runtime} /opt/corral
# defines MAX_PROCS, MEMORY_BYTES and GATEWAY, binds the generated /etc files, the CA bundle and further read-only paths
. $S/${SHARE.launch}/${LAUNCH_VM}

# the agent's cgroup: its memory and process limits, and the counters its limit events come from
CG=/sys/fs/cgroup/agent
mount -t cgroup2 cgroup2 /sys/fs/cgroup && mkdir $CG &&
  echo "+pids +memory" > /sys/fs/cgroup/cgroup.subtree_control &&
  echo "$MAX_PROCS" > $CG/pids.max && echo "$MEMORY_BYTES" > $CG/memory.max || die "cannot set the agent's limits"
# no user namespaces, as on the container backends: a new one would hand the agent a full capability set again
echo 0 > /proc/sys/user/max_user_namespaces || die "cannot turn off user namespaces"
events() { echo "events $(sed -n 's/^oom_kill //p' $CG/memory.events) $(sed -n 's/^max //p' $CG/pids.events)" >&3; }

if [ "$GATEWAY" = 1 ]; then
  # without capabilities: the relay's node is the agent's own, which carries nothing but gateway connections
  $V/dropcaps ${GUEST_NODE} $V/relay.mjs "$GW" ${SANDBOX_GATEWAY_SOCKET} 3>&- 4<&- 5>&- 6>&- &
  n=0
  until [ -S ${SANDBOX_GATEWAY_SOCKET} ]; do
    n=$((n + 1)); [ "$n" -lt ${WAIT_TICKS} ] || die "the gateway relay did not start"
    usleep ${TICK_US}
  done
fi
mount -o remount,ro /run/corral || die "cannot make /run/corral read-only"
# every port is open now: no device node of the VM's is left for anyone to open
umount -l $V/dev || die "cannot unmount the devices"

# the host asks for the limit counters ("events"), or to stop ("stop", or it went away): TERM to everything,
# then KILL what is left (the agent's whole cgroup at once, so a fork bomb cannot outrun it)
(
  exec 4<&- 5>&- 6>&-
  while read -r msg <&3; do case "$msg" in stop) break ;; events) events ;; esac; done
  kill -TERM -1; sleep ${GUEST_STOP_GRACE_S}; echo 1 > $CG/cgroup.kill; kill -KILL -1
) &
$B unshare -m -p -f --mount-proc --propagation private $B sh $V/enter <&4 >&5 2>&6 3>&- 4<&- 5>&- 6>&- &
agent=$!
exec 4<&- 5>&- 6>&-
wait $agent
code=$?
echo 1 > $CG/cgroup.kill
kill -KILL -1
events
echo "exit $code" >&3
sync
poweroff -f
`;

/**
 * The agent's side, run by stage 2 in mount and pid namespaces of its own with the command's stdio: it joins the
 * agent's cgroup, shows that cgroup and the kernel's settings read-only (the init keeps its writable cgroup in its
 * own namespace), then run.sh sets the limits and drops every capability. With none left, the agent cannot change
 * a mount, load a module, or read the memory or descriptors of a process that has some (the kernel refuses
 * /proc/PID/mem and /proc/PID/fd to a process lacking capabilities its target has). In its pid namespace it sees
 * and signals only its own processes, not the init, its stop watcher or the gateway relay; this shell stays its
 * PID 1, so orphans are reaped, and ending it ends every process of the namespace.
 */
export const ENTER = `# corral microVM init: the agent's side, PID 1 of its pid namespace
V=${GUEST_VM_DIR}
export PATH=$V/bin
fail() { echo "${INIT_ERROR} $*" >&2; exit 126; }
echo 0 > /sys/fs/cgroup/agent/cgroup.procs || fail "cannot join the agent's cgroup"
mount --bind /sys/fs/cgroup/agent /sys/fs/cgroup && mount -o remount,bind,ro /sys/fs/cgroup &&
  mount -o remount,bind,ro /sys || fail "cannot make /sys read-only"
for p in ${GUEST_READONLY_PATHS.join(' ')}; do
  [ -e "$p" ] || continue
  mount --bind "$p" "$p" && mount -o remount,bind,ro "$p" || fail "cannot make $p read-only"
done
cd /workspace || fail "no /workspace"
# an asynchronous command's stdin would be /dev/null: the port goes by another descriptor
exec 7<&0
$V/busybox sh $V/share/${SHARE.launch}/${LAUNCH_RUN} <&7 7<&- &
exec 7<&-
wait $!
`;
