#!/usr/bin/env python3
"""Regenerates the seed corpora of tests/fuzz/corpus/{control,mirror_header,clock}, adds the
ezmsg-zmq fixtures missing from corpus/wire, the metadata shapes of issues 21/22 (many keys,
wrapped shapes, invalid UTF-8 names, record kinds, wide ints, lone surrogates) to corpus/wire
and hostile aux blobs (wrapped shapes, shared references, wide ints) to corpus/pickle
(framings in tests/fuzz/README.md).

    python3 tests/fuzz/make_corpus.py [FIXTURES_DIR]     # default tests/fixtures
"""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "fixtures")


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


# ---- control: one request frame per file (docs/control-protocol.md) ------------------
control = {
    "get": b'{"op":"get"}',
    "status": b'{"op": "status"}',
    "health": b'{"op": "health"}',
    "quit": b'{"op": "quit"}',
    "streams": b'{"op":"streams"}',
    "add_stream": b'{"op":"add_stream","stream":"emg","topic":"emg","settings":{"buf_dur":5,"header":"v1"}}',
    "add_stream_shared": b'{"op":"add_stream","stream":"x","topic":"x","settings":{"sub":[]}}',
    "remove_stream": b'{"op":"remove_stream","stream":"fuzz"}',
    "update_stream": b'{"op":"update","stream":"fuzz","settings":{"shmem_name":"emg"}}',
    "get_stream": b'{"op":"get","stream":"nope"}',
    "status_stream": b'{"op":"status","stream":5}',
    "update": b'{"op":"update","settings":{"buf_dur":2.5,"axis":"win"}}',
    "update_pyzmq": b'{"op": "update", "settings": {"buf_dur": 2.0}}',
    "bare_update": b'{"buf_dur": 2.0, "header": "v1"}',
    "shmem_name_null": b'{"op":"update","settings":{"shmem_name":null}}',
    "sub_topic": b'{"op":"update","settings":{"sub":["tcp://127.0.0.1:5555"],"topic":"eeg"}}',
    "sub_bind_many": b'{"sub_bind":["ipc:///run/ezshm/x","tcp://*:5556"],"topic":["a","b"],"log_level":"debug"}',
    "buf_dur_negative": b'{"op":"update","settings":{"buf_dur":-1}}',
    "buf_dur_nan": b'{"buf_dur": NaN}',
    "buf_dur_inf": b'{"buf_dur": -Infinity, "axis": Infinity}',
    "buf_dur_1e999": b'{"buf_dur": 1e999}',
    "startup_same": b'{"shm_mode":"0600","max_buffer_bytes":1073741824,"rcvhwm":10000,"maxmsgsize":268435456,"control":"tcp://127.0.0.1:5560","events":null}',
    "startup_change": b'{"rcvhwm": 5}',
    "shm_mode_octal": b'{"shm_mode":"0o660"}',
    "curve_pair": b'{"curve_server_cert":"/etc/ezshm/server.cert","curve_clients_dir":"*"}',
    "curve_sub": b'{"sub_curve_serverkey":"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7","sub_curve_client_cert":"/x"}',
    "dup_key": b'{"buf_dur":1,"buf_dur":2}',
    "dup_op": b'{"op":"get","op":"get"}',
    "unknown_op": b'{"op":"reboot"}',
    "get_extra": b'{"op":"get","verbose":true}',
    "unknown_field": b'{"bufdur":1}',
    "not_object": b'[1,2,3]',
    "not_json": b'{"op":',
    "nul_byte": b'{"op":"get"}\x00',
    "u0000": b'{"axis":"a\\u0000b"}',
    "bad_utf8_key": b'{"\xff\xfe":1}',
    "bad_utf8_value": b'{"axis":"\xc3\x28"}',
    "long_key": b'{"' + b"\xe2\x82\xac" * 200 + b'":1}',
    "deep": b'{"a":' * 200 + b'1' + b'}' * 200,
    "update_not_object": b'{"op":"update","settings":[]}',
    "update_no_settings": b'{"op":"update"}',
    "op_number": b'{"op":5}',
    "big_int": b'{"max_buffer_bytes":9007199254740993,"rcvhwm":2147483648,"maxmsgsize":-1}',
    "fraction": b'{"rcvhwm":1.5}',
    "topic_array_33": b'{"topic":[' + b",".join(b'"t"' for _ in range(33)) + b']}',
}
for name, body in control.items():
    write(os.path.join(HERE, "corpus", "control", name + ".json"), body)

