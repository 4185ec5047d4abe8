// The stack's settings, read from CDK context (cdk.json or `-c key=value`) and validated before anything is built.
import * as z from '../lambdas/shared/zod';
import { nearestFlag } from '../scripts/dev-kit/unknown-flag';

/** CloudWatch Logs accepts only these retention periods. */
const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

// `-c key=value` always passes strings: booleans and numbers are accepted in either form.
const booleanSetting = z.union(
  [
    z.boolean(),
    z.pipe(
      z.enum(['true', 'false']),
      z.transform((value) => value === 'true'),
    ),
  ],
  { error: 'must be true or false' },
);
/**
 * A number, as cdk.json writes it or as `-c key=value` passes it (digits), checked against `rule`; nothing else is read
 * as one (`true` is not 1, `[60]` not 60), and every refusal says the rule.
 */
function numberSetting(rule: string, holds: (value: number) => boolean) {
  return z.union([z.number(), z.pipe(z.string().check(z.regex(/^-?\d+(\.\d+)?$/)), z.transform(Number))], { error: rule }).check(z.refine(holds, rule));
}
const positiveInteger = numberSetting('must be a whole number above 0', (value) => Number.isInteger(value) && value > 0);

/** How long a checkout holds seats when `checkoutHoldMinutes` is not set. */
export const DEFAULT_CHECKOUT_HOLD_MINUTES = 30;
/** Stripe keeps a Checkout session open for 30 minutes to 24 hours: a hold lasts as long as its session. */
const checkoutHoldMinutes = numberSetting(
  'must be whole minutes from 30 to 1440 (a Stripe Checkout session lasts 30 minutes to 24 hours)',
  (minutes) => Number.isInteger(minutes) && minutes >= 30 && minutes <= 1440,
);

/** How often the reconciliation sweep runs when `reconciliationMinutes` is not set. */
export const DEFAULT_RECONCILIATION_MINUTES = 15;
/**
 * From 5 minutes (a run may take up to 4: runs never overlap) to a day. Stripe keeps its events 30 days, so any period
 * loses nothing; a longer one only finds a lost delivery later.
 */
const reconciliationMinutes = numberSetting('must be whole minutes from 5 to 1440', (minutes) => Number.isInteger(minutes) && minutes >= 5 && minutes <= 1440);

export const stackSettingsSchema = z.strictObject({
  stage: z._default(z.string().check(z.regex(/^[a-z][a-z0-9-]{0,19}$/, 'must be 1-20 lower-case letters, digits or "-", starting with a letter')), 'dev'),
  retainData: z._default(booleanSetting, true),
  webhookRateLimit: z._default(positiveInteger, 50),
  webhookBurstLimit: z._default(positiveInteger, 100),
  logRetentionDays: z._default(
    numberSetting(`must be one of ${RETENTION_DAYS.join(', ')}`, (days) => (RETENTION_DAYS as readonly number[]).includes(days)),
    30,
  ),
  alarmEmail: z.optional(z.email()),
  createBookingInvokerRoleArn: z.optional(z.string().check(z.regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'must be an IAM role ARN'))),
  // With checkoutJwtAudience: POST /checkout takes bearer tokens of this issuer. Without both, IAM-signed callers only.
  checkoutJwtIssuer: z.optional(
    z.url({ protocol: /^https$/, error: 'must be the https URL of the token issuer (e.g. https://cognito-idp.<region>.amazonaws.com/<userPoolId>)' }),
  ),
  checkoutJwtAudience: z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
  // No default here: the stack applies DEFAULT_CHECKOUT_HOLD_MINUTES, so the parsed settings list only what was set.
  checkoutHoldMinutes: z.optional(checkoutHoldMinutes),
  // No default here either: the stack applies DEFAULT_RECONCILIATION_MINUTES.
  reconciliationMinutes: z.optional(reconciliationMinutes),
});
export type StackSettings = z.infer<typeof stackSettingsSchema>;

/** The JWT authorizer's settings of POST /checkout, or undefined when callers sign with IAM. */
export function checkoutJwtOf(settings: StackSettings): { readonly issuer: string; readonly audience: string } | undefined {
  if (settings.checkoutJwtIssuer === undefined || settings.checkoutJwtAudience === undefined) return undefined;
  return { issuer: settings.checkoutJwtIssuer, audience: settings.checkoutJwtAudience };
}

/** The context keys the app reads; everything else in the context (CDK's own flags) is left alone. */
export const SETTING_KEYS = Object.keys(stackSettingsSchema.shape) as (keyof StackSettings)[];

/**
 * The settings among the app's whole context: its own keys, and any key a letter or two away from one, so that a typo
 * (`alarmemail`) is refused by parseStackSettings instead of deploying without it (an alarm topic nobody is subscribed
 * to). CDK's own keys and anything else are left alone.
 */
export function settingsIn(context: Record<string, unknown>): Record<string, unknown> {
  const known: readonly string[] = SETTING_KEYS;
  return Object.fromEntries(Object.entries(context).filter(([key, value]) => value !== undefined && (known.includes(key) || settingMeant(key) !== undefined)));
}

/** The setting a key not one of them was meant to be: a letter or two away, in any case, with or without `_` or `-` (`STAGE`, `alarm_email`). */
function settingMeant(key: string): string | undefined {
  const plain = (name: string): string => name.toLowerCase().replaceAll(/[-_]/g, '');
  const near = nearestFlag(plain(key), SETTING_KEYS.map(plain));
  return near === undefined ? undefined : SETTING_KEYS.find((name) => plain(name) === near);
}

export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

/** Validates the settings found in `context`; an error names the key and the value received. */
export function parseStackSettings(context: Record<string, unknown>): StackSettings {
  const parsed = stackSettingsSchema.safeParse(context);
  if (parsed.success) {
    const { checkoutJwtIssuer: issuer, checkoutJwtAudience: audience } = parsed.data;
    if ((issuer === undefined) !== (audience === undefined)) {
      const [given, missing] = issuer === undefined ? ['checkoutJwtAudience', 'checkoutJwtIssuer'] : ['checkoutJwtIssuer', 'checkoutJwtAudience'];
      throw new SettingsError(
        `Context settings "checkoutJwtIssuer" and "checkoutJwtAudience" go together: "${given}" is set but "${missing}" is not ` +
          '(set both for a JWT authorizer on POST /checkout, or neither for IAM-signed callers)',
      );
    }
    return parsed.data;
  }
  const issue = parsed.error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const key = issue.keys[0] as string;
    const near = settingMeant(key);
    throw new SettingsError(
      `Context setting "${key}" is not a setting of this app (${near ? `did you mean "${near}"? ` : ''}known: ${SETTING_KEYS.join(', ')})`,
    );
  }
  const key = String(issue?.path[0] ?? '?');
  throw new SettingsError(`Context setting "${key}" ${issue?.message ?? 'is invalid'} (received ${JSON.stringify(context[key])})`);
}
