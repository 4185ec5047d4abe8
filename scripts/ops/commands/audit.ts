// Operator command on the audit trail: what happened to one booking, trip, slot, payment or event.
import { defineCommand, UsageError, type OpsCommand } from '../command';

const ENTITY_TYPES = ['booking', 'trip', 'slot', 'payment', 'event'];
const ENTITY_NEEDED = `TYPE:ID, TYPE one of ${ENTITY_TYPES.join(', ')}`;

const list = defineCommand({
  name: 'audit list',
  summary: 'the audit trail of one entity, oldest first',
  flags: { entity: { type: 'string', value: 'TYPE:ID', required: true, description: ENTITY_NEEDED } },
  async run({ store, print }, { flags }) {
    const match = new RegExp(`^(${ENTITY_TYPES.join('|')}):(.+)$`).exec(flags.entity);
    if (!match) throw new UsageError(`audit list needs --entity ${ENTITY_NEEDED}`);
    const entries = await store.listAudit(match[1] as string, match[2] as string);
    print(
      entries,
      entries.map((entry) => ({ ...entry, metadata: JSON.stringify(entry.metadata) })),
      ['occurredAt', 'eventType', 'actorType', 'actorId', 'metadata'],
    );
    return 0;
  },
});

export const auditCommands: readonly OpsCommand[] = [list];
