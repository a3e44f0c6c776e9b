// Runs check and recover on one stack of a project folder, through the Automation API's local workspace (the
// backend the user is logged into, the project's own program), and turns the engine's events into a report.
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { Cancellation, CancelledError } from "./cancel";
import {
  aliasesOfGoneKeys,
  driftOf,
  findDrift,
  KeyDrift,
  nameOf,
  Observation,
  observeKeys,
  plannedActions,
  recoversGone,
  reportsType,
} from "./drift";

/** What became of one drifted resource in `recover`. */
interface Recovery {
  /**
   * recovered: a read after the update shows it as declared; planned: --dry-run; failed / skipped: see message;
   * cancelled: the run was cancelled before its update finished.
   */
  status: "recovered" | "planned" | "failed" | "skipped" | "cancelled";
  /** What was done (as a read after the update shows it), or with --dry-run what would be done, in order. */
  actions: string[];
  /** KMS's KeyState after the update, as read. */
  keyState?: string;
  /** Why it failed, was skipped or cancelled, and what to do. */
  message?: string;
}

interface KeyReport extends KeyDrift {
  /** Only in `recover`. */
  recovery?: Recovery;
}

export interface StackReport {
  stack: string;
  result: "clean" | "drift" | "error" | "recovered" | "cancelled";
  keys: KeyReport[];
  /** Why the stack could not be checked or recovered. */
  error?: string;
  /** Only when cancelled: how far the stack got. */
  message?: string;
}

export interface RunContext {
  /** The project folder (holds Pulumi.yaml). */
  workDir: string;
  now: () => Date;
  /** A progress line (to stderr). */
  progress: (line: string) => void;
  /** Set off by SIGINT or SIGTERM. */
  cancellation: Cancellation;
}

async function openStack(stackName: string | undefined, context: RunContext): Promise<Stack> {
  const workspace = await LocalWorkspace.create({ workDir: context.workDir });
  // `pulumi stack ls`: the stacks' names, with nothing of theirs decrypted.
  const stacks = await workspace.listStacks();
  const name = stackName ?? stacks.find((stack) => stack.current)?.name;
  if (!name) throw new Error("no stack is selected: pass --stack NAME or run `pulumi stack select`");
  if (!stacks.some((stack) => sameStack(stack.name, name))) {
    throw new Error(`no stack named ${name} in this project (\`pulumi stack ls\` lists its stacks)`);
  }
  // `pulumi stack select` would change the user's selected stack (and race between stacks checked at once); every
  // operation names its stack anyway, and the listing showed that it exists.
  workspace.selectStack = async () => {};
  const stack = await Stack.select(name, workspace);
  if (context.cancellation.signal) throw new CancelledError(context.cancellation.signal);
  return stack;
}

/** The listing names a stack of the current project by its short name; the user may give it in full (org/project/stack). */
function sameStack(listed: string, given: string): boolean {
  return listed === given || given.endsWith(`/${listed}`) || listed.endsWith(`/${given}`);
}

/** Steps of an update that change nothing: a resource left as it is, or one only read (get). */
const UNCHANGED_OPS: readonly string[] = ["same", "read", "read-replacement", "discard", "discard-replaced"];

/** Collects events, prints progress, and keeps the engine's error diagnostics for the report. */
class EventLog {
  readonly events: EngineEvent[] = [];
  readonly errors: string[] = [];
  /** Error diagnostics by resource URN. */
  readonly resourceErrors = new Map<string, string>();

  constructor(
    private readonly stack: string,
    private readonly context: RunContext,
    /** True for a run that changes keys (up): its steps are reported as done, not planned. */
    private readonly applying = false,
  ) {}

  /** Keys whose refresh step started, so their next outputs event is that read's. */
  private readonly refreshing = new Set<string>();

