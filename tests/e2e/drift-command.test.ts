// The kms-key-drift command as a user runs it: the packed package installed in a project folder
// (tests/projects/drift-check), `node_modules/.bin/kms-key-drift` run there with the real CLI and language host
// (oldest leg), KMS being moto behind the key-state proxy. Drift is made behind Pulumi's back, straight at moto.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyRotationCommand,
  KeyMetadata,
  KMSClient,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
} from "@aws-sdk/client-kms";
import { expect } from "chai";
import { MOTO_DEFAULT_ACCOUNT } from "../../testing/kms/accounts";
import { outOfBand } from "../../testing/kms/out-of-band";
import { startKmsServerWithProxy } from "../../testing/kms/server";
import type { Report } from "../../cli/report";
import { parseReport, tableLines } from "../../testing/drift-report";
import { CommandResult, described, packedTarball, Project } from "../../testing/pulumi/project";
import { legTools } from "../../testing/pulumi/tools";
import { REPO_ROOT } from "../../testing/repo";
import { LEGS } from "../../testing/versions";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const LEG = LEGS.oldest;
const SOURCE = path.join(REPO_ROOT, "tests", "projects", "drift-check");
const DAY_MS = 24 * 60 * 60_000;
/** The waiting period of the out-of-band ScheduleKeyDeletion. */
const WINDOW_DAYS = 7;

type Kms = Awaited<ReturnType<typeof startKmsServerWithProxy>>;

function straightToMoto(kms: Kms): KMSClient {
  return outOfBand(kms.server.endpoint);
}

/** `kms-key-drift ARGS` from the project's node_modules/.bin, in the project folder. */
function drift(project: Project, ...args: string[]): Promise<CommandResult> {
  return project.command(path.join(project.dir, "node_modules", ".bin", "kms-key-drift"), args);
}

/** A `kms-key-drift` run still going, to be signalled as Ctrl-C or a CI runner would. */
interface RunningDrift {
  /** The process ID; with ownGroup also its process group's. */
  pid: number;
  stderr: () => string;
  exited: Promise<CommandResult>;
}

/**
 * Starts `kms-key-drift ARGS` in the project folder. ownGroup: in a process group of its own, as a shell runs a
 * command in a terminal, so that a signal to the group reaches `pulumi` too, as a ^C in a terminal does.
 */
