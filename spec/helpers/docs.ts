// Renders the README's option and field tables from the option table and the record schemas, so
// spec/readme.spec.ts can check the README says the same. To refresh the README after changing
// either: `npm run build && node dist/spec/helpers/docs.js`, and paste.

import { OPTIONS } from '../../lib/config.js';
import { schemas, type SchemaName } from '../../lib/records/schemas.js';

const COMMON = ['time', 'host', 'source', 'label', 'server', 'type'];

export function optionsTable(): string {
  const rows = OPTIONS.map((o) => {
    const flag = [o.short, `${o.flag}${o.arg ? ` ${o.arg}` : ''}`].filter(Boolean).map((f) => `\`${f}\``).join(', ');
    const key = o.key ? `\`${o.key}\`` : '';
    return `| ${flag} | ${key} | ${o.default || ''} | ${o.doc} |`;
  });
  return ['| option | config key | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

export function fieldsTable(type: SchemaName | 'common'): string {
  const props = type === 'common' ? schemas.summary.properties : schemas[type].properties;
  const names = type === 'common' ? COMMON : Object.keys(props).filter((k) => !COMMON.includes(k));
  const rows = names.map((k) => `| \`${k}\` | ${props[k]!.type} | ${props[k]!.description} |`);
  return ['| field | type | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`${optionsTable()}\n`);
  for (const t of ['common', ...Object.keys(schemas)] as const) console.log(`### ${t}\n\n${fieldsTable(t as SchemaName | 'common')}\n`);
}