  readonly onEvent = (event: EngineEvent): void => {
    this.events.push(event);
    const diagnostic = event.diagnosticEvent;
    if (diagnostic && diagnostic.severity === "error") {
      const message = diagnostic.message.trim();
      // A resource can get several (its provider's error, then the engine's summary): keep them all, in order.
      if (diagnostic.urn) {
        const earlier = this.resourceErrors.get(diagnostic.urn);
        if (earlier !== message && !earlier?.includes(message)) {
          this.resourceErrors.set(diagnostic.urn, earlier ? `${earlier}\n${message}` : message);
        }
      } else this.errors.push(message);
    }
    const started = event.resourcePreEvent?.metadata;
    if (reportsType(started?.type) && started?.op === "refresh") this.refreshing.add(started.urn);
    const metadata = event.resOutputsEvent?.metadata;
    if (!metadata || !reportsType(metadata.type)) return;
    if (this.refreshing.delete(metadata.urn) || metadata.op === "refresh") {
      this.context.progress(`${this.stack}: read ${nameOf(metadata.urn)}${metadata.op === "delete" ? " (gone)" : ""}`);
    } else if (this.applying && !UNCHANGED_OPS.includes(metadata.op)) {
      // What the update did; not the resources it left as they are (untargeted) or only read (get).
      this.context.progress(`${this.stack}: ${metadata.op} ${nameOf(metadata.urn)}`);
    }
  };

  /** The engine's own words for a failed run, else the error's first lines. */
  explain(err: unknown): string {
    const own = [...this.errors, ...[...this.resourceErrors].map(([urn, message]) => `${nameOf(urn)}: ${message}`)];
    if (own.length > 0) return own.join("\n");
    const message = err instanceof Error ? err.message : String(err);
    // A failed CLI command's message wraps its stderr: its `error:` lines are what the user needs.
    const cliErrors = message
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.startsWith("error: "))
      .map((line) => line.slice("error: ".length));
    if (cliErrors.length > 0) return cliErrors.join("\n");
    return message.split("\n").slice(0, 20).join("\n").trim();
  }
}

/** What the user can do about a key that the update could not bring to its declared state. */
function whatToDo(keyState: string | undefined): string | undefined {
  if (keyState === "PendingImport") {
    return (
      "KMS waits for this key's imported key material: import it again (GetParametersForImport, " +
      "ImportKeyMaterial), then run recover again; or declare the key enabled: false"
    );
  }
  return undefined;
}

/** A gone key (or replica key) is the user's call: recover never creates a key. A gone alias it makes again. */
function goneRecovery(key: KeyDrift, since: "check" | "refresh"): Recovery {
  const replica = key.resource === "KmsReplicaKey";
  const what = replica ? "this replica key" : "this key";
  const when =
    since === "check"
      ? `KMS no longer has ${what}`
      : `KMS no longer has ${what}: its waiting period ended after the check; it is left out of the update`;
  const upWould = replica
    ? "`pulumi up` would create a new one (a new replica of the primary key, which still holds the key material)"
    : "`pulumi up` would create a new one (data encrypted under it is lost)";
  return { status: "skipped", actions: [], message: `${when}; ${upWould}` };
}

/** A gone alias whose key is gone too: it can only follow the new key `up` would make, which is the user's call. */
function keyGoneRecovery(): Recovery {
  return {
    status: "skipped",
    actions: [],
    message:
      "KMS no longer has this alias nor the key it pointed at (KMS deletes a key's aliases with it); `pulumi up` would " +
      "create a new key and the alias on it",
  };
}

/**
 * Opens the stack and finds its drifted KmsKeys with a preview with refresh (never written to the state), then hands
 * them to `next`; any error on the way becomes the stack's report, so it does not hide other stacks' results.
 */
async function withDrift(
  stackName: string | undefined,
  context: RunContext,
  next: (stack: Stack, label: string, keys: KeyReport[], observed: Map<string, Observation>) => Promise<StackReport>,
): Promise<StackReport> {
  let label = stackName ?? "(selected stack)";
  let log = new EventLog(label, context);
  let keys: KeyReport[] = [];
  try {
    if (context.cancellation.signal) throw new CancelledError(context.cancellation.signal);
    const stack = await openStack(stackName, context);
    label = stack.name;
    log = new EventLog(label, context);
    context.progress(`${label}: refreshing (a preview: the state is not written)`);
    await context.cancellation.run(`${label}: refreshing`, (cancellable) =>
      stack.preview({ refresh: true, onEvent: log.onEvent, ...cancellable }),
    );
    keys = findDrift(log.events, context.now());
    return await next(stack, label, keys, observeKeys(log.events));
  } catch (err) {
    if (err instanceof CancelledError) {
      context.progress(`${label}: cancelled`);
      return { stack: label, result: "cancelled", keys, message: "cancelled before any change: nothing was changed" };
    }
    context.progress(`${label}: error`);
    return { stack: label, result: "error", keys: [], error: log.explain(err) };
  }
}

