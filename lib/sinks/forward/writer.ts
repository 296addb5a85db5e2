// A msgpack writer for one PackedForward message, written straight into one buffer: the hot path of
// the forward output (bench/forward.ts). It writes the bytes @msgpack/msgpack wrote before
// (spec/sinks/forward-wire.spec.ts holds it to them): smallest integer and string forms, float64
// for other numbers, fixext8 for EventTime; but without the intermediate objects (entries,
// EventTime, BigInt for every large integer) and the three copies of the entries that encoding
// them as an array, slicing off its header and encoding that again as a bin took.
//
// Keys repeat in every record of a batch, and so do many values (host, source, type, status): their
// encoded forms are kept in a bounded cache, so a batch encodes each of them once.
//
// flatEntry() writes an entry straight from a JSON line's UTF-8 bytes, without JSON.parse and the
// record object it makes (the forward output's profile at 10,000-record batches: JSON.parse 60% of
// the sender's time, and most of the garbage collector's). It takes only the plainest JSON, the
// lines wsgistat writes: one object, no whitespace, no escape in a key, keys that are not array
// indices (Object.keys would put those first), no key twice (JSON.parse keeps the last value at the
// first place), strings, numbers, true, false, null. Anything else it leaves to JSON.parse and
// map(), which write it as before (or throw as before: invalid JSON is never taken here), so both
// paths write the same bytes for a line (spec/sinks/forward-wire.spec.ts holds them to it).

const TWO_32 = 2 ** 32;
const TWO_31 = 2 ** 31;
const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;
/** Strings longer than this are encoded each time (a cwd, a request path), not cached. */
const CACHED_MAX_CHARS = 64;
const CACHE_MAX = 4096;
/** 10^0 .. 10^22: every one exact as a double. */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
/** A line with more keys than this goes to JSON.parse (the duplicate check's table is twice it). */
const FLAT_KEYS_MAX = 128;
const SEEN_SLOTS = 256;

export class PackWriter {
  private buf: Buffer = Buffer.allocUnsafe(0);
  private pos = 0;
  private readonly cache = new Map<string, Buffer>();
  /** flatEntry's: the line's `time` (undefined if none, or not a number). */
  entryTime: number | undefined;
  /** packBatch's scratch: the batch's text, each line written into it in turn (joining the lines
   *  into one string first was half the send), kept from batch to batch. */
  private text: Buffer = Buffer.allocUnsafe(0);
  /** flatEntry's duplicate key check: the keys of the current line by hash, marked with its stamp. */
  private readonly seenStamp = new Int32Array(SEEN_SLOTS);
  private readonly seenAt = new Int32Array(SEEN_SLOTS);
  private readonly seenLen = new Int32Array(SEEN_SLOTS);
  private stamp = 0;

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

  /** A scratch buffer of at least `size` bytes whose first `keep` bytes are the last one's. */
  scratch(size: number, keep = 0): Buffer {
    if (this.text.length < size) {
      const next = Buffer.allocUnsafe(Math.max(size, this.text.length * 2));
      this.text.copy(next, 0, 0, keep);
      this.text = next;
    }
    return this.text;
  }

