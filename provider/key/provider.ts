// The ResourceProvider for KmsKey: check and diff are pure; read observes; create, update and delete act.
import { randomUUID } from "node:crypto";
import * as dynamic from "@pulumi/pulumi/dynamic";
import { CheckedInputs, connectionOf, desiredKey, KeyInputs, KeyOutputs } from "../inputs";
import { KEY_SCHEMA } from "./schema";
import * as schema from "../schema";
import { withoutAbsent } from "../schema";
import { addressOf, bareKeyId, KeyAddress, parseKeyArn } from "../keyAddress";
import { KeyNotFoundError } from "../kms/errors";
import { createKey, markOwner, observedFrom, observeRotation, readKey, readOwnerTag, runAction } from "../kms/gateway";
import { confirmGone, describeTracked, lookUpKey, observeKey } from "../locate";
import {
  FULL_SCOPE,
  isPendingDeletion,
  KeyPart,
  KeyStep,
  MAX_STEPS,
  nextStep,
  ObservedKey,
  planDelete,
  StepAnswer,
  transition,
  UpdateScope,
} from "../plan";
import { ProviderSession } from "../session";
import { parseKeyReference, UNKNOWN } from "../validation";

/** Changing these makes a different key: KMS can't change them in place. */
const REPLACE_ON_CHANGE = schema.replaceOnChange(KEY_SCHEMA) as ("keyUsage" | "keySpec" | "multiRegion")[];

/** Inputs that only this provider uses (KMS can't report them): carried over from state on refresh. */
const STATE_ONLY_INPUTS = schema.stateOnly(KEY_SCHEMA) as (keyof KeyInputs)[];

type Props = Record<string, unknown>;

/** A resource's outputs from its inputs and the key as KMS has it (KmsKey's: outputsOf). */
export type OutputsFn = (declared: object, observed: ObservedKey, importing?: boolean) => object;

/** What an adoption (the import option) checks and reports, for the resource that adopts: KmsKey's by default. */
export interface Adoption {
  /** Why the key found can't be taken as declared, in plain words; undefined when it can. */
  refusal(observed: ObservedKey, inputs: Props): string | undefined;
  /** What the adoption's reconcile may change. */
  scope: UpdateScope;
  outputs: OutputsFn;
}

export class KeyProvider implements dynamic.ResourceProvider {
  /** What this provider process remembers between calls (one per deployment). */
  constructor(private readonly session = new ProviderSession()) {}

  async check(_olds: Props, news: Props): Promise<dynamic.CheckResult> {
    return schema.checkInputs(KEY_SCHEMA, news, (declared) => withDefaults(declared));
  }

  async diff(_id: string, olds: Props, news: Props): Promise<dynamic.DiffResult> {
    return diffKey(olds, news);
  }

  async create(inputs: Props): Promise<dynamic.CreateResult> {
    const declared = inputs as KeyInputs;
    if (declared.importKeyId !== undefined) return adopt(this.session, declared.importKeyId, inputs);
    const desired = desiredKey(declared);
    const connection = connectionOf(declared);
    const metadata = await createKey(this.session, connection, desired);
    // CreateKey carries description, usage, spec, policy, tags and multi-Region; the steps after it do the rest.
    const created = observedFrom(metadata, {
      policy: desired.policy,
      rotation: { enabled: false },
      tags: desired.tags,
    });
    let observed: ObservedKey;
    let refusal: string | undefined;
    try {
      const address = addressOf(created.keyId, { ...declared, arn: created.arn });
      ({ observed, refusal } = await reconcile(this.session, address, desired, created, FULL_SCOPE));
    } catch (err) {
      // The key exists: hand it to the engine with the error so it stays tracked.
      throw await partialFailure(this.session, err, inputs, created);
    }
    if (refusal) throw await partialFailure(this.session, new Error(refusal), inputs, observed);
    return { id: observed.keyId, outs: outputsOf(inputs, observed) };
  }

  async read(id: string, props: Props): Promise<dynamic.ReadResult> {
    // No keyId in state: a person named the key (KmsKey.get); an id from KMS is never refused for its form.
    const importing = props.keyId === undefined;
    if (importing) {
      const reference = parseKeyReference(id);
      if ("error" in reference) throw new Error(`cannot read the key: ${reference.error}`);
    }
    const address = addressOf(id, props as KeyInputs);
    const observed = importing
      ? await lookUpKey(this.session, address, "read")
      : await observeKey(this.session, address, "read");
    // Only NotFoundException for the key's own ARN means gone; a key pending deletion can be brought back.
    if (!observed) return {};
    this.session.rememberRead(observed);
    const outputs = outputsOf(props, observed, importing);
    return { id: observed.keyId, props: outputs, inputs: inputsOf(outputs) };
  }

