#!/bin/bash
# dracut module of resume-init: dracut's initramfs with resume-init doing
# the resume step (a pre-mount hook), in place of dracut's `resume`
# module. Installed as /usr/lib/dracut/modules.d/90resume-init/ with
# /etc/dracut.conf.d/resume-init.conf, which adds it and omits `resume`,
# by scripts/install.sh. RESUME_INIT_BIN names another binary (tests).

check() {
    [ -x "${RESUME_INIT_BIN:-/usr/sbin/resume-init}" ] || return 1
    return 255
}

depends() {
    return 0
}

install() {
    inst_simple "${RESUME_INIT_BIN:-/usr/sbin/resume-init}" /sbin/resume-init
    inst_hook pre-mount 10 "$moddir/resume-init.sh"
    # The line `resume-init check` reads, in the main archive here (dracut
    # prepends no archive of a module's): check says it cannot look inside.
    mkdir -p "$initdir/etc/resume-init"
    echo "its resume step, in dracut's initramfs (module)" > "$initdir/etc/resume-init/initramfs"
}
