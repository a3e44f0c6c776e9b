// kms-key-drift over a key's family as a user runs it: tests/projects/drift-family (a multi-Region primary KmsKey in
// us-east-1, its KmsReplicaKey in eu-west-1, alias/orders in each Region, and a replica and an alias only read with
// get) in a project folder with the packed package, `node_modules/.bin/kms-key-drift` run there with the real CLI and
// language host (oldest leg), KMS being moto behind the key-state proxy. Each resource is drifted behind Pulumi's
// back: the key deletions through the proxy (its family rules make the primary PendingReplicaDeletion), the aliases
// straight at moto.
import * as path from "node:path";
import {
  DeleteAliasCommand,
  DescribeKeyCommand,
  KeyMetadata,
  KMSClient,
  ListAliasesCommand,
  ScheduleKeyDeletionCommand,
  UpdateAliasCommand,
} from "@aws-sdk/client-kms";
import { expect } from "chai";
import { createForeignKey, outOfBand } from "../../testing/kms/out-of-band";
import { CallLogEntry } from "../../testing/kms/proxy";
import { startKmsServerWithProxy } from "../../testing/kms/server";
import { parseReport, tableLines } from "../../testing/drift-report";
import { CommandResult, described, packedTarball, Project } from "../../testing/pulumi/project";
import { legTools } from "../../testing/pulumi/tools";
import { REPO_ROOT } from "../../testing/repo";
import { LEGS } from "../../testing/versions";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const LEG = LEGS.oldest;
const SOURCE = path.join(REPO_ROOT, "tests", "projects", "drift-family");
const DAY_MS = 24 * 60 * 60_000;
/** The waiting period of the out-of-band ScheduleKeyDeletion. */
const WINDOW_DAYS = 7;
const ALIAS = "alias/orders";

type Kms = Awaited<ReturnType<typeof startKmsServerWithProxy>>;

const regionOf = (arn: string | undefined) => arn?.split(":")[3];

