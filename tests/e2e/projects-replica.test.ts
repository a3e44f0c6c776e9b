// KmsReplicaKey as a user runs it: tests/projects/replica-rules in a project folder with the packed package, the real
// CLI and language host (newest leg), KMS being moto behind the key-state proxy (which models PendingReplicaDeletion
// and ReplicateKey as KMS has them). A multi-Region primary KmsKey in us-east-1 and its replica in eu-west-1, both
// scheduled for deletion behind Pulumi's back, come back with `up --refresh`, the same keys; destroy schedules both.
import * as path from "node:path";
import { DescribeKeyCommand, KeyMetadata, KMSClient, ScheduleKeyDeletionCommand } from "@aws-sdk/client-kms";
import { expect } from "chai";
import { KMS_KEY_TYPE } from "../../cli/drift";
import { outOfBand } from "../../testing/kms/out-of-band";
import { CallLogEntry } from "../../testing/kms/proxy";
import { startKmsServerWithProxy } from "../../testing/kms/server";
import { packedTarball, printed, Project } from "../../testing/pulumi/project";
import { StateResource } from "../../testing/pulumi/state";
import { legTools } from "../../testing/pulumi/tools";
import { REPO_ROOT } from "../../testing/repo";
import { LEGS } from "../../testing/versions";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const LEG = LEGS.newest;
const SOURCE = path.join(REPO_ROOT, "tests", "projects", "replica-rules");
const REPLICA_TYPE = "pulumi-nodejs:dynamic/kms:KmsReplicaKey";
const DAY_MS = 24 * 60 * 60_000;

