// What both Pulumi runners (automation.ts, project.ts) give the engine, so that a local run touches nothing of the
// machine's: a file backend and PULUMI_HOME in the run's own folder, only the fake credentials (no profile, shared
// file or instance metadata), the local KMS for KMS and STS, and few retries.
import * as fs from "node:fs";
import * as path from "node:path";
import { fakeCredentialEnv } from "../credentials";

/** The engine's environment for a run whose backend and PULUMI_HOME live in `root`, against the local KMS at `kmsEndpoint`. */
export function engineEnvironment(root: string, kmsEndpoint: string): Record<string, string> {
  const backend = path.join(root, "backend");
  fs.mkdirSync(backend, { recursive: true });
  return {
    PULUMI_HOME: path.join(root, "pulumi-home"),
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: "local test stack",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    AWS_SHARED_CREDENTIALS_FILE: path.join(root, "no-aws-credentials"),
    AWS_CONFIG_FILE: path.join(root, "no-aws-config"),
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_REGION: "us-east-1",
    ...fakeCredentialEnv(),
    AWS_ENDPOINT_URL_KMS: kmsEndpoint,
    // moto's server answers STS too (through the proxy, in the account of the access key): the provider asks it for
    // the run's account when a key can't be seen.
    AWS_ENDPOINT_URL_STS: kmsEndpoint,
    // Retries are for real networks; a local KMS that fails should fail the test quickly.
    AWS_MAX_ATTEMPTS: "2",
  };
}
