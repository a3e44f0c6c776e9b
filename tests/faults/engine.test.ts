// The real engine recovering keys scheduled for deletion, when things go wrong around it: the CLI killed with SIGKILL
// in the middle of the recovery, and a KMS that throttles every operation to 5 requests per second.
import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import { KMSClient } from "@aws-sdk/client-kms";
import { setTimeout as sleep } from "node:timers/promises";
import { figures, scanForSecrets } from "./figures";
import { isAlive, killTree } from "../../testing/processes";
import { capture, Capture, commandErrorText, errorLines } from "../../testing/pulumi/output";
import { keysProgram, UpRequest } from "./killable-up";
import { useFakeCredentials } from "../../testing/credentials";
import { keyStates, listKeyIds, outOfBand, scheduleDeletions } from "../../testing/kms/out-of-band";
import { startKmsServerWithProxy } from "../../testing/kms/server";
import { PulumiHarness, TestStack } from "../../testing/pulumi/automation";
import { StateResource } from "../../testing/pulumi/state";

type Kms = Awaited<ReturnType<typeof startKmsServerWithProxy>>;

/** The provider's own retry defaults (provider/kms/client.ts), spelt out: the harness lowers them for other tests. */
const PROVIDER_RETRY_DEFAULTS = { AWS_MAX_ATTEMPTS: "10", AWS_RETRY_MODE: "standard" };

/** URN -> key ID, from the stack's exported state. */
async function keyIdsByUrn(stack: TestStack): Promise<Map<string, string>> {
  const keys: StateResource[] = await stack.keys();
  return new Map(keys.map((k) => [k.urn, k.id ?? ""]));
}

function sorted(map: Map<string, string>): [string, string][] {
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Runs the CLI as a user would in the stack's project folder, with the stack's environment. */
async function pulumiCli(
  harness: PulumiHarness,
  stack: TestStack,
  args: string[],
): Promise<{ stdout: string; stderr: string }> {
  const workspace = stack.stack.workspace as LocalWorkspace;
  return promisify(execFile)(path.join(harness.binDir, "pulumi"), [...args, "--non-interactive"], {
    cwd: workspace.workDir,
    env: { ...process.env, ...workspace.envVars },
  });
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "plugins" ? [] : filesUnder(full);
    return entry.isFile() ? [full] : [];
  });
}

