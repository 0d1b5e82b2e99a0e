/*  ezshm.h — libezshm: shared-memory circular buffers byte-compatible with ezmsg-tools'
    ShMemCircBuff / EZShmMirror. Include this one header.

    Classes: ezshm_writer (the ring writer), ezshm_mirror (the reader), ezshm_clock (the clock
    segment: per-frame timestamps; the wake segment readers sleep on).
    Helpers: names (ezshm_name.h), header layouts (ezshm_header.h), ring sizing (ezshm_ring.h),
    dtypes (ezshm_dtype.h), value formatting (ezshm_value.h), result codes (ezshm_error.h),
    clocks (ezshm_time.h), UTF-8 (ezshm_utf8.h), stream ownership (ezshm_claim.h),
    SIGBUS guard (ezshm_guard.h).
    Stream metadata: the aux segment (ezshm_aux.h), its plain-value tree (ezshm_tree.h,
    ezshm_descr.h) and pickle codec (ezshm_pickle.h, ezshm_unpickle.h).
*/
#ifndef EZSHM_H
#define EZSHM_H

#include "ezshm_version.h"

#include "ezshm_error.h"
#include "ezshm_time.h"
#include "ezshm_dtype.h"
#include "ezshm_name.h"
#include "ezshm_header.h"
#include "ezshm_ring.h"
#include "ezshm_segment.h"
#include "ezshm_utf8.h"
#include "ezshm_claim.h"
#include "ezshm_guard.h"
#include "ezshm_value.h"
#include "ezshm_clock.h"
#include "ezshm_writer.h"
#include "ezshm_mirror.h"
#include "ezshm_descr.h"
#include "ezshm_tree.h"
#include "ezshm_pickle.h"
#include "ezshm_unpickle.h"
#include "ezshm_aux.h"
#include "ezshm_labels.h"

#endif
