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
#define SWAP_EACH(bits)                                           \
    for (size_t i = 0; i + (bits) / 8 <= nbytes; i += (bits) / 8) { \
        uint##bits##_t v;                                         \
        memcpy(&v, s + i, (bits) / 8);                            \
        v = __builtin_bswap##bits(v);                             \
        memcpy(d + i, &v, (bits) / 8);                            \
    }                                                             \
    return
    switch (component_size) {
        case 2: SWAP_EACH(16);
        case 4: SWAP_EACH(32);
        case 8: SWAP_EACH(64);
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
#undef SWAP_EACH
}