describe("faults: the real engine recovering keys", function () {
  this.timeout(900_000);
  let kms: Kms;
  let moto: KMSClient;
  let harness: PulumiHarness;
  const stacks: TestStack[] = [];
  const transcripts: Capture[] = [];
  /** CreateKey calls made while keys were being recovered (each must be 0). */
  let createKeyCallsWhileRecovering = 0;

  before(async function () {
    this.timeout(900_000);
    useFakeCredentials();
    kms = await startKmsServerWithProxy();
    moto = outOfBand(kms.server.endpoint);
    harness = await PulumiHarness.create({
      kmsEndpoint: kms.endpoint,
      env: PROVIDER_RETRY_DEFAULTS,
    });
  });
  after(async () => {
    moto?.destroy();
    await harness?.cleanup({ destroy: false });
    await kms?.stop();
  });

  function track(): Capture {
    const c = capture();
    transcripts.push(c);
    return c;
  }

  /** One `pulumi up --refresh` of a keys program in a process of its own, as a user's run is. */
  function upInOwnProcess(request: UpRequest, out: ReturnType<typeof track>) {
    const child = spawn(process.execPath, [path.join(__dirname, "killable-up.js"), JSON.stringify(request)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (data: Buffer) => out.onOutput(data.toString()));
    child.stderr.on("data", (data: Buffer) => out.onError(data.toString()));
    const exited = new Promise<string>((resolve) =>
      child.on("exit", (code, signal) => resolve(signal ?? `exit code ${code}`)),
    );
    return { child, exited };
  }

  /** The request for a run of `stack`'s keys program in its own process. */
  async function upRequest(stack: TestStack, prefix: string, count: number, parallel: number): Promise<UpRequest> {
    const workspace = stack.stack.workspace as LocalWorkspace;
    return {
      binDir: harness.binDir,
      workDir: workspace.workDir,
      projectName: (await workspace.projectSettings()).name,
      stackName: stack.name,
      env: workspace.envVars,
      prefix,
      count,
      parallel,
    };
  }

  /** A stack of `count` keys, all then scheduled for deletion behind the program's back. */
  async function keysPendingDeletion(name: string, prefix: string, count: number) {
    const stack = await harness.stack(name, keysProgram(prefix, count));
    stacks.push(stack);
    const out = track();
    await stack.stack.up({ onOutput: out.onOutput, onError: out.onError });
    const before = await keyIdsByUrn(stack);
    expect(before.size).to.equal(count);
    await scheduleDeletions(moto, [...before.values()]);
    return { stack, before };
  }

  describe("pulumi up --refresh killed with SIGKILL while recovering 20 keys, then run again", () => {
    const COUNT = 20;
    const KILL_AFTER_CANCELS = 5;
    let stack: TestStack;
    let before: Map<string, string>;

    it("makes 20 keys, then the keys are scheduled for deletion behind the program's back", async () => {
      ({ stack, before } = await keysPendingDeletion("sigkill", "recover", COUNT));
      expect(new Set(await keyStates(moto, [...before.values()]))).to.deep.equal(new Set(["PendingDeletion"]));
    });

    it("SIGKILL of pulumi and its provider plugins mid-recovery, then pulumi cancel and pulumi up --refresh: converges with the same 20 keys", async () => {
      const started = Date.now();
      kms.proxy.resetCounts();
      // Slow cancels, so the kill lands in the middle of the recovery.
      kms.proxy.addFault({ operation: "CancelKeyDeletion", kind: "delay", delayMs: 1000 });
      const killedRun = track();
      const request = await upRequest(stack, "recover", COUNT, 4);
      // The whole run in a process of its own (program host, pulumi, plugins), as a user's `pulumi up` is.
      const { child, exited } = upInOwnProcess(request, killedRun);
      let exit: string | undefined;
      void exited.then((how) => (exit = how));
      const cancelled = () =>
        kms.proxy.callLog.filter((c) => c.operation === "CancelKeyDeletion" && c.status === 200).length;
      const deadline = Date.now() + 180_000;
      while (cancelled() < KILL_AFTER_CANCELS && exit === undefined && Date.now() < deadline) await sleep(20);
      expect(exit, `the update was still running when the kill came: ${killedRun.stderr}`).to.equal(undefined);
      const cancelledBeforeKill = cancelled();
      const killed = killTree(child.pid!);
      expect(await exited, "the run was killed").to.equal("SIGKILL");
      const pulumis = killed.filter((p) => /(^|\/)pulumi\s+up\b/.test(p.command));
      const plugins = killed.filter((p) => /dynamic-provider/.test(p.command));
      expect(pulumis, "pulumi up was killed").to.have.length(1);
      expect(plugins.length, "provider plugins were killed").to.be.greaterThan(0);
      for (let i = 0; i < 100 && killed.some((p) => isAlive(p.pid)); i++) await sleep(100);
      const survivors = killed.filter((p) => isAlive(p.pid)).length;
      expect(survivors, "no process of the run survives").to.equal(0);
      const ids = [...before.values()];
      const pendingAtKill = (await keyStates(moto, ids)).filter((s) => s === "PendingDeletion").length;
      expect(pendingAtKill, "the kill came before every key was recovered").to.be.greaterThan(0);
      kms.proxy.clearFaults();
      await sleep(1500); // cancels the proxy was still delaying reach KMS, as in-flight requests would

      // What the kill left behind in the file backend.
      const locks = filesUnder(path.join(harness.backendDir, ".pulumi", "locks")).filter((f) => f.endsWith(".json"));
      const exported = (await stack.exportState()).deployment as { pending_operations?: { type: string }[] };
      const pending = (exported.pending_operations ?? []).map((p) => p.type);
      const pendingText = `${locks.length} lock file(s); pending_operations: ${pending.length} (${[...new Set(pending)].join(", ") || "none"})`;

      // A user's next run: refused while the lock stays.
      const lockedRun = track();
      const locked = await stack.stack
        .up({ refresh: true, onOutput: lockedRun.onOutput, onError: lockedRun.onError })
        .then(
          () => "ran",
          (err: unknown) => commandErrorText(err),
        );
      const lockLine = locked.split("\n").find((l) => l.startsWith("error:")) ?? locked.slice(0, 200);
      expect(locked, "the next run is refused while the killed update's lock stays").to.match(/currently locked/);

      // What the error says to do: pulumi cancel (it deletes the file backend's lock in this version).
      const cancelOut = await pulumiCli(harness, stack, ["cancel", "--yes", "--stack", stack.name]);
      const locksAfterCancel = filesUnder(path.join(harness.backendDir, ".pulumi", "locks")).filter((f) =>
        f.endsWith(".json"),
      );
      expect(locksAfterCancel, "pulumi cancel removed the lock").to.deep.equal([]);
      const afterCancel = (await stack.exportState()).deployment as { pending_operations?: unknown[] };
      const pendingAfterCancel = afterCancel.pending_operations?.length ?? 0;

      const recoveryRun = track();
      const result = await stack.stack.up({
        refresh: true,
        onOutput: recoveryRun.onOutput,
        onError: recoveryRun.onError,
      });
      expect(result.summary.result).to.equal("succeeded");
      const mentionsPending = /pending operation/i.test(recoveryRun.stdout + recoveryRun.stderr);
      const afterRecovery = (await stack.exportState()).deployment as { pending_operations?: unknown[] };

      const after = await keyIdsByUrn(stack);
      expect(sorted(after), "every resource keeps its key").to.deep.equal(sorted(before));
      const inKms = await listKeyIds(kms.server.endpoint, ["us-east-1"]);
      // Only this stack's keys exist yet: any other key in KMS is a duplicate.
      const duplicates = inKms.filter((id) => !ids.includes(id)).length;
      const states = await keyStates(moto, ids);
      const leftPending = states.filter((s) => s === "PendingDeletion").length;
      const createKeyCalls = kms.proxy.calls("CreateKey");
      createKeyCallsWhileRecovering += createKeyCalls;

      const check = track();
      const preview = await stack.stack.preview({ onOutput: check.onOutput, onError: check.onError });
      const converged =
        (preview.changeSummary.same ?? 0) === COUNT + 1 && Object.keys(preview.changeSummary).length === 1;

      figures.sigkill = {
        keys: COUNT,
        cancelledBeforeKill,
        pendingAtKill,
        killed: `${killed.length} processes: the program host, pulumi up, ${plugins.length} provider plugin(s) and their shells`,
        survivors,
        pendingOperations: pendingText,
        lockMessage: lockLine.trim(),
        recovery:
          `pulumi cancel ("${cancelOut.stdout.trim()}"; pending_operations after it: ${pendingAfterCancel}), ` +
          `then pulumi up --refresh: ${JSON.stringify(result.summary.resourceChanges)}; ` +
          `pending operations mentioned: ${mentionsPending ? "yes" : "no"}, left after: ${afterRecovery.pending_operations?.length ?? 0}; ` +
          (pending.every((type) => type === "updating")
            ? "nothing else: no stack export/import, no --clear-pending-creates (the pending operations were updates, not creates)"
            : `pending operation types: ${pending.join(", ")}`),
        converged,
        duplicates,
        leftPendingDeletion: leftPending,
        createKeyCalls,
        seconds: (Date.now() - started) / 1000,
      };
      expect(states, "every key is back and enabled").to.deep.equal(ids.map(() => "Enabled"));
      expect(duplicates, "no duplicate key").to.equal(0);
      expect(createKeyCalls, "no key created").to.equal(0);
      expect(
        converged,
        `a preview after the recovery shows no changes: ${JSON.stringify(preview.changeSummary)}`,
      ).to.equal(true);
    });
  });

  describe("throttling: 50 keys pending deletion, one pulumi up --refresh --parallel 16, 5 requests/s per operation", () => {
    const COUNT = 50;
    const QUOTA = 5;
    const PARALLEL = 16;
    let stack: TestStack;
    let before: Map<string, string>;

    it("makes 50 keys, then the keys are scheduled for deletion behind the program's back", async () => {
      ({ stack, before } = await keysPendingDeletion("throttling", "throttled", COUNT));
    });

    it("recovers all 50 with the provider's retry defaults, no error reaching the user", async () => {
      kms.proxy.resetCounts();
      kms.proxy.setQuota(QUOTA);
      const out = track();
      const started = Date.now();
      let error: string | undefined;
      // In a process of its own, as a user's run is (inline programs run in the test process otherwise).
      try {
        const exit = await upInOwnProcess(await upRequest(stack, "throttled", COUNT, PARALLEL), out).exited;
        if (exit !== "exit code 0") error = `${exit}: ${out.stderr.slice(-2000)}`;
      } finally {
        kms.proxy.setQuota(undefined);
      }
      const seconds = (Date.now() - started) / 1000;
      const byOperation: Record<string, { calls: number; throttled: number }> = {};
      for (const call of kms.proxy.callLog) {
        const entry = (byOperation[call.operation] ??= { calls: 0, throttled: 0 });
        entry.calls++;
        if (call.fault === "quota") entry.throttled++;
      }
      const ids = [...before.values()];
      const states = await keyStates(moto, ids);
      const shown = errorLines(out.stdout).length + errorLines(out.stderr).length + (error ? 1 : 0);
      const createKeyCalls = kms.proxy.calls("CreateKey");
      createKeyCallsWhileRecovering += createKeyCalls;
      figures.throttling = {
        keys: COUNT,
        quota: QUOTA,
        parallel: PARALLEL,
        seconds,
        throttled: kms.proxy.faultsApplied().quota ?? 0,
        requests: kms.proxy.calls(),
        byOperation,
        recovered: states.filter((s) => s === "Enabled").length,
        errorsShown: shown,
        retrySettings: "provider defaults: AWS_MAX_ATTEMPTS 10, AWS_RETRY_MODE standard, a rate limiter per operation",
      };
      const shownLines = errorLines(out.stdout).concat(errorLines(out.stderr));
      expect(
        error,
        `pulumi up succeeded; the user saw:\n${shownLines.join("\n")}\n${out.stderr.slice(-3000)}`,
      ).to.equal(undefined);
      expect(out.stdout, "50 updates").to.match(new RegExp(`~ ${COUNT} updated`));
      expect(errorLines(out.stdout).concat(errorLines(out.stderr)), "no error shown to the user").to.deep.equal([]);
      expect(states, "every key recovered").to.deep.equal(ids.map(() => "Enabled"));
      expect(sorted(await keyIdsByUrn(stack)), "same keys").to.deep.equal(sorted(before));
      expect(createKeyCalls, "no key created").to.equal(0);
      expect(figures.throttling.throttled, "the quota did throttle requests").to.be.greaterThan(0);
    });
  });

  // Mocha runs a suite's own tests before its child suites: these come last in a suite of their own.
  describe("afterwards", () => {
    it("leaves no orphaned key: KMS holds exactly the keys the stacks' states hold", async () => {
      const tracked = new Set<string>();
      for (const stack of stacks) for (const id of (await keyIdsByUrn(stack)).values()) tracked.add(id);
      const inKms = await listKeyIds(kms.server.endpoint, ["us-east-1"]);
      const orphans = inKms.filter((id) => !tracked.has(id));
      figures.orphans.engine = orphans.length;
      figures.recreated.engine = createKeyCallsWhileRecovering;
      expect(tracked.size).to.equal(70);
      expect(orphans).to.deep.equal([]);
      expect(createKeyCallsWhileRecovering).to.equal(0);
    });

    it("puts no credential in the engine's output, the exported states or any file of the backend", async () => {
      const found: string[] = [];
      for (const t of transcripts)
        found.push(...scanForSecrets("engine stdout/stderr (recovery runs)", t.stdout + t.stderr));
      for (const stack of stacks) {
        found.push(...scanForSecrets("exported stack state", JSON.stringify(await stack.exportState())));
      }
      for (const file of filesUnder(harness.runDir)) {
        found.push(...scanForSecrets("file backend and PULUMI_HOME files", fs.readFileSync(file, "latin1")));
      }
      expect(transcripts.length).to.be.greaterThan(5);
      expect(found).to.deep.equal([]);
    });
  });
});
