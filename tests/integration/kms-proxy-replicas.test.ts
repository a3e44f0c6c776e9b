// The local KMS's multi-Region key families, rule by rule (testing/kms/replicas.ts): what KMS documents and moto 5.2.1
// does differently. Each test shows moto's own answer where it differs, then the proxy's.
// The provider's schemas first: loaded first (through testing/kms/quotas.ts), provider/validation.ts meets its require
// cycle (validation -> keyAddress -> inputs -> key/schema -> validation) half-made, as a lone kms-proxy-fidelity run does.
import "../../provider/replica/schema";
import { expect } from "chai";
import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  GetKeyPolicyCommand,
  KeyMetadata,
  KMSClient,
  ListResourceTagsCommand,
  ReplicateKeyCommand,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import { AWS_KMS_QUOTAS } from "../../provider/kms/quotas";
import { outOfBand } from "../../testing/kms/out-of-band";
import { KmsProxy } from "../../testing/kms/proxy";
import { startKmsServerWithProxy } from "../../testing/kms/server";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Sid: "x", Effect: "Allow", Principal: { AWS: "*" }, Action: "kms:*", Resource: "*" }],
});

async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

describe("KmsProxy: multi-Region key families as KMS has them", function () {
  this.timeout(60_000);
  let env: Awaited<ReturnType<typeof startKmsServerWithProxy>>;
  let proxy: KmsProxy;
  const clients: KMSClient[] = [];
  /** Through the proxy, in a Region. */
  let kms: (region: string) => KMSClient;
  /** Straight to moto, in a Region. */
  let moto: (region: string) => KMSClient;

  before(async () => {
    env = await startKmsServerWithProxy();
    proxy = env.proxy;
    const made: Record<string, KMSClient> = {};
    const client = (endpoint: string, region: string) => {
      const key = `${endpoint}|${region}`;
      if (!made[key]) clients.push((made[key] = outOfBand(endpoint, region)));
      return made[key];
    };
    kms = (region) => client(env.endpoint, region);
    moto = (region) => client(env.server.endpoint, region);
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await env?.stop();
  });
  afterEach(() => {
    proxy.clearFaults();
    proxy.setQuotas({});
    proxy.setReplicaCreatingMs(0);
  });

  const describeKey = async (client: KMSClient, keyId: string): Promise<KeyMetadata> =>
    (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;

  async function primary(description = "primary"): Promise<KeyMetadata> {
    return (await kms("us-east-1").send(new CreateKeyCommand({ MultiRegion: true, Description: description })))
      .KeyMetadata!;
  }

  async function replicate(key: KeyMetadata, region = "eu-west-1", more = {}): Promise<KeyMetadata> {
    const out = await kms("us-east-1").send(
      new ReplicateKeyCommand({ KeyId: key.KeyId, ReplicaRegion: region, ...more }),
    );
    return out.ReplicaKeyMetadata!;
  }

  it("ReplicateKey answers AlreadyExistsException while the Region has a replica, live or pending deletion; once it is deleted, a new one is made", async () => {
    const key = await primary();
    const replica = await replicate(key);
    const live = await rejects(replicate(key));
    expect(live.name).to.equal("AlreadyExistsException");
    expect(live.message).to.include(replica.Arn);

    await kms("eu-west-1").send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
    expect((await rejects(replicate(key))).name, "pending deletion").to.equal("AlreadyExistsException");
    // moto itself makes another replica over the first one.
    await moto("us-east-1").send(new ReplicateKeyCommand({ KeyId: key.KeyId, ReplicaRegion: "eu-west-1" }));

    proxy.deleteKeyAfter(replica.Arn!, 0);
    expect((await rejects(describeKey(kms("eu-west-1"), replica.Arn!))).name, "deleted for good").to.equal(
      "NotFoundException",
    );
    expect((await describeKey(kms("us-east-1"), key.Arn!)).MultiRegionConfiguration?.ReplicaKeys).to.deep.equal([]);
    const again = await replicate(key);
    expect(again.Arn, "the same ARN, made anew").to.equal(replica.Arn);
    expect((await describeKey(kms("eu-west-1"), replica.Arn!)).KeyState).to.equal("Enabled");
    // Another Region is another replica.
    await replicate(key, "ap-southeast-2");
  });

  it("ReplicateKey, row by row of the key state table: the primary must be Enabled", async () => {
    const disabled = await primary();
    await kms("us-east-1").send(new DisableKeyCommand({ KeyId: disabled.KeyId }));
    // Row ReplicateKey, Disabled: [1] DisabledException.
    expect((await rejects(replicate(disabled))).name).to.equal("DisabledException");

    const pending = await primary();
    await kms("us-east-1").send(new ScheduleKeyDeletionCommand({ KeyId: pending.KeyId, PendingWindowInDays: 7 }));
    // Pending deletion: [3].
    const refused = await rejects(replicate(pending));
    expect(refused.name).to.equal("KMSInvalidStateException");
    expect(refused.message).to.include("is pending deletion");

    for (const [state, message] of [
      ["PendingImport", "is pending import"], // [5]
      ["Creating", "is creating"], // [14]
      ["Updating", "is updating"], // [15]
      ["PendingReplicaDeletion", "is pending deletion"], // [3]
    ]) {
      const key = await primary();
      proxy.overrideKeyState(key.Arn!, state);
      try {
        const err = await rejects(replicate(key));
        expect(err.name, state).to.equal("KMSInvalidStateException");
        expect(err.message, state).to.include(message);
      } finally {
        proxy.overrideKeyState(key.Arn!, undefined);
      }
    }
    // moto replicates a disabled primary all the same.
    await moto("us-east-1").send(new ReplicateKeyCommand({ KeyId: disabled.KeyId, ReplicaRegion: "eu-west-1" }));
  });

  it("ReplicateKey replicates only a multi-Region primary key: a single-Region key or a replica is UnsupportedOperationException", async () => {
    const single = (await kms("us-east-1").send(new CreateKeyCommand({}))).KeyMetadata!;
    expect((await rejects(replicate(single))).name).to.equal("UnsupportedOperationException");
    // moto answers HTTP 500 for it.
    const motoAnswer = await rejects(
      moto("us-east-1").send(new ReplicateKeyCommand({ KeyId: single.KeyId, ReplicaRegion: "eu-west-1" })),
    );
    expect((motoAnswer as Error & { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).to.equal(500);

    const key = await primary();
    await replicate(key);
    const ofReplica = await rejects(
      kms("eu-west-1").send(new ReplicateKeyCommand({ KeyId: key.KeyId, ReplicaRegion: "ap-southeast-2" })),
    );
    expect(ofReplica.name).to.equal("UnsupportedOperationException");
    expect(ofReplica.message).to.include(key.Arn);
  });

  it("a replica has the description, policy and tags ReplicateKey gives, not its primary's; else no description, the default policy, no tags", async () => {
    const key = await primary("the primary's description");
    const out = await kms("us-east-1").send(
      new ReplicateKeyCommand({
        KeyId: key.KeyId,
        ReplicaRegion: "eu-west-1",
        Description: "the replica's",
        Policy: POLICY,
        Tags: [{ TagKey: "team", TagValue: "eu" }],
      }),
    );
    expect(out.ReplicaKeyMetadata).to.include({ Description: "the replica's" });
    expect(out.ReplicaKeyMetadata?.MultiRegionConfiguration?.MultiRegionKeyType).to.equal("REPLICA");
    expect(JSON.parse(out.ReplicaPolicy!)).to.deep.equal(JSON.parse(POLICY));
    expect(out.ReplicaTags).to.deep.equal([{ TagKey: "team", TagValue: "eu" }]);
    const arn = out.ReplicaKeyMetadata!.Arn!;
    expect((await describeKey(kms("eu-west-1"), arn)).Description).to.equal("the replica's");
    const policy = await kms("eu-west-1").send(new GetKeyPolicyCommand({ KeyId: arn, PolicyName: "default" }));
    expect(JSON.parse(policy.Policy!)).to.deep.equal(JSON.parse(POLICY));
    const tags = await kms("eu-west-1").send(new ListResourceTagsCommand({ KeyId: arn }));
    expect(tags.Tags).to.deep.equal([{ TagKey: "team", TagValue: "eu" }]);

    const bare = await primary("described");
    const plain = await kms("us-east-1").send(
      new ReplicateKeyCommand({ KeyId: bare.KeyId, ReplicaRegion: "eu-west-1" }),
    );
    expect(plain.ReplicaKeyMetadata?.Description).to.equal("");
    expect(plain.ReplicaTags).to.deep.equal([]);
    expect(JSON.parse(plain.ReplicaPolicy!).Id).to.equal("key-default-1");
    // moto itself gives the replica its primary's description.
    const copied = await primary("copied by moto");
    const motoReplica = await moto("us-east-1").send(
      new ReplicateKeyCommand({ KeyId: copied.KeyId, ReplicaRegion: "eu-west-1", Description: "asked for" }),
    );
    expect(motoReplica.ReplicaKeyMetadata?.Description).to.equal("copied by moto");
  });

  it("a primary scheduled for deletion while it has replicas (live or pending deletion) is PendingReplicaDeletion, without a deletion date; cancelled, it is Disabled", async () => {
    const key = await primary();
    const replica = await replicate(key);
    const scheduled = await kms("us-east-1").send(
      new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }),
    );
    expect(scheduled).to.include({ KeyState: "PendingReplicaDeletion", PendingWindowInDays: 7 });
    expect(scheduled.DeletionDate).to.equal(undefined);
    const meta = await describeKey(kms("us-east-1"), key.Arn!);
    expect(meta).to.include({ KeyState: "PendingReplicaDeletion", Enabled: false });
    expect(meta.DeletionDate).to.equal(undefined);
    expect((await describeKey(moto("us-east-1"), key.KeyId!)).KeyState, "moto itself").to.equal("PendingDeletion");
    // The replica, which shares the key ID, is unaffected.
    expect((await describeKey(kms("eu-west-1"), replica.Arn!)).KeyState).to.equal("Enabled");
    // Row CancelKeyDeletion: ✓ for PendingReplicaDeletion.
    await kms("us-east-1").send(new CancelKeyDeletionCommand({ KeyId: key.KeyId }));
    expect((await describeKey(kms("us-east-1"), key.Arn!)).KeyState).to.equal("Disabled");

    // With its replica pending deletion first, the primary still waits for it.
    const second = await primary();
    const secondReplica = await replicate(second);
    await kms("eu-west-1").send(new ScheduleKeyDeletionCommand({ KeyId: second.KeyId, PendingWindowInDays: 7 }));
    await kms("us-east-1").send(new ScheduleKeyDeletionCommand({ KeyId: second.KeyId, PendingWindowInDays: 7 }));
    expect((await describeKey(kms("us-east-1"), second.Arn!)).KeyState).to.equal("PendingReplicaDeletion");
    expect((await describeKey(kms("eu-west-1"), secondReplica.Arn!)).KeyState).to.equal("PendingDeletion");

    // Without replicas, a primary is PendingDeletion with its date.
    const alone = await primary();
    const out = await kms("us-east-1").send(
      new ScheduleKeyDeletionCommand({ KeyId: alone.KeyId, PendingWindowInDays: 7 }),
    );
    expect(out.KeyState).to.equal("PendingDeletion");
    expect(out.DeletionDate).to.be.a("date");
  });

  it("DescribeKey says PRIMARY for the primary key once its replica was described (moto's family shares one configuration)", async () => {
    const key = await primary();
    const replica = await replicate(key);
    expect((await describeKey(moto("eu-west-1"), replica.Arn!)).MultiRegionConfiguration?.MultiRegionKeyType).to.equal(
      "REPLICA",
    );
    expect(
      (await describeKey(moto("us-east-1"), key.Arn!)).MultiRegionConfiguration?.MultiRegionKeyType,
      "moto",
    ).to.equal("REPLICA");
    expect((await describeKey(kms("us-east-1"), key.Arn!)).MultiRegionConfiguration?.MultiRegionKeyType).to.equal(
      "PRIMARY",
    );
    expect((await describeKey(kms("eu-west-1"), replica.Arn!)).MultiRegionConfiguration?.MultiRegionKeyType).to.equal(
      "REPLICA",
    );
  });

  it("a new replica is Creating for a while, when set: DisableKey is refused then ([14]), and allowed once it is Enabled", async () => {
    proxy.setReplicaCreatingMs(800);
    const key = await primary();
    const replica = await replicate(key);
    expect(replica).to.include({ KeyState: "Creating", Enabled: false });
    expect((await describeKey(kms("eu-west-1"), replica.Arn!)).KeyState).to.equal("Creating");
    const refused = await rejects(kms("eu-west-1").send(new DisableKeyCommand({ KeyId: key.KeyId })));
    expect(refused.name).to.equal("KMSInvalidStateException");
    expect(refused.message).to.include("is creating");
    // The primary, same key ID, is not Creating.
    expect((await describeKey(kms("us-east-1"), key.Arn!)).KeyState).to.equal("Enabled");
    await new Promise((resolve) => setTimeout(resolve, 900));
    expect((await describeKey(kms("eu-west-1"), replica.Arn!)).KeyState).to.equal("Enabled");
    await kms("eu-west-1").send(new DisableKeyCommand({ KeyId: key.KeyId }));
  });

  it("an override by key ARN holds in that Region only; by key ID, in every Region", async () => {
    const key = await primary();
    const replica = await replicate(key);
    proxy.overrideKeyState(key.Arn!, "Unavailable");
    try {
      expect((await describeKey(kms("us-east-1"), key.KeyId!)).KeyState).to.equal("Unavailable");
      expect((await describeKey(kms("eu-west-1"), key.KeyId!)).KeyState).to.equal("Enabled");
    } finally {
      proxy.overrideKeyState(key.Arn!, undefined);
    }
    proxy.overrideKeyState(key.KeyId!, "Unavailable");
    try {
      expect((await describeKey(kms("eu-west-1"), replica.Arn!)).KeyState).to.equal("Unavailable");
    } finally {
      proxy.overrideKeyState(key.KeyId!, undefined);
    }
    expect((await describeKey(kms("us-east-1"), key.KeyId!)).KeyState).to.equal("Enabled");
  });

  it("quotas: ReplicateKey counts as one ReplicateKey in the primary's Region and two CreateKey in the replica's", async () => {
    const keys = await Promise.all([primary(), primary()]);
    proxy.setQuotas({ ...AWS_KMS_QUOTAS, CreateKey: 3 });
    proxy.resetCounts();
    await replicate(keys[0], "eu-west-1");
    // One CreateKey request is left in eu-west-1 this second: a second replica there (two) is throttled.
    const throttled = await rejects(replicate(keys[1], "eu-west-1"));
    expect(throttled.name).to.equal("ThrottlingException");
    expect(proxy.callLog.at(-1)).to.include({ operation: "ReplicateKey", fault: "quota" });
    // Other Regions have their own quotas: CreateKey in us-east-1, a replica in ap-southeast-2.
    await kms("us-east-1").send(new CreateKeyCommand({}));
    await replicate(keys[1], "ap-southeast-2");
    await new Promise((resolve) => setTimeout(resolve, 700));
    await replicate(keys[1], "eu-west-1");
    // ReplicateKey's own quota (5 per second) is the primary's Region's.
    expect(AWS_KMS_QUOTAS.ReplicateKey).to.equal(5);
  });
});
