// Which launcher DynamoDB Local gets is read from `java --list-modules`: the runtime's version, and whether it can compile.
import { describe, expect, it } from 'vitest';
import { javaRuntimeOf } from '../../scripts/dev-kit/dynamodb-local';

describe('javaRuntimeOf', () => {
  it.each([
    {
      java: 'a JDK 17 (or Debian’s JRE package)',
      listing: 'java.base@17.0.15\njava.compiler@17.0.15\njava.datatransfer@17.0.15\njdk.compiler@17.0.15\njdk.unsupported@17.0.15\n',
      runtime: { major: 17, hasCompiler: true },
    },
    {
      java: 'a JRE without jdk.compiler (java.compiler, the API, is not the compiler)',
      listing: 'java.base@21.0.5\njava.compiler@21.0.5\njava.sql@21.0.5\njdk.unsupported@21.0.5\n',
      runtime: { major: 21, hasCompiler: false },
    },
    { java: 'a vendor build with a suffix', listing: 'java.base@17.0.9-ea\njdk.compiler@17.0.9-ea\n', runtime: { major: 17, hasCompiler: true } },
    { java: 'Java 8, which knows no modules (its error goes to stderr)', listing: '', runtime: undefined },
  ])('$java', ({ listing, runtime }) => {
    expect(javaRuntimeOf(listing)).toEqual(runtime);
  });
});
