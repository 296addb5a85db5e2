// The README is part of the product: its tables, commands and example output are checked here.

import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addressTable, fieldsTable, optionsTable, outputTable, sourceKeysTable } from './helpers/docs.js';
import { schemas, type SchemaName } from '../lib/records/schemas.js';
import { wsgistat } from './helpers/run.js';
import { GRAPHS } from '../lib/sinks/mackerel.js';

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const README = readFileSync(root('README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(root('package.json'), 'utf8'));

describe('README', () => {
  it('lists every option with its config key and default, as the option table has them', () => {
    expect(README).to.include(optionsTable());
  });

  it('lists every address form and output of the source and output kinds, as they declare them', () => {
    expect(README).to.include(addressTable());
    expect(README).to.include(outputTable());
  });

  it('lists the keys of a source object in the config file, the kinds\' own (which have no flag) included', () => {
    expect(README).to.include(sourceKeysTable());
  });

  for (const type of ['common', ...Object.keys(schemas)]) {
    it(`documents every field of ${type} records, with the schema's type and meaning`, () => {
      expect(README).to.include(fieldsTable(type as SchemaName | 'common'));
    });
  }

  it('documents every mackerel metric, and its example output uses only those', () => {
    const section = README.split('## mackerel-agent\n')[1]!.split('\n## ')[0]!;
    const table = section.split('| graph.metric |')[1]!.split('\n\n')[0]!;
    const rows = table.split('\n').slice(2).map((r) => r.split('|')[1]!);
    const documented = new Set<string>();
    for (const cell of rows) {
      // `workers.busy`, `.idle`: a leading dot repeats the graph; `status.status_1xx` … `status_5xx` likewise.
      let graph = '';
      for (const [, name] of cell.matchAll(/`([^`]+)`/g)) {
        if (name!.includes('.') && !name!.startsWith('.')) {
          graph = name!.split('.')[0]!;
          documented.add(name!);
        } else documented.add(`${graph}.${name!.replace(/^\./, '')}`);
      }
    }
    const all = GRAPHS.flatMap((g) => g.metrics.map((m) => `${g.key}.${m.name}`));
    expect([...documented].sort()).to.deep.equal([...all].sort());
    const example = section.split('```console\n')[1]!.split('```')[0]!.trim().split('\n').slice(1);
    expect(example.length).to.be.above(10);
    for (const line of example) {
      const [name, value, epoch] = line.split('\t');
      expect(value, line).to.match(/^\d+(\.\d+)?$/);
      expect(epoch, line).to.match(/^\d{10}$/);
      expect(all, line).to.include(name!.split('.').slice(-2).join('.'));
    }
  });

  it('shows a config file with several outputs that wsgistat accepts, and whose token it never prints', async () => {
    const section = README.split('## Outputs\n')[1]!.split('\n## ')[0]!;
    const json = section.split('```json\n')[1]!.split('```')[0]!;
    const dir = mkdtempSync(join(tmpdir(), 'wsgistat-readme-'));
    try {
      const cfg = JSON.parse(json);
      const ca = cfg.outputs[1].ca_file as string;
      writeFileSync(join(dir, 'ca.pem'), 'not read by --check beyond existing');
      const path = join(dir, 'wsgistat.json');
      writeFileSync(path, json.replace(ca, join(dir, 'ca.pem')));
      const run = await wsgistat(['--check', '-c', path], { env: { FLUENTD_TOKEN: 'readme-secret' } });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.not.include('readme-secret');
      expect(JSON.parse(run.stdout).outputs.map((o: string | { kind: string }) => (typeof o === 'string' ? o : o.kind))).to.deep.equal(['stdout', 'fluentd', 'norikra']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the two fresh-clone commands, and they are real scripts', () => {
    expect(README).to.include('npm install && npm run example');
    expect(README).to.match(/^npm test\s/m);
    expect(pkg.scripts.example).to.be.a('string');
    expect(pkg.scripts.test).to.be.a('string');
    expect(readFileSync(root('.ci/run'), 'utf8')).to.match(/^npm test$/m);
  });

  it('shows real output: the records of the bundled busy fixture', async () => {
    const shown = README.split('```console\n$ wsgistat unix:///run/uwsgi/app.stats\n')[1]!.split('```')[0]!.trim().split('\n').map((l) => JSON.parse(l));
    const run = await wsgistat(['--hostname', 'web1', `file:${root('spec/fixtures/uwsgi/busy.json')}`]);
    // The README shortens the time, source and working directory; everything else is as printed.
    const same = (r: Record<string, unknown>) => ({ ...r, time: 0, source: 'x', ...(r.cwd ? { cwd: 'x' } : {}) });
    expect(shown.map(same)).to.deep.equal(run.records.map(same));
  });

  it('shows real Prometheus text: every line of its sample is in what --format prometheus prints', async () => {
    const section = README.split('## Prometheus\n')[1]!.split('\n## ')[0]!;
    const shown = section.split('```text\n')[1]!.split('```')[0]!.trim().split('\n');
    expect(shown.length).to.be.above(10);
    const run = await wsgistat(['--format', 'prometheus', '--no-state', 'file:spec/fixtures/uwsgi/busy.json']);
    const printed = new Set(run.stdout.split('\n'));
    for (const line of shown) expect(printed.has(line), line).to.equal(true);
  });

  it('shows the error record wsgistat prints for a missing socket', async () => {
    const blocks = README.split('```json\n').slice(1).map((b) => b.split('```')[0]!);
    const shown = JSON.parse(blocks.find((b) => b.includes('"type":"error"'))!);
    const run = await wsgistat(['--hostname', 'web1', '/run/uwsgi/app.stats']);
    expect({ ...shown, time: 0 }).to.deep.equal({ ...run.records[0], time: 0 });
  });
});
