// Synthesizes the booking stack for the infra tests, with cdk-nag, and reads functions and their roles' statements out of it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BookingStack } from '../../lib/booking-stack';
import { parseStackSettings } from '../../lib/settings';

export type Synthesized = ReturnType<typeof synth>;

/** The stack built from `context` as `-c key=value` would give it. Bundling (esbuild) is slow-ish: only `bundle: true` bundles. */
export function synth(context: Record<string, unknown> = {}, options: { bundle?: boolean } = {}) {
  const app = new App({ context: options.bundle ? { 'aws:cdk:enable-asset-metadata': true } : { 'aws:cdk:bundling-stacks': [] } });
  const stack = new BookingStack(app, 'Bookings', { settings: parseStackSettings(context), env: { account: '123456789012', region: 'eu-west-1' } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  return { app, stack, assembly, template: Template.fromStack(stack) };
}

/** cdk-nag's findings that are not acknowledged (an empty list when the stack is clean). */
export function nagFailures({ assembly }: Synthesized): unknown[] {
  const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as { pluginReports: { conclusion: string }[] };
  return report.pluginReports.filter((plugin) => plugin.conclusion === 'failure');
}

export interface FunctionResource {
  Properties: {
    Role: { 'Fn::GetAtt': [string, string] };
    Handler: string;
    Timeout: number;
    MemorySize: number;
    Environment: { Variables: Record<string, unknown> };
  };
  Metadata: Record<string, string>;
}

/** The function whose logical id starts with `functionIdPrefix` (the BookingFunction's id), and its logical id. */
export function functionOf({ template }: Pick<Synthesized, 'template'>, functionIdPrefix: string): { logicalId: string; fn: FunctionResource } {
  const found = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith(`${functionIdPrefix}Function`));
  if (!found) throw new Error(`No function ${functionIdPrefix}`);
  return { logicalId: found[0], fn: found[1] as FunctionResource };
}

export function roleOf(synthesized: Pick<Synthesized, 'template'>, functionIdPrefix: string): string {
  return functionOf(synthesized, functionIdPrefix).fn.Properties.Role['Fn::GetAtt'][0];
}

export interface Statement {
  Sid: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

export function statementsOf({ template }: Pick<Synthesized, 'template'>, roleLogicalId: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleLogicalId }] } });
  return Object.values(policies).flatMap(
    (policy) => (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
  );
}

/** Every action the role is allowed, whatever the statement. */
export function actionsOf(synthesized: Pick<Synthesized, 'template'>, roleLogicalId: string): string[] {
  return statementsOf(synthesized, roleLogicalId).flatMap((statement) => [statement.Action].flat());
}
