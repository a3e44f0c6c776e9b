// The kms-key-drift command as a user runs it: the packed package installed in a project folder
// (tests/projects/drift-check), `node_modules/.bin/kms-key-drift` run there with the real CLI and language host
// (oldest leg), KMS being moto behind the key-state proxy. Drift is made behind Pulumi's back, straight at moto.
import * as path from "node:path";
import {
  DescribeKeyCommand,
  DisableKeyCommand,
  KeyMetadata,
  KMSClient,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
} from "@aws-sdk/client-kms";
import { expect } from "chai";
import { startKmsServerWithProxy } from "../support/kms-server";
import { CommandResult, LEGS, legTools, packedTarball, Project, REPO_ROOT } from "../support/project";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const LEG = LEGS.oldest;
const SOURCE = path.join(REPO_ROOT, "tests", "projects", "drift-check");
const DAY_MS = 24 * 60 * 60_000;
/** The waiting period of the out-of-band ScheduleKeyDeletion. */
const WINDOW_DAYS = 7;

type Kms = Awaited<ReturnType<typeof startKmsServerWithProxy>>;

/** The --json report (schema version 1), as far as these tests read it. */
interface JsonReport {
  schemaVersion: number;
  command: string;
  dryRun: boolean;
  checkedAt: string;
  exitCode: number;
  stacks: {
    stack: string;
    result: string;
    error?: string;
    keys: {
      urn: string;
      name: string;
      keyId?: string;
      kind: string;
      keyState?: string;
      deletionDate?: string;
      daysLeft?: number;
      attributes: string[];
      upWould: string;
      recovery?: { status: string; actions: string[]; keyState?: string; message?: string };
    }[];
  }[];
}

function straightToMoto(kms: Kms): KMSClient {
  return new KMSClient({
    region: "us-east-1",
    endpoint: kms.server.endpoint,
    credentials: { accessKeyId: "out-of-band", secretAccessKey: "out-of-band" },
    maxAttempts: 1,
  });
}

/** `kms-key-drift ARGS` from the project's node_modules/.bin, in the project folder. */
function drift(project: Project, ...args: string[]): Promise<CommandResult> {
  return project.command(path.join(project.dir, "node_modules", ".bin", "kms-key-drift"), args);
}

function parseJson(result: CommandResult): JsonReport {
  try {
    return JSON.parse(result.stdout) as JsonReport;
  } catch {
    throw new Error(`not JSON:\n${result.stdout}\n${result.stderr}`);
  }
}

/** The data rows of the table: cells of each line that starts with the table's vertical bar. */
function tableRows(stdout: string): string[][] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("│"))
    .map((line) =>
      line
        .split("│")
        .slice(1, -1)
        .map((cell) => cell.trim()),
    )
    .slice(1);
}

function output(result: CommandResult): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

