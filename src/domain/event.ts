/**
 * The audit trail's unit: something that happened to a subject (a node's boot contact, a nodeset,
 * an import, a token created). Services write them, a node's timeline reads them, the console
 * streams them.
 */
export interface EventRecord {
  id: number;
  at: string;
  /** Dotted kind, e.g. `distro.imported`, `token.created`. */
  kind: string;
  subjectType: string;
  subject: string;
  message: string;
  data: Record<string, unknown>;
}

export type NewEvent = Omit<EventRecord, 'id' | 'at'> & { at?: string };
