// Finds a key where its ARN says it lives. Only KMS's NotFoundException for that ARN, in its own Region and account,
// means the key is gone; a run that can't see the key from where it runs fails, saying where each of them is.
import { KeyMetadata } from "@aws-sdk/client-kms";
import { bareKeyId, KeyAddress, KeyArn, parseKeyArn, placeOf } from "./keyAddress";
import { isAccessDenied } from "./kms/errors";
import { describeKey, readKey } from "./kms/gateway";
import { RunPlace, runPlace } from "./kms/identity";
import { ObservedKey } from "./plan";
import type { ProviderSession } from "./session";

/** A tracked key as KMS has it (the four reads); undefined only when it is gone. */
export function observeKey(
  session: ProviderSession,
  address: KeyAddress,
  operation: string,
  tracked = true,
): Promise<ObservedKey | undefined> {
  const look = () => readKey(session, address);
  return find(session, address, operation, tracked, look, (key) => key.arn);
}

/** A tracked key's metadata (DescribeKey alone); undefined only when it is gone. */
export function describeTracked(
  session: ProviderSession,
  address: KeyAddress,
  operation: string,
): Promise<KeyMetadata | undefined> {
  const look = () => describeKey(session, address);
  return find(session, address, operation, true, look, (metadata) => metadata.Arn);
}

/** A key a person named (the import option, KmsKey.get): it must exist, where its ARN or the run says. */
export async function lookUpKey(
  session: ProviderSession,
  address: KeyAddress,
  operation: string,
  whenMissing = "",
): Promise<ObservedKey> {
  const observed = await observeKey(session, address, operation, false);
  if (observed) return observed;
  if (address.arn) {
    throw new Error(
      `${operation}: KMS has no key ${address.arn.arn} in ${placeOf(address.arn.account, address.arn.region)} ` +
        `(KMS answered NotFoundException there). Check the key's ARN.${whenMissing}`,
    );
  }
  const run = await runPlace(session, address.connection, address.runConnection);
  throw new Error(
    `${operation}: KMS has no key ${address.keyId} in this run's ${placeOf(run.account, run.region)}${problemOf(run)}. ` +
      `If the key is in another Region or account, give its key ARN instead of its ID.${whenMissing}`,
  );
}

async function find<T>(
  session: ProviderSession,
  address: KeyAddress,
  operation: string,
  tracked: boolean,
  look: () => Promise<T | undefined>,
  arnOf: (found: T) => string | undefined,
): Promise<T | undefined> {
  let found: T | undefined;
  try {
    found = await look();
  } catch (err) {
    // Access denied to a key of another account usually means the run is in the wrong account: say so.
    if (address.arn && isAccessDenied((err as { cause?: unknown }).cause)) {
      const run = await runPlace(session, address.connection, address.runConnection);
      if (run.account !== undefined && run.account !== address.arn.account) {
        throw new Error(elsewhere(address.arn, run, operation, "AccessDeniedException", tracked));
      }
    }
    throw err;
  }
  if (found === undefined) {
    await confirmGone(session, address, operation, tracked);
    return undefined;
  }
  const answered = parseKeyArn(arnOf(found));
  if (address.arn && answered && !sameKey(address.arn, answered)) {
    throw new Error(
      `${operation}: KMS was asked for key ${address.arn.arn} and answered with key ${answered.arn}; a different key is never used in its place`,
    );
  }
  return found;
}

/** Returns when KMS's NotFoundException means the key is gone; throws when the run can't tell or can't see it. */
export async function confirmGone(
  session: ProviderSession,
  address: KeyAddress,
  operation: string,
  tracked: boolean,
): Promise<void> {
  // A state from before ARNs were recorded: KMS's answer in the run's Region is all there is to go by.
  if (!address.arn) return;
  const run = await runPlace(session, address.connection, address.runConnection);
  if (run.account === address.arn.account) return;
  throw new Error(elsewhere(address.arn, run, operation, "NotFoundException", tracked));
}

function elsewhere(arn: KeyArn, run: RunPlace, operation: string, answer: string, tracked: boolean): string {
  const runs =
    run.account !== undefined
      ? `this run's credentials are in ${placeOf(run.account, run.region)}`
      : `this run's Region is ${run.region || "(none set)"} and its account is unknown${problemOf(run)}`;
  const meaning = tracked
    ? "which from here does not mean the key is gone: it stays in the stack, unchanged"
    : "which means this run can't see the key, not that it does not exist";
  const deleted =
    run.account === undefined && tracked
      ? "; if the key really was deleted, remove it from the stack with `pulumi state delete`"
      : "";
  return (
    `KMS key ${arn.arn} is in ${placeOf(arn.account, arn.region)}; ${runs}. KMS answered ${answer} to ${operation}, ` +
    `${meaning}. Run with credentials for account ${arn.account} (the key's Region comes from its ARN)${deleted}.`
  );
}

function problemOf(run: RunPlace): string {
  return run.problem ? ` (${run.problem})` : "";
}

/** Same Region, account and key ID (a person may write the partition or service differently). */
function sameKey(asked: KeyArn, answered: KeyArn): boolean {
  return (
    (asked.region === "" || answered.region === "" || asked.region === answered.region) &&
    asked.account === answered.account &&
    bareKeyId(asked.keyId).toLowerCase() === answered.keyId.toLowerCase()
  );
}
