// Which account and Region a run has: asked only when a key can't be seen, to tell "gone" from "not from here".
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { Connection } from "../connection";
import type { ProviderSession } from "../session";
import { errorMessage, errorName } from "./errors";

/** The run's account (from STS GetCallerIdentity) and Region; `problem` says why the account is unknown. */
export interface RunPlace {
  account?: string;
  region?: string;
  problem?: string;
}

/**
 * The account of the credentials in use, and the Region the run would use for a new key. STS's endpoint comes from
 * the environment (AWS_ENDPOINT_URL_STS or AWS_ENDPOINT_URL), as the AWS SDK reads it.
 */
export async function runPlace(
  session: ProviderSession,
  keyConnection: Connection,
  runConnection: Connection,
): Promise<RunPlace> {
  let region: string | undefined;
  try {
    region = await session.client(runConnection).config.region();
  } catch {
    // No Region set (or an endpoint refused): the message says "(none set)".
  }
  const sts = new STSClient({
    // STS answers in every Region; the key's own one is always set.
    ...(keyConnection.region ? { region: keyConnection.region } : {}),
    maxAttempts: 3,
  });
  try {
    const out = await sts.send(new GetCallerIdentityCommand({}));
    if (!out.Account) return { region, problem: "STS GetCallerIdentity answered without an account" };
    return { account: out.Account, region };
  } catch (err) {
    return { region, problem: `STS GetCallerIdentity failed: ${errorName(err)}: ${errorMessage(err)}` };
  } finally {
    sts.destroy();
  }
}