# ---- mirror_header: 8-byte prefix + header bytes [+ patches] -------------------------
layout = json.load(open(os.path.join(FIX, "shm-header-layout.json")))


def mirror_input(header, flags=0, param=0, patches=(), mode=0):
    out = struct.pack("<BBHi", flags, mode, len(header), param) + header
    for pos, val in patches:
        out += struct.pack("<HB", pos, val)
    return out


RING = 1 | 2                     # ring file of exactly the implied size (+ param)
LATEST = lambda n: (n & 63) << 2
mh = os.path.join(HERE, "corpus", "mirror_header")
for lay, base in (("legacy", 0), ("v1", 8)):
    g = layout["versions"][lay]["golden"]
    before = bytes.fromhex(g["header_before_first_message_hex"])
    after = bytes.fromhex(g["header_after_first_message_hex"])
    assert len(before) == len(after) == layout["versions"][lay]["total_size"]
    write(os.path.join(mh, f"{lay}_before.bin"), mirror_input(before, RING))
    write(os.path.join(mh, f"{lay}_after.bin"), mirror_input(after, RING | LATEST(10)))
    # the same with a ring one byte short, and with a raw 32000-byte ring
    write(os.path.join(mh, f"{lay}_after_ring_short.bin"), mirror_input(after, RING, -1))
    write(os.path.join(mh, f"{lay}_after_ring_raw.bin"), mirror_input(after, 1 | LATEST(63), 32000))
    # no ring file at all
    write(os.path.join(mh, f"{lay}_after_no_ring.bin"), mirror_input(after, 0))

    def mutate(**fields):
        h = bytearray(after)
        offs = {"bvalid": 0, "dtype": 1, "ndim": 10, "shape0": 14, "shape1": 18,
                "generation": 270, "wrap": 274, "key_len": 1306, "write_index": 1310}
        fmts = {"bvalid": "<B", "dtype": "<c", "ndim": "<I", "shape0": "<I", "shape1": "<I",
                "generation": "<I", "wrap": "<Q", "key_len": "<I", "write_index": "<Q"}
        for k, v in fields.items():
            struct.pack_into(fmts[k], h, base + offs[k], v)
        return bytes(h)

    muts = {
        "bvalid2": mutate(bvalid=2),
        "ndim0": mutate(ndim=0),
        "ndim65": mutate(ndim=65),
        "dtype_bad": mutate(dtype=b"x"),
        "shape0_zero": mutate(shape0=0),
        "shape_huge": mutate(shape0=0xFFFFFFFF, shape1=0xFFFFFFFF),
        "key_len_big": mutate(key_len=1025),
        "write_index_past": mutate(write_index=1001),
        "write_index_full": mutate(write_index=1000, wrap=3),
        "wrap_huge": mutate(wrap=0xFFFFFFFFFFFFFFFF, write_index=999),
        "generation_5": mutate(generation=5),
    }
    for name, h in muts.items():
        write(os.path.join(mh, f"{lay}_{name}.bin"), mirror_input(h, RING | LATEST(8)))
    # header truncated by one byte; header with trailing bytes
    write(os.path.join(mh, f"{lay}_truncated.bin"), mirror_input(after[:-1], RING))
    write(os.path.join(mh, f"{lay}_trailing.bin"), mirror_input(after + b"\0" * 16, RING | LATEST(4)))
    # the writer changes the header after attach: bvalid 0, new generation, a lap
    write(os.path.join(mh, f"{lay}_writer_rebuild.bin"),
          mirror_input(after, RING | LATEST(5), 0, [(base + 0, 0), (base + 270, 1)]))
    write(os.path.join(mh, f"{lay}_writer_advance.bin"),
          mirror_input(after, RING | LATEST(5), 0, [(base + 1310, 200), (base + 274, 1)]))
    # a restarted writer: the header file replaced (mode 1) / removed first (mode 2)
    for mode, what in ((1, "restart"), (2, "removed")):
        write(os.path.join(mh, f"{lay}_writer_{what}.bin"),
              mirror_input(after, RING | LATEST(5), 0, [(base + 0, 0), (base + 270, 1)], mode))
        write(os.path.join(mh, f"{lay}_writer_{what}_advance.bin"),
              mirror_input(after, RING | LATEST(5), 0, [(base + 1310, 200), (base + 274, 1)], mode))
    write(os.path.join(mh, f"{lay}_writer_shape.bin"),
          mirror_input(after, RING | LATEST(5), 0, [(base + 18, 0xFF), (base + 15, 0x7F)]))
