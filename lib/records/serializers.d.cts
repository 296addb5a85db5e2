// Types of the module compile.ts generates at build time.
declare const serializers: Record<string, (record: object) => string>;
export = serializers;
