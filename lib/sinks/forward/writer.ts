// A msgpack writer for one PackedForward message, written straight into one buffer: the hot path of
// the forward output (bench/forward.ts). It writes the bytes @msgpack/msgpack wrote before
// (spec/sinks/forward-wire.spec.ts holds it to them): smallest integer and string forms, float64
// for other numbers, fixext8 for EventTime; but without the intermediate objects (entries,
// EventTime, BigInt for every large integer) and the three copies of the entries that encoding
// them as an array, slicing off its header and encoding that again as a bin took.
//
// Keys repeat in every record of a batch, and so do many values (host, source, type, status): their
// encoded forms are kept in a bounded cache, so a batch encodes each of them once.

const TWO_32 = 2 ** 32;
const TWO_31 = 2 ** 31;
const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;
/** Strings longer than this are encoded each time (a cwd, a request path), not cached. */
const CACHED_MAX_CHARS = 64;
const CACHE_MAX = 4096;

export class PackWriter {
  private buf: Buffer = Buffer.allocUnsafe(0);
  private pos = 0;
  private readonly cache = new Map<string, Buffer>();

  /** Starts a message in a fresh buffer of about `size` bytes (grown as needed); the first
   *  `reserve` bytes are left for a header written last. */
  begin(size: number, reserve: number): void {
    this.buf = Buffer.allocUnsafe(Math.max(size, 256) + reserve);
    this.pos = reserve;
  }

  get offset(): number {
    return this.pos;
  }

  /** The bytes from `start` to the end: the message, sharing the buffer (not reused after). */
  bytes(start: number): Buffer {
    return this.buf.subarray(start, this.pos);
  }

  /** Writes `header` so that it ends at `end`; returns where it starts. */
  prefix(header: Buffer, end: number): number {
    header.copy(this.buf, end - header.length);
    return end - header.length;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  arrayHeader(n: number): void {
    if (n < 16) this.u8(0x90 | n);
    else if (n < 0x10000) this.typed(0xdc, n, 2);
    else this.typed(0xdd, n, 4);
  }

  mapHeader(n: number): void {
    if (n < 16) this.u8(0x80 | n);
    else if (n < 0x10000) this.typed(0xde, n, 2);
    else this.typed(0xdf, n, 4);
  }

  /** EventTime: fixext8 of type 0, seconds and nanoseconds as 32-bit big-endian. */
  eventTime(sec: number, nsec: number): void {
    this.room(10);
    const b = this.buf;
    b[this.pos] = 0xd7;
    b[this.pos + 1] = 0;
    b.writeUInt32BE(sec, this.pos + 2);
    b.writeUInt32BE(nsec, this.pos + 6);
    this.pos += 10;
  }

  private typed(type: number, n: number, width: 1 | 2 | 4): void {
    this.room(1 + width);
    const b = this.buf;
    b[this.pos] = type;
    if (width === 1) b[this.pos + 1] = n;
    else if (width === 2) b.writeUInt16BE(n, this.pos + 1);
    else b.writeUInt32BE(n, this.pos + 1);
    this.pos += 1 + width;
  }

  str(s: string): void {
    if (s.length <= CACHED_MAX_CHARS) {
      let enc = this.cache.get(s);
      if (enc === undefined) {
        enc = encodeStr(s);
        if (this.cache.size < CACHE_MAX) this.cache.set(s, enc);
      }
      this.room(enc.length);
      // A loop: Buffer#copy and set() cost a native call each, more than these few bytes.
      const b = this.buf;
      let at = this.pos;
      for (let i = 0; i < enc.length; i++) b[at++] = enc[i]!;
      this.pos = at;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.strHeader(n);
    this.room(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  private strHeader(n: number): void {
    if (n < 32) this.u8(0xa0 | n);
    else if (n < 0x100) this.typed(0xd9, n, 1);
    else if (n < 0x10000) this.typed(0xda, n, 2);
    else this.typed(0xdb, n, 4);
  }

  /** A number as @msgpack/msgpack with useBigInt64 wrote it after recordOf: integers of up to 32
   *  bits in their smallest form, larger ones (as stdout printed them) as 64-bit integers, any
   *  other number as float64. */
  num(v: number): void {
    if (Number.isInteger(v) && v > -TWO_63 && v < TWO_64) {
      if (v >= 0 && v < TWO_32) return this.uint(v);
      if (v < 0 && v >= -TWO_31) return this.int(v);
      this.room(9);
      if (Number.isSafeInteger(v)) {
        this.buf[this.pos] = v >= 0 ? 0xcf : 0xd3;
        const hi = Math.floor(v / TWO_32);
        this.buf.writeInt32BE(hi | 0, this.pos + 1);
        this.buf.writeUInt32BE(v - hi * TWO_32, this.pos + 5);
      } else if (v >= 0) {
        this.buf[this.pos] = 0xcf;
        this.buf.writeBigUInt64BE(BigInt(String(v)), this.pos + 1); // the digits stdout printed
      } else {
        this.buf[this.pos] = 0xd3;
        this.buf.writeBigInt64BE(BigInt(String(v)), this.pos + 1);
      }
      this.pos += 9;
      return;
    }
    this.room(9);
    this.buf[this.pos] = 0xcb;
    this.buf.writeDoubleBE(v, this.pos + 1);
    this.pos += 9;
  }

  uint(v: number): void {
    if (v < 0x80) this.u8(v);
    else if (v < 0x100) this.typed(0xcc, v, 1);
    else if (v < 0x10000) this.typed(0xcd, v, 2);
    else this.typed(0xce, v, 4);
  }

  private int(v: number): void {
    this.room(5);
    const b = this.buf;
    if (v >= -0x20) b[this.pos++] = v & 0xff;
    else if (v >= -0x80) {
      b[this.pos] = 0xd0;
      b.writeInt8(v, this.pos + 1);
      this.pos += 2;
    } else if (v >= -0x8000) {
      b[this.pos] = 0xd1;
      b.writeInt16BE(v, this.pos + 1);
      this.pos += 3;
    } else {
      b[this.pos] = 0xd2;
      b.writeInt32BE(v, this.pos + 1);
      this.pos += 5;
    }
  }

  /** Any JSON value: records are flat, but a nested one is written as @msgpack/msgpack would. */
  value(v: unknown): void {
    switch (typeof v) {
      case 'string':
        return this.str(v);
      case 'number':
        return this.num(v);
      case 'boolean':
        return this.u8(v ? 0xc3 : 0xc2);
      default:
        if (v === null) return this.u8(0xc0);
        if (Array.isArray(v)) {
          this.arrayHeader(v.length);
          for (const x of v) this.value(x);
          return;
        }
        this.map(v as Record<string, unknown>);
    }
  }

  map(o: Record<string, unknown>): void {
    const keys = Object.keys(o);
    this.mapHeader(keys.length);
    for (const k of keys) {
      this.str(k);
      this.value(o[k]);
    }
  }
}

/** A string with its header, on its own. */
function encodeStr(s: string): Buffer {
  const n = Buffer.byteLength(s, 'utf8');
  const head = n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
  const b = Buffer.allocUnsafe(head + n);
  if (head === 1) b[0] = 0xa0 | n;
  else if (head === 2) (b[0] = 0xd9), b.writeUInt8(n, 1);
  else if (head === 3) (b[0] = 0xda), b.writeUInt16BE(n, 1);
  else (b[0] = 0xdb), b.writeUInt32BE(n, 1);
  b.write(s, head, n, 'utf8');
  return b;
}
