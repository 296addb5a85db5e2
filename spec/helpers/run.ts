// Runs the built wsgistat command as users do: a new process, argv, stdout, stderr, exit status.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The installed command: the bundle that `npm run build` makes.
export const CLI = fileURLToPath(new URL('../../bin/wsgistat.cjs', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON lines. */
  records: Record<string, unknown>[];
}

/** Runs wsgistat once: the built CLI under this node, or `command` (an installed wsgistat) itself.
 *  Unless `env` sets XDG_STATE_HOME, the run gets a state directory of its own, so that runs never
 *  share rates by accident (and never touch the real home directory). */
export function wsgistat(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; command?: string } = {}): Promise<Run> {
  const own = opts.env?.XDG_STATE_HOME ? undefined : mkdtempSync(join(tmpdir(), 'wsgistat-state-'));
  const env = { ...process.env, ...(own ? { XDG_STATE_HOME: own } : {}), ...opts.env };
  return new Promise((resolve, reject) => {
    const [cmd, argv] = opts.command ? [opts.command, args] : [process.execPath, [CLI, ...args]];
    const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (own) rmSync(own, { recursive: true, force: true });
      resolve({
        code, stdout, stderr,
        get records() {
          return stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
        },
      });
    });
  });
}

export interface Running {
  child: ReturnType<typeof spawn>;
  /** stdout lines with the time each arrived (ms since start). */
  lines: { at: number; text: string }[];
  stderr: () => string;
  /** Waits (bounded) until `check` holds. */
  waitFor(what: string, check: () => boolean, ms?: number): Promise<void>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a long-running wsgistat (continuous mode) and records its output as it comes. */
export function startWsgistat(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Running['lines'] = [];
  let partial = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    for (const text of parts) lines.push({ at: Date.now() - started, text });
  });
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30000);
  void exited.then(() => clearTimeout(killer));
  return {
    child, lines, stderr: () => stderr,
    async waitFor(what, check, ms = 10000) {
      const deadline = Date.now() + ms;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr: ${stderr}`);
        if (child.exitCode !== null) throw new Error(`wsgistat exited ${child.exitCode} while waiting for ${what}; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    stop(signal = 'SIGTERM') {
      child.kill(signal);
      return exited;
    },
  };
}
