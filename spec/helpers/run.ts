// Runs the built wsgistat command as users do: a new process, argv, stdout, stderr, exit status.

import { spawn } from 'node:child_process';
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

export function wsgistat(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code, stdout, stderr,
        get records() {
          return stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
        },
      });
    });
  });
}
