#include <linux/module.h>
#define CRC32_POLY_LE 0xedb88320
#define CRC32_POLY_BE 0x04c11db7
#define CRC32C_POLY_LE 0x82f63b78
