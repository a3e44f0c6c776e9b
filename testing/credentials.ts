// The one set of fake credentials of every local run: the provider in this process, both Pulumi runners and the
// demo. Distinctive, so that a test can search state, logs and errors for them.
export const FAKE_CREDENTIALS = {
  accessKeyId: "AKIATESTDISTINCTIVE7",
  secretAccessKey: "test-distinctive-secret-4f1c9a",
  sessionToken: "test-distinctive-session-token-77e2",
};

/** The fake credentials as the AWS SDK reads them from the environment. */
export function fakeCredentialEnv(): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: FAKE_CREDENTIALS.sessionToken,
  };
}

/** This process's environment for a provider run in it: the fake credentials, in us-east-1. */
export function useFakeCredentials(): void {
  Object.assign(process.env, fakeCredentialEnv(), {
    AWS_REGION: "us-east-1",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
}
