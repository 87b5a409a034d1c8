#!/bin/sh
# The test root's /sbin/init (busybox sh): with hib=TOKEN on the command line it hibernates, and
# prints RESUMED when the hibernated system comes back; without, it says
# FRESH-BOOT. swap= names the swap area to turn on (mkswap=1 makes it
# first). efiloc=KERNEL (or self) writes systemd's HibernateLocation EFI
# variable naming efiuuid= and that kernel version. writer=lzo|lz4|none
# hibernates with `resume-init hibernate --compress …` (after=, wdev=
# choose --after and --device; wake=S sets an RTC alarm S seconds ahead)
# instead of the kernel's own writer; with
# cycles=N the resumed system hibernates again until N writes are done.
# Hibernation files: mkfile=PATH (mksize=SIZE) makes one with
# `resume-init hibernate --make-file` and powers off; wfile=PATH makes
# the writer write into it; zram=1 turns on zram as the only swap
# (swap=none: no other); fill=MiB keeps that much random data in tmpfs,
# checked (FILL-OK) when the session comes back. check=1 runs
# `resume-init check` first (CHECK: lines, CHECK-RC=status).
mount -t tmpfs tmpfs /tmp
efivar=/sys/firmware/efi/efivars/HibernateLocation-8cf3337e-9cf8-4ef3-9f84-7b2e2dd5b4f0
if [ -d /sys/firmware/efi ]; then
  mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
  if [ -n "$efiloc" ]; then
    [ "$efiloc" = self ] && efiloc=$(uname -r)
    j="{\"uuid\":\"$efiuuid\",\"offset\":0,\"kernelVersion\":\"$efiloc\",\"osReleaseId\":\"debian\"}"
    printf "\\007\\000\\000\\000$(printf %s "$j" | sed "s/./&\\\\000/g")\\000\\000" > $efivar || echo "EFIVAR-WRITE-FAILED"
  fi
fi
if [ -n "$mkfile" ]; then
  /sbin/resume-init hibernate --make-file "$mkfile" ${mksize:+--size "$mksize"} && echo "MKFILE-DONE"
  sync
  poweroff -f
fi
if [ -n "$hib" ]; then
  if [ -n "$zram" ]; then
    { echo 96M > /sys/block/zram0/disksize && mkswap /dev/zram0 > /dev/null && swapon /dev/zram0 && echo "ZRAM-SWAP-ON"; } || echo "ZRAM-FAILED"
  fi
  if [ -n "$mkswap" ]; then mkswap "$swap" > /dev/null || echo "MKSWAP-FAILED"; fi
  if [ "$swap" != none ]; then swapon "${swap:-/dev/vdb}" || echo "SWAPON-FAILED"; fi
  if [ -n "$fill" ]; then
    dd if=/dev/urandom of=/tmp/fill bs=1M count="$fill" 2>/dev/null
    md5sum /tmp/fill > /tmp/fill.md5
  fi
  if [ -n "$check" ]; then /sbin/resume-init check ${wfile:+--file "$wfile"} > /tmp/check.out 2>&1; echo "CHECK-RC=$?"; sed 's/^/CHECK: /' /tmp/check.out; fi
  if [ -n "$comp" ]; then echo "$comp" > /sys/module/hibernate/parameters/compressor || echo "COMPRESSOR-FAILED"; fi
  echo "$hib" > /tmp/token
  sh -c "while :; do sleep 1; done" "holder-$hib" &
  pid=$!
  n=0
  while :; do
    n=$((n + 1))
    echo "HIBERNATING token=$hib n=$n"
    if [ -n "$wake" ]; then echo 0 > /sys/class/rtc/rtc0/wakealarm; echo "+$wake" > /sys/class/rtc/rtc0/wakealarm || echo "NO-RTC-ALARM"; fi
    if [ -n "$writer" ]; then
      /sbin/resume-init hibernate --compress "$writer" ${after:+--after "$after"} ${wdev:+--device "$wdev"} ${wfile:+--file "$wfile"} ${wforce:+--force}
    else
      echo disk > /sys/power/state
    fi
    rc=$?
    if [ $rc != 0 ]; then echo "HIBERNATE-FAILED rc=$rc"; echo "STILL-RUNNING token=$(cat /tmp/token)"; break; fi
    echo "RESUMED token=$(cat /tmp/token) proc=$(tr "\0" " " < /proc/$pid/cmdline) rc=$rc n=$n"
    if [ -n "$fill" ]; then md5sum -c /tmp/fill.md5 > /dev/null 2>&1 && echo "FILL-OK" || echo "FILL-BAD"; fi
    [ "$n" -ge "${cycles:-1}" ] && break
  done
  poweroff -f
fi
[ -d /sys/firmware/efi ] && { [ -e $efivar ] && echo "EFIVAR-PRESENT" || echo "EFIVAR-ABSENT"; }
[ -e "/run/udev/data/b$(cat /sys/block/dm-0/dev 2>/dev/null)" ] && echo "UDEV-DB-RECORD dm-0 $(ls -l /dev/mapper | grep -c " -> ../dm-0")"
echo "FRESH-BOOT"
poweroff -f
