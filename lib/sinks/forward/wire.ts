// The Forward Protocol v1 as wsgistat sends it: one PackedForward message per batch,
// `[tag, bin(entries), {"size": n, "chunk": id}]`, each entry `[EventTime, record]` with EventTime
// as msgpack ext type 0 (8 bytes: seconds, nanoseconds, each 32-bit big-endian). Never a float
// time: Fluentd 1.19+ drops those and acks them anyway (protocols.md §3).
//
// The records come from the JSON lines the backlog keeps. Records are flat, so their numbers are
// the only care: every integer beyond 32 bits is sent as a msgpack 64-bit integer of the digits
// stdout printed (BigInt(String(v))), never as a float64, so Fluentd stores the integer stdout
// printed: a `vsz` over 4 GiB stays an Integer (@msgpack/msgpack, with useBigInt64 for the
// integers beyond 2^53, would write the others as float64, and Ruby would store 5000000000.0).
//
// The chunk id is derived from the batch's lines: the same batch, resent after an ack timeout or
// read back from the spool by the next run, carries the same id, so a receiver (or a person
// reading its logs) can tell a resend from new data.

import { createHash } from 'node:crypto';
import { Encoder, ExtensionCodec } from '@msgpack/msgpack';

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

const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;
const TWO_32 = 2 ** 32;
const TWO_31 = 2 ** 31;

/** A record read back from its JSON line, with integers beyond 32 bits as 64-bit integers. */
export function recordOf(line: string): Record<string, unknown> {
  const r = JSON.parse(line) as Record<string, unknown>;
  for (const k in r) {
    const v = r[k];
    if (typeof v === 'number' && (v >= TWO_32 || v < -TWO_31) && Number.isInteger(v) && v > -TWO_63 && v < TWO_64) r[k] = BigInt(String(v)); // the digits stdout printed
  }
  return r;
}

/** The event time of a record: its `time` (epoch seconds), or now. */
export function eventTimeOf(r: Record<string, unknown>): EventTime {
  const t = r.time;
  return EventTime.of(typeof t === 'number' && Number.isFinite(t) && t >= 0 ? t : Date.now() / 1000);
}

/** The chunk id of a batch: 16 bytes of SHA-256 over its lines, base64 (as out_forward's are). */
export function chunkIdOf(lines: readonly string[]): string {
  const h = createHash('sha256');
  for (const l of lines) h.update(l).update('\n');
  return h.digest().subarray(0, 16).toString('base64');
}

export interface Packed {
  /** The whole message, ready for the socket. */
  bytes: Uint8Array;
  chunk: string;
  size: number;
}

/** One PackedForward message for a batch of JSON lines. */
export function packBatch(tag: string, lines: readonly string[], encoder = newEncoder()): Packed {
  const entries = new Array<[EventTime, Record<string, unknown>]>(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const r = recordOf(lines[i]!);
    entries[i] = [eventTimeOf(r), r];
  }
  // The entries are one msgpack array; the bin is that array without its header: the entries
  // back to back.
  const all = encoder.encode(entries);
  const n = lines.length;
  const head = n < 16 ? 1 : n < 65536 ? 3 : 5;
  const chunk = chunkIdOf(lines);
  const bytes = encoder.encode([tag, all.subarray(head), { size: n, chunk }]);
  return { bytes, chunk, size: n };
}

export function newEncoder(): Encoder {
  return new Encoder({ extensionCodec: codec, useBigInt64: true, ignoreUndefined: true });
}
