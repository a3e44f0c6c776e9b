// Runs check and recover on one stack of a project folder, through the Automation API's local workspace (the
// backend the user is logged into, the project's own program), and turns the engine's events into a report.
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { findDrift, KeyDrift, KMS_KEY_TYPE, plannedActions } from "./drift";

/** What became of one drifted key in `recover`. */
export interface Recovery {
  /** recovered: the targeted update succeeded; planned: --dry-run; failed / skipped: see message. */
  status: "recovered" | "planned" | "failed" | "skipped";
  /** What was done (or, with --dry-run, would be done), in order. */
  actions: string[];
  /** KMS's KeyState after the update. */
  keyState?: string;
  /** Why it failed or was skipped, and what to do. */
  message?: string;
}

export interface KeyReport extends KeyDrift {
  /** Only in `recover`. */
  recovery?: Recovery;
}

export interface StackReport {
  stack: string;
  result: "clean" | "drift" | "error" | "recovered";
  keys: KeyReport[];
  /** Why the stack could not be checked or recovered. */
  error?: string;
}

export interface RunContext {
  /** The project folder (holds Pulumi.yaml). */
  workDir: string;
  now: () => Date;
  /** A progress line (to stderr). */
  progress: (line: string) => void;
}

async function openStack(stackName: string | undefined, context: RunContext): Promise<Stack> {
  const workspace = await LocalWorkspace.create({ workDir: context.workDir });
  const name = stackName ?? (await workspace.stack())?.name;
  if (!name) throw new Error("no stack is selected: pass --stack NAME or run `pulumi stack select`");
  // `pulumi stack select` would change the user's selected stack (and race between stacks checked at once); every
  // operation names its stack anyway, so only make sure the stack exists.
  workspace.selectStack = async (stack: string) => {
    await workspace.stackOutputs(stack);
  };
  return Stack.select(name, workspace);
}

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
    const metadata = event.resOutputsEvent?.metadata;
    if (metadata && metadata.type === KMS_KEY_TYPE && (metadata.op === "refresh" || this.applying)) {
      this.context.progress(
        `${this.stack}: ${metadata.op === "refresh" ? "read" : metadata.op} ${nameOf(metadata.urn)}`,
      );
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

function nameOf(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

/**
 * Opens the stack and finds its drifted KmsKeys with a preview with refresh (never written to the state), then hands
 * them to `next`; any error on the way becomes the stack's report, so it does not hide other stacks' results.
 */
async function withDrift(
  stackName: string | undefined,
  context: RunContext,
  next: (stack: Stack, label: string, keys: KeyReport[]) => Promise<StackReport>,
): Promise<StackReport> {
  let label = stackName ?? "(selected stack)";
  let log = new EventLog(label, context);
  try {
    const stack = await openStack(stackName, context);
    label = stack.name;
    log = new EventLog(label, context);
    context.progress(`${label}: refreshing (a preview: the state is not written)`);
    await stack.preview({ refresh: true, onEvent: log.onEvent });
    return await next(stack, label, findDrift(log.events, context.now()));
  } catch (err) {
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
 * `recover`: a refreshed preview finds the drifted keys (as `check` does), then one `up --refresh` targets only them,
 * so nothing else in the stack changes. Gone keys are left out of the targets: `up` would create new keys, which is
 * the user's call. With dryRun: a preview with refresh and the same targets; nothing is written.
 */
export function recoverStack(
  stackName: string | undefined,
  dryRun: boolean,
  context: RunContext,
): Promise<StackReport> {
  return withDrift(stackName, context, async (stack, label, keys) => {
    const targets = keys.filter((key) => key.kind !== "gone").map((key) => key.urn);
    for (const key of keys) {
      if (key.kind === "gone") {
        key.recovery = {
          status: "skipped",
          actions: [],
          message: "KMS no longer has this key; `pulumi up` would create a new one (data encrypted under it is lost)",
        };
      }
    }
    if (targets.length === 0) {
      context.progress(`${label}: nothing to recover`);
      return { stack: label, result: keys.length === 0 ? "clean" : "drift", keys };
    }
    if (dryRun) {
      const plan = new EventLog(label, context);
      await stack.preview({ refresh: true, target: targets, onEvent: plan.onEvent });
      const planned = new Set(
        [...plan.events].flatMap((event) => {
          const metadata = event.resourcePreEvent?.metadata;
          return metadata && metadata.op !== "refresh" && metadata.op !== "same" ? [metadata.urn] : [];
        }),
      );
      for (const key of keys) {
        if (key.kind === "gone") continue;
        key.recovery = planned.has(key.urn)
          ? { status: "planned", actions: plannedActions(key) }
          : { status: "skipped", actions: [], message: "the targeted preview plans no change for this key" };
      }
      return { stack: label, result: "drift", keys };
    }
    context.progress(`${label}: updating ${targets.length} key(s), nothing else`);
    const update = new EventLog(label, context, true);
    let failure: unknown;
    try {
      // refresh: the state is written as KMS has it; continueOnError: one key that fails does not stop the others.
      await stack.up({ refresh: true, target: targets, continueOnError: true, onEvent: update.onEvent });
    } catch (err) {
      failure = err;
    }
    // The last outputs the up reported for each key (its refresh's, then its update's).
    const final = new Map<string, Record<string, unknown>>();
    for (const event of update.events) {
      const metadata = event.resOutputsEvent?.metadata;
      if (metadata && metadata.type === KMS_KEY_TYPE && metadata.new?.outputs) {
        final.set(metadata.urn, metadata.new.outputs);
      }
    }
    for (const key of keys) {
      if (key.kind === "gone") continue;
      const outputs = final.get(key.urn);
      const error = update.resourceErrors.get(key.urn);
      const keyState = typeof outputs?.keyState === "string" ? outputs.keyState : undefined;
      // Recovered means KMS now has the key as declared, not merely that no error came back.
      const asDeclared =
        keyState !== undefined && (key.declaredEnabled ? keyState === "Enabled" : keyState === "Disabled");
      key.recovery =
        !error && asDeclared
          ? { status: "recovered", actions: plannedActions(key), keyState }
          : {
              status: "failed",
              actions: [],
              keyState,
              message: [
                error ??
                  (failure ? update.explain(failure) : `the key is ${keyState ?? "not reported"} after the update`),
                whatToDo(keyState ?? key.keyState),
              ]
                .filter(Boolean)
                .join("; "),
            };
    }
    const allRecovered = keys.every((key) => key.recovery?.status === "recovered");
    return { stack: label, result: allRecovered ? "recovered" : "drift", keys };
  });
}
