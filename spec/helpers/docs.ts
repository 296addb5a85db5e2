// Renders the README's option and field tables from the option table and the record schemas, so
// spec/readme.spec.ts can check the README says the same. To refresh the README after changing
// either: `npm run build && node dist/spec/helpers/docs.js`, and paste.

import { OPTIONS } from '../../lib/config.js';
import { schemas, type SchemaName } from '../../lib/records/schemas.js';
import { SOURCE_KINDS, SOURCE_OPTIONS } from '../../lib/sources/index.js';
import { keyOptionDoc, optionDoc } from '../../lib/options/engine.js';
import { SINK_KINDS } from '../../lib/sinks/index.js';

const COMMON = ['time', 'host', 'source', 'label', 'vassal', 'server', 'type'];

/** A table cell as GitHub renders it: a `|` escaped everywhere (a code span does not protect it
 *  in a table), a `<` outside code spans written as `&lt;` so that `<security>` is not taken for
 *  an HTML tag. */
export function cell(text: string): string {
  return text
    .split('`')
    .map((part, i) => (i % 2 === 0 ? part.replace(/</g, '&lt;') : part))
    .join('`')
    .replace(/\|/g, '\\|');
}

const row = (...cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;

export function optionsTable(): string {
  const rows = OPTIONS.map((o) => {
    const flag = [o.short, `${o.flag}${o.arg ? ` ${o.arg}` : ''}`].filter(Boolean).map((f) => `\`${f}\``).join(', ');
    const key = o.key ? `\`${o.key}\`` : '';
    return row(flag, key, o.default || '', o.doc);
  });
  return ['| option | config key | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** The README's address table, from the source kinds' declarations. */
export function addressTable(): string {
  const rows = SOURCE_KINDS.flatMap((k) => k.docs).map((d) => row(d.forms, d.reads));
  return ['| address | reads |', '| --- | --- |', ...rows].join('\n');
}

/** The README's table of the keys of a source's object in the config file: those every source
 *  has (with their flags), then each kind's own, which have no flag. */
export function sourceKeysTable(): string {
  const every = SOURCE_OPTIONS.map((o) => {
    const d = optionDoc(o);
    return row(`\`${o.key}\``, `every source (flag: \`${o.flag}\`)`, d.default, d.doc);
  });
  const own = SOURCE_KINDS.flatMap((k) => (k.options ?? []).map((o) => {
    const d = keyOptionDoc(o);
    return row(`\`${d.key}\``, `${k.name} sources only (no flag)`, d.default, d.doc);
  }));
  return ['| key | for | default | meaning |', '| --- | --- | --- | --- |', ...every, ...own].join('\n');
}

/** The README's output table, from the output kinds' declarations. */
export function outputTable(): string {
  const rows = SINK_KINDS.flatMap((k) => k.docs).map((d) => row(d.output, d.does));
  return ['| output | what wsgistat does |', '| --- | --- |', ...rows].join('\n');
}

export function fieldsTable(type: SchemaName | 'common'): string {
  const props = type === 'common' ? schemas.summary.properties : schemas[type].properties;
  const names = type === 'common' ? COMMON : Object.keys(props).filter((k) => !COMMON.includes(k));
  const rows = names.map((k) => row(`\`${k}\``, props[k]!.type, props[k]!.description));
  return ['| field | type | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`${optionsTable()}\n\n${addressTable()}\n\n${outputTable()}\n\n${sourceKeysTable()}\n`);
  for (const t of ['common', ...Object.keys(schemas)] as const) console.log(`### ${t}\n\n${fieldsTable(t as SchemaName | 'common')}\n`);
}