  async update(id: string, olds: Props, declared: Props): Promise<dynamic.UpdateResult> {
    // The owner tag of an adoption stays in the state through every update (see adopt).
    const news = olds.ownerTag === undefined ? declared : { ...declared, ownerTag: olds.ownerTag };
    const address = addressOf(id, { ...(news as KeyInputs), arn: olds.arn });
    // Only what changed since the key was last read (olds) is changed.
    const observed = await currentKey(this.session, address, olds, "update");
    if (!observed) throw goneOnUpdate(address, "creates a new key");
    return {
      outs: outputsOf(
        news,
        await reconcileTracked(this.session, news, observed, address, changesOf(olds, news), "update"),
      ),
    };
  }

  async delete(id: string, props: Props): Promise<void> {
    const address = addressOf(id, props as KeyInputs);
    // Another resource took the same key over in this process (the import option): that key stays its.
    if (this.session.wasAdopted(address.arn?.arn)) return;
    const observed = await currentKey(this.session, address, props, "delete");
    const window = desiredKey(props as KeyInputs).deletionWindowInDays;
    try {
      const actions = planDelete(observed, window);
      // Adopted since by another resource (a replacement that kept the import option, maybe in an interrupted run,
      // or another stack): the key is that one's now, and this resource leaves it as it is.
      if (actions.length > 0 && (await adoptedByAnother(this.session, observed, address, props))) return;
      for (const action of actions) {
        await runAction(this.session, address, action);
      }
    } catch (err) {
      // By ID, a key of another account is "not found": only in the key's own account does that mean gone.
      if (!(err instanceof KeyNotFoundError)) throw err;
      await confirmGone(this.session, address, "delete", true);
    }
  }
}

/** An update's error for a key KMS no longer has: what `pulumi refresh`, then `pulumi up`, do about it. */
export function goneOnUpdate(address: KeyAddress, upThen: string): KeyNotFoundError {
  const gone = new KeyNotFoundError(address.reference, "update");
  gone.message += `; run \`pulumi refresh\` to drop it from the stack, then \`pulumi up\` ${upThen}`;
  return gone;
}

/** Whether the key's owner tag names an adoption other than this resource's (see adopt). */
async function adoptedByAnother(
  session: ProviderSession,
  observed: ObservedKey | undefined,
  address: KeyAddress,
  props: Props,
): Promise<boolean> {
  // The refresh's read of the key saw its tags: no need to read them again.
  const owner =
    observed?.ownerTag !== undefined ? (observed.ownerTag ?? undefined) : await readOwnerTag(session, address);
  return owner !== undefined && owner !== props.ownerTag;
}

/**
 * The key as it is now, undefined when it is gone: this process's refresh read of it moments ago, else one DescribeKey
 * (which orders the calls safely) with policy, rotation and tags as last read.
 */
export async function currentKey(
  session: ProviderSession,
  address: KeyAddress,
  olds: Props,
  operation: string,
): Promise<ObservedKey | undefined> {
  const refreshed = justRead(session, address, olds);
  if (refreshed) return refreshed;
  const metadata = await describeTracked(session, address, operation);
  return metadata?.KeyId ? lastKnown(metadata, olds) : undefined;
}

/**
 * The key as this process's read() found it moments ago, when the engine's state (olds) is that read's: the refresh
 * of `up --refresh` or `destroy --refresh`. A change made in between by someone else makes KMS refuse the planned
 * call, and the call's own settling reads the key then.
 */
function justRead(session: ProviderSession, address: KeyAddress, olds: Props): ObservedKey | undefined {
  // By the whole ARN: a multi-Region primary and its replicas share one key ID.
  const observed = session.takeRecentRead(address.arn?.arn);
  if (!observed) return undefined;
  const same =
    observed.keyState === olds.keyState && (observed.deletionDate ?? undefined) === (olds.deletionDate ?? undefined);
  return same ? observed : undefined;
}

/**
 * The engine can't import dynamic resources (its Read for an import carries no provider: pulumi/pulumi#16175),
 * so KmsKey turns the `import` option into this: take over the existing key, as an update would reconcile it.
 */
