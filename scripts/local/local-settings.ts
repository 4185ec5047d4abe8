// Where the local stack listens and what it signs with: shared by `npm start`, `npm run demo` and `npm run ops`.
import { DEFAULT_LOCAL_TABLE_NAME } from '../../lambdas/shared/dynamodb/table-definition';

/** Local only. Never a real secret: anything signed with it is worthless outside this machine. */
export const LOCAL_SIGNING_SECRET = 'whsec_local_development_only';

export interface LocalSettings {
  readonly port: number;
  readonly dynamoPort: number;
  readonly tableName: string;
  readonly dataDir: string;
  /** Extra signing secrets (e.g. the one `stripe listen` prints), accepted beside the local one. */
  readonly extraSigningSecrets: readonly string[];
  /** A real Stripe test key; without one, refunds go to a local stand-in of Stripe's API. */
  readonly stripeApiKey?: string;
}

function portFrom(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`${name} must be a port number (1-65535), got "${value}"`);
  return port;
}

export function localSettings(env: NodeJS.ProcessEnv = process.env): LocalSettings {
  return {
    port: portFrom(env.PORT, 3000, 'PORT'),
    dynamoPort: portFrom(env.DYNAMODB_PORT, 8000, 'DYNAMODB_PORT'),
    tableName: env.TABLE_NAME || DEFAULT_LOCAL_TABLE_NAME,
    dataDir: env.DATA_DIR || '.data',
    extraSigningSecrets: (env.STRIPE_WEBHOOK_SECRETS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    ...(env.STRIPE_API_KEY && { stripeApiKey: env.STRIPE_API_KEY }),
  };
}
