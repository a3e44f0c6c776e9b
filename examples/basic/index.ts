// One KMS key with every input set: what a team declares for an application's data key.
import * as pulumi from "@pulumi/pulumi";
import { KmsKey } from "pulumi-kms-key";

const config = new pulumi.Config();
const environment = config.get("environment") ?? "dev";
// The account that owns the key; when set, the key policy below is managed, otherwise KMS's default policy stays.
const accountId = config.get("accountId");

const policy = accountId
  ? JSON.stringify({
      Version: "2012-10-17",
      Id: "app-data-key",
      Statement: [
        {
          Sid: "AccountAdministers",
          Effect: "Allow",
          Principal: { AWS: `arn:aws:iam::${accountId}:root` },
          Action: "kms:*",
          Resource: "*",
        },
      ],
    })
  : undefined;

const key = new KmsKey("app-data", {
  description: `Encrypts the ${environment} application's data at rest`,
  keyUsage: "ENCRYPT_DECRYPT",
  keySpec: "SYMMETRIC_DEFAULT",
  policy,
  tags: { environment, application: "app", "managed-by": "pulumi" },
  enabled: true,
  enableKeyRotation: true,
  rotationPeriodInDays: 180,
  multiRegion: false,
  // A short window outside production: a destroyed dev key is gone a week later.
  deletionWindowInDays: environment === "prod" ? 30 : 7,
  // Never lock out the account: KMS refuses a policy that would, unless this is true.
  bypassPolicyLockoutSafetyCheck: false,
  // Where KMS is: config when given, otherwise AWS_REGION / AWS_ENDPOINT_URL_KMS and the AWS SDK's defaults.
  region: config.get("region"),
  endpoint: config.get("kmsEndpoint"),
  allowInsecureEndpoint: config.getBoolean("allowInsecureEndpoint"),
});

export const keyId = key.keyId;
export const arn = key.arn;
export const keyState = key.keyState;
export const rotationPeriodInDays = key.rotationPeriodInDays;