export async function adopt(
  session: ProviderSession,
  reference: string,
  inputs: Props,
  adoption: Adoption = KEY_ADOPTION,
): Promise<dynamic.CreateResult> {
  const parsed = parseKeyReference(reference);
  if ("error" in parsed) throw new Error(`cannot import the key: ${parsed.error}`);
  const declared = inputs as KeyInputs;
  // A key ARN is read in its own Region and account, whatever the run's are.
  const address = addressOf(reference, declared);
  const observed = await lookUpKey(
    session,
    address,
    "import",
    " Remove the import option to create a new key instead.",
  ).catch((err: Error) => {
    throw new Error(`cannot import the key: ${err.message}`);
  });
  const refusal = adoption.refusal(observed, inputs);
  if (refusal !== undefined) throw new Error(refusal);
  // The owner tag outlives this process: a replacement that adopts this very key (the import option left in the
  // program) marks it anew, and the replaced resource's delete, in this run or a later one, then leaves the key alone.
  // KMS tags nothing pending deletion, so such a key is marked once reconcile has cancelled its deletion.
  const ownerTag = randomUUID();
  const pending = isPendingDeletion(observed.keyState);
  // false when this identity may not tag the key: then only this process remembers the adoption.
  let owned = !pending && (await markOwner(session, address, ownerTag));
  const after = await reconcileTracked(
    session,
    owned ? { ...inputs, ownerTag } : inputs,
    observed,
    address,
    adoption.scope,
    "import",
    adoption.outputs,
  );
  session.rememberAdopted(after.arn);
  if (pending) {
    owned = await markOwner(session, address, ownerTag).catch(async (err: unknown) => {
      throw await partialFailure(session, err, inputs, after, undefined, adoption.outputs);
    });
  }
  return { id: after.keyId, outs: adoption.outputs(owned ? { ...inputs, ownerTag } : inputs, after) };
}

/** KmsKey's adoption: the key's usage, spec and multi-Region must be as declared; then the whole key is reconciled. */
const KEY_ADOPTION: Adoption = {
  refusal(observed, inputs) {
    const desired = desiredKey(inputs as KeyInputs);
    const mismatches = REPLACE_ON_CHANGE.filter((name) => desired[name] !== observed[name]).map(
      (name) =>
        `${name} is ${JSON.stringify(observed[name])} but the program declares ${JSON.stringify(desired[name])}`,
    );
    if (mismatches.length === 0) return undefined;
    return (
      `cannot import KMS key ${observed.keyId} as declared: ${mismatches.join("; ")}. Declare them as the key has them; ` +
      `or, for a new key with these properties, remove the import option.`
    );
  },
  scope: FULL_SCOPE,
  outputs: outputsOf,
};

/** The key as DescribeKey shows it now, with policy, rotation and tags as last read (the state's outputs). */
function lastKnown(metadata: Parameters<typeof observedFrom>[0], olds: Props): ObservedKey {
  const unreadable = Array.isArray(olds.unreadable) ? (olds.unreadable as string[]) : [];
  const known = (part: string, value: unknown) => (unreadable.includes(part) ? undefined : value);
  const rotation = known("rotation", olds.enableKeyRotation);
  return observedFrom(metadata, {
    policy: known("policy", typeof olds.policy === "string" ? olds.policy : undefined) as string | undefined,
    rotation:
      typeof rotation === "boolean"
        ? { enabled: rotation, periodInDays: olds.rotationPeriodInDays as number | undefined }
        : undefined,
    tags: known("tags", schema.isMap(olds.tags) ? (olds.tags as Record<string, string>) : undefined) as
      Record<string, string> | undefined,
    unreadable,
  });
}

/** reconcile(), with any failure or refusal carrying the key's id and properties so the engine keeps tracking it. */
export async function reconcileTracked(
  session: ProviderSession,
  inputs: Props,
  observed: ObservedKey,
  address: KeyAddress,
  scope: UpdateScope,
  operation: string,
  outputs: OutputsFn = outputsOf,
): Promise<ObservedKey> {
  const declared = inputs as KeyInputs;
  let after: ObservedKey;
  let refusal: string | undefined;
  try {
    ({ observed: after, refusal } = await reconcile(session, address, desiredKey(declared), observed, scope));
  } catch (err) {
    // By ID, a key of another account is "not found": say where the key and the run are instead.
    const failure =
      err instanceof KeyNotFoundError
        ? await confirmGone(session, address, operation, true).then(
            () => err,
            (elsewhere: unknown) => elsewhere,
          )
        : err;
    throw await partialFailure(session, failure, inputs, undefined, address, outputs);
  }
  if (refusal) throw await partialFailure(session, new Error(refusal), inputs, after, undefined, outputs);
  return after;
}

