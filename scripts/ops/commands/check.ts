// Operator command that checks the table adds up: every slot's seats and every payment's refunds.
import { checkConsistency } from '../../../lambdas/shared/domain/operations';
import { checkPayments } from '../../../lambdas/shared/domain/payment-operations';
import { defineCommand, type OpsCommand } from '../command';

const check = defineCommand({
  name: 'check',
  summary: 'capacity = available + confirmed guests for every slot (a slot that seems off is checked again once it is still); refunds add up for every payment',
  flags: {},
  async run({ store, json, out, err, print, printTable }) {
    const slots = await checkConsistency(store);
    const payments = await checkPayments(store);
    if (json) print({ ...slots, payments: payments.payments, paymentProblems: payments.problems });
    else {
      for (const item of slots.unusable) err(`unusable ${item.entity} ${item.id}: ${item.problem}`);
      if (slots.drifted.length === 0 && slots.unsettled.length === 0 && slots.unusable.length === 0)
        out(`${slots.slots} slots checked: capacity = available + confirmed guests, and available − held = unheld ≥ 0, everywhere.`);
      if (slots.unusable.length === 1) err('1 item above no longer reads: the check could not look at it.');
      else if (slots.unusable.length > 0) err(`${slots.unusable.length} items above no longer read: the check could not look at them.`);
      if (slots.drifted.length > 0) {
        printTable(
          [...slots.drifted],
          ['slotId', 'experienceId', 'capacity', 'availableCount', 'confirmedGuests', 'drift', 'unheldCount', 'heldGuests', 'holdDrift'],
        );
        err(`${slots.drifted.length} of ${slots.slots} slots drifted.`);
      }
      if (slots.unsettled.length > 0) {
        err(
          `${slots.unsettled.length} slots changed through every re-check (checkouts and payments on them), so neither drift nor consistency could be seen: ${slots.unsettled.join(', ')}. Run the check again when they are quieter.`,
        );
      }
      if (payments.problems.length === 0) out(`${payments.payments} payments checked: refunds add up everywhere.`);
      else {
        printTable(payments.problems, ['paymentId', 'tripId', 'problem']);
        err(`${payments.problems.length} payment problems found.`);
      }
    }
    return slots.drifted.length === 0 && slots.unsettled.length === 0 && slots.unusable.length === 0 && payments.problems.length === 0 ? 0 : 1;
  },
});

export const checkCommands: readonly OpsCommand[] = [check];
