// The Forward Protocol v1 as wsgistat sends it: one PackedForward message per batch,
// `[tag, bin(entries), {"size": n, "chunk": id}]`, each entry `[EventTime, record]` with EventTime
// as msgpack ext type 0 (8 bytes: seconds, nanoseconds, each 32-bit big-endian). Never a float
// time: Fluentd 1.19+ drops those and acks them anyway (protocols.md §3).
//
// The records come from the JSON lines the backlog keeps, written by writer.ts straight into the
// message from the lines' UTF-8 bytes (the bytes the chunk id hashes), with JSON.parse only for a
// line that is not plain flat JSON. Records are flat, so their numbers are the only care: every
// integer beyond 32 bits is sent as a msgpack 64-bit integer of the digits stdout printed, never
// as a float64, so Fluentd stores the integer stdout printed: a `vsz` over 4 GiB stays an Integer
// (Ruby would store 5000000000.0 for a float).
//
// The chunk id is derived from the batch's lines: the same batch, resent after an ack timeout or
// read back from the spool by the next run, carries the same id, so a receiver (or a person
// reading its logs) can tell a resend from new data.

import { createHash } from 'node:crypto';
import { ExtensionCodec } from '@msgpack/msgpack';
import { PackWriter } from './writer.js';

export class EventTime {
  constructor(readonly sec: number, readonly nsec: number) {}

  /** From epoch seconds (a record's `time`), to the microsecond: a double of today's epoch holds
   *  no more, and 1796281372.08 must be .080000000, not .079999924. */
  static of(seconds: number): EventTime {
    let sec = Math.floor(seconds);
    let nsec = Math.round((seconds - sec) * 1e6) * 1000;
    if (nsec >= 1e9) {
      sec += 1;
      nsec -= 1e9;
    }
    return new EventTime(sec >>> 0, nsec);
  }
}

const codec = new ExtensionCodec();
codec.register({
  type: 0,
  encode(v: unknown) {
    if (!(v instanceof EventTime)) return null;
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, v.sec);
    dv.setUint32(4, v.nsec);
    return b;
  },
  decode(data: Uint8Array) {
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    return new EventTime(dv.getUint32(0), dv.getUint32(4));
  },
});

export const extensionCodec = codec;

/** The event time of a record: its `time` (epoch seconds), or now. */
export function eventTimeOf(r: Record<string, unknown>): EventTime {
  return timeOf(r.time);
}

function timeOf(t: unknown): EventTime {
  return EventTime.of(typeof t === 'number' && Number.isFinite(t) && t >= 0 ? t : Date.now() / 1000);
}

/** A batch's lines as one UTF-8 text, each line ended by a newline: what the chunk id hashes. */
function textOf(lines: readonly string[]): Buffer {
  return lines.length > 0 ? Buffer.from(`${lines.join('\n')}\n`, 'utf8') : Buffer.alloc(0);
}

/** The chunk id of a batch: 16 bytes of SHA-256 over its lines, each ended by a newline, base64 (as
 *  out_forward's are). One update: a call per line cost more than the hashing. */
export function chunkIdOf(lines: readonly string[]): string {
  return chunkIdOfText(textOf(lines));
}

function chunkIdOfText(text: Buffer): string {
  return createHash('sha256').update(text).digest().subarray(0, 16).toString('base64');
}

export interface Packed {
  /** The whole message, ready for the socket. */
  bytes: Uint8Array;
  chunk: string;
  size: number;
}

/** One PackedForward message for a batch of JSON lines: `[tag, bin(entries), {size, chunk}]`, the
 *  entries written in place after room for the header, which is written last, when the bin's
 *  length is known. Each entry is written from the line's bytes in the batch's text when the line
 *  is plain flat JSON (writer.flatEntry), else from JSON.parse of the line: the same bytes. */
export function packBatch(tag: string, lines: readonly string[], writer = new PackWriter()): Packed {
  // The text: each line's UTF-8 written into the writer's scratch buffer and ended by a newline,
  // room for three bytes a char (the most UTF-8 takes) kept ahead of every line.
  let size = lines.length;
  let longest = 0;
  for (const l of lines) {
    size += l.length;
    if (l.length > longest) longest = l.length;
  }
  let text = writer.scratch(size + 3 * longest + 1);
  const tagBytes = Buffer.byteLength(tag, 'utf8');
  writer.begin(size + 16 * lines.length + 64, 1 + 5 + tagBytes + 5);
  const entries = writer.offset;
  let at = 0; // where the line starts in the text
  for (const line of lines) {
    if (text.length - at < 3 * line.length + 1) text = writer.scratch(at + 3 * line.length + 1, at);
    const n = text.write(line, at, 'utf8');
    text[at + n] = 0x0a;
    const entry = writer.offset;
    // The object read must be the whole line (a line with a raw newline in it would not be).
    if (writer.flatEntry(text, at) === at + n) {
      const t = timeOf(writer.entryTime);
      writer.eventTimeAt(entry + 1, t.sec, t.nsec);
    } else {
      const r = JSON.parse(line) as Record<string, unknown>;
      const t = eventTimeOf(r);
      writer.rewind(entry);
      writer.u8(0x92);
      writer.eventTime(t.sec, t.nsec);
      writer.map(r);
    }
    at += n + 1;
  }
  const start = writer.prefix(headerOf(tag, tagBytes, writer.offset - entries), entries);
  const chunk = chunkIdOfText(text.subarray(0, at));
  writer.mapHeader(2);
  writer.str('size');
  writer.uint(lines.length);
  writer.str('chunk');
  writer.str(chunk);
  return { bytes: writer.bytes(start), chunk, size: lines.length };
}

/** fixarray(3), the tag as a str, the bin's header. */
function headerOf(tag: string, tagBytes: number, binLength: number): Buffer {
  const tagHead = tagBytes < 32 ? 1 : tagBytes < 0x100 ? 2 : tagBytes < 0x10000 ? 3 : 5;
  const binHead = binLength < 0x100 ? 2 : binLength < 0x10000 ? 3 : 5;
  const h = Buffer.allocUnsafe(1 + tagHead + tagBytes + binHead);
  h[0] = 0x93;
  let at = 1;
  if (tagHead === 1) h[at++] = 0xa0 | tagBytes;
  else if (tagHead === 2) (h[at] = 0xd9), h.writeUInt8(tagBytes, at + 1), (at += 2);
  else if (tagHead === 3) (h[at] = 0xda), h.writeUInt16BE(tagBytes, at + 1), (at += 3);
  else (h[at] = 0xdb), h.writeUInt32BE(tagBytes, at + 1), (at += 5);
  at += h.write(tag, at, 'utf8');
  if (binHead === 2) (h[at] = 0xc4), h.writeUInt8(binLength, at + 1);
  else if (binHead === 3) (h[at] = 0xc5), h.writeUInt16BE(binLength, at + 1);
  else (h[at] = 0xc6), h.writeUInt32BE(binLength, at + 1);
  return h;
}
