// The README is part of the product: its tables, commands and example output are checked here.

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fieldsTable, optionsTable } from './helpers/docs.js';
import { schemas, type SchemaName } from '../lib/records/schemas.js';
import { wsgistat } from './helpers/run.js';

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const README = readFileSync(root('README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(root('package.json'), 'utf8'));

describe('README', () => {
  it('lists every option with its config key and default, as the option table has them', () => {
    expect(README).to.include(optionsTable());
  });

  for (const type of ['common', ...Object.keys(schemas)]) {
    it(`documents every field of ${type} records, with the schema's type and meaning`, () => {
      expect(README).to.include(fieldsTable(type as SchemaName | 'common'));
    });
  }

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

  it('shows the error record wsgistat prints for a missing socket', async () => {
    const shown = JSON.parse(README.split('```json\n')[1]!.split('```')[0]!);
    const run = await wsgistat(['--hostname', 'web1', '/run/uwsgi/app.stats']);
    expect({ ...shown, time: 0 }).to.deep.equal({ ...run.records[0], time: 0 });
  });
});
