#!/bin/bash
# The main job, as root on Debian: installs what it needs, builds the
# initramfs with resume-init as /init, and boots the Debian kernel under
# QEMU twice on the same disks: in boot 1, `resume-init hibernate` writes
# the running system's image to swap and powers off; boot 2 resumes it
# through resume-init as /init.
#
#   scripts/demo.sh          (RESUME_INIT_KVM=1 for KVM instead of TCG)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$top/scripts/common.sh"
prepare --build

T=$top/build/demo
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
build_initramfs
make_rootdir "$T/rootdir" '#!/bin/sh
mount -t tmpfs tmpfs /tmp
if [ -n "$demo_hibernate" ]; then
  swapon /dev/vdb
  date > /tmp/started
  echo "demo: session started at $(cat /tmp/started); hibernating now with resume-init hibernate"
  /sbin/resume-init hibernate
  echo "demo: RESUMED. This session started at $(cat /tmp/started), before the hibernation."
  poweroff -f
fi
echo "demo: fresh boot (no image was resumed)"
poweroff -f'
cp "$BIN" "$T/rootdir/sbin/resume-init"
mkext4 "$T/root.img" 64 "$T/rootdir" -L demoroot
rm -f "$T/swap.img"; truncate -s 256M "$T/swap.img"; mkswap -q -L demoswap "$T/swap.img"

echo "=== boot 1: hibernate (resume-init hibernate writes the image to /dev/vdb)"
"$top/qemu/run.sh" -k "$KERNEL" -i "$INITRD" -d "$T/root.img" -d "$T/swap.img" -l "$T/boot1.log" \
    -a "root=/dev/vda resume=/dev/vdb noresume demo_hibernate=1" | grep -E "resume-init:|demo:"
echo
echo "=== the image on the swap disk, as resume-init inspect sees it"
"$BIN" inspect "$T/swap.img" || true
echo
echo "=== boot 2: resume-init loads the image and restores the session"
"$top/qemu/run.sh" -k "$KERNEL" -i "$INITRD" -d "$T/root.img" -d "$T/swap.img" -l "$T/boot2.log" \
    -a "root=/dev/vda resume=/dev/vdb noresume" | grep -E "resume-init:|demo:"
echo
grep -q "demo: RESUMED" "$T/boot2.log" && echo "demo: success (full console logs in $T)" || { echo "demo: the session did not come back; see $T/boot2.log"; exit 1; }
