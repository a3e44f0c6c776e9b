import { MOTO_DEFAULT_ACCOUNT } from "./kms/accounts";
// Small pieces the suites share: a key policy that lets the account do everything, and the error of a run that fails.

export const OPEN_POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [
    {
      Sid: "Root",
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${MOTO_DEFAULT_ACCOUNT}:root` },
      Action: "kms:*",
      Resource: "*",
    },
  ],
});

/** The error a run failed with, as one string (the engine's output is in the message). */
export async function failure(run: Promise<unknown>): Promise<string> {
  try {
    await run;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error("the run succeeded; it was expected to fail");
}
