// Runs the operator CLI in-process against the shared DynamoDB Local, capturing what it prints and its exit code.
import { inject } from 'vitest';
import type { PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import { runOps } from '../../scripts/ops/cli';
import { testTableName } from './store';

/** `env`: the command's environment (STRIPE_API_KEY and STRIPE_API_BASE for the Stripe fake); none by default. `table`: the test file's by default. */
export async function ops(
  argv: string[],
  gateway?: PaymentGateway,
  env: NodeJS.ProcessEnv = {},
  table: string = testTableName(),
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runOps([...argv, '--endpoint', inject('dynamoEndpoint'), '--table', table], {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    env,
    ...(gateway && { gateway }),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