write(os.path.join(mh, "empty_header.bin"), mirror_input(b"", 1, 100))
write(os.path.join(mh, "v1_magic_only.bin"), mirror_input(b"SMZE\x01\x00\x00\x00", 1, 100))
write(os.path.join(mh, "v1_version2.bin"),
      mirror_input(b"SMZE\x02\x00\x00\x00" + bytes.fromhex(
          layout["versions"]["legacy"]["golden"]["header_after_first_message_hex"]) + b"\0" * 16, RING))

# ---- clock: u16 L, u8 n, u8 mode + segment bytes (mode bit 0) or patches; bit 3: wake --
ck = os.path.join(HERE, "corpus", "clock")
os.makedirs(ck, exist_ok=True)
REPLACE, COORD, V1 = 1, 2, 4


def clock_input(L, n, mode, rest=b""):
    return struct.pack("<HBB", L - 2, n, mode) + rest


def patches(*pv):
    return b"".join(struct.pack("<HB", pos, val) for pos, val in pv)


def clock_segment(L, coordinate, anchors=(), written=None, **over):
    """A clock segment as docs/shm-layout.md section 11 lays it out (generation 0)."""
    cap = L + 2 if coordinate else (L + 0) // 1 + 2     # srate 100 Hz: min_chunk 1
    f = dict(magic=0x4B4C435A, version=1, generation=0, flags=1 if coordinate else 0, n_frames=L,
             capacity=cap, anchor_offset=4096, times_offset=4096 + 48 * cap if coordinate else 0,
             written=len(anchors) if written is None else written, state=1, anchor_bytes=48)
    f.update(over)
    head = struct.pack("<IIIIQQQQQII", f["magic"], f["version"], f["generation"], f["flags"], f["n_frames"],
                       f["capacity"], f["anchor_offset"], f["times_offset"], f["written"], f["state"],
                       f["anchor_bytes"])
    body = bytearray(head.ljust(4096, b"\0") + b"\0" * (48 * cap + (8 * L if coordinate else 0)))
    for k, (pos, count, t0, gain, wall, seq) in enumerate(anchors):
        struct.pack_into("<QQddqQ", body, 4096 + 48 * (k % cap), pos, count, t0, gain, wall, seq)
    return bytes(body)


for mode in (0, COORD, V1, COORD | V1):
    write(os.path.join(ck, f"valid_{mode}.bin"), clock_input(100, 20, mode))
write(os.path.join(ck, "patch_written_huge.bin"), clock_input(100, 40, 0, patches((48 + 7, 0xFF), (48, 3))))
write(os.path.join(ck, "patch_capacity.bin"), clock_input(100, 40, 0, patches((24, 0xFF), (27, 0x7F))))
write(os.path.join(ck, "patch_anchor_position.bin"),
      clock_input(100, 40, 0, patches((4096 + 48 + 7, 0x80), (4096 + 8, 0xFF), (4096 + 16 + 7, 0x7F))))
write(os.path.join(ck, "patch_state_closed.bin"), clock_input(100, 10, COORD, patches((56, 2), (128, 9))))
write(os.path.join(ck, "patch_times_nan.bin"),
      clock_input(50, 30, COORD, patches(*[(4096 + 48 * 52 + i, 0xFF) for i in range(24)])))
good = [(0, 8, 0.0, 0.01, 1, 0), (8, 8, 0.08, 0.01, 2, 1), (16, 4, 0.16, 0.01, 3, 2)]
replaced = {
    "replace_valid": clock_segment(100, False, good),
    "replace_valid_coord": clock_segment(100, True, good),
    "replace_magic_only": struct.pack("<I", 0x4B4C435A),
    "replace_short_page": clock_segment(100, False, good)[:4095],
    "replace_capacity_huge": clock_segment(100, False, good, capacity=1 << 60),
    "replace_capacity_one": clock_segment(100, False, good, capacity=1),
    "replace_times_odd": clock_segment(100, True, good, times_offset=4096 + 48 * 102 + 3),
    "replace_times_past_end": clock_segment(100, True, good, times_offset=1 << 40),
    "replace_wrong_generation": clock_segment(100, False, good, generation=7),
    "replace_wrong_length": clock_segment(100, False, good, n_frames=99),
    "replace_written_wraps": clock_segment(100, False, good, written=(1 << 64) - 1),
    "replace_anchors_backwards": clock_segment(100, False, [(50, 10, 0, 1, 0, 0), (0, 1 << 63, 1, 1, 0, 0),
                                                           (1 << 64 - 1, 5, 0, 0, 0, 0)]),
    "replace_flags_unknown": clock_segment(100, False, good, flags=6),
}
for name, seg in replaced.items():
    write(os.path.join(ck, name + ".bin"), clock_input(100, 20, REPLACE, seg))