async function upStack(project: Project, stack: string): Promise<Record<string, string>> {
  await project.stackInit(stack);
  const up = await project.up();
  expect(up.code, output(up)).to.equal(0);
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
      expect(check.code, output(check)).to.equal(0);
      expect(check.stdout, output(check)).to.equal("dev: no drift\n");
      expect(check.stderr).to.contain("kms-key-drift: dev: refreshing");
      const json = parseJson(await drift(project, "check", "--json", "--stack", "dev"));
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
      expect(check.code, output(check)).to.equal(2);
      const rows = tableRows(check.stdout);
      expect(
        rows.map((row) => [row[0], row[1], row[2], row[3]]),
        output(check),
      ).to.deep.equal([
        ["dev", "pending", ids.pending, "pending-deletion"],
        ["dev", "disabled", ids.disabled, "disabled"],
        ["dev", "tagged", ids.tagged, "attributes"],
      ]);
      const deletionDate = (await describeKey(ids.pending)).DeletionDate!;
      expect(rows[0][5], "deletion date").to.equal(deletionDate.toISOString());
      // Scheduled moments ago for 7 days: 6 whole days and some 23 hours are left.
      expect(rows[0][6], "days left").to.equal(String(WINDOW_DAYS - 1));
      expect(rows[0][8], "what up would do").to.equal("cancel the deletion, enable");
      expect(rows[1][4], "live key state").to.equal("Disabled");
      expect(rows[1][8]).to.equal("enable");
      expect(rows[2][7], "drifted attributes").to.equal("tags");
      expect(rows[2][8]).to.equal("reset tags");
      // The check wrote nothing: the state still has the keys as they were at the last up.
      const state = await project.keys();
      expect(state.map((key) => key.outputs?.keyState)).to.deep.equal(["Enabled", "Enabled", "Enabled"]);
    });

    it("--json parses, follows the documented schema and agrees with the table", async () => {
      const [table, jsonRun] = [await drift(project, "check"), await drift(project, "check", "--json")];
      expect(jsonRun.code, output(jsonRun)).to.equal(2);
      const json = parseJson(jsonRun);
      expect(json).to.include({ schemaVersion: 1, command: "check", dryRun: false, exitCode: 2 });
      const checkedAt = Date.parse(json.checkedAt);
      expect(Math.abs(Date.now() - checkedAt), "checkedAt is now").to.be.lessThan(5 * 60_000);
      const keys = json.stacks[0].keys;
      const rows = tableRows(table.stdout);
      expect(keys.map((key) => key.name)).to.deep.equal(rows.map((row) => row[1]));
      for (const [index, key] of keys.entries()) {
        const row = rows[index];
        expect(row, key.name).to.deep.equal([
          "dev",
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
      expect(run.code, output(run)).to.equal(1);
      const json = parseJson(run);
      expect(json.exitCode).to.equal(1);
      expect(json.stacks.map((stack) => [stack.stack, stack.result])).to.deep.equal([
        ["broken", "error"],
        ["dev", "drift"],
      ]);
      expect(json.stacks[0].error).to.contain("broken on purpose");
      expect(json.stacks[1].keys.map((key) => key.kind)).to.deep.equal(["pending-deletion", "disabled", "attributes"]);

      // The table, with a stack the backend does not have (a failing program takes minutes to report here).
      const table = await drift(project, "check", "--stack", "dev", "--stack", "missing");
      expect(table.code, output(table)).to.equal(1);
      expect(tableRows(table.stdout).map((row) => row[1])).to.deep.equal(["pending", "disabled", "tagged"]);
      expect(table.stdout).to.match(/^missing: error: .*missing/m);
      // Looking at stacks does not change which one the user has selected.
      const selected = await project.pulumiOk(["stack", "--show-name"]);
      expect(selected.stdout.trim()).to.equal("dev");
    });

    it("recover --dry-run shows the plan and changes nothing", async () => {
      const before = JSON.stringify(await project.exportState());
      const run = await drift(project, "recover", "--dry-run", "--json");
      expect(run.code, output(run)).to.equal(2);
      const keys = parseJson(run).stacks[0].keys;
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
      expect(run.code, output(run)).to.equal(0);
      const rows = tableRows(run.stdout);
      expect(rows.map((row) => [row[1], row[8]])).to.deep.equal([
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
      expect(preview.code, output(preview)).to.equal(0);
      expect(preview.stdout).to.match(/~ pulumi-nodejs:dynamic:Resource: \(update\)/);
      expect(preview.stdout).to.not.match(/dynamic\/kms:KmsKey: \(update\)/);

      const after = await drift(project, "check", "--stack", "dev");
      expect(after.code, output(after)).to.equal(0);
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
        expect(run.code, output(run)).to.equal(1);
        const keys = parseJson(run).stacks[0].keys;
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
      expect(check.code, output(check)).to.equal(2);
      const keys = parseJson(check).stacks[0].keys;
      expect(keys.map((key) => [key.name, key.kind])).to.deep.equal([
        ["disabled", "gone"],
        ["pending", "gone"],
        ["tagged", "gone"],
      ]);
      for (const key of keys) expect(key.upWould).to.match(/^create a new key/);

      const table = await drift(project, "check");
      expect(table.code, output(table)).to.equal(2);
      expect(tableRows(table.stdout).map((row) => [row[1], row[3]])).to.deep.equal([
        ["disabled", "gone"],
        ["pending", "gone"],
        ["tagged", "gone"],
      ]);

      const recover = await drift(project, "recover", "--json");
      expect(recover.code, output(recover)).to.equal(1);
      for (const key of parseJson(recover).stacks[0].keys) {
        expect(key.recovery?.status, key.name).to.equal("skipped");
        expect(key.recovery?.message, key.name).to.match(/pulumi up.*create a new one/);
      }
      // Nothing was created behind the user's back.
      const created = kms.proxy.callLog.filter((call) => call.operation === "CreateKey");
      expect(created, "CreateKey calls after the reset").to.have.length(0);
    });
  });
});