/**
 * Brings the key to the declaration one step at a time: the planner names the next call from the key as it is, the
 * call is made, and its answer moves the key on (transition). After a cancel the planner assumes what KMS usually
 * leaves (Disabled); when a call then finds another state (PendingImport: the imported key material is gone), the
 * rest is planned from that state.
 */
async function reconcile(
  session: ProviderSession,
  address: KeyAddress,
  desired: ReturnType<typeof desiredKey>,
  observed: ObservedKey,
  scope: UpdateScope,
): Promise<{ observed: ObservedKey; refusal?: string }> {
  let state = { observed, scope };
  let cancelled = false;
  for (let steps = 0; steps < MAX_STEPS; steps++) {
    const { step, refusal } = nextStep(desired, state.observed, state.scope);
    if (!step) return { observed: state.observed, refusal };
    let answer: StepAnswer;
    try {
      answer = await runStep(session, address, step);
    } catch (err) {
      const found = (err as { currentState?: string }).currentState;
      if (!cancelled || found === undefined || found === state.observed.keyState) throw err;
      // KMS left the key in another state than a cancel usually does: plan the rest from there, once.
      cancelled = false;
      state = { ...state, observed: { ...state.observed, keyState: found } };
      continue;
    }
    if (step.kind === "cancelDeletion") cancelled = true;
    state = transition(state.observed, state.scope, step, answer);
  }
  throw new Error(`the planner did not settle after ${MAX_STEPS} steps (a bug in pulumi-kms-key)`);
}

/** Makes one step's call and returns what the planner needs of its answer. */
async function runStep(session: ProviderSession, address: KeyAddress, step: KeyStep): Promise<StepAnswer> {
  if (step.kind === "readRotation") return { rotation: await observeRotation(session, address) };
  return { keyState: await runAction(session, address, step) };
}

/** An error that carries the key's id and properties, so the engine keeps tracking a key that exists. */
export async function partialFailure(
  session: ProviderSession,
  err: unknown,
  inputs: Props,
  known: ObservedKey | undefined,
  address?: KeyAddress,
  outputs: OutputsFn = outputsOf,
): Promise<Error> {
  const error = err instanceof Error ? err : new Error(String(err));
  let observed = known;
  if (!observed && address) {
    observed = await readKey(session, address).catch(() => undefined);
  }
  if (!observed) return error;
  return Object.assign(error, {
    // The engine shows only the reasons of an error that carries an id (ErrorResourceInitFailed).
    reasons: [error.message],
    id: observed.keyId,
    properties: { ...outputs(inputs, observed), __provider: inputs.__provider },
  });
}

/** Inputs with defaults filled in, plus the key state they ask for (so previews show keyState changes). */
export function withDefaults(news: Props, resource: schema.ResourceSchema = KEY_SCHEMA): CheckedInputs {
  const inputs = schema.withDefaults(resource, withoutAbsent(news)) as KeyInputs & Props;
  const enabled = inputs.enabled as unknown;
  const checked: CheckedInputs & Props = {
    ...inputs,
    keyState: (enabled === UNKNOWN ? UNKNOWN : enabled ? "Enabled" : "Disabled") as "Enabled" | "Disabled",
  };
  // A keyState among the inputs came from the old state through ignoreChanges: the key's state is left to others.
  if (typeof news.keyState === "string") {
    checked.keyState = news.keyState as CheckedInputs["keyState"];
    checked.keyStateIgnored = true;
  } else {
    delete checked.keyStateIgnored;
  }
  return checked;
}

