/* frame.js — the columns frame of docs/console.md §2, decoded in place (no copy of the
   arrays: Float32Array views on the message's buffer). */
'use strict';

(function () {
  const C = window.ezshmConsole;
  const MAGIC = 0x31435A45; /* "EZC1" little-endian */

  /* An ArrayBuffer -> frame object; throws on a buffer that is not a version-1 frame. */
  C.decodeFrame = function (buf) {
    if (!(buf instanceof ArrayBuffer) || buf.byteLength < 96) throw new Error('short columns frame');
    const v = new DataView(buf);
    if (v.getUint32(0, true) !== MAGIC) throw new Error('not a columns frame');
    if (v.getUint16(4, true) !== 1 || v.getUint16(6, true) !== 1) throw new Error('unknown frame version or kind');
    const header = v.getUint32(8, true);
    const columns = v.getUint32(32, true);
    const channels = v.getUint32(36, true);
    const cells = columns * channels;
    const bitmap = Math.ceil(columns / 8);
    if (header < 96 || header % 4 || buf.byteLength < header + 8 * cells + 2 * bitmap) throw new Error('truncated columns frame');
    const gapBytes = new Uint8Array(buf, header + 8 * cells, bitmap);
    const lostBytes = new Uint8Array(buf, header + 8 * cells + bitmap, bitmap);
    const flags = v.getUint32(12, true);
    return {
      clock: (flags & 1) !== 0,
      paused: (flags & 2) !== 0,
      subscription: v.getUint32(16, true),
      sequence: v.getUint32(20, true),
      generation: v.getUint32(24, true),
      rebuilds: v.getUint32(28, true),
      columns: columns,
      channels: channels,
      channelFirst: v.getUint32(40, true),
      channelsTotal: v.getUint32(44, true),
      t0: v.getFloat64(48, true),
      t1: v.getFloat64(56, true),
      tNewest: v.getFloat64(64, true),
      firstColumn: Number(v.getBigInt64(72, true)),
      frames: Number(v.getBigUint64(80, true)),
      lost: Number(v.getBigUint64(88, true)),
      min: new Float32Array(buf, header, cells),
      max: new Float32Array(buf, header + 4 * cells, cells),
      gap: (k) => (gapBytes[k >> 3] >> (k & 7)) & 1,
      lostAt: (k) => (lostBytes[k >> 3] >> (k & 7)) & 1,
    };
  };
})();