describe(`e2e: a primary KmsKey and its KmsReplicaKey through the engine (${LEG.name} leg)`, function () {
  this.timeout(10 * 60_000);
  let kms: Awaited<ReturnType<typeof startKmsServerWithProxy>>;
  let project: Project;
  const clients: Record<string, KMSClient> = {};
  /** Behind Pulumi's back, through the proxy: KMS's rules for key families apply to it too. */
  const by = (region: string): KMSClient => (clients[`proxy|${region}`] ??= outOfBand(kms.endpoint, region));
  /** Straight to moto: what it recorded, rules aside (the primary's deletion date, which KMS does not show). */
  const moto = (region: string): KMSClient => (clients[`moto|${region}`] ??= outOfBand(kms.server.endpoint, region));
  const describeKey = async (client: KMSClient, arn: string): Promise<KeyMetadata> =>
    (await client.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!;
  const regionOf = (arn: string) => arn.split(":")[3];

  before(async function () {
    this.timeout(30 * 60_000);
    [kms] = await Promise.all([startKmsServerWithProxy(), legTools(LEG), packedTarball()]);
    project = await Project.create("replica-rules", LEG, { kmsEndpoint: kms.endpoint, source: SOURCE });
  });

  after(async () => {
    for (const client of Object.values(clients)) client.destroy();
    await project?.cleanup();
    await kms?.stop();
  });

  /** The primary and the replica as the state has them. */
  async function family(): Promise<{ primary: StateResource; replica: StateResource }> {
    const resources = (await project.exportState()).deployment.resources ?? [];
    const primary = resources.filter((r) => r.type === KMS_KEY_TYPE);
    const replica = resources.filter((r) => r.type === REPLICA_TYPE);
    expect(primary.length, "KmsKeys").to.equal(1);
    expect(replica.length, "KmsReplicaKeys").to.equal(1);
    return { primary: primary[0], replica: replica[0] };
  }

  /** The calls since the last resetCounts(), by Region and operation. */
  function callsByRegion(log: readonly CallLogEntry[]): string {
    const counts = new Map<string, number>();
    for (const c of log) counts.set(`${c.region} ${c.operation}`, (counts.get(`${c.region} ${c.operation}`) ?? 0) + 1);
    return [...counts].map(([call, n]) => `${call} ${n}`).join(", ");
  }
  const figures: string[] = [];
  after(() => console.log(`      KMS calls of the stack (primary and replica), by step:\n${figures.join("\n")}`));

  it("up, both scheduled for deletion out of band, preview --refresh, up --refresh (the same keys), up --expect-no-changes, destroy", async () => {
    await project.stackInit("dev");
    kms.proxy.resetCounts();
    const up = await project.up();
    expect(up.code, printed(up)).to.equal(0);
    figures.push(`        up:                ${callsByRegion(kms.proxy.callLog)}`);
    const made = await family();
    const primaryArn = made.primary.outputs?.arn as string;
    const replicaArn = made.replica.outputs?.arn as string;
    expect(regionOf(primaryArn)).to.equal("us-east-1");
    expect(regionOf(replicaArn)).to.equal("eu-west-1");
    expect(made.replica.id, "a replica shares its primary's key ID").to.equal(made.primary.id);
    expect(made.replica.outputs).to.include({
      primaryKeyArn: primaryArn,
      region: "eu-west-1",
      description: "orders, Ireland",
      keyState: "Enabled",
    });
    const live = await describeKey(by("eu-west-1"), replicaArn);
    expect(live).to.include({ Description: "orders, Ireland", KeyState: "Enabled" });
    expect(live.MultiRegionConfiguration?.MultiRegionKeyType).to.equal("REPLICA");
    expect((await describeKey(by("us-east-1"), primaryArn)).MultiRegionConfiguration?.MultiRegionKeyType).to.equal(
      "PRIMARY",
    );
    expect(JSON.stringify(made), "no credentials in the state").to.not.match(/AKIATESTDISTINCTIVE7|test-distinctive/);
    // The replica's state names its provider by one require() of the package's module, as a KmsKey's does.
    const named = String(made.replica.outputs?.__provider);
    expect(named, named.slice(0, 600)).to.match(
      /require\("pulumi-kms-key\/(provider\/replica|dist\/provider\/replica\/index\.js)"\)/,
    );
    expect(JSON.stringify(made.replica).length, "the replica's entry in the state").to.be.below(4096);

    // Behind Pulumi's back: the replica, then its primary, which waits for its replica (PendingReplicaDeletion).
    await by("eu-west-1").send(new ScheduleKeyDeletionCommand({ KeyId: made.replica.id, PendingWindowInDays: 7 }));
    await by("us-east-1").send(new ScheduleKeyDeletionCommand({ KeyId: made.primary.id, PendingWindowInDays: 7 }));
    expect((await describeKey(by("eu-west-1"), replicaArn)).KeyState).to.equal("PendingDeletion");
    expect((await describeKey(by("us-east-1"), primaryArn)).KeyState).to.equal("PendingReplicaDeletion");

    const drift = await project.preview("--refresh", "--diff");
    expect(drift.code, printed(drift)).to.equal(0);
    expect(drift.stdout, printed(drift)).to.match(/^\s*~ keyState\s*: "PendingDeletion" => "Enabled"$/m);
    expect(drift.stdout, printed(drift)).to.match(/^\s*~ keyState\s*: "PendingReplicaDeletion" => "Enabled"$/m);
    expect(drift.stdout, "neither key is replaced").not.to.match(/\+-|to replace|to create/);

    kms.proxy.resetCounts();
    const recovered = await project.up("--refresh");
    expect(recovered.code, printed(recovered)).to.equal(0);
    figures.push(`        up --refresh:      ${callsByRegion(kms.proxy.callLog)}`);
    expect(kms.proxy.calls("ReplicateKey"), "no new replica").to.equal(0);
    expect(kms.proxy.calls("CreateKey"), "no new primary").to.equal(0);
    const after = await family();
    expect(after.primary.outputs?.arn, "the same primary").to.equal(primaryArn);
    expect(after.replica.outputs?.arn, "the same replica").to.equal(replicaArn);
    for (const [arn, resource] of [
      [primaryArn, after.primary],
      [replicaArn, after.replica],
    ] as const) {
      expect(resource.outputs?.keyState, arn).to.equal("Enabled");
      const key = await describeKey(by(regionOf(arn)), arn);
      expect(key.KeyState, arn).to.equal("Enabled");
      expect(key.DeletionDate, arn).to.equal(undefined);
    }

    kms.proxy.resetCounts();
    const noop = await project.up("--expect-no-changes");
    expect(noop.code, `up after the recovery changes nothing:\n${printed(noop)}`).to.equal(0);
    expect(kms.proxy.writes(), "no write").to.deep.equal([]);

    kms.proxy.resetCounts();
    const destroyedAt = Date.now();
    const destroyed = await project.destroy();
    expect(destroyed.code, printed(destroyed)).to.equal(0);
    figures.push(`        destroy:           ${callsByRegion(kms.proxy.callLog)}`);
    const replicaNow = await describeKey(by("eu-west-1"), replicaArn);
    expect(replicaNow.KeyState).to.equal("PendingDeletion");
    expect((replicaNow.DeletionDate!.getTime() - destroyedAt) / DAY_MS, "the replica's window").to.be.closeTo(10, 0.05);
    const primaryNow = await describeKey(by("us-east-1"), primaryArn);
    expect(primaryNow.KeyState).to.match(/^Pending(Replica)?Deletion$/);
    expect(primaryNow.KeyState, "its replica still exists").to.equal("PendingReplicaDeletion");
    // KMS shows no date while the primary waits; moto recorded the declared window all the same.
    const recorded = await describeKey(moto("us-east-1"), primaryArn);
    expect((recorded.DeletionDate!.getTime() - destroyedAt) / DAY_MS, "the primary's window").to.be.closeTo(7, 0.05);
    // The engine deleted the replica first (it depends on its primary's ARN).
    expect(
      kms.proxy.callLog.filter((c) => c.operation === "ScheduleKeyDeletion").map((c) => `${c.region}:${c.status}`),
    ).to.deep.equal(["eu-west-1:200", "us-east-1:200"]);
    expect(
      (await project.exportState()).deployment.resources?.filter((r) => r.type !== "pulumi:pulumi:Stack"),
    ).to.satisfy((left: StateResource[] | undefined) =>
      (left ?? []).every((r) => r.type.startsWith("pulumi:providers:")),
    );
  });
});