describe(`e2e: kms-key-drift over a key's family: replica key and aliases (${LEG.name} leg)`, function () {
  this.timeout(10 * 60_000);
  let kms: Kms;
  let project: Project;
  const clients: Record<string, KMSClient> = {};
  /** Behind Pulumi's back through the proxy, so that KMS's rules for key families apply (not counted once reset). */
  const by = (region: string): KMSClient => (clients[`proxy|${region}`] ??= outOfBand(kms.endpoint, region));
  /** Straight to moto: behind Pulumi's back, never seen by the proxy. */
  const moto = (region: string): KMSClient => (clients[`moto|${region}`] ??= outOfBand(kms.server.endpoint, region));
  const describeKey = async (region: string, keyId: string): Promise<KeyMetadata> =>
    (await by(region).send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
  /** The key alias/orders points at in a Region, as KMS has it. */
  const aliasTarget = async (region: string): Promise<string | undefined> =>
    ((await moto(region).send(new ListAliasesCommand({}))).Aliases ?? []).find((alias) => alias.AliasName === ALIAS)
      ?.TargetKeyId;
  /** `kms-key-drift ARGS` from the project's node_modules/.bin, in the project folder. */
  const drift = (...args: string[]) =>
    project.command(path.join(project.dir, "node_modules", ".bin", "kms-key-drift"), args);
  /** The calls that change something since the last resetCounts(), as `Region Operation KeyId`. */
  const writes = (log: readonly CallLogEntry[] = kms.proxy.writeCalls()) =>
    log.map((call) => `${call.region} ${call.operation} ${call.keyId ?? ""}`.trim());

  let keyId: string;
  let arns: { primary: string; replica: string };
  let aliasArns: { primary: string; replica: string };
  let foreignKeyId: string;
  /** The first check of the drifted stack. */
  let checked: CommandResult;
  const figures: string[] = [];

  before(async function () {
    this.timeout(30 * 60_000);
    [kms] = await Promise.all([startKmsServerWithProxy(), legTools(LEG), packedTarball()]);
    project = await Project.create("drift-family", LEG, { kmsEndpoint: kms.endpoint, source: SOURCE });
    await project.stackInit("dev");
    await project.configSet("read", "true");
    const up = await project.up();
    expect(up.code, described(up)).to.equal(0);
    const outputs = await project.stackOutputs();
    arns = outputs.arns as typeof arns;
    aliasArns = outputs.aliasArns as typeof aliasArns;
    keyId = arns.primary.split("/").pop()!;
    expect(keyId, "a multi-Region key").to.match(/^mrk-/);
    expect(arns.replica, "the replica shares its primary's key ID").to.equal(
      arns.primary.replace(":us-east-1:", ":eu-west-1:"),
    );
    expect([regionOf(aliasArns.primary), regionOf(aliasArns.replica)]).to.deep.equal(["us-east-1", "eu-west-1"]);
  });

  after(async () => {
    if (figures.length > 0) console.log(`      KMS calls of recover, by Region and operation:\n${figures.join("\n")}`);
    for (const client of Object.values(clients)) client.destroy();
    await project?.cleanup();
    await kms?.stop();
  });

  // The its below run in order on one stack: drifted four ways, planned, recovered.
  it("check: the replica pending deletion first, then its primary (PendingReplicaDeletion, no date), the repointed alias, the gone one; exit 2; the table too", async () => {
    // The replica, then its primary, which waits for it (PendingReplicaDeletion); each by ID in its own Region.
    await by("eu-west-1").send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: WINDOW_DAYS }));
    await by("us-east-1").send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: WINDOW_DAYS }));
    expect((await describeKey("us-east-1", keyId)).KeyState).to.equal("PendingReplicaDeletion");
    const replicaDeletion = (await describeKey("eu-west-1", keyId)).DeletionDate!;
    // The primary's alias repointed at another key of its Region; the replica's deleted.
    foreignKeyId = (await createForeignKey(moto("us-east-1"), "someone else's key")).KeyId!;
    await moto("us-east-1").send(new UpdateAliasCommand({ AliasName: ALIAS, TargetKeyId: foreignKeyId }));
    await moto("eu-west-1").send(new DeleteAliasCommand({ AliasName: ALIAS }));
    kms.proxy.resetCounts();

    const run = (checked = await drift("check", "--json"));
    expect(run.code, described(run)).to.equal(2);
    const json = parseReport(run);
    expect(json).to.include({ command: "check", exitCode: 2 });
    const entries = json.stacks[0].keys;
    // Exactly the four the stack manages: the replica and the alias it reads with get are in the same live states.
    expect(
      entries.map((entry) => [entry.resource, entry.name, entry.kind]),
      run.stdout,
    ).to.deep.equal([
      ["KmsReplicaKey", "replica", "pending-deletion"],
      ["KmsKey", "primary", "pending-deletion"],
      ["KmsAlias", "primary-alias", "attributes"],
      ["KmsAlias", "replica-alias", "gone"],
    ]);
    const [replica, primary, repointed, gone] = entries;

    expect(replica.urn).to.match(/::pulumi-nodejs:dynamic\/kms:KmsReplicaKey::replica$/);
    expect(replica).to.include({
      keyId,
      arn: arns.replica,
      keyState: "PendingDeletion",
      deletionDate: replicaDeletion.toISOString(),
      upWould: "cancel the deletion, enable",
    });
    expect(replica.daysLeft, "scheduled moments ago for 7 days").to.equal(WINDOW_DAYS - 1);
    expect(replica.daysLeft).to.equal(Math.floor((replicaDeletion.getTime() - Date.parse(json.checkedAt)) / DAY_MS));

    // No date while it waits for its replica: neither deletionDate nor daysLeft.
    expect(primary).to.include({ keyId, arn: arns.primary, keyState: "PendingReplicaDeletion" });
    expect(primary).to.not.have.any.keys("deletionDate", "daysLeft");
    expect(primary.upWould).to.equal("cancel the deletion, enable");

    expect(repointed).to.include({ arn: aliasArns.primary, upWould: "point it back at its declared key" });
    expect(repointed.attributes).to.deep.equal(["targetKeyId"]);
    // An alias has no key ID, key state or deletion of its own.
    expect(repointed).to.not.have.any.keys("keyId", "keyState", "deletionDate", "daysLeft", "declaredEnabled");
    expect(gone.upWould).to.equal("create the alias again, pointing at its declared key");
    expect(gone.attributes).to.deep.equal([]);
    expect(writes(), "check changes nothing").to.deep.equal([]);

    const shown = await drift("check");
    expect(shown.code, described(shown)).to.equal(2);
    const [head, ...rows] = tableLines(shown.stdout);
    expect(head.slice(0, 5), shown.stdout).to.deep.equal(["Stack", "Resource", "Name", "ID/ARN", "Drift"]);
    expect(
      rows.map((row) => row.slice(0, 8)),
      shown.stdout,
    ).to.deep.equal([
      [
        "dev",
        "KmsReplicaKey",
        "replica",
        arns.replica,
        "pending-deletion",
        "PendingDeletion",
        replica.deletionDate,
        "6",
      ],
      ["dev", "KmsKey", "primary", arns.primary, "pending-deletion", "PendingReplicaDeletion", "", ""],
      ["dev", "KmsAlias", "primary-alias", aliasArns.primary, "attributes", "", "", ""],
      ["dev", "KmsAlias", "replica-alias", "", "gone", "", "", ""],
    ]);
    expect(rows.map((row) => row.slice(8))).to.deep.equal(
      entries.map((entry) => [entry.attributes.join(", "), entry.upWould]),
    );
  });

  it("the replica and the alias the stack reads with KmsReplicaKey.get and KmsAlias.get are never reported, drifted as they are", async () => {
    // The check read them, in the states it reported for the managed ones: the replica pending deletion, the alias
    // pointing at the other key.
    expect(checked.stderr).to.contain("dev: read read-replica").and.contain("dev: read read-alias");
    const resources = (await project.exportState()).deployment.resources ?? [];
    const read = Object.fromEntries(
      resources
        .filter((r) => /::read-(replica|alias)$/.test(r.urn))
        .map((r) => [r.urn.split("::").pop(), r.outputs?.arn]),
    );
    expect(read).to.deep.equal({ "read-replica": arns.replica, "read-alias": aliasArns.primary });
    expect((await describeKey("eu-west-1", keyId)).KeyState).to.equal("PendingDeletion");
    expect(await aliasTarget("us-east-1")).to.equal(foreignKeyId);
    const reported = parseReport(checked).stacks[0].keys.map((entry) => entry.urn);
    expect(
      reported.filter((urn) => /::read-/.test(urn)),
      "entries of resources read with get",
    ).to.deep.equal([]);
    expect(reported).to.have.length(4);
  });

  it("recover --dry-run plans a repair of all four, changes nothing (no write call) and exits 2", async () => {
    kms.proxy.resetCounts();
    const run = await drift("recover", "--dry-run", "--json");
    expect(run.code, described(run)).to.equal(2);
    expect(
      parseReport(run).stacks[0].keys.map((entry) => [entry.name, entry.recovery?.status, entry.recovery?.actions]),
      run.stdout,
    ).to.deep.equal([
      ["replica", "planned", ["cancel the deletion", "enable"]],
      ["primary", "planned", ["cancel the deletion", "enable"]],
      ["primary-alias", "planned", ["point it back at its declared key"]],
      ["replica-alias", "planned", ["create the alias again"]],
    ]);
    expect(writes(), "calls that change something").to.deep.equal([]);
    expect((await describeKey("us-east-1", keyId)).KeyState).to.equal("PendingReplicaDeletion");
    expect((await describeKey("eu-west-1", keyId)).KeyState).to.equal("PendingDeletion");
    expect(await aliasTarget("us-east-1")).to.equal(foreignKeyId);
    expect(await aliasTarget("eu-west-1")).to.equal(undefined);
  });

  it("recover repairs all four, each key in its own Region, each alias after its key; all recovered as read after; a check then exits 0", async () => {
    kms.proxy.resetCounts();
    const run = await drift("recover", "--json");
    expect(run.code, described(run)).to.equal(0);
    const entries = parseReport(run).stacks[0].keys;
    expect(
      entries.map((entry) => [entry.name, entry.recovery?.status, entry.recovery?.actions, entry.recovery?.keyState]),
      run.stdout,
    ).to.deep.equal([
      ["replica", "recovered", ["cancel the deletion", "enable"], "Enabled"],
      ["primary", "recovered", ["cancel the deletion", "enable"], "Enabled"],
      ["primary-alias", "recovered", ["point it back at its declared key"], undefined],
      ["replica-alias", "recovered", ["create the alias again"], undefined],
    ]);
    const log = [...kms.proxy.callLog];
    const counts = new Map<string, number>();
    for (const call of log)
      counts.set(`${call.region} ${call.operation}`, (counts.get(`${call.region} ${call.operation}`) ?? 0) + 1);
    figures.push(`        ${[...counts].map(([call, n]) => `${call} ${n}`).join(", ")}`);
    // Per Region, in order: the key's cancel and enable, then its alias (the proxy refuses an alias on a pending key).
    const inRegion = (region: string) =>
      writes(log.filter((call) => !/^(Describe|Get|List)/.test(call.operation) && call.region === region));
    expect(inRegion("us-east-1"), "us-east-1").to.deep.equal([
      `us-east-1 CancelKeyDeletion ${keyId}`,
      `us-east-1 EnableKey ${keyId}`,
      `us-east-1 UpdateAlias ${keyId}`,
    ]);
    expect(inRegion("eu-west-1"), "eu-west-1").to.deep.equal([
      `eu-west-1 CancelKeyDeletion ${keyId}`,
      `eu-west-1 EnableKey ${keyId}`,
      `eu-west-1 CreateAlias ${keyId}`,
    ]);
    expect(
      log.filter((call) => call.error),
      "refused or failed calls",
    ).to.deep.equal([]);

    for (const region of ["us-east-1", "eu-west-1"]) {
      expect((await describeKey(region, keyId)).KeyState, region).to.equal("Enabled");
      expect(await aliasTarget(region), `${ALIAS} in ${region}`).to.equal(keyId);
    }
    // The foreign key the alias was pointed at is untouched.
    expect((await describeKey("us-east-1", foreignKeyId)).KeyState).to.equal("Enabled");

    const after = await drift("check", "--json");
    expect(after.code, described(after)).to.equal(0);
    expect(parseReport(after).stacks[0]).to.deep.include({ result: "clean", keys: [] });
  });

  it("the family deleted for good: all four gone, each with what up would do; recover makes nothing, exit 1", async () => {
    // moto cannot end a waiting period; its reset drops every key and alias, as KMS does once the periods are over.
    const reset = await fetch(`${kms.server.endpoint}/moto-api/reset`, { method: "POST" });
    expect(reset.status).to.equal(200);
    kms.proxy.resetCounts();

    const check = await drift("check", "--json");
    expect(check.code, described(check)).to.equal(2);
    expect(
      parseReport(check).stacks[0].keys.map((entry) => [entry.resource, entry.name, entry.kind, entry.upWould]),
      check.stdout,
    ).to.deep.equal([
      [
        "KmsKey",
        "primary",
        "gone",
        "create a new key: KMS no longer has this one, and data encrypted under it cannot be decrypted",
      ],
      ["KmsAlias", "primary-alias", "gone", "create the alias again, pointing at its declared key"],
      [
        "KmsReplicaKey",
        "replica",
        "gone",
        "create a new replica: KMS no longer has this one (the primary key still holds the key material)",
      ],
      ["KmsAlias", "replica-alias", "gone", "create the alias again, pointing at its declared key"],
    ]);

    const recover = await drift("recover", "--json");
    expect(recover.code, described(recover)).to.equal(1);
    const entries = parseReport(recover).stacks[0].keys;
    expect(entries.map((entry) => [entry.name, entry.recovery?.status])).to.deep.equal([
      ["primary", "skipped"],
      ["primary-alias", "skipped"],
      ["replica", "skipped"],
      ["replica-alias", "skipped"],
    ]);
    const message = (name: string) => entries.find((entry) => entry.name === name)?.recovery?.message;
    expect(message("primary")).to.match(/pulumi up` would create a new one \(data encrypted under it is lost\)/);
    expect(message("replica")).to.match(/no longer has this replica key.*a new replica of the primary key/);
    // KMS deleted them with their keys: an alias can only follow the new key up would make.
    for (const name of ["primary-alias", "replica-alias"]) {
      expect(message(name), name).to.match(/no longer has this alias nor the key it pointed at/);
    }
    expect(recover.stderr, "no update at all").to.contain("dev: nothing to recover");
    expect(writes(), "nothing is created behind the user's back").to.deep.equal([]);
  });
});
