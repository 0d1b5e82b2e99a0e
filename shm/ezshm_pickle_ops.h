/*  ezshm_pickle_ops.h — the pickle opcodes and numpy globals the aux format uses (shared by
    the encoder and the restricted unpickler; docs/shm-layout.md lists them). */
#ifndef EZSHM_PICKLE_OPS_H
#define EZSHM_PICKLE_OPS_H

enum {
    PK_MARK = '(',
    PK_STOP = '.',
    PK_BININT = 'J',
    PK_BININT1 = 'K',
    PK_BININT2 = 'M',
    PK_NONE = 'N',
    PK_REDUCE = 'R',
    PK_BINUNICODE = 'X',
    PK_APPEND = 'a',
    PK_BUILD = 'b',
    PK_EMPTY_DICT = '}',
    PK_APPENDS = 'e',
    PK_BINGET = 'h',
    PK_LONG_BINGET = 'j',
    PK_EMPTY_LIST = ']',
    PK_BINPUT = 'q',
    PK_LONG_BINPUT = 'r',
    PK_SETITEM = 's',
    PK_TUPLE = 't',
    PK_EMPTY_TUPLE = ')',
    PK_SETITEMS = 'u',
    PK_BINFLOAT = 'G',
    PK_BINBYTES = 'B',
    PK_SHORT_BINBYTES = 'C',
    PK_PROTO = 0x80,
    PK_TUPLE1 = 0x85,
    PK_TUPLE2 = 0x86,
    PK_TUPLE3 = 0x87,
    PK_NEWTRUE = 0x88,
    PK_NEWFALSE = 0x89,
    PK_LONG1 = 0x8a,
    PK_SHORT_BINUNICODE = 0x8c,
    PK_BINUNICODE8 = 0x8d,
    PK_BINBYTES8 = 0x8e,
    PK_STACK_GLOBAL = 0x93,
    PK_MEMOIZE = 0x94,
    PK_FRAME = 0x95,
    PK_BYTEARRAY8 = 0x96
};

/*  Python's framing: frames of about 64 KiB; data this large is written outside frames. */
#define PK_FRAME_TARGET (64 * 1024)
/*  Python's batch size for APPENDS/SETITEMS. */
#define PK_BATCH 1000

/*  The callables a blob may name (module, qualname). numpy 2 renamed numpy.core to
    numpy._core; its pickles use the new name, numpy 1 cannot read them, so the encoder
    writes the numpy 1 name (numpy 2 still reads it) and the reader accepts both. */
typedef enum {
    PK_G_FROMBUFFER,        /* numpy.core.numeric._frombuffer(buf, dtype, shape, order) */
    PK_G_DTYPE,             /* numpy.dtype(str, align, copy) then BUILD(state) */
    PK_G_SCALAR,            /* numpy.core.multiarray.scalar(dtype, bytes) */
    PK_G_RECONSTRUCT,       /* numpy.core.multiarray._reconstruct(ndarray, (0,), b'b') */
    PK_G_NDARRAY,           /* numpy.ndarray: only as _reconstruct's first argument */
    PK_G_COMPLEX,           /* builtins.complex(re, im) */
    PK_G_COUNT
} pk_global_t;

#endif