  /** Back to `offset`, dropping what was written after it. */
  rewind(offset: number): void {
    this.pos = offset;
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

  /** An EventTime written over the 10 bytes at `at` (room left by flatEntry). */
  eventTimeAt(at: number, sec: number, nsec: number): void {
    const end = this.pos;
    this.pos = at;
    this.eventTime(sec, nsec);
    this.pos = end;
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

  /** The entry `[EventTime, record]` of the JSON object whose first byte is src[start], with 10
   *  bytes left for the EventTime at the entry's offset + 1 (entryTime says the line's `time`);
   *  returns the offset just after the object's `}`, or -1, having written nothing, when the line is
   *  not the plain JSON taken here. The caller checks that the object is the whole line; a byte
   *  below 0x20 (the newline after the line) always ends the object or the line's fast path. */
  flatEntry(src: Buffer, start: number): number {
    const mark = this.pos;
    let i = start;
    let n = 0;
    this.entryTime = undefined;
    this.stamp = (this.stamp + 1) | 0;
    if (this.stamp === 0) this.seenStamp.fill(0), (this.stamp = 1);
    if (src[i++] !== 0x7b) return this.give(mark); // {
    // 0x92, the EventTime's 10 bytes, 3 for the map header (a map16; moved down for a fixmap).
    this.room(14);
    this.buf[this.pos] = 0x92;
    this.pos += 14;
    if (src[i] === 0x7d) i++; // {}
    else {
      for (;;) {
        // The key: a plain string, not an array index, not seen before in this line.
        if (src[i++] !== 0x22 || n === FLAT_KEYS_MAX) return this.give(mark);
        const k = i;
        let h = 0;
        let b = src[i]!;
        if (b >= 0x30 && b <= 0x39) return this.give(mark);
        while (b !== 0x22) {
          if (b === 0x5c || b < 0x20 || i >= src.length) return this.give(mark);
          h = (Math.imul(h, 31) + b) | 0;
          b = src[++i]!;
        }
        const kLen = i - k;
        if (!this.firstSeen(src, k, kLen, h)) return this.give(mark);
        this.rawStr(src, k, kLen);
        n++;
        if (src[++i] !== 0x3a) return this.give(mark); // :
        // The value.
        const isTime = kLen === 4 && src[k] === 0x74 && src[k + 1] === 0x69 && src[k + 2] === 0x6d && src[k + 3] === 0x65;
        b = src[++i]!;
        if (b === 0x22) {
          i = this.strValue(src, i + 1);
          if (i < 0) return this.give(mark);
        } else if (b === 0x2d || (b >= 0x30 && b <= 0x39)) {
          const v = this.numValue(src, i);
          if (v === undefined) return this.give(mark);
          i = this.numEnd;
          if (isTime) this.entryTime = v;
        } else if (b === 0x74 && src[i + 1] === 0x72 && src[i + 2] === 0x75 && src[i + 3] === 0x65) {
          this.u8(0xc3); // true
          i += 4;
        } else if (b === 0x66 && src[i + 1] === 0x61 && src[i + 2] === 0x6c && src[i + 3] === 0x73 && src[i + 4] === 0x65) {
          this.u8(0xc2); // false
          i += 5;
        } else if (b === 0x6e && src[i + 1] === 0x75 && src[i + 2] === 0x6c && src[i + 3] === 0x6c) {
          this.u8(0xc0); // null
          i += 4;
        } else return this.give(mark); // an object, an array, or not JSON
        b = src[i++]!;
        if (b === 0x7d) break; // }
        if (b !== 0x2c) return this.give(mark); // ,
      }
    }
    const head = mark + 11;
    if (n < 16) {
      this.buf[head] = 0x80 | n;
      this.buf.copyWithin(head + 1, head + 3, this.pos);
      this.pos -= 2;
    } else {
      this.buf[head] = 0xde;
      this.buf.writeUInt16BE(n, head + 1);
    }
    return i;
  }

  /** -1 after putting the writer back to `mark`. */
  private give(mark: number): number {
    this.pos = mark;
    return -1;
  }

  /** Whether the key's bytes are new in this line (noting them). */
  private firstSeen(src: Buffer, at: number, len: number, h: number): boolean {
    let slot = h & (SEEN_SLOTS - 1);
    while (this.seenStamp[slot] === this.stamp) {
      if (this.seenLen[slot] === len && src.compare(src, at, at + len, this.seenAt[slot]!, this.seenAt[slot]! + len) === 0) return false;
      slot = (slot + 1) & (SEEN_SLOTS - 1);
    }
    this.seenStamp[slot] = this.stamp;
    this.seenAt[slot] = at;
    this.seenLen[slot] = len;
    return true;
  }

  /** A str of `len` bytes of UTF-8 copied from src: what str() writes for the string they encode. */
  private rawStr(src: Buffer, at: number, len: number): void {
    this.strHeader(len);
    this.room(len);
    if (len > 32) {
      src.copy(this.buf, this.pos, at, at + len);
      this.pos += len;
      return;
    }
    const b = this.buf;
    let p = this.pos;
    for (let j = at; j < at + len; j++) b[p++] = src[j]!;
    this.pos = p;
  }

  /** A string value whose first byte (after the quote) is src[at]; returns the offset after its
   *  closing quote, or -1 (not JSON). One with an escape is read by JSON.parse: its value is the
   *  string JSON.parse makes of the line. */
  private strValue(src: Buffer, at: number): number {
    let i = at;
    let escaped = false;
    for (;;) {
      const b = src[i];
      if (b === 0x22) break;
      if (b === undefined || b < 0x20) return -1;
      if (b === 0x5c) (escaped = true), i++;
      i++;
    }
    if (escaped) {
      let s: unknown;
      try {
        s = JSON.parse(src.toString('utf8', at - 1, i + 1));
      } catch {
        return -1;
      }
      this.str(s as string);
    } else this.rawStr(src, at, i - at);
    return i + 1;
  }

  /** Where numValue's number ended. */
  private numEnd = 0;

  /** The number whose first byte is src[at], as JSON.parse reads it, written as num() writes it;
   *  undefined if it is not a JSON number followed by `,` or `}`. A decimal of up to 15 digits is
   *  its digits divided by a power of ten: both exact doubles, so one division rounds correctly
   *  as JSON.parse does; longer ones and exponents are read by Number(). */
  private numValue(src: Buffer, at: number): number | undefined {
    let i = at;
    const neg = src[i] === 0x2d;
    if (neg) i++;
    let b = src[i]!;
    if (b === 0x30) b = src[++i]!; // a leading 0 is alone
    else if (b >= 0x31 && b <= 0x39) while (b >= 0x30 && b <= 0x39) b = src[++i]!;
    else return undefined;
    let fracAt = -1;
    if (b === 0x2e) {
      fracAt = ++i;
      b = src[i]!;
      while (b >= 0x30 && b <= 0x39) b = src[++i]!;
      if (i === fracAt) return undefined;
    }
    let exp = false;
    if (b === 0x65 || b === 0x45) {
      exp = true;
      b = src[++i]!;
      if (b === 0x2b || b === 0x2d) b = src[++i]!;
      const e = i;
      while (b >= 0x30 && b <= 0x39) b = src[++i]!;
      if (i === e) return undefined;
    }
    if (b !== 0x2c && b !== 0x7d) return undefined;
    this.numEnd = i;
    const digits = i - at - (neg ? 1 : 0) - (fracAt >= 0 ? 1 : 0);
    let v: number;
    if (!exp && digits <= 15) {
      let m = 0;
      for (let j = neg ? at + 1 : at; j < i; j++) if (src[j] !== 0x2e) m = m * 10 + (src[j]! - 0x30);
      if (fracAt >= 0) m /= POW10[i - fracAt]!;
      v = neg ? -m : m;
    } else v = Number(src.toString('latin1', at, i));
    this.num(v);
    return v;
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
