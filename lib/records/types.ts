// The record model: flat objects of scalars, one `type` each.

export const RECORD_TYPES = ['summary', 'worker', 'core', 'app', 'socket', 'emperor', 'vassal', 'metric'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

export type Scalar = string | number | boolean | null;

/** A record as a source shapes it, before the common fields are stamped on. */
export interface Body {
  type: RecordType | 'error';
  [field: string]: Scalar | undefined;
}

/** The fields every record starts with. */
export interface Common {
  time: number;
  host: string;
  source: string;
  label?: string;
  /** An Emperor's vassal whose server the record describes. */
  vassal?: string;
  server?: 'uwsgi' | 'gunicorn';
}

export type Rec = Common & Body;
