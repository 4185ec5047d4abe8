// Operator command on the audit trail: what happened to one booking, trip, slot, payment or event.
import type { AuditEntry } from '../../../lambdas/shared/domain/model';
import { defineCommand, UsageError, type OpsCommand } from '../command';
import { truncate } from '../printing';
import { referenceOf } from './bookings';

/** Wide enough for a refund's key and amount; a line stays readable in a terminal. */
const METADATA_WIDTH = 80;

const ENTITY_TYPES = ['booking', 'trip', 'slot', 'payment', 'event'];
const ENTITY_NEEDED = `TYPE:ID, TYPE one of ${ENTITY_TYPES.join(', ')}`;

const list = defineCommand({
  name: 'audit list',
  summary: 'the audit trail of one entity, oldest first',
  flags: { entity: { type: 'string', value: 'TYPE:ID', required: true, description: ENTITY_NEEDED } },
  async run({ store, json, out, print, printEmpty }, { flags }) {
    const match = new RegExp(`^(${ENTITY_TYPES.join('|')}):(.+)$`).exec(flags.entity);
    if (!match) throw new UsageError(`audit list needs --entity ${ENTITY_NEEDED}`);
    const [, type, typed] = match as unknown as [string, string, string];
    const id = type === 'booking' ? referenceOf(typed) : typed;
    const entries = await store.listAudit(type, id);
    if (entries.length === 0) {
      printEmpty(entries, `No audit entries for ${type} ${id}.`);
      return 0;
    }
    const rows = auditRows(entries);
    print(entries, rows, AUDIT_COLUMNS);
    if (!json && cutShort(entries, rows)) out(CUT_SHORT);
    return 0;
  },
});

export const AUDIT_COLUMNS = ['occurredAt', 'eventType', 'actorType', 'actorId', 'metadata'];

/** Audit entries as table rows, each one's metadata on one line, cut to METADATA_WIDTH. */
export function auditRows(entries: readonly AuditEntry[]) {
  return entries.map((entry) => ({ ...entry, metadata: truncate(JSON.stringify(entry.metadata), METADATA_WIDTH) }));
}

export const CUT_SHORT = '(… cut short: --json prints every entry in full)';

export function cutShort(entries: readonly AuditEntry[], rows: readonly { metadata: string }[]): boolean {
  return rows.some((row, index) => row.metadata !== JSON.stringify(entries[index]?.metadata));
}

export const auditCommands: readonly OpsCommand[] = [list];
