#!/bin/bash
# Installs resume-init where a distribution expects its parts.
# (usage() below has the whole text; -h prints it.)
set -euo pipefail
usage() {
    cat <<'TEXT'
Installs resume-init where a distribution expects its parts.

  scripts/install.sh [--destdir DIR] [--whole-initramfs] [--no-writer] [-b BINARY]

Always:
  /usr/sbin/resume-init                       the binary (built here unless -b)
  /usr/share/initramfs-tools/hooks/resume-init
      update-initramfs then builds Debian's initramfs with resume-init
      doing the resume step in place of initramfs-tools' own
  /usr/lib/dracut/modules.d/90resume-init/, /etc/dracut.conf.d/resume-init.conf
      the same for dracut (the module added, dracut's `resume` left out)
  /usr/lib/resume-init/scripts/mkinitramfs.sh (with host.sh), /usr/lib/resume-init/initramfs/
      resume-init's own initramfs builder: mkinitramfs.sh --host -b /usr/sbin/resume-init
Unless --no-writer:
  /usr/lib/systemd/system/systemd-hibernate.service.d/resume-init.conf
      systemctl hibernate writes the image with resume-init hibernate
With --whole-initramfs (resume-init's own initramfs is the machine's):
  /etc/kernel/postinst.d/zz-resume-init, /etc/kernel/postrm.d/zz-resume-init
      Debian's kernel hooks: the initramfs built for each kernel installed
      (after initramfs-tools' hook, whose image it replaces), removed with it
  /usr/lib/kernel/install.d/60-resume-init.install
      the same for kernel-install (systemd's convention)
--destdir DIR installs under DIR (packaging, tests). Nothing is rebuilt:
run update-initramfs -u (or dracut -f, or the kernel hook) afterwards.
TEXT
    exit 2
}

top=$(cd "$(dirname "$0")/.." && pwd)
dest="" whole=0 writer=1 bin=""
while [ $# -gt 0 ]; do
    case $1 in
        --destdir) dest=${2:?--destdir needs a directory}; shift ;;
        --whole-initramfs) whole=1 ;;
        --no-writer) writer=0 ;;
        -b) bin=${2:?-b needs a binary}; shift ;;
        *) usage ;;
    esac
    shift
done
if [ -z "$bin" ]; then
    (cd "$top" && cargo build --release --quiet)
    # shellcheck source=scripts/paths.sh
    . "$top/scripts/paths.sh"
    bin=$BIN
fi
[ -x "$bin" ] || { echo "install: $bin is not an executable" >&2; exit 1; }

put() { # put MODE SOURCE TARGET
    install -D -m "$1" "$2" "$dest$3"
    echo "install: $3"
}
put 0755 "$bin" /usr/sbin/resume-init
put 0755 "$top/dist/initramfs-tools/resume-init.hook" /usr/share/initramfs-tools/hooks/resume-init
put 0755 "$top/dist/dracut/90resume-init/module-setup.sh" /usr/lib/dracut/modules.d/90resume-init/module-setup.sh
put 0755 "$top/dist/dracut/90resume-init/resume-init.sh" /usr/lib/dracut/modules.d/90resume-init/resume-init.sh
put 0644 "$top/dist/dracut/resume-init.conf" /etc/dracut.conf.d/resume-init.conf
for f in mkinitramfs.sh host.sh paths.sh; do put 0755 "$top/scripts/$f" "/usr/lib/resume-init/scripts/$f"; done
mkdir -p "$dest/usr/lib/resume-init/initramfs"
cp -a "$top/initramfs/." "$dest/usr/lib/resume-init/initramfs/"
if [ $writer = 1 ]; then
    put 0644 "$top/dist/systemd/resume-init.conf" /usr/lib/systemd/system/systemd-hibernate.service.d/resume-init.conf
fi
if [ $whole = 1 ]; then
    put 0755 "$top/dist/kernel/postinst" /etc/kernel/postinst.d/zz-resume-init
    put 0755 "$top/dist/kernel/postrm" /etc/kernel/postrm.d/zz-resume-init
    put 0755 "$top/dist/kernel/60-resume-init.install" /usr/lib/kernel/install.d/60-resume-init.install
fi
