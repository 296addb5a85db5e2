// Types of the module ../build.ts generates at build time.
declare const serializers: Record<string, (record: object) => string>;
export = serializers;
