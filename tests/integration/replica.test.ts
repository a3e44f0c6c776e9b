// KmsReplicaKey's provider against the local KMS (moto behind the key-state proxy, which models multi-Region key
// families as KMS has them: testing/kms/replicas.ts). A primary KmsKey in us-east-1, its replica in eu-west-1.
import { expect } from "chai";
import {
  DescribeKeyCommand,
  DisableKeyCommand,
  GetKeyPolicyCommand,
  KeyMetadata,
  KMSClient,
  ReplicateKeyCommand,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import { ReplicaProvider } from "../../provider/replica/provider";
import { KmsReplicaKeyProvider } from "../../sdk";
import { OPEN_POLICY } from "../../testing/fixtures";
import { Props, useLocalKms } from "../../testing/kms/local-kms";
import { outOfBand, tagsOf } from "../../testing/kms/out-of-band";
import { CallLogEntry } from "../../testing/kms/proxy";

const PRIMARY_REGION = "us-east-1";
const REPLICA_REGION = "eu-west-1";
const DAY_MS = 24 * 60 * 60_000;

/** Calls per replica, by step, printed after the suite (the report's figures). */
const figures: Record<string, string> = {};

describe("KmsReplicaKey against a KMS server", function () {
  this.timeout(120_000);
  const kms = useLocalKms();
  const replicas = new KmsReplicaKeyProvider();
  /** Someone acting behind Pulumi's back, through the proxy (so KMS's family rules apply to them too). */
  const raw: Record<string, KMSClient> = {};
  const by = (region: string) => (raw[region] ??= outOfBand(kms.endpoint, region));

  after(() => {
    for (const client of Object.values(raw)) client.destroy();
    const rows = Object.entries(figures).map(([step, calls]) => `        ${step.padEnd(34)} ${calls}`);
    console.log(`      KMS calls per replica (the proxy's count):\n${rows.join("\n")}`);
  });

  const describeIn = async (region: string, keyId: string): Promise<KeyMetadata> =>
    (await by(region).send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;

  /** A multi-Region primary key, made by KmsKey's provider. */
  async function primaryKey(news: Props = {}) {
    return kms.newKey({ multiRegion: true, region: PRIMARY_REGION, description: "primary", ...news });
  }

  async function checkedReplica(news: Props): Promise<Props> {
    const result = await replicas.check({}, { endpoint: kms.endpoint, region: REPLICA_REGION, ...news });
    expect(result.failures, JSON.stringify(result.failures)).to.equal(undefined);
    return result.inputs as Props;
  }

  async function newReplica(news: Props = {}) {
    const primary = await primaryKey();
    const inputs = await checkedReplica({ primaryKeyArn: primary.outs.arn, ...news });
    kms.proxy.resetCounts();
    const created = await replicas.create(inputs);
    return { primary, inputs, id: created.id, outs: created.outs as Props };
  }

  /** The calls since the last resetCounts(), as "Operation@region". */
  const calls = (): string[] => kms.proxy.callLog.map((c) => `${c.operation}@${c.region}`);
  const count = (log: CallLogEntry[]): string => {
    const ops = new Map<string, number>();
    for (const c of log) ops.set(c.operation, (ops.get(c.operation) ?? 0) + 1);
    return `${log.length}: ${[...ops].map(([op, n]) => `${op} ${n}`).join(", ")}`;
  };

  it("creates a replica with ReplicateKey in the primary's Region: its description, policy and tags as declared, none of the primary's", async () => {
    const { primary, id, outs } = await newReplica({
      description: "orders, Ireland",
      policy: OPEN_POLICY,
      tags: { team: "payments", copy: "eu" },
      deletionWindowInDays: 7,
    });
    expect(calls()).to.deep.equal([`DescribeKey@${PRIMARY_REGION}`, `ReplicateKey@${PRIMARY_REGION}`]);
    figures["create"] = count(kms.proxy.callLog);
    expect(id, "a replica shares its primary's key ID").to.equal(primary.id);
    const arn = outs.arn as string;
    expect(arn.split(":")[3]).to.equal(REPLICA_REGION);
    expect(outs).to.include({
      keyState: "Enabled",
      enabled: true,
      primaryKeyArn: primary.outs.arn,
      region: REPLICA_REGION,
      description: "orders, Ireland",
      deletionWindowInDays: 7,
    });
    expect(outs.tags).to.deep.equal({ team: "payments", copy: "eu" });
    for (const name of ["enableKeyRotation", "keyUsage", "multiRegion", "ownerTag"])
      expect(outs).to.not.have.property(name);

    const live = await describeIn(REPLICA_REGION, arn);
    expect(live).to.include({ Description: "orders, Ireland", KeyState: "Enabled" });
    expect(live.MultiRegionConfiguration?.MultiRegionKeyType).to.equal("REPLICA");
    expect(await tagsOf(by(REPLICA_REGION), arn)).to.deep.equal({ team: "payments", copy: "eu" });
    const policy = await by(REPLICA_REGION).send(new GetKeyPolicyCommand({ KeyId: arn, PolicyName: "default" }));
    expect(JSON.parse(policy.Policy!)).to.deep.equal(JSON.parse(OPEN_POLICY));
    // The primary is untouched: still a PRIMARY, with its own description and no tags.
    const primaryNow = await describeIn(PRIMARY_REGION, primary.outs.arn as string);
    expect(primaryNow).to.include({ Description: "primary" });
    expect(primaryNow.MultiRegionConfiguration?.MultiRegionKeyType).to.equal("PRIMARY");
    expect(await tagsOf(by(PRIMARY_REGION), primary.outs.arn as string)).to.deep.equal({});
  });

  it("creates a replica declared disabled: DisableKey once KMS has made it (it is Creating for a while, and refuses DisableKey then)", async () => {
    kms.proxy.setReplicaCreatingMs(1500);
    try {
      const { outs } = await newReplica({ enabled: false });
      expect(outs).to.include({ keyState: "Disabled", enabled: false });
      const writes = kms.proxy.writeCalls();
      expect(writes.map((c) => `${c.operation}:${c.status}`)).to.deep.equal(["ReplicateKey:200", "DisableKey:200"]);
      // Polled while Creating, in the replica's Region.
      expect(calls().filter((c) => c === `DescribeKey@${REPLICA_REGION}`).length).to.be.within(1, 3);
      expect((await describeIn(REPLICA_REGION, outs.arn as string)).KeyState).to.equal("Disabled");
    } finally {
      kms.proxy.setReplicaCreatingMs(0);
    }
  });

  it("brings back a replica scheduled for deletion out of band: read shows PendingDeletion, the update cancels and enables it, same ARN", async () => {
    const { inputs, id, outs } = await newReplica({ description: "keep me", tags: { team: "payments" } });
    const arn = outs.arn as string;
    await by(REPLICA_REGION).send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));

    kms.proxy.resetCounts();
    const read = await replicas.read(id, outs);
    figures["refresh (read)"] = count(kms.proxy.callLog);
    expect(read.props).to.include({ arn, keyState: "PendingDeletion", primaryKeyArn: inputs.primaryKeyArn });
    expect(Date.parse(read.props.deletionDate)).to.be.greaterThan(Date.now());
    expect(read.inputs).to.include({ keyState: "PendingDeletion" });
    expect(
      kms.proxy.callLog.every((c) => c.region === REPLICA_REGION),
      "read in the replica's own Region",
    ).to.equal(true);

    const diff = await replicas.diff(id, read.props, inputs);
    expect(diff).to.deep.include({ changes: true, replaces: [] });

    kms.proxy.resetCounts();
    const updated = await replicas.update(id, read.props, inputs);
    figures["recover (update after refresh)"] = count(kms.proxy.callLog);
    expect(kms.proxy.writes()).to.deep.equal(["CancelKeyDeletion", "EnableKey"]);
    expect(updated.outs).to.include({ arn, keyState: "Enabled", enabled: true, description: "keep me" });
    expect(updated.outs).to.not.have.property("deletionDate");
    expect((await describeIn(REPLICA_REGION, arn)).KeyState).to.equal("Enabled");
    expect(kms.proxy.calls("ReplicateKey")).to.equal(0);

    // Without a refresh read first (a plain `pulumi up`): one DescribeKey orders the calls.
    await by(REPLICA_REGION).send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    kms.proxy.resetCounts();
    await replicas.update(id, { ...(updated.outs as Props), keyState: "PendingDeletion" }, inputs);
    figures["recover (update, no refresh)"] = count(kms.proxy.callLog);
    expect(kms.proxy.callLog.map((c) => c.operation)).to.deep.equal(["DescribeKey", "CancelKeyDeletion", "EnableKey"]);
  });

  it("brings back a replica declared disabled: cancelled, left Disabled, EnableKey never called", async () => {
    const { inputs, id, outs } = await newReplica({ enabled: false });
    await by(REPLICA_REGION).send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    const read = await replicas.read(id, outs);
    expect((await replicas.diff(id, read.props, inputs)).replaces).to.deep.equal([]);
    kms.proxy.resetCounts();
    const updated = await replicas.update(id, read.props, inputs);
    expect(kms.proxy.writes()).to.deep.equal(["CancelKeyDeletion"]);
    expect(updated.outs).to.include({ arn: outs.arn, keyState: "Disabled", enabled: false });
    expect((await describeIn(REPLICA_REGION, outs.arn as string)).KeyState).to.equal("Disabled");
  });

  it("updates only the replica: description, policy, tags and enabled in its own Region; the primary keeps its own", async () => {
    const { primary, inputs, id, outs } = await newReplica({ description: "before", tags: { a: "1" } });
    const news = await checkedReplica({
      primaryKeyArn: inputs.primaryKeyArn,
      description: "after",
      tags: { b: "2" },
      policy: OPEN_POLICY,
      enabled: false,
    });
    const diff = await replicas.diff(id, outs, news);
    expect(diff).to.deep.include({ changes: true, replaces: [] });
    kms.proxy.resetCounts();
    const updated = await replicas.update(id, outs, news);
    expect(kms.proxy.writes()).to.deep.equal([
      "UpdateKeyDescription",
      "PutKeyPolicy",
      "UntagResource",
      "TagResource",
      "DisableKey",
    ]);
    expect(kms.proxy.callLog.every((c) => c.region === REPLICA_REGION)).to.equal(true);
    expect(updated.outs).to.include({ description: "after", keyState: "Disabled" });
    expect(await tagsOf(by(REPLICA_REGION), outs.arn as string)).to.deep.equal({ b: "2" });
    expect((await describeIn(PRIMARY_REGION, primary.outs.arn as string)).Description).to.equal("primary");
    expect(await tagsOf(by(PRIMARY_REGION), primary.outs.arn as string)).to.deep.equal({});
  });

  it("a Region whose replica is pending deletion: ReplicateKey's AlreadyExistsException, then that replica is taken back (cancelled, enabled, as declared), the same ARN", async () => {
    const primary = await primaryKey();
    const made = await by(PRIMARY_REGION).send(
      new ReplicateKeyCommand({ KeyId: primary.id, ReplicaRegion: REPLICA_REGION, Description: "old replica" }),
    );
    const arn = made.ReplicaKeyMetadata!.Arn!;
    await by(REPLICA_REGION).send(new ScheduleKeyDeletionCommand({ KeyId: primary.id, PendingWindowInDays: 7 }));

    const inputs = await checkedReplica({
      primaryKeyArn: primary.outs.arn,
      description: "taken back",
      tags: { t: "1" },
    });
    kms.proxy.resetCounts();
    const created = await replicas.create(inputs);
    figures["create over one pending deletion"] = count(kms.proxy.callLog);
    const log = kms.proxy.callLog;
    expect(log.find((c) => c.operation === "ReplicateKey")).to.include({
      status: 400,
      error: "AlreadyExistsException",
    });
    expect(kms.proxy.writes()).to.deep.equal([
      "ReplicateKey",
      "CancelKeyDeletion",
      "EnableKey",
      "UpdateKeyDescription",
      "TagResource",
      "TagResource",
    ]);
    const outs = created.outs as Props;
    expect(outs).to.include({ arn, keyState: "Enabled", description: "taken back" });
    expect(outs.ownerTag, "taken back as an adoption: the owner tag").to.be.a("string");
    expect((await describeIn(REPLICA_REGION, arn)).KeyState).to.equal("Enabled");
    expect(await tagsOf(by(REPLICA_REGION), arn)).to.deep.include({ t: "1", "pulumi-kms-key:owner": outs.ownerTag });

    // Its own destroy, in a later deployment's provider process, schedules it again.
    await new ReplicaProvider().delete(created.id, outs);
    expect((await describeIn(REPLICA_REGION, arn)).KeyState).to.equal("PendingDeletion");
  });

  it("a Region whose replica is live: refused, naming it and the import option; with the import option it is adopted", async () => {
    const primary = await primaryKey();
    const made = await by(PRIMARY_REGION).send(
      new ReplicateKeyCommand({ KeyId: primary.id, ReplicaRegion: REPLICA_REGION, Description: "someone's" }),
    );
    const arn = made.ReplicaKeyMetadata!.Arn!;
    const inputs = await checkedReplica({ primaryKeyArn: primary.outs.arn, description: "mine" });
    kms.proxy.resetCounts();
    const refused = await replicas.create(inputs).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(refused?.message).to.include(
      `KMS already has a replica of ${primary.outs.arn} in ${REPLICA_REGION}: ${arn}`,
    );
    expect(refused?.message).to.include(`add the import resource option: { import: "${arn}" }`);
    expect(kms.proxy.writes(), "nothing changed").to.deep.equal(["ReplicateKey"]);
    expect((await describeIn(REPLICA_REGION, arn)).Description).to.equal("someone's");

    const importing = await checkedReplica({ primaryKeyArn: primary.outs.arn, description: "mine", importKeyId: arn });
    const adopted = await replicas.create(importing);
    expect(adopted.outs).to.include({ arn, description: "mine", keyState: "Enabled" });
    expect((adopted.outs as Props).ownerTag).to.be.a("string");
    expect(kms.proxy.calls("ReplicateKey"), "an import makes no replica").to.equal(1);

    // The import option naming a key of another family or Region is refused, saying which.
    const other = await primaryKey();
    const wrong = await checkedReplica({ primaryKeyArn: other.outs.arn, importKeyId: arn });
    const mismatch = await replicas.create(wrong).then(
      () => "",
      (err: Error) => err.message,
    );
    expect(mismatch).to.include(`its primary key is "${primary.outs.arn}" but the program declares primaryKeyArn`);
  });

  it("a primary scheduled while its replica exists is PendingReplicaDeletion (no date); KmsKey's refresh and update bring it back", async () => {
    const { primary, outs: replica } = await newReplica();
    const primaryArn = primary.outs.arn as string;
    await by(PRIMARY_REGION).send(new ScheduleKeyDeletionCommand({ KeyId: primary.id, PendingWindowInDays: 7 }));
    const scheduled = await describeIn(PRIMARY_REGION, primaryArn);
    expect(scheduled.KeyState).to.equal("PendingReplicaDeletion");
    expect(scheduled.DeletionDate).to.equal(undefined);
    expect((await describeIn(REPLICA_REGION, replica.arn as string)).KeyState, "the replica is unaffected").to.equal(
      "Enabled",
    );

    const read = await kms.provider.read(primary.id, primary.outs);
    expect(read.props).to.include({ keyState: "PendingReplicaDeletion" });
    expect(read.props).to.not.have.property("deletionDate");
    expect((await kms.provider.diff(primary.id, read.props, primary.inputs)).replaces).to.deep.equal([]);
    kms.proxy.resetCounts();
    const updated = await kms.provider.update(primary.id, read.props, primary.inputs);
    expect(kms.proxy.writes()).to.deep.equal(["CancelKeyDeletion", "EnableKey"]);
    expect(updated.outs).to.include({ arn: primaryArn, keyState: "Enabled" });
    expect((await describeIn(PRIMARY_REGION, primaryArn)).KeyState).to.equal("Enabled");
  });

  it("destroy in the engine's order, replica then primary, schedules both with their windows: PendingDeletion, then PendingReplicaDeletion", async () => {
    const primary = await primaryKey({ deletionWindowInDays: 9 });
    const inputs = await checkedReplica({ primaryKeyArn: primary.outs.arn, deletionWindowInDays: 8 });
    const replica = await replicas.create(inputs);
    const replicaArn = (replica.outs as Props).arn as string;
    const destroyedAt = Date.now();
    kms.proxy.resetCounts();
    await replicas.delete(replica.id, replica.outs as Props);
    figures["destroy"] = count(kms.proxy.callLog);
    await kms.provider.delete(primary.id, primary.outs);
    const replicaNow = await describeIn(REPLICA_REGION, replicaArn);
    expect(replicaNow.KeyState).to.equal("PendingDeletion");
    expect((replicaNow.DeletionDate!.getTime() - destroyedAt) / DAY_MS).to.be.closeTo(8, 0.05);
    const primaryNow = await describeIn(PRIMARY_REGION, primary.outs.arn as string);
    expect(primaryNow.KeyState).to.equal("PendingReplicaDeletion");
    expect(primaryNow.DeletionDate).to.equal(undefined);
    expect(
      kms.proxy.callLog.filter((c) => c.operation === "ScheduleKeyDeletion").map((c) => `${c.region}:${c.status}`),
    ).to.deep.equal([`${REPLICA_REGION}:200`, `${PRIMARY_REGION}:200`]);

    // The other order (a program that names the primary's ARN as a string): the primary first, then its replica.
    const second = await newReplica();
    await kms.provider.delete(second.primary.id, second.primary.outs);
    await replicas.delete(second.id, second.outs);
    expect((await describeIn(PRIMARY_REGION, second.primary.outs.arn as string)).KeyState).to.equal(
      "PendingReplicaDeletion",
    );
    expect((await describeIn(REPLICA_REGION, second.outs.arn as string)).KeyState).to.equal("PendingDeletion");
  });

  it("a lost ReplicateKey answer (KMS made the replica, then answered 500): the replica found is this create's, with one ReplicateKey", async () => {
    const primary = await primaryKey();
    const inputs = await checkedReplica({ primaryKeyArn: primary.outs.arn, description: "lost answer" });
    kms.proxy.resetCounts();
    kms.proxy.addFault({ operation: "ReplicateKey", kind: "internalAfter", times: 1 });
    const created = await replicas.create(inputs);
    figures["create, answer lost"] = count(kms.proxy.callLog);
    expect(kms.proxy.calls("ReplicateKey")).to.equal(1);
    expect(created.outs).to.include({ keyState: "Enabled", description: "lost answer", region: REPLICA_REGION });
    expect(calls()).to.deep.equal([
      `DescribeKey@${PRIMARY_REGION}`,
      `ReplicateKey@${PRIMARY_REGION}`,
      `DescribeKey@${REPLICA_REGION}`,
    ]);
  });

  it("a lost answer whose lookup fails: the retry's AlreadyExistsException names a replica that was not there before, so it is this create's", async () => {
    const primary = await primaryKey();
    const inputs = await checkedReplica({ primaryKeyArn: primary.outs.arn, description: "lost, retried" });
    kms.proxy.resetCounts();
    kms.proxy.addFault({
      operation: "ReplicateKey",
      kind: "resetAfter",
      times: 1,
      // Once KMS made the replica: the lookup that follows is denied.
      whileHeld: async () => kms.proxy.addFault({ operation: "DescribeKey", kind: "accessDenied", times: 1 }),
    });
    const created = await replicas.create(inputs);
    expect(
      kms.proxy.callLog.filter((c) => c.operation === "ReplicateKey").map((c) => c.error ?? c.status),
    ).to.deep.equal(["reset", "AlreadyExistsException"]);
    expect(created.outs).to.include({ keyState: "Enabled", description: "lost, retried" });
    expect((created.outs as Props).ownerTag, "its own replica, not an adoption").to.equal(undefined);
  });

  it("a lost answer, and the Region had a replica pending deletion before: not taken for this create's", async () => {
    const primary = await primaryKey();
    await by(PRIMARY_REGION).send(new ReplicateKeyCommand({ KeyId: primary.id, ReplicaRegion: REPLICA_REGION }));
    await by(REPLICA_REGION).send(new ScheduleKeyDeletionCommand({ KeyId: primary.id, PendingWindowInDays: 7 }));
    const inputs = await checkedReplica({ primaryKeyArn: primary.outs.arn });
    kms.proxy.resetCounts();
    kms.proxy.addFault({ operation: "ReplicateKey", kind: "internal", times: 1 });
    const created = await replicas.create(inputs);
    // Taken back as a replica pending deletion is (the owner tag), not found as a new one.
    expect((created.outs as Props).ownerTag).to.be.a("string");
    expect(kms.proxy.writes().slice(0, 3)).to.deep.equal(["ReplicateKey", "ReplicateKey", "CancelKeyDeletion"]);
  });

  it("a call after ReplicateKey fails: the error carries the replica's id and properties, so the engine keeps tracking it", async () => {
    const primary = await primaryKey();
    const inputs = await checkedReplica({ primaryKeyArn: primary.outs.arn, enabled: false });
    kms.proxy.addFault({ operation: "DisableKey", kind: "accessDenied" });
    const err = (await replicas.create(inputs).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { id?: string; properties?: Props };
    expect(err?.message).to.include("kms:DisableKey");
    expect(err.id).to.equal(primary.id);
    expect(err.properties).to.include({ primaryKeyArn: primary.outs.arn, region: REPLICA_REGION, keyState: "Enabled" });
    expect(String(err.properties?.arn).split(":")[3]).to.equal(REPLICA_REGION);
    expect(JSON.stringify(err.properties)).to.not.include("keyUsage");
  });

  it("KmsReplicaKey.get reads a replica by its ARN and never changes it; a primary's ARN is refused", async () => {
    const { primary, outs } = await newReplica({ description: "read me", tags: { a: "1" } });
    await by(REPLICA_REGION).send(new DisableKeyCommand({ KeyId: primary.id }));
    kms.proxy.resetCounts();
    // What a get gives: no state, only the endpoint of the run.
    const read = await replicas.read(outs.arn as string, { endpoint: kms.endpoint });
    expect(kms.proxy.writes()).to.deep.equal([]);
    expect(read.props).to.include({
      arn: outs.arn,
      keyState: "Disabled",
      description: "read me",
      primaryKeyArn: primary.outs.arn,
      region: REPLICA_REGION,
    });
    expect(read.props.tags).to.deep.equal({ a: "1" });
    expect(read.props.policy, "a read names the policy").to.be.a("string");
    const refused = await replicas.read(primary.outs.arn as string, { endpoint: kms.endpoint }).then(
      () => "",
      (err: Error) => err.message,
    );
    expect(refused).to.include("is not a multi-Region replica key (it is a multi-Region primary key)");
    const byId = await replicas.read(primary.id, { endpoint: kms.endpoint }).then(
      () => "",
      (err: Error) => err.message,
    );
    expect(byId).to.include("give its key ARN");
  });

  it("refuses to replicate a replica, naming its primary; and a disabled primary, saying what KMS needs", async () => {
    const { primary, outs } = await newReplica();
    const ofReplica = await checkedReplica({ primaryKeyArn: outs.arn, region: "ap-southeast-2" });
    const refused = await replicas.create(ofReplica).then(
      () => "",
      (err: Error) => err.message,
    );
    expect(refused).to.include(`it is itself a replica key`);
    expect(refused).to.include(`its primary key is ${primary.outs.arn}`);

    await by(PRIMARY_REGION).send(new DisableKeyCommand({ KeyId: primary.id }));
    const ofDisabled = await checkedReplica({ primaryKeyArn: primary.outs.arn, region: "ap-southeast-2" });
    const disabled = await replicas.create(ofDisabled).then(
      () => "",
      (err: Error) => err.message,
    );
    expect(disabled).to.match(/ReplicateKey needs KMS key \S+ to be Enabled/);
  });
});
