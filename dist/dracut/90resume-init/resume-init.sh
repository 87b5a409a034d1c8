#!/bin/sh
# dracut pre-mount hook: resume-init's resume step, before the root is
# mounted and after dracut has found and unlocked the devices. It returns
# when the boot is to go on fresh.
[ -x /sbin/resume-init ] && /sbin/resume-init resume