# The wake segment (mode bit 3): its words patched under the writer, or another file there.
WAKE = 8
write(os.path.join(ck, "wake_patch_words.bin"),
      clock_input(100, 20, WAKE, patches((0, 0xFF), (3, 0x80), (64, 0xFF), (67, 0xFF))))
wake_files = {
    "wake_replace_empty": b"",
    "wake_replace_short": b"\xff" * 68,
    "wake_replace_page": (b"\x07" + b"\0" * 63 + b"\x05").ljust(4096, b"\0"),
    "wake_replace_long": b"\xa5" * 9000,
}
for name, seg in wake_files.items():
    write(os.path.join(ck, name + ".bin"), clock_input(100, 20, WAKE | REPLACE, seg))

# ---- wire: the ezmsg-zmq fixtures not yet in corpus/wire ----------------------------
def frames(*fs):
    out = struct.pack("<I", len(fs))
    for f in fs:
        out += struct.pack("<I", len(f)) + f
    return out


wd = os.path.join(HERE, "corpus", "wire")
zmq = os.path.join(FIX, "ezmsg-zmq")
for name in ("c64_time_ch", "f64_ch_time", "f32_deprecated_axis", "f32_attrs_pickle_fallback"):
    payload = open(os.path.join(zmq, name + ".json"), "rb").read()
    write(os.path.join(wd, f"multipart_{name}.bin"), frames(b"pyref", payload))
    single = open(os.path.join(zmq, name + ".singlepart.bin"), "rb").read()
    write(os.path.join(wd, f"singlepart_{name}.bin"), frames(single))
# native header cache: the same header twice with other numbers (second round = patches)
hdr = (b'{"ts": 1795682068.25, "seq": 41, "obj": {"data": {"_type": "_ndarray", "dtype": "<i2", '
       b'"shape": [2, 2]}, "dims": ["time", "ch"], "axes": {"time": {"unit": "s", "gain": 0.001, '
       b'"offset": 2.05, "_type": "ezmsg.util.messages.axisarray:LinearAxis"}}, "key": ""}}')
body = frames(b"t", hdr, b"\x01\x00\x02\x00\x03\x00\x04\x00")
i = hdr.index(b"41")
body += struct.pack("<HB", i, ord("9"))             # seq 41 -> 91 (cache hit)
j = hdr.index(b"2.05")
body += struct.pack("<HB", j, ord("-"))             # offset -.05 is not JSON
write(os.path.join(wd, "native_cache_patch.bin"), body)
write(os.path.join(wd, "native_u_labels.bin"), frames(b"t", (
    b'{"data": {"dtype": "float32", "shape": [1, 2]}, "dims": ["time", "ch"], "axes": {"ch": '
    b'{"data": {"_type": "_ndarray", "dtype": ">U2", "data": "AAAAQQAAAEIAAABDAAAAAA==", "shape": [2]}, '
    b'"_type": "x:CoordinateAxis"}}}'), b"\0" * 8))


# ---- issue 21/22 shapes: metadata the wire decoder must carry, bound or leave out ------
def axis_array(attrs=b"{}", ch=b"", dims=b'"time", "ch"', key=b'"k"'):
    """A small multipart AxisArray; ch is an extra coordinate axis object (raw JSON)."""
    axes = b'"time": {"gain": 0.01, "offset": 0, "unit": "s"}' + (b', "ch": ' + ch if ch else b"")
    return frames(b"t", b'{"obj": {"data": {"_type": "_ndarray", "dtype": "float32", "data": '
                  b'"AAAAAAAAAAAAAAAAAAAAAA==", "shape": [2, 2]}, "dims": [' + dims + b'], "axes": {'
                  + axes + b'}, "attrs": ' + attrs + b', "key": ' + key + b'}}')


