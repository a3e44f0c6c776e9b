// Finds a key where its ARN says it lives. Only KMS's NotFoundException for that ARN, in its own Region and account,
// means the key is gone; a run that can't see the key from where it runs fails, saying where each of them is.
import { KeyMetadata } from "@aws-sdk/client-kms";
import { bareKeyId, KeyAddress, KeyArn, parseKeyArn, placeOf } from "./keyAddress";
import { kmsClient } from "./kms/client";
import { isAccessDenied } from "./kms/errors";
import { describeKey, readKey } from "./kms/gateway";
import { RunPlace, runPlace } from "./kms/identity";
import { ObservedKey } from "./plan";

/** A tracked key as KMS has it (the four reads); undefined only when it is gone. */
export function observeKey(address: KeyAddress, operation: string): Promise<ObservedKey | undefined> {
  return find(
    address,
    operation,
    () => readKey(address.connection, address.reference),
    (key) => key.arn,
  );
}

/** A tracked key's metadata (DescribeKey alone); undefined only when it is gone. */
export function describeTracked(address: KeyAddress, operation: string): Promise<KeyMetadata | undefined> {
  return find(
    address,
    operation,
    () => describeKey(kmsClient(address.connection), address.reference),
    (m) => m.Arn,
  );
}

/** A key a person named (the import option, KmsKey.get): it must exist, where its ARN or the run says. */
export async function lookUpKey(address: KeyAddress, operation: string): Promise<ObservedKey> {
  const observed = await observeKey(address, operation);
  if (observed) return observed;
  const run = await runPlace(address.connection, address.runConnection);
  if (address.arn) {
    throw new Error(
      `${operation}: KMS has no key ${address.arn.arn} in ${placeOf(address.arn.account, address.arn.region)} ` +
        `(KMS answered NotFoundException there). Check the key's ARN.`,
    );
  }
  throw new Error(
    `${operation}: KMS has no key ${address.keyId} in this run's ${placeOf(run.account, run.region)}${problemOf(run)}. ` +
      `If the key is in another Region or account, give its key ARN instead of its ID.`,
  );
}

async function find<T>(
  address: KeyAddress,
  operation: string,
  look: () => Promise<T | undefined>,
  arnOf: (found: T) => string | undefined,
): Promise<T | undefined> {
  let found: T | undefined;
  try {
    found = await look();
  } catch (err) {
    // Access denied to a key of another account usually means the run is in the wrong account: say so.
    if (address.arn && isAccessDenied((err as { cause?: unknown }).cause)) {
      const run = await runPlace(address.connection, address.runConnection);
      if (run.account !== undefined && run.account !== address.arn.account) {
        throw new Error(elsewhere(address.arn, run, operation, "AccessDeniedException"));
      }
    }
    throw err;
  }
  if (found === undefined) {
    await confirmGone(address, operation);
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
async function confirmGone(address: KeyAddress, operation: string): Promise<void> {
  // A state from before ARNs were recorded: KMS's answer in the run's Region is all there is to go by.
  if (!address.arn) return;
  const run = await runPlace(address.connection, address.runConnection);
  if (run.account === address.arn.account) return;
  throw new Error(elsewhere(address.arn, run, operation, "NotFoundException"));
}

function elsewhere(arn: KeyArn, run: RunPlace, operation: string, answer: string): string {
  const runs =
    run.account !== undefined
      ? `this run's credentials are in ${placeOf(run.account, run.region)}`
      : `this run's Region is ${run.region || "(none set)"} and its account is unknown${problemOf(run)}`;
  return (
    `KMS key ${arn.arn} is in ${placeOf(arn.account, arn.region)}; ${runs}. KMS answered ${answer} to ${operation}, ` +
    `which from here does not mean the key is gone: it stays in the stack, unchanged. ` +
    `Run with credentials for account ${arn.account} (the key's Region comes from its ARN)` +
    (run.account === undefined
      ? "; if the key really was deleted, remove it from the stack with `pulumi state delete`."
      : ".")
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
