// Entry point of `npm run ops -- …`: runs one operator command and exits with its code.
import { readRunningStack } from '../local/local-settings';
import { runOps } from './cli';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

runOps(process.argv.slice(2), { out: (line) => console.log(line), err: (line) => console.error(line), env: process.env, localStack: readRunningStack() }).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`error: UNEXPECTED: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    process.exit(1);
  },
);
