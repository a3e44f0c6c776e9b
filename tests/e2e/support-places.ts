// Keys in other Regions and accounts, and runs that move between them, for the e2e suites.
import { KMSClient } from "@aws-sdk/client-kms";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { MOTO_DEFAULT_ACCOUNT } from "../../testing/kms/accounts";
import { TestStack } from "../../testing/pulumi/automation";

/** The account of the harness's own credentials (unmapped at the proxy: moto's default). */
export const DEFAULT_ACCOUNT = MOTO_DEFAULT_ACCOUNT;

/** A client acting behind the program's back in a Region (and, by its access key, an account), via the proxy. */
export function clientIn(endpoint: string, region: string, accessKeyId = "out-of-band"): KMSClient {
  return new KMSClient({
    region,
    endpoint,
    credentials: { accessKeyId, secretAccessKey: "out-of-band" },
    maxAttempts: 1,
  });
}

/** Changes the environment of a stack's next runs, as a pipeline configured differently from a laptop would. */
export function setRunEnv(stack: TestStack, vars: Record<string, string>): void {
  Object.assign((stack.stack.workspace as LocalWorkspace).envVars, vars);
}

/** The error a run failed with, as one string (the engine's output is in the message). */
export async function failure(run: Promise<unknown>): Promise<string> {
  try {
    await run;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error("the run succeeded; it was expected to fail");
}
