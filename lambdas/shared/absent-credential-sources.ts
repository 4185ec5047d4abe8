// Stands in, in every Lambda bundle, for three credential sources of the AWS SDK's default chain that a function never
// has (a profile of the shared config files, IAM Identity Center, a web identity token file): each passes to the next
// link, as the SDK's own does when its files or variables are missing. lib/bundling.ts aliases the packages here.

/** Read by the SDK's default chain, as on its own errors: `tryNextLink` makes it go on to the next source. */
export class CredentialSourceNotBundledError extends Error {
  readonly tryNextLink = true;

  constructor(readonly source: string) {
    super(`${source} is not a credential source of a Lambda bundle: a function's credentials are in its environment or at its container endpoint`);
    this.name = 'CredentialSourceNotBundledError';
  }
}

type CredentialProvider = () => Promise<never>;

function notBundled(source: string): CredentialProvider {
  return async () => {
    throw new CredentialSourceNotBundledError(source);
  };
}

/** In place of `@aws-sdk/credential-provider-ini` (which would bring the STS and sign-in clients). */
export const fromIni = (): CredentialProvider => notBundled('A profile of the shared config files');

/** In place of `@aws-sdk/credential-provider-sso` (the SSO and SSO OIDC clients). */
export const fromSSO = (): CredentialProvider => notBundled('IAM Identity Center (SSO)');

/** In place of `@aws-sdk/credential-provider-web-identity` (the STS client). */
export const fromTokenFile = (): CredentialProvider => notBundled('A web identity token file');
