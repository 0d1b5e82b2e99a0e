/* frame.js — the columns frame of docs/console.md §2, decoded in place (Float32Array views
   on the message's buffer), and the plot a subscription's frames add up to: a full frame
   replaces it, a delta frame (flag 4) updates the columns it carries, the others stay as the
   earlier frames left them, moved with the window. */
'use strict';

(function () {
  const C = window.ezshmConsole;
  const MAGIC = 0x31435A45; /* "EZC1" little-endian */
  const HEADER = 112;

  /* An ArrayBuffer -> frame object; throws on a buffer that is not a version-1 frame. */
  C.decodeFrame = function (buf) {
    if (!(buf instanceof ArrayBuffer) || buf.byteLength < HEADER) throw new Error('short columns frame');
    const v = new DataView(buf);
    if (v.getUint32(0, true) !== MAGIC) throw new Error('not a columns frame');
    if (v.getUint16(4, true) !== 1 || v.getUint16(6, true) !== 1) throw new Error('unknown frame version or kind');
    const header = v.getUint32(8, true);
    const columns = v.getUint32(32, true);
    const channels = v.getUint32(36, true);
    const spanFirst = v.getUint32(96, true), span = v.getUint32(100, true);
    const cells = span * channels;
    const bitmap = Math.ceil(span / 8);
    if (header < HEADER || header % 4 || spanFirst + span > columns ||
        buf.byteLength < header + 8 * cells + 2 * bitmap) throw new Error('truncated columns frame');
    const gapBytes = new Uint8Array(buf, header + 8 * cells, bitmap);
    const lostBytes = new Uint8Array(buf, header + 8 * cells + bitmap, bitmap);
    const flags = v.getUint32(12, true);
    return {
      clock: (flags & 1) !== 0,
      paused: (flags & 2) !== 0,
      delta: (flags & 4) !== 0,
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
      spanFirst: spanFirst,
      span: span,
      /* the carried columns: j = 0 .. span - 1 is plot column spanFirst + j */
      spanMin: new Float32Array(buf, header, cells),
      spanMax: new Float32Array(buf, header + 4 * cells, cells),
      spanGap: (j) => (gapBytes[j >> 3] >> (j & 7)) & 1,
      spanLost: (j) => (lostBytes[j >> 3] >> (j & 7)) & 1,
    };
  };

  /* The plot of a subscription: slots by grid column (grid index mod columns), each with the
     grid index it holds. */
  C.Plot = class {
    reset(f) {
      const n = f.columns * f.channels;
      this.key = [f.subscription, f.generation, f.columns, f.channels, f.channelFirst].join('/');
      this.tag = new Float64Array(f.columns).fill(NaN);
      this.min = new Float32Array(n).fill(NaN);
      this.max = new Float32Array(n).fill(NaN);
      this.gap = new Uint8Array(f.columns).fill(1);
      this.lost = new Uint8Array(f.columns);
    }

    /* Takes frame f; returns the whole plot as a full frame object (min/max/gap/lostAt by
       plot column, oldest first). */
    apply(f) {
      const key = [f.subscription, f.generation, f.columns, f.channels, f.channelFirst].join('/');
      if (!f.delta || key !== this.key) this.reset(f);
      const C = f.columns, N = f.channels, S = f.span;
      const slot = (g) => ((g % C) + C) % C;
      for (let j = 0; j < S; j++) {
        const g = f.firstColumn + f.spanFirst + j, s = slot(g);
        this.tag[s] = g;
        this.gap[s] = f.spanGap(j);
        this.lost[s] = f.spanLost(j);
        for (let n = 0; n < N; n++) {
          this.min[n * C + s] = f.spanMin[n * S + j];
          this.max[n * C + s] = f.spanMax[n * S + j];
        }
      }
      const min = new Float32Array(N * C).fill(NaN), max = new Float32Array(N * C).fill(NaN);
      const gap = new Uint8Array(C).fill(1), lost = new Uint8Array(C);
      for (let k = 0; k < C; k++) {
        const g = f.firstColumn + k, s = slot(g);
        if (this.tag[s] !== g) continue;
        gap[k] = this.gap[s];
        lost[k] = this.lost[s];
        for (let n = 0; n < N; n++) {
          min[n * C + k] = this.min[n * C + s];
          max[n * C + k] = this.max[n * C + s];
        }
      }
      return Object.assign({}, f, {
        min: min, max: max, gap: (k) => gap[k], lostAt: (k) => lost[k],
        spanMin: undefined, spanMax: undefined, spanGap: undefined, spanLost: undefined,
      });
    }
  };
})();
