/* Just enough of the kernel's headers to build its lib/lzo, lib/lz4 and
 * lib/crc32.c in user space for bench/pipeline.sh (our own shim; the
 * kernel sources themselves come from Debian's linux-source package). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>
#define EXPORT_SYMBOL_GPL(x)
#define EXPORT_SYMBOL(x)
#define MODULE_LICENSE(x)
#define MODULE_DESCRIPTION(x)
#define MODULE_AUTHOR(x)
#define noinline __attribute__((noinline))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define __always_inline inline __attribute__((always_inline))
#define fallthrough __attribute__((fallthrough))
#define __init
#define __exit
#define __pure __attribute__((pure))
#define __attribute_const__ __attribute__((const))
#define __aligned(x) __attribute__((aligned(x)))
#define __cacheline_aligned
#define CONFIG_X86_64 1
#define CONFIG_64BIT 1
#define CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS 1
#define CONFIG_CRC32_SLICEBY8 1
#define __LITTLE_ENDIAN 1234
#define __BYTE_ORDER __LITTLE_ENDIAN
typedef uint8_t u8; typedef uint16_t u16; typedef uint32_t u32; typedef uint64_t u64;
typedef int8_t s8; typedef int16_t s16; typedef int32_t s32; typedef int64_t s64;
typedef uint16_t __le16; typedef uint32_t __le32; typedef uint32_t __be32; typedef uint64_t __le64;
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b) ((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define BUILD_BUG_ON(x)
#define cpu_to_le32(x) (x)
#define le32_to_cpu(x) (x)
#define __le32_to_cpu(x) (x)
#define __cpu_to_le32(x) (x)
#define cpu_to_be32(x) __builtin_bswap32(x)
#define be32_to_cpu(x) __builtin_bswap32(x)
#define __swab32(x) __builtin_bswap32(x)
#define swab32(x) __builtin_bswap32(x)
#define __fls(x) (63 - __builtin_clzll(x))
#define __ffs(x) __builtin_ctzll(x)
#define ____cacheline_aligned
#define __force
#define __cpu_to_be32(x) __builtin_bswap32(x)
#define __be32_to_cpu(x) __builtin_bswap32(x)
#define __weak __attribute__((weak))
#define __visible
#define __alias(x) __attribute__((alias(#x)))