/** `check`: the KmsKeys that drifted. */
export function checkStack(stackName: string | undefined, context: RunContext): Promise<StackReport> {
  return withDrift(stackName, context, async (_stack, label, keys) => {
    context.progress(`${label}: ${keys.length === 0 ? "no drift" : `${keys.length} drifted key(s)`}`);
    return { stack: label, result: keys.length === 0 ? "clean" : "drift", keys };
  });
}

/**
 * `recover`: a refreshed preview finds the drifted resources (as `check` does); a refresh of only those reads them
 * again, then one `up` without a refresh of its own updates only those still there (and makes a gone alias again), so
 * nothing else in the stack changes and no key that went in the meantime is created anew; a refreshed preview of them
 * then reads the result. Gone keys and replica keys are left out: `up` would create new keys, which is the user's
 * call. With dryRun: a preview with refresh and the same targets; nothing is written.
 */
export function recoverStack(
  stackName: string | undefined,
  dryRun: boolean,
  context: RunContext,
): Promise<StackReport> {
  return withDrift(stackName, context, async (stack, label, keys, observed) => {
    const followingGoneKeys = aliasesOfGoneKeys(observed);
    for (const key of keys) {
      if (key.kind !== "gone") continue;
      if (!recoversGone(key.resource)) key.recovery = goneRecovery(key, "check");
      else if (followingGoneKeys.has(key.urn)) key.recovery = keyGoneRecovery();
    }
    const targets = keys.filter((key) => !key.recovery);
    if (targets.length === 0) {
      context.progress(`${label}: nothing to recover`);
      return { stack: label, result: keys.length === 0 ? "clean" : "drift", keys };
    }
    return dryRun
      ? planRecovery(stack, label, keys, targets, context)
      : recoverKeys(stack, label, keys, targets, context);
  });
}

/** --dry-run: the engine's plan for a targeted update of the drifted resources. */
async function planRecovery(
  stack: Stack,
  label: string,
  keys: KeyReport[],
  targets: KeyReport[],
  context: RunContext,
): Promise<StackReport> {
  const plan = new EventLog(label, context);
  await context.cancellation.run(`${label}: targeted preview`, (cancellable) =>
    stack.preview({ refresh: true, target: targets.map((key) => key.urn), onEvent: plan.onEvent, ...cancellable }),
  );
  const planned = new Map(findDrift(plan.events, context.now()).map((drift) => [drift.urn, drift]));
  for (const key of targets) {
    const drift = planned.get(key.urn);
    key.recovery = !drift
      ? { status: "skipped", actions: [], message: "the targeted preview plans no change for this resource" }
      : drift.kind === "gone" && !recoversGone(drift.resource)
        ? goneRecovery(key, "refresh")
        : { status: "planned", actions: plannedActions(drift) };
  }
  return { stack: label, result: "drift", keys };
}

/** The targeted refresh, update and read of the drifted resources; a cancellation reports how far each got. */
async function recoverKeys(
  stack: Stack,
  label: string,
  keys: KeyReport[],
  targets: KeyReport[],
  context: RunContext,
): Promise<StackReport> {
  const { cancellation, now } = context;
  const update = new EventLog(label, context, true);
  /** What the update does for a resource, where the refresh found more to do than the check (an alias gone since). */
  const done = new Map<string, string[]>();
  let phase: "refresh" | "update" | "read" = "refresh";
  try {
    context.progress(`${label}: reading ${targets.length} resource(s) again before the update`);
    const refresh = new EventLog(label, context);
    await cancellation.run(`${label}: refresh`, (cancellable) =>
      stack.refresh({ target: targets.map((key) => key.urn), onEvent: refresh.onEvent, ...cancellable }),
    );
    // A key whose waiting period ended since the check: an update of it would create a new key. A gone alias is made
    // again by the update (its state no longer has it after this refresh).
    const refreshed = observeKeys(refresh.events);
    const present = targets.filter((key) => {
      if (refreshed.get(key.urn)?.live !== null) return true;
      if (recoversGone(key.resource)) {
        if (key.kind !== "gone") done.set(key.urn, plannedActions({ ...key, kind: "gone" }));
        return true;
      }
      key.recovery = goneRecovery(key, "refresh");
      return false;
    });
    if (present.length === 0) return { stack: label, result: "drift", keys };

    phase = "update";
    context.progress(`${label}: updating ${present.length} resource(s), nothing else`);
    let failure: unknown;
    try {
      // No refresh of its own: the one above just read the keys. continueOnError: a key that fails does not stop the rest.
      await cancellation.run(`${label}: update`, (cancellable) =>
        stack.up({
          target: present.map((key) => key.urn),
          continueOnError: true,
          onEvent: update.onEvent,
          ...cancellable,
        }),
      );
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      failure = err;
    }

    phase = "read";
    context.progress(`${label}: reading the updated resource(s) (a preview: the state is not written)`);
    const read = new EventLog(label, context);
    await cancellation.run(`${label}: reading after the update`, (cancellable) =>
      stack.preview({ refresh: true, target: present.map((key) => key.urn), onEvent: read.onEvent, ...cancellable }),
    );
    const after = observeKeys(read.events);
    for (const key of present) {
      const observation = after.get(key.urn) ?? { urn: key.urn };
      const error = update.resourceErrors.get(key.urn) ?? (failure ? update.explain(failure) : undefined);
      key.recovery = outcome(key, observation, error, now(), done.get(key.urn));
    }
    const allRecovered = keys.every((key) => key.recovery?.status === "recovered");
    return { stack: label, result: allRecovered ? "recovered" : "drift", keys };
  } catch (err) {
    if (!(err instanceof CancelledError)) throw err;
    context.progress(`${label}: cancelled (${phase})`);
    return cancelledRecovery(label, keys, targets, phase, update, now());
  }
}