/** diff makes no network call: it compares the last known state with the declared inputs. */
export function diffKey(olds: Props, news: Props): dynamic.DiffResult {
  const replaces: string[] = REPLACE_ON_CHANGE.filter((name) => schema.differs(olds[name], news[name]));
  // The key's Region is its ARN's: declaring that one changes nothing; declaring another asks for a new key.
  const keyRegion = parseKeyArn(olds.arn)?.region || olds.region;
  if (typeof keyRegion === "string" && keyRegion !== "" && news.region !== undefined && news.region !== keyRegion) {
    replaces.push("region");
  }
  const importing = news.importKeyId;
  if (replaces.length > 0 && typeof importing === "string" && bareKeyId(importing) === olds.keyId) {
    // A replacement would adopt the very key it replaces: say what to do before anything changes.
    throw new Error(
      `${replaces.join(", ")} changed, which needs a new key, but the import option still names KMS key ${String(olds.keyId)}, ` +
        `which this resource already manages. Remove the import option (only the first pulumi up needs it) and run ` +
        `pulumi up again to create the new key (the old one is then scheduled for deletion); or declare ${replaces.join(", ")} ` +
        `as the key has them to keep it.`,
    );
  }
  const { changed } = changesOf(olds, news);
  const stateOnly = STATE_ONLY_INPUTS.filter((name) => schema.differs(olds[name], news[name]));
  return {
    changes: replaces.length > 0 || changed.size > 0 || stateOnly.length > 0,
    replaces,
    deleteBeforeReplace: false,
  };
}

/** The parts of the key whose declared value differs from the last known one: what an update may change. */
export function changesOf(olds: Props, news: Props, resource: schema.ResourceSchema = KEY_SCHEMA): UpdateScope {
  // The key's state has its own rule (keyStateDiffers): states the provider can't change settle the diff.
  const changed = schema.changedParts(resource, olds, news, ["enabled"]) as Set<KeyPart>;
  const keyStateManaged = news.keyStateIgnored !== true;
  if (keyStateManaged && keyStateDiffers(olds, news)) changed.add("enabled");
  return { changed, keyStateManaged };
}

/** Whether the key's state falls short of the declared one; states the provider can't change settle the diff. */
function keyStateDiffers(olds: Props, news: Props): boolean {
  if (news.keyState === UNKNOWN || news.enabled === UNKNOWN) return true;
  const observed = olds.keyState;
  if (typeof observed !== "string") return schema.differs(olds.enabled, news.enabled);
  // Pending deletion is never a reason to replace: the update brings the same key back.
  if (isPendingDeletion(observed)) return true;
  const declared = news.enabled === false ? "Disabled" : "Enabled";
  if (observed === declared) return false;
  // A key waiting for key material is as unusable as declared; declared enabled, the update says how to get there.
  if (observed === "PendingImport") return declared === "Enabled";
  // Unavailable (key store disconnected), Creating and Updating: only KMS or the key store can change these.
  if (["Unavailable", "Creating", "Updating"].includes(observed)) return false;
  return true;
}

/** The outputs of a key: the inputs as KMS has them now, plus what KMS reports. */
export function outputsOf(declared: object, observed: ObservedKey, importing = false): KeyOutputs {
  const inputs = declared as KeyInputs;
  const filled = schema.withDefaults(KEY_SCHEMA, inputs as Props) as KeyInputs;
  const outputs: KeyOutputs = {
    description: observed.description,
    keyUsage: observed.keyUsage,
    keySpec: observed.keySpec,
    enabled: observed.keyState === "Enabled",
    multiRegion: observed.multiRegion,
    tags: observed.tags ?? inputs.tags ?? {},
    enableKeyRotation: observed.enableKeyRotation ?? filled.enableKeyRotation,
    deletionWindowInDays: filled.deletionWindowInDays,
    keyId: observed.keyId,
    arn: observed.arn,
    keyState: observed.keyState,
    deletionDate: observed.deletionDate,
    creationDate: observed.creationDate,
    origin: observed.origin,
    keyManager: observed.keyManager,
  };
  if (observed.enableKeyRotation ?? inputs.enableKeyRotation) {
    outputs.rotationPeriodInDays = observed.rotationPeriodInDays ?? inputs.rotationPeriodInDays;
  }
  // An undeclared policy is not managed; show it only when declared, or when importing a key.
  if (inputs.policy !== undefined || importing) outputs.policy = observed.policy ?? inputs.policy;
  for (const name of STATE_ONLY_INPUTS) {
    if (inputs[name] !== undefined) (outputs as unknown as Props)[name] = inputs[name];
  }
  if (observed.unreadable.length > 0) outputs.unreadable = observed.unreadable;
  const { ownerTag } = declared as KeyOutputs;
  if (typeof ownerTag === "string") outputs.ownerTag = ownerTag;
  return withoutAbsent(outputs as unknown as Props) as unknown as KeyOutputs;
}

/** The inputs a refresh records: the outputs less what only KMS reports, keeping keyState and deletionDate visible. */
export function inputsOf(outputs: KeyOutputs): Props {
  return schema.refreshedInputs(KEY_SCHEMA, outputs);
}
