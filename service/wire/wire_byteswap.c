/*  wire_byteswap.c — big-endian to little-endian while copying. */
#include "wire.h"

#include <stdint.h>
#include <string.h>

void
wire_byteswap(void *dst, const void *src, size_t nbytes, size_t component_size)
{
    unsigned char *d = (unsigned char *) dst;
    const unsigned char *s = (const unsigned char *) src;
    if (component_size <= 1) {
        if (d != s)
            memmove(d, s, nbytes);
        return;
    }
    /*  Fixed sizes let the compiler use bswap instructions; the loop works in place too
        because each component is read fully before it is written. */
    switch (component_size) {
        case 2:
            for (size_t i = 0; i + 2 <= nbytes; i += 2) {
                uint16_t v;
                memcpy(&v, s + i, 2);
                v = __builtin_bswap16(v);
                memcpy(d + i, &v, 2);
            }
            return;
        case 4:
            for (size_t i = 0; i + 4 <= nbytes; i += 4) {
                uint32_t v;
                memcpy(&v, s + i, 4);
                v = __builtin_bswap32(v);
                memcpy(d + i, &v, 4);
            }
            return;
        case 8:
            for (size_t i = 0; i + 8 <= nbytes; i += 8) {
                uint64_t v;
                memcpy(&v, s + i, 8);
                v = __builtin_bswap64(v);
                memcpy(d + i, &v, 8);
            }
            return;
        default:
            for (size_t i = 0; i + component_size <= nbytes; i += component_size) {
                size_t last = i + component_size - 1;
                for (size_t k = 0; k < component_size / 2; k++) {
                    unsigned char lo = s[i + k], hi = s[last - k];
                    d[i + k] = hi;
                    d[last - k] = lo;
                }
                if (component_size % 2)
                    d[i + component_size / 2] = s[i + component_size / 2];
            }
            return;
    }
}
