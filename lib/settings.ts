// The stack's settings, read from CDK context (cdk.json or `-c key=value`) and validated before anything is built.
import * as z from '../lambdas/shared/zod';

/** CloudWatch Logs accepts only these retention periods. */
const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

// `-c key=value` always passes strings: booleans and numbers are accepted in either form.
const booleanSetting = z.union([
  z.boolean(),
  z.pipe(
    z.enum(['true', 'false']),
    z.transform((value) => value === 'true'),
  ),
]);
const positiveInteger = z.coerce.number().check(z.refine((value) => Number.isInteger(value) && value > 0, 'must be a whole number above 0'));

/** How long a checkout holds seats when `checkoutHoldMinutes` is not set. */
export const DEFAULT_CHECKOUT_HOLD_MINUTES = 30;
/** Stripe keeps a Checkout session open for 30 minutes to 24 hours: a hold lasts as long as its session. */
const checkoutHoldMinutes = z.coerce
  .number()
  .check(
    z.refine(
      (minutes) => Number.isInteger(minutes) && minutes >= 30 && minutes <= 1440,
      'must be whole minutes from 30 to 1440 (a Stripe Checkout session lasts 30 minutes to 24 hours)',
    ),
  );

/** How often the reconciliation sweep runs when `reconciliationMinutes` is not set. */
export const DEFAULT_RECONCILIATION_MINUTES = 15;
/**
 * From 5 minutes (a run may take up to 4: runs never overlap) to a day. Stripe keeps its events 30 days, so any period
 * loses nothing; a longer one only finds a lost delivery later.
 */
const RECONCILIATION_MINUTES_RULE = 'must be whole minutes from 5 to 1440';
const reconciliationMinutes = z.coerce
  .number({ error: RECONCILIATION_MINUTES_RULE })
  .check(z.refine((minutes) => Number.isInteger(minutes) && minutes >= 5 && minutes <= 1440, RECONCILIATION_MINUTES_RULE));

export const stackSettingsSchema = z.strictObject({
  stage: z._default(z.string().check(z.regex(/^[a-z][a-z0-9-]{0,19}$/, 'must be 1-20 lower-case letters, digits or "-", starting with a letter')), 'dev'),
  retainData: z._default(booleanSetting, true),
  webhookRateLimit: z._default(positiveInteger, 50),
  webhookBurstLimit: z._default(positiveInteger, 100),
  logRetentionDays: z._default(
    z.coerce.number().check(z.refine((days) => (RETENTION_DAYS as readonly number[]).includes(days), `must be one of ${RETENTION_DAYS.join(', ')}`)),
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
    throw new SettingsError(`Context setting "${issue.keys[0]}" is not a setting of this app (known: ${SETTING_KEYS.join(', ')})`);
  }
  const key = String(issue?.path[0] ?? '?');
  throw new SettingsError(`Context setting "${key}" ${issue?.message ?? 'is invalid'} (received ${JSON.stringify(context[key])})`);
}