def record(dtype, nbytes):
    import base64
    return (b'{"_type": "x:CoordinateAxis", "dims": ["ch"], "data": {"_type": "_ndarray", "dtype": "'
            + dtype + b'", "data": "' + base64.b64encode(bytes(nbytes)) + b'", "shape": [2]}}')


ZERO = b'"data": "", '
write(os.path.join(wd, "meta_many_keys.bin"),
      axis_array(b"{" + b", ".join(b'"k%d": %d' % (i, i) for i in range(3000)) + b"}"))
write(os.path.join(wd, "meta_wrapped_shapes.bin"), axis_array(
    b'{"w": {"_type": "_ndarray", "dtype": "<f8", ' + ZERO + b'"shape": [4611686018427387904, 4, 0]}, '
    b'"z": {"_type": "_ndarray", "dtype": "uint8", ' + ZERO + b'"shape": [9223372036854775808, 0]}, '
    b'"d": {"_type": "_ndarray", "dtype": "<f8", "data": "AAAAAAAAAAA=", "shape": [' + b", ".join([b"1"] * 33)
    + b']}, "ok": 1}'))
write(os.path.join(wd, "meta_invalid_utf8_names.bin"),
      axis_array(dims=b'"time", "c\xffh"', key=b'"\xfe"'))
write(os.path.join(wd, "meta_invalid_utf8_field.bin"), axis_array(ch=record(b"[('l\xe9', '<U3')]", 24)))
write(os.path.join(wd, "meta_record_kinds.bin"), axis_array(
    ch=record(b"[('label', '<U10'), ('x', '<f8'), ('ok', '?'), ('h', 'e')]", 2 * 51)))
write(os.path.join(wd, "meta_record_refused.bin"), axis_array(
    ch=record(b"[('n', [('b', '<i4')]), ('s', '<f4', (3,)), ('t', '<M8[ns]')]", 2 * 24)))
write(os.path.join(wd, "meta_ints_surrogates.bin"), axis_array(
    b'{"u": 9223372036854775808, "m": 18446744073709551615, "w": 18446744073709551616, '
    b'"n": -9223372036854775808, "s": "a\\udc80b", "p": "\\ud83d\\ude00"}'))

# ---- pickle: aux blobs with wrapped shapes and shared references (not ezmsg-tools') ---
pd = os.path.join(HERE, "corpus", "pickle")
hostile_blobs = {
    # _frombuffer(b'', dtype('f8'), (2**62, 4), 'C'): the size wraps to 0
    "hostile_wrapped_f8.pickle": "8005957d000000000000007d948c0161948c126e756d70792e636f72652e6e756d657269"
    "63948c0b5f66726f6d627566666572949394284300948c056e756d7079948c0564747970659493948c026638948988879452942"
    "84b038c013c944e4e4e4affffffff4affffffff4b007494628a0800000000000000404b0486948c01439474945294732e",
    # an object array (2**32, 2**32) with an empty element list
    "hostile_wrapped_object.pickle": "8005959a000000000000007d948c0161948c156e756d70792e636f72652e6d756c7469"
    "6172726179948c0c5f7265636f6e7374727563749493948c056e756d7079948c076e6461727261799493944b0085944301629487"
    "945294284b018a0500000000018a050000000001869468058c0564747970659493948c024f3894898887945294284b038c017c94"
    "4e4e4e4affffffff4affffffff4b3f749462895d94749462732e",
    # an empty uint8 array of shape (2**60, 0): numpy loads it; a printer must not walk 2**60 rows
    "hostile_empty_2_60_rows.pickle": "8005957d000000000000007d948c0161948c126e756d70792e636f72652e6e756d6572"
    "6963948c0b5f66726f6d627566666572949394284300948c056e756d7079948c05647479706594939"
    "48c02753194898887945294284b038c017c944e4e4e4affffffff4affffffff4b007494628a0800000000000000104b008694"
    "8c01439474945294732e",
}
for name, hexed in hostile_blobs.items():
    write(os.path.join(pd, name), bytes.fromhex(hexed))
import pickle  # noqa: E402 (stdlib: shared references and wide ints need no numpy)
bomb = ["x" * 100]
for _ in range(30):
    bomb = [bomb, bomb]
write(os.path.join(pd, "hostile_shared_references.pickle"), pickle.dumps({"a": bomb}, protocol=5))
write(os.path.join(pd, "ints_2_63_to_2_64.pickle"),
      pickle.dumps({"a": 2 ** 63, "b": 2 ** 64 - 1, "c": -2 ** 63}, protocol=5))
print("ok")
