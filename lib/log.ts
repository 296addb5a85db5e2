// Diagnostics: one line each on stderr, naming the component and the endpoint.
// stdout is data only; nothing here ever writes to it.

import { writeStderr } from './fdout.js';

export type Component = `source ${string}` | `sink ${string}` | 'config' | 'wsgistat';

function line(level: string, component: Component, message: string): void {
  const where = component === 'wsgistat' ? '' : ` [${component}]`;
  writeStderr(`wsgistat: ${level}${where} ${message}\n`);
}

export function error(component: Component, message: string): void {
  line('error', component, message);
}

export function warn(component: Component, message: string): void {
  line('warning', component, message);
}
