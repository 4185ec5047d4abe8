// Operator command on the audit trail: what happened to one booking, trip, slot, payment or event.
import type { AuditEntry } from '../../../lambdas/shared/domain/model';
import { defineCommand, UsageError, type OpsCommand } from '../command';
import type { OpsContext } from '../context';
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
  async run({ store, json, out, print, printEmpty, printTable }, { flags }) {
    const match = new RegExp(`^(${ENTITY_TYPES.join('|')}):(.+)$`).exec(flags.entity);
    if (!match) throw new UsageError(`audit list needs --entity ${ENTITY_NEEDED}`);
    const [, type, typed] = match as unknown as [string, string, string];
    const id = type === 'booking' ? referenceOf(typed) : typed;
    const entries = await store.listAudit(type, id);
    if (entries.length === 0) {
      printEmpty(entries, `No audit entries for ${type} ${id}.`);
      return 0;
    }
    if (json) print(entries);
    else printAuditTrail({ out, printTable }, entries);
    return 0;
  },
});

/** An audit trail for people: a table, each entry's metadata on one line cut to METADATA_WIDTH, saying when one was cut. */
export function printAuditTrail({ out, printTable }: Pick<OpsContext, 'out' | 'printTable'>, entries: readonly AuditEntry[]): void {
  const rows = entries.map((entry) => ({ ...entry, metadata: truncate(JSON.stringify(entry.metadata), METADATA_WIDTH) }));
  printTable(rows, ['occurredAt', 'eventType', 'actorType', 'actorId', 'metadata']);
  if (rows.some((row, index) => row.metadata !== JSON.stringify(entries[index]?.metadata))) out('(… cut short: --json prints every entry in full)');
}

export const auditCommands: readonly OpsCommand[] = [list];
