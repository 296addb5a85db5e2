// Pure: the views of one sample to the lines of one screen, each at most `cols` wide and at most
// `rows` of them: a title, per server its header and a row per worker, and the key line. What
// does not fit is said (+N more); a larger terminal gets more rows and wider headers.

import { styleText } from 'node:util';
import { SORTS, sortRows, type ServerView, type SortKey, type WorkerRow } from './view.js';

type Style = 'bold' | 'dim' | 'inverse' | 'red' | 'yellow' | 'green' | 'cyan';
/** A piece of a line and how it is shown (with colour on). */
export type Seg = [text: string, style?: Style | Style[]];
type Line = Seg[];

export interface Screen {
  cols: number;
  rows: number;
  colour: boolean;
}

export interface UiState {
  sort: SortKey;
  cores: boolean;
  intervalMs: number;
  /** The key line's text when not the keys: a prompt, or the latest diagnostic. */
  message?: string;
  /** Said when there is nothing to show (no source found yet). */
  empty?: string;
  /** The sample's time, epoch ms. */
  at?: number;
}

// Figures, short enough for their columns.
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${String(Math.floor(ms / 1000) % 60).padStart(2, '0')}s`;
  return `${Math.floor(ms / 3_600_000)}h${String(Math.floor(ms / 60_000) % 60).padStart(2, '0')}m`;
}
export function latency(us: number): string {
  const ms = us / 1000;
  if (ms < 10) return `${ms.toFixed(2)}ms`;
  if (ms < 100) return `${ms.toFixed(1)}ms`;
  if (ms < 10_000) return `${Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(1)}s`;
}
export function rate(x: number): string {
  return x >= 10_000 ? `${(x / 1000).toFixed(1)}k` : x >= 100 ? x.toFixed(0) : x.toFixed(1);
}
export function bytes(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) [n, i] = [n / 1024, i + 1];
  return `${n >= 100 || i === 0 ? n.toFixed(0) : n.toFixed(1)}${units[i]}`;
}
const count = (n: number) => (n < 100_000 ? String(n) : n < 10_000_000 ? `${Math.round(n / 1000)}k` : `${(n / 1e6).toFixed(1)}M`);
const opt = <T>(v: T | undefined, f: (v: T) => string) => (v === undefined ? '-' : f(v));

/** Worker columns: heading, width (negative: left-aligned), the cell, and the terminal width from
 *  which it is shown. */
type Column = [string, number, (r: WorkerRow) => string, number?];
const COLUMNS: Column[] = [
  ['WID', 5, (r) => String(r.id)],
  ['PID', 8, (r) => opt(r.pid, String)],
  [' STATUS', -14, (r) => ` ${r.stuck ? `STUCK ${r.stuck}` : r.status}`],
  ['BUSY FOR', 8, (r) => opt(r.busyMs, duration)],
  ['REQ/S', 7, (r) => opt(r.rps, rate)],
  ['MEAN RT', 9, (r) => opt(r.meanRtUs, latency)],
  ['REQUESTS', 9, (r) => opt(r.requests, count)],
  ['EXC', 5, (r) => opt(r.exceptions, count)],
  ['RESP', 5, (r) => opt(r.respawns, String)],
  ['RSS', 7, (r) => opt(r.rss, bytes)],
  ['CORES', 8, (r) => (r.threads ? `${r.threads.busy}/${r.threads.total}` : r.cores.length ? `${r.cores.filter((c) => c.busyMs !== undefined).length}/${r.cores.length}` : '-'), 96],
];

const cell = (text: string, width: number) => (width < 0 ? text.slice(0, -width).padEnd(-width) : text.slice(-width).padStart(width));
/** The columns for this width; a server whose worker ids are their pids (gunicorn) gets one
 *  PID column instead of two. */
function columns(cols: number, rows: readonly WorkerRow[]): Column[] {
  const shown = COLUMNS.filter(([, , , min]) => !min || cols >= min);
  return rows.length && rows.every((r) => r.id === r.pid) ? shown.slice(1) : shown;
}

function workerLines(r: WorkerRow, ui: UiState, cs: Column[]): Line[] {
  const text = cs.map(([, w, f]) => cell(f(r), w)).join('');
  const style: Style | undefined = r.stuck ? 'red' : r.status === 'busy' ? 'bold' : undefined;
  const lines: Line[] = [[[text, style]]];
  if (!ui.cores) return lines;
  if (r.threads) lines.push([[`        threads: ${r.threads.busy} of ${r.threads.total} busy`, 'dim']]);
  for (const c of r.cores) {
    const busy = c.busyMs === undefined ? 'idle' : `busy ${duration(c.busyMs)}`;
    lines.push([[`        core ${String(c.id).padEnd(3)} ${busy.padEnd(14)} ${opt(c.requests, count)} requests, ${c.errors ?? 0} read/write errors`, 'dim']]);
  }
  return lines;
}

/** The header's items, flowed into as many lines as the width needs. */
function headerItems(v: ServerView): string[] {
  const w = v.workers;
  const pct = v.pct && ['p50', 'p90', 'p99'].map((k) => opt(v.pct![k as 'p50'], latency)).join(' / ');
  const first = v.rateInterval === undefined;
  return [
    w ? `workers ${w.total}: ${w.busy} busy, ${w.idle} idle${w.stuck ? `, ${w.stuck} STUCK` : ''}` : '',
    v.listenQueue !== undefined ? `listen queue ${v.listenQueue}${v.queueMax ? `/${v.queueMax}` : ''}` : '',
    v.backlog ? `backlog ${v.backlog.queue}${v.backlog.max !== undefined ? `/${v.backlog.max}` : ''}` : '',
    first ? 'req/s …' : `req/s ${opt(v.rps, rate)}`,
    first ? '' : `mean ${opt(v.meanRtUs, latency)}`,
    pct ? `p50/p90/p99 ${pct}` : '',
    first ? '' : `exc/s ${opt(v.eps, rate)}`,
  ].filter(Boolean);
}

/** Text in lines of at most `width`, broken at spaces; at most `max` lines (the last cut short). */
function words(text: string, width: number, max: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const w of text.split(' ')) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else {
      cur = cur ? `${cur} ${w}` : w;
    }
  }
  if (cur) lines.push(cur);
  if (lines.length > max) {
    lines.length = max;
    lines[max - 1] = `${lines[max - 1]!.slice(0, width - 1)}…`;
  }
  return lines;
}

function flow(items: string[], cols: number, indent: string): Line[] {
  const lines: Line[] = [];
  let cur = indent;
  for (const it of items) {
    if (cur.length > indent.length && cur.length + 3 + it.length > cols) {
      lines.push([[cur]]);
      cur = indent;
    }
    cur += (cur.length > indent.length ? ' · ' : '') + it;
  }
  if (cur.length > indent.length) lines.push([[cur]]);
  return lines;
}

function serverBlock(v: ServerView, ui: UiState, cols: number): { head: Line[]; rows: Line[][] } {
  // STALLED first, where no width can cut it off.
  const title: Line = v.stalled ? [[' STALLED ', ['red', 'inverse', 'bold']], [' ']] : [];
  title.push([v.name, ['bold', 'cyan']]);
  const about = [v.server, v.emperor ? 'Emperor' : undefined, v.version, v.pid !== undefined ? `pid ${v.pid}` : undefined].filter(Boolean).join(' ');
  if (about) title.push([`  ${about}`]);
  if (v.error) return { head: [title, ...words(`✗ ${v.error}`, cols - 4, 3).map((l): Line => [[`  ${l}`, ['red', 'bold']]])], rows: [] };
  if (v.emperor) return { head: [title], rows: [] };
  const head = [title];
  if (v.stalled) {
    const why = `STALLED: ${v.listenQueue ?? 0} connections wait in the listen queue, no worker is busy, nothing moved`;
    head.push(...words(why, cols - 2, 2).map((l): Line => [[`  ${l}`, ['red', 'bold']]]));
  }
  head.push(...flow(headerItems(v), cols, '  '));
  const cs = columns(cols, v.rows);
  head.push([[cs.map(([h, w]) => cell(h, w)).join(''), 'inverse']]);
  return { head, rows: sortRows(v.rows, ui.sort).map((r) => workerLines(r, ui, cs)) };
}

/** How many worker rows each server gets: headers first, then the rest shared out one row at a
 *  time, so that one big server does not push the others off the screen. */
function share(needs: number[], budget: number): number[] {
  const got = needs.map(() => 0);
  for (let left = budget, moved = true; left > 0 && moved; ) {
    moved = false;
    for (let i = 0; i < needs.length && left > 0; i++) {
      if (got[i]! < needs[i]!) [got[i], left, moved] = [got[i]! + 1, left - 1, true];
    }
  }
  return got;
}

function body(views: ServerView[], ui: UiState, cols: number, budget: number): Line[] {
  const blocks = views.map((v) => serverBlock(v, ui, cols));
  const out: Line[] = [];
  let shown = 0;
  let used = 0;
  for (const b of blocks) {
    const gap = shown ? 1 : 0;
    const more = shown + 1 < blocks.length ? 1 : 0;
    if (used + gap + b.head.length + more > budget && shown > 0) break;
    used += gap + b.head.length;
    shown++;
  }
  const heads = blocks.slice(0, shown);
  const lines = heads.map((b) => b.rows.flat().length);
  const given = share(lines, budget - used - (shown < blocks.length ? 1 : 0));
  heads.forEach((b, i) => {
    if (i) out.push([['']]);
    out.push(...b.head);
    const all = b.rows.flat();
    if (given[i]! >= all.length) {
      out.push(...all);
      return;
    }
    // Whole workers (a row and its cores), and a line that says how many did not fit.
    let room = given[i]! - 1;
    let kept = 0;
    while (kept < b.rows.length && b.rows[kept]!.length <= room) room -= b.rows[kept++]!.length;
    out.push(...b.rows.slice(0, kept).flat());
    const hidden = b.rows.length - kept;
    if (given[i]! > 0) out.push([[`  +${hidden} more worker${hidden === 1 ? '' : 's'} (a taller terminal shows them)`, 'yellow']]);
  });
  // A first server taller than the screen: cut, and the servers after it still counted.
  const fits = out.length + (shown < blocks.length ? 1 : 0) <= budget ? out : out.slice(0, Math.max(0, budget - 1));
  const hidden = blocks.filter((b) => !fits.includes(b.head[0]!)).length;
  if (hidden) fits.push([[`+${hidden} more server${hidden === 1 ? '' : 's'} (a taller terminal shows them)`, 'yellow']]);
  return fits;
}

export const KEYS = 'q quit  +/- d interval  r b m i sort  c cores';

function titleLine(views: ServerView[], ui: UiState): Line {
  const at = ui.at === undefined ? '' : new Date(ui.at).toTimeString().slice(0, 8);
  const n = `${views.length} server${views.length === 1 ? '' : 's'}`;
  return [['wsgistat top', 'bold'], [`  ${n} · every ${duration(ui.intervalMs)} · sorted by ${SORTS[ui.sort].label} · ${at}`]];
}

/** Fits a line to the width and styles it. */
function fit(line: Line, cols: number, colour: boolean): string {
  let left = cols;
  let out = '';
  for (const [text, style] of line) {
    if (left <= 0) break;
    const t = text.length > left ? text.slice(0, left) : text;
    left -= t.length;
    out += colour && style && t ? styleText(style, t, { validateStream: false } as never) : t;
  }
  return out;
}

export function render(views: ServerView[], ui: UiState, screen: Screen): string[] {
  const cols = Math.max(20, screen.cols);
  const rows = Math.max(3, screen.rows);
  const lines: Line[] = [titleLine(views, ui)];
  if (views.length === 0) lines.push([['']], [[ui.empty ?? 'nothing to watch', 'yellow']]);
  else lines.push(...body(views, ui, cols, rows - 2));
  const shown = lines.slice(0, rows - 1).map((l) => fit(l, cols, screen.colour));
  while (shown.length < rows - 1) shown.push('');
  shown.push(fit([[(ui.message ?? KEYS).padEnd(cols), 'inverse']], cols, screen.colour));
  return shown;
}
