// Shared pieces for tests that talk to a local KMS: fake credentials and a raw SDK client for out-of-band changes.
import { KMSClient } from "@aws-sdk/client-kms";

/** Distinctive fake credentials: tests search state, logs and errors for them. */
export const FAKE_CREDENTIALS = {
  accessKeyId: "AKIATESTDISTINCTIVE7",
  secretAccessKey: "test-distinctive-secret-4f1c9a",
  sessionToken: "test-distinctive-session-token-77e2",
};

export function useFakeCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = FAKE_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = FAKE_CREDENTIALS.secretAccessKey;
  process.env.AWS_SESSION_TOKEN = FAKE_CREDENTIALS.sessionToken;
  process.env.AWS_REGION = "us-east-1";
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
}

/** A client that acts behind the program's back, as a console click or a cleanup script would. */
export function outOfBand(endpoint: string): KMSClient {
  return new KMSClient({ endpoint, region: "us-east-1", credentials: FAKE_CREDENTIALS, maxAttempts: 1 });
}

export const OPEN_POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [
    {
      Sid: "Root",
      Effect: "Allow",
      Principal: { AWS: "arn:aws:iam::123456789012:root" },
      Action: "kms:*",
      Resource: "*",
    },
  ],
});