function startDrift(project: Project, args: string[], ownGroup = false): RunningDrift {
  const child = spawn(path.join(project.dir, "node_modules", ".bin", "kms-key-drift"), args, {
    cwd: project.dir,
    env: project.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: ownGroup,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<CommandResult>((resolve, reject) => {
    child.on("error", reject);
    // Killed by a signal instead of exiting: no exit code at all.
    child.on("close", (code, signal) =>
      resolve({ code: code ?? -1, stdout, stderr: signal ? `${stderr}\n(killed by ${signal})` : stderr }),
    );
  });
  return { pid: child.pid!, stderr: () => stderr, exited };
}

/** Waits for `condition`, checking every 100 ms, failing with `what` after `ms`. */
async function until(condition: () => boolean, what: string, ms = 5 * 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`waited ${ms / 1000} s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function upStack(project: Project, stack: string): Promise<Record<string, string>> {
  await project.stackInit(stack);
  const up = await project.up();
  expect(up.code, described(up)).to.equal(0);
  const ids = (await project.stackOutputs()).keyIds as string[];
  return { pending: ids[0], disabled: ids[1], tagged: ids[2] };
}

describe(`e2e: kms-key-drift command (${LEG.name} leg)`, function () {
  this.timeout(10 * 60_000);

  before(async function () {
    this.timeout(30 * 60_000);
    await Promise.all([legTools(LEG), packedTarball()]);
  });

  // The its below run in order on one stack: clean, drifted three ways, then recovered.
  describe("one stack: clean, drifted three ways, recovered", () => {
    let kms: Kms;
    let moto: KMSClient;
    let project: Project;
    let ids: Record<string, string>;
    const describeKey = async (keyId: string): Promise<KeyMetadata> =>
      (await moto.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;

    before(async () => {
      kms = await startKmsServerWithProxy();
      moto = straightToMoto(kms);
      project = await Project.create("drift-check", LEG, { kmsEndpoint: kms.endpoint, source: SOURCE });
      ids = await upStack(project, "dev");
    });

    after(async () => {
      moto?.destroy();
      await project?.cleanup();
      await kms?.stop();
    });

    it("check on a clean stack exits 0 and reports nothing; progress goes to stderr", async () => {
      const check = await drift(project, "check");
      expect(check.code, described(check)).to.equal(0);
      expect(check.stdout, described(check)).to.equal("dev: no drift\n");
      expect(check.stderr).to.contain("kms-key-drift: dev: refreshing");
      const json = parseReport(await drift(project, "check", "--json", "--stack", "dev"));
      expect(json.exitCode).to.equal(0);
      expect(json.stacks).to.have.length(1);
      expect(json.stacks[0]).to.deep.include({ stack: "dev", result: "clean", keys: [] });
    });

    it("check finds a key pending deletion, a disabled one and a changed tag: exit 2, pending first, days left", async () => {
      await moto.send(new ScheduleKeyDeletionCommand({ KeyId: ids.pending, PendingWindowInDays: WINDOW_DAYS }));
      await moto.send(new DisableKeyCommand({ KeyId: ids.disabled }));
      await moto.send(new TagResourceCommand({ KeyId: ids.tagged, Tags: [{ TagKey: "team", TagValue: "intruder" }] }));
      // A program change to a resource that is not a key: not drift, and recover must leave it unapplied.
      await project.configSet("note", "second");

      const check = await drift(project, "check");
      expect(check.code, described(check)).to.equal(2);
      const rows = tableLines(check.stdout).slice(1);
      expect(
        rows.map((row) => row.slice(0, 5)),
        described(check),
      ).to.deep.equal([
        ["dev", "KmsKey", "pending", ids.pending, "pending-deletion"],
        ["dev", "KmsKey", "disabled", ids.disabled, "disabled"],
        ["dev", "KmsKey", "tagged", ids.tagged, "attributes"],
      ]);
      const deletionDate = (await describeKey(ids.pending)).DeletionDate!;
      expect(rows[0][6], "deletion date").to.equal(deletionDate.toISOString());
      // Scheduled moments ago for 7 days: 6 whole days and some 23 hours are left.
      expect(rows[0][7], "days left").to.equal(String(WINDOW_DAYS - 1));
      expect(rows[0][9], "what up would do").to.equal("cancel the deletion, enable");
      expect(rows[1][5], "live key state").to.equal("Disabled");
      expect(rows[1][9]).to.equal("enable");
      expect(rows[2][8], "drifted attributes").to.equal("tags");
      expect(rows[2][9]).to.equal("reset tags");
      // The check wrote nothing: the state still has the keys as they were at the last up.
      const state = await project.keys();
      expect(state.map((key) => key.outputs?.keyState)).to.deep.equal(["Enabled", "Enabled", "Enabled"]);
    });

    it("--json parses, follows the documented schema and agrees with the table", async () => {
      const [table, jsonRun] = [await drift(project, "check"), await drift(project, "check", "--json")];
      expect(jsonRun.code, described(jsonRun)).to.equal(2);
      const json = parseReport(jsonRun);
      expect(json).to.include({ schemaVersion: 1, command: "check", dryRun: false, exitCode: 2 });
      const checkedAt = Date.parse(json.checkedAt);
      expect(Math.abs(Date.now() - checkedAt), "checkedAt is now").to.be.lessThan(5 * 60_000);
      const keys = json.stacks[0].keys;
      const rows = tableLines(table.stdout).slice(1);
      expect(keys.map((key) => key.name)).to.deep.equal(rows.map((row) => row[2]));
      for (const [index, key] of keys.entries()) {
        const row = rows[index];
        expect(key.resource, key.name).to.equal("KmsKey");
        expect(row, key.name).to.deep.equal([
          "dev",
          key.resource,
          key.name,
          key.keyId ?? "",
          key.kind,
          key.keyState ?? "",
          key.deletionDate ?? "",
          key.daysLeft === undefined ? "" : String(key.daysLeft),
          key.attributes.join(", "),
          key.upWould,
        ]);
      }
      const pending = keys[0];
      expect(pending.urn).to.match(/::pulumi-nodejs:dynamic\/kms:KmsKey::pending$/);
      expect(pending.daysLeft).to.equal(Math.floor((Date.parse(pending.deletionDate!) - checkedAt) / DAY_MS));
    });

    it("two stacks, one with a broken program or missing: its error is reported, the other's drift still is, exit 1", async () => {
      await project.stackInit("broken");
      await project.configSet("broken", "true");
      await project.pulumiOk(["stack", "select", "dev"]);
      const run = await drift(project, "check", "--json", "--stack", "broken", "--stack", "dev", "--parallel", "2");
      expect(run.code, described(run)).to.equal(1);
      const json = parseReport(run);
      expect(json.exitCode).to.equal(1);
      expect(json.stacks.map((stack) => [stack.stack, stack.result])).to.deep.equal([
        ["broken", "error"],
        ["dev", "drift"],
      ]);
      expect(json.stacks[0].error).to.contain("broken on purpose");
      expect(json.stacks[1].keys.map((key) => key.kind)).to.deep.equal(["pending-deletion", "disabled", "attributes"]);

      // The table, with a stack the backend does not have (a failing program takes minutes to report here).
      const table = await drift(project, "check", "--stack", "dev", "--stack", "missing");
      expect(table.code, described(table)).to.equal(1);
      expect(
        tableLines(table.stdout)
          .slice(1)
          .map((row) => row[2]),
      ).to.deep.equal(["pending", "disabled", "tagged"]);
      expect(table.stdout).to.match(/^missing: error: .*missing/m);
      // Looking at stacks does not change which one the user has selected.
      const selected = await project.pulumiOk(["stack", "--show-name"]);
      expect(selected.stdout.trim()).to.equal("dev");
    });

    it("recover --dry-run shows the plan and changes nothing", async () => {
      const before = JSON.stringify(await project.exportState());
      const run = await drift(project, "recover", "--dry-run", "--json");
      expect(run.code, described(run)).to.equal(2);
      const keys = parseReport(run).stacks[0].keys;
      expect(keys.map((key) => [key.name, key.recovery?.status, key.recovery?.actions])).to.deep.equal([
        ["pending", "planned", ["cancel the deletion", "enable"]],
        ["disabled", "planned", ["enable"]],
        ["tagged", "planned", ["reset tags"]],
      ]);
      expect((await describeKey(ids.pending)).KeyState).to.equal("PendingDeletion");
      expect((await describeKey(ids.disabled)).KeyState).to.equal("Disabled");
      expect(JSON.stringify(await project.exportState()), "the state").to.equal(before);
    });

    it("recover fixes all three and leaves the changed resource that is not a key unapplied", async () => {
      const noteBefore = (await project.exportState()).deployment.resources!.find((r) => r.urn.endsWith("::note"));
      expect(noteBefore?.outputs?.text).to.equal("first");

      const run = await drift(project, "recover");
      expect(run.code, described(run)).to.equal(0);
      const rows = tableLines(run.stdout).slice(1);
      expect(rows.map((row) => [row[2], row[9]])).to.deep.equal([
        ["pending", "recovered: cancel the deletion, enable"],
        ["disabled", "recovered: enable"],
        ["tagged", "recovered: reset tags"],
      ]);

      for (const id of [ids.pending, ids.disabled, ids.tagged]) {
        expect((await describeKey(id)).KeyState, id).to.equal("Enabled");
      }
      const tags = (await moto.send(new ListResourceTagsCommand({ KeyId: ids.tagged }))).Tags ?? [];
      expect(tags.filter((tag) => tag.TagKey === "team")).to.deep.equal([{ TagKey: "team", TagValue: "payments" }]);

      // The refresh rewrites every resource's record (as `pulumi refresh` does); its inputs and outputs stay.
      const state = await project.exportState();
      const note = state.deployment.resources!.find((r) => r.urn.endsWith("::note"));
      expect(note && { id: note.id, inputs: note.inputs, outputs: note.outputs }, "the note resource").to.deep.equal({
        id: noteBefore!.id,
        inputs: noteBefore!.inputs,
        outputs: noteBefore!.outputs,
      });
      expect(note?.inputs?.text).to.equal("first");
      // The program still asks for the note change: a plain preview plans exactly that one update.
      const preview = await project.preview("--diff");
      expect(preview.code, described(preview)).to.equal(0);
      expect(preview.stdout).to.match(/~ pulumi-nodejs:dynamic:Resource: \(update\)/);
      expect(preview.stdout).to.not.match(/dynamic\/kms:KmsKey: \(update\)/);

      const after = await drift(project, "check", "--stack", "dev");
      expect(after.code, described(after)).to.equal(0);
    });
  });

  describe("keys that cannot be recovered", () => {
    let kms: Kms;
    let moto: KMSClient;
    let project: Project;
    let ids: Record<string, string>;

    before(async () => {
      kms = await startKmsServerWithProxy();
      moto = straightToMoto(kms);
      project = await Project.create("drift-check", LEG, { kmsEndpoint: kms.endpoint, source: SOURCE });
      ids = await upStack(project, "dev");
    });

    after(async () => {
      moto?.destroy();
      await project?.cleanup();
      await kms?.stop();
    });

    it("a key in PendingImport without key material is reported with what to do; the others are recovered", async () => {
      await moto.send(new ScheduleKeyDeletionCommand({ KeyId: ids.pending, PendingWindowInDays: WINDOW_DAYS }));
      // moto cannot make a key lose its imported material: the proxy reports the state KMS would.
      kms.proxy.overrideKeyState(ids.disabled, "PendingImport");
      try {
        const run = await drift(project, "recover", "--json");
        expect(run.code, described(run)).to.equal(1);
        const keys = parseReport(run).stacks[0].keys;
        expect(keys.map((key) => [key.name, key.kind, key.keyState, key.recovery?.status])).to.deep.equal([
          ["pending", "pending-deletion", "PendingDeletion", "recovered"],
          ["disabled", "disabled", "PendingImport", "failed"],
        ]);
        expect(keys[1].recovery?.message, "what to do").to.match(/imported key material: import it again/);
        expect((await moto.send(new DescribeKeyCommand({ KeyId: ids.pending }))).KeyMetadata?.KeyState).to.equal(
          "Enabled",
        );
      } finally {
        kms.proxy.overrideKeyState(ids.disabled, undefined);
      }
    });

    it("a key deleted for good is reported as gone, with what up would do; recover leaves it to the user", async () => {
      // moto cannot finish a deletion (no waiting period ends); its reset API drops every key instead, which is
      // what KMS does to a key once its waiting period is over: NotFoundException from then on.
      const reset = await fetch(`${kms.server.endpoint}/moto-api/reset`, { method: "POST" });
      expect(reset.status).to.equal(200);
      kms.proxy.resetCounts();

      const check = await drift(project, "check", "--json");
      expect(check.code, described(check)).to.equal(2);
      const keys = parseReport(check).stacks[0].keys;
      expect(keys.map((key) => [key.name, key.kind])).to.deep.equal([
        ["disabled", "gone"],
        ["pending", "gone"],
        ["tagged", "gone"],
      ]);
      for (const key of keys) expect(key.upWould).to.match(/^create a new key/);

      const table = await drift(project, "check");
      expect(table.code, described(table)).to.equal(2);
      expect(
        tableLines(table.stdout)
          .slice(1)
          .map((row) => [row[2], row[4]]),
      ).to.deep.equal([
        ["disabled", "gone"],
        ["pending", "gone"],
        ["tagged", "gone"],
      ]);

      const recover = await drift(project, "recover", "--json");
      expect(recover.code, described(recover)).to.equal(1);
      for (const key of parseReport(recover).stacks[0].keys) {
        expect(key.recovery?.status, key.name).to.equal("skipped");
        expect(key.recovery?.message, key.name).to.match(/pulumi up.*create a new one/);
      }
      // Nothing was created behind the user's back.
      const created = kms.proxy.callLog.filter((call) => call.operation === "CreateKey");
      expect(created, "CreateKey calls after the reset").to.have.length(0);
    });
  });
});

describe(`e2e: kms-key-drift and the engine (${LEG.name} leg)`, function () {
  this.timeout(10 * 60_000);
  let kms: Kms;
  let moto: KMSClient;
  let project: Project;
  const describeKey = async (keyId: string): Promise<KeyMetadata> =>
    (await moto.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
  /** Calls that change a key, as the proxy saw them (out-of-band calls go straight to moto). */
  const changes = () => kms.proxy.writeCalls().map((call) => `${call.operation} ${call.keyId ?? ""}`.trim());

  before(async function () {
    this.timeout(30 * 60_000);
    await Promise.all([legTools(LEG), packedTarball()]);
    kms = await startKmsServerWithProxy();
    moto = straightToMoto(kms);
    // One project folder; each test has a stack of its own, with keys of its own.
    project = await Project.create("drift-check", LEG, { kmsEndpoint: kms.endpoint, source: SOURCE });
  });

  after(async () => {
    moto?.destroy();
    await project?.cleanup();
    await kms?.stop();
  });

  it("a policy KMS hands back in an equivalent form is no drift, as `pulumi preview --refresh` shows none", async () => {
    await project.stackInit("policy");
    await project.configSet("policy", "true");
    await project.configSet("accountId", MOTO_DEFAULT_ACCOUNT);
    const up = await project.up();
    expect(up.code, described(up)).to.equal(0);
    const policyKeyId = (await project.stackOutputs()).policyKeyId as string;
    // As IAM stores it: the account as its root ARN, the statement in a list, the actions in another order.
    const stored = {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "account",
          Effect: "Allow",
          Principal: { AWS: `arn:aws:iam::${MOTO_DEFAULT_ACCOUNT}:root` },
          Action: ["kms:*", "kms:Describe*"],
          Resource: "*",
        },
      ],
    };
    await moto.send(
      new PutKeyPolicyCommand({ KeyId: policyKeyId, PolicyName: "default", Policy: JSON.stringify(stored) }),
    );
    const engine = await project.preview("--refresh", "--expect-no-changes");
    expect(engine.code, `the engine plans no change:\n${described(engine)}`).to.equal(0);

    const check = await drift(project, "check", "--json");
    expect(check.code, described(check)).to.equal(0);
    expect(parseReport(check).stacks[0]).to.deep.include({ stack: "policy", result: "clean", keys: [] });

    kms.proxy.resetCounts();
    const recover = await drift(project, "recover", "--json");
    expect(recover.code, described(recover)).to.equal(0);
    expect(parseReport(recover).stacks[0].keys, "keys recover reports").to.deep.equal([]);
    expect(changes(), "calls that change a key").to.deep.equal([]);
  });

  it("keys read with KmsKey.get are not managed: never drift, never targeted, whatever their state", async () => {
    // Someone else's key: described, tagged, rotating, then disabled.
    const made = (
      await moto.send(
        new CreateKeyCommand({ Description: "someone else's key", Tags: [{ TagKey: "owner", TagValue: "them" }] }),
      )
    ).KeyMetadata!;
    await moto.send(new EnableKeyRotationCommand({ KeyId: made.KeyId }));
    await moto.send(new DisableKeyCommand({ KeyId: made.KeyId }));
    await project.stackInit("read");
    await project.configSet("readKeyId", made.KeyId!);
    const up = await project.up();
    expect(up.code, described(up)).to.equal(0);
    expect((await project.stackOutputs()).readKeyState).to.equal("Disabled");

    const check = await drift(project, "check", "--json");
    expect(check.code, described(check)).to.equal(0);
    expect(parseReport(check).stacks[0].keys.map((key) => key.name)).to.deep.equal([]);

    // Pending deletion too, and one managed key drifted: recover updates that one only.
    await moto.send(new ScheduleKeyDeletionCommand({ KeyId: made.KeyId, PendingWindowInDays: WINDOW_DAYS }));
    const ids = (await project.stackOutputs()).keyIds as string[];
    await moto.send(new DisableKeyCommand({ KeyId: ids[1] }));
    kms.proxy.resetCounts();
    const recover = await drift(project, "recover", "--json");
    expect(recover.code, described(recover)).to.equal(0);
    expect(parseReport(recover).stacks[0].keys.map((key) => [key.name, key.recovery?.status])).to.deep.equal([
      ["disabled", "recovered"],
    ]);
    expect(
      changes().filter((call) => call.includes(made.KeyId!)),
      "calls that change the read key",
    ).to.deep.equal([]);
    expect((await describeKey(made.KeyId!)).KeyState).to.equal("PendingDeletion");
  });

  it("recover --dry-run with a gone key exits 2 (drift), not 1: the gone key is left to the user", async () => {
    await project.stackInit("dry");
    const ids = await upKeys(project);
    kms.proxy.deleteKeyAfter(ids.pending, 0);
    await moto.send(new DisableKeyCommand({ KeyId: ids.disabled }));

    const run = await drift(project, "recover", "--dry-run", "--json");
    expect(run.code, described(run)).to.equal(2);
    const json = parseReport(run);
    expect(json.exitCode).to.equal(2);
    expect(json.stacks[0].keys.map((key) => [key.name, key.kind, key.recovery?.status])).to.deep.equal([
      ["disabled", "disabled", "planned"],
      ["pending", "gone", "skipped"],
    ]);
    expect(json.stacks[0].keys[1].recovery?.message).to.match(/pulumi up.*create a new one/);
  });

  it("a key whose waiting period ends between the check and the update is reported gone and never created anew", async () => {
    await project.stackInit("race");
    const ids = await upKeys(project);
    await moto.send(new ScheduleKeyDeletionCommand({ KeyId: ids.pending, PendingWindowInDays: WINDOW_DAYS }));
    await moto.send(new DisableKeyCommand({ KeyId: ids.disabled }));
    // The check's read is the last one KMS answers for the key pending deletion: its period ends right after.
    kms.proxy.deleteKeyAfter(ids.pending, 1);
    kms.proxy.resetCounts();

    const run = await drift(project, "recover", "--json");
    expect(run.code, described(run)).to.equal(1);
    const keys = parseReport(run).stacks[0].keys;
    expect(keys.map((key) => [key.name, key.kind, key.recovery?.status])).to.deep.equal([
      ["pending", "pending-deletion", "skipped"],
      ["disabled", "disabled", "recovered"],
    ]);
    expect(keys[0].recovery?.message).to.match(/waiting period ended after the check/);
    expect(keys[0].recovery?.message).to.match(/pulumi up.*create a new one/);
    expect(
      changes().filter((call) => call.startsWith("CreateKey")),
      "CreateKey calls",
    ).to.deep.equal([]);
    expect((await describeKey(ids.disabled)).KeyState).to.equal("Enabled");
  });

  it("check finds whether a stack exists without decrypting its secrets", async () => {
    await project.stackInit("secrets");
    await project.configSet("note", "a secret note", { secret: true });
    await upKeys(project);
    // A `pulumi` first on PATH that writes down each command line, then runs the real CLI.
    const bin = fs.mkdtempSync(path.join(project.dir, "..", "logged-pulumi-"));
    const log = path.join(bin, "commands.log");
    fs.writeFileSync(
      path.join(bin, "pulumi"),
      `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec '${project.tools.pulumiBinary}' "$@"\n`,
      { mode: 0o755 },
    );
    const check = await project.command(path.join(project.dir, "node_modules", ".bin", "kms-key-drift"), ["check"], {
      PATH: `${bin}${path.delimiter}${project.env.PATH}`,
    });
    expect(check.code, described(check)).to.equal(0);
    const commands = fs.readFileSync(log, "utf8").trim().split("\n");
    expect(
      commands.some((line) => line.startsWith("preview")),
      commands.join("\n"),
    ).to.equal(true);
    expect(
      commands.filter((line) => line.includes("--show-secrets")),
      "commands that decrypt secrets",
    ).to.deep.equal([]);
  });

  describe("cancelled by a signal", () => {
    /** Three keys, two of them drifted; the update's CancelKeyDeletion takes 20 s, the signal comes meanwhile. */
    async function slowRecovery(stack: string): Promise<Record<string, string>> {
      await project.stackInit(stack);
      const ids = await upKeys(project);
      await moto.send(new ScheduleKeyDeletionCommand({ KeyId: ids.pending, PendingWindowInDays: WINDOW_DAYS }));
      await moto.send(new DisableKeyCommand({ KeyId: ids.disabled }));
      kms.proxy.clearFaults();
      kms.proxy.addFault({ operation: "CancelKeyDeletion", kind: "delay", delayMs: 20_000, times: 1 });
      kms.proxy.resetCounts();
      return ids;
    }
    const delayed = () => kms.proxy.faultsApplied().delay ?? 0;

    /** Exit `code`, the report of a stack cancelled during its update, and a stack the next `up` can update. */
    async function expectCancelledMidUpdate(run: RunningDrift, code: number): Promise<Report> {
      const result = await run.exited;
      expect(result.code, described(result)).to.equal(code);
      expect(result.stderr).to.match(/SIG(INT|TERM) received: cancelling/);
      const json = parseReport(result);
      expect(json.exitCode).to.equal(code);
      expect(json.stacks[0].result, described(result)).to.equal("cancelled");
      expect(json.stacks[0].message).to.match(/during the update/);
      // Not left locked: the next update runs.
      const next = await project.up();
      expect(next.code, described(next)).to.equal(0);
      expect(described(next)).to.not.match(/currently locked/);
      return json;
    }

    /** The update in flight was finished, not cut off: the key is back, and the report says so from what it read. */
    async function expectInFlightFinished(json: Report, ids: Record<string, string>): Promise<void> {
      expect((await describeKey(ids.pending)).KeyState).to.equal("Enabled");
      const pending = json.stacks[0].keys.find((key) => key.name === "pending");
      expect(pending?.recovery).to.deep.include({ status: "recovered", keyState: "Enabled" });
    }

    it("SIGINT while recover updates: the update in flight finishes, exit 130, the stack is not left locked", async () => {
      const ids = await slowRecovery("cancel-sigint");
      const run = startDrift(project, ["recover", "--json"]);
      await until(() => delayed() > 0, "the update's CancelKeyDeletion at KMS");
      process.kill(run.pid, "SIGINT");
      const json = await expectCancelledMidUpdate(run, 130);
      expect(run.stderr()).to.contain("cancel-sigint: update: asking pulumi to cancel (SIGINT)");
      await expectInFlightFinished(json, ids);
    });

    it("SIGTERM (a CI runner cancelling the job) exits 143, likewise", async () => {
      const ids = await slowRecovery("cancel-sigterm");
      const run = startDrift(project, ["recover", "--json"]);
      await until(() => delayed() > 0, "the update's CancelKeyDeletion at KMS");
      process.kill(run.pid, "SIGTERM");
      const json = await expectCancelledMidUpdate(run, 143);
      await expectInFlightFinished(json, ids);
    });

    it("^C in a terminal (SIGINT to the whole process group, pulumi too) is not passed on a second time", async () => {
      await slowRecovery("cancel-group");
      const run = startDrift(project, ["recover", "--json"], true);
      await until(() => delayed() > 0, "the update's CancelKeyDeletion at KMS");
      process.kill(-run.pid, "SIGINT");
      await expectCancelledMidUpdate(run, 130);
      // A second SIGINT would have made pulumi terminate at once instead of cancelling.
      expect(run.stderr()).to.contain("cancel-group: update: pulumi got the signal too and is cancelling");
      expect(run.stderr()).to.not.contain("asking pulumi to cancel");
    });
  });
});

/** `up` of a new stack of the drift-check program: its three keys' IDs by name. */
async function upKeys(project: Project): Promise<Record<string, string>> {
  const up = await project.up();
  expect(up.code, described(up)).to.equal(0);
  const ids = (await project.stackOutputs()).keyIds as string[];
  return { pending: ids[0], disabled: ids[1], tagged: ids[2] };
}
