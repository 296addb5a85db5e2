// Types of the module ../build.ts generates at build time: each record type's field names, in
// its schema's order (records/schemas.ts), so that a run need not build the schemas.
declare const fields: Record<string, readonly string[]>;
export = fields;
