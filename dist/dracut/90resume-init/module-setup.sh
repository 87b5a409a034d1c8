#!/bin/bash
# dracut module of resume-init: dracut's initramfs with resume-init doing
# the resume step (a pre-mount hook), in place of dracut's `resume`
# module. Installed as /usr/lib/dracut/modules.d/90resume-init/ with
# /etc/dracut.conf.d/resume-init.conf, which adds it and omits `resume`,
# by scripts/install.sh.

check() {
    require_binaries resume-init || return 1
    return 255
}

depends() {
    return 0
}

install() {
    inst_binary "$(command -v resume-init)" /sbin/resume-init
    inst_hook pre-mount 10 "$moddir/resume-init.sh"
}