/**
 * What a read of the resource after the update shows, against what the check found (`planned`: what the update was to
 * do, when the refresh before it found more than the check did).
 */
function outcome(
  before: KeyDrift,
  read: Observation,
  error: string | undefined,
  now: Date,
  planned: string[] = plannedActions(before),
): Recovery {
  const keyState = typeof read.live?.keyState === "string" ? read.live.keyState : undefined;
  if (read.live === null) {
    const gone =
      before.resource === "KmsAlias"
        ? "KMS has no such alias after the update"
        : "KMS no longer has this key after the update; `pulumi up` would create a new one";
    return { status: "failed", actions: [], message: [error, gone].filter(Boolean).join("; ") };
  }
  if (!read.live) {
    return { status: "failed", actions: [], message: error ?? "it was not read after the update" };
  }
  const left = driftOf(read, now);
  if (!left) return { status: "recovered", actions: planned, keyState };
  const leftToDo = plannedActions(left);
  return {
    status: "failed",
    actions: planned.filter((action) => !leftToDo.includes(action)),
    keyState,
    message: [error ?? `after the update, up would still ${leftToDo.join(", ")}`, whatToDo(keyState)]
      .filter(Boolean)
      .join("; "),
  };
}

/** A cancelled recover: a key whose update finished is judged by what the update reported, the others were not reached. */
function cancelledRecovery(
  label: string,
  keys: KeyReport[],
  targets: KeyReport[],
  phase: "refresh" | "update" | "read",
  update: EventLog,
  now: Date,
): StackReport {
  // The update's own outputs: what the provider found and left, call by call.
  const updated = new Map<string, EngineEvent>();
  for (const event of update.events) {
    const metadata = event.resOutputsEvent?.metadata;
    if (reportsType(metadata?.type) && metadata?.new?.outputs) updated.set(metadata.urn, event);
  }
  for (const key of targets) {
    if (key.recovery) continue;
    const metadata = updated.get(key.urn)?.resOutputsEvent?.metadata;
    const error = update.resourceErrors.get(key.urn);
    if (metadata?.new) {
      const left = driftOf(
        { urn: key.urn, type: metadata.type, live: metadata.new.outputs, declared: metadata.new.inputs, op: "update" },
        now,
      );
      const keyState = typeof metadata.new.outputs.keyState === "string" ? metadata.new.outputs.keyState : undefined;
      key.recovery = left
        ? { status: "failed", actions: [], keyState, message: error ?? `up would still ${left.upWould}` }
        : { status: "recovered", actions: plannedActions(key), keyState };
    } else {
      key.recovery = {
        status: error ? "failed" : "cancelled",
        actions: [],
        message: [error, "the run was cancelled before this key's update finished: run recover again"]
          .filter(Boolean)
          .join("; "),
      };
    }
  }
  const message = {
    refresh: "cancelled while reading the keys again, before the update: nothing was changed",
    update: "cancelled during the update: the keys' updates in flight were finished, no other was started",
    read: "cancelled while reading the keys after the update: the update had finished",
  }[phase];
  return { stack: label, result: "cancelled", keys, message };
}
