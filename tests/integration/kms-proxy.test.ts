// The test-support layer itself: moto's KMS server behind KmsProxy, driven by the real AWS SDK client.
import { expect } from "chai";
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  KeyMetadata,
  ListAliasesCommand,
  ListKeyPoliciesCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
} from "@aws-sdk/client-kms";
import { KmsProxy } from "../../testing/kms/proxy";
import { startKmsServer, startKmsServerWithProxy } from "../../testing/kms/server";

type Env = Awaited<ReturnType<typeof startKmsServerWithProxy>>;

interface SdkError extends Error {
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

function client(endpoint: string, maxAttempts?: number): KMSClient {
  return new KMSClient({
    region: "us-east-1",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    endpoint,
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
  });
}

async function rejects(p: Promise<unknown>): Promise<SdkError> {
  try {
    await p;
  } catch (err) {
    return err as SdkError;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

function isNetworkError(err: SdkError): boolean {
  return (
    ["ECONNRESET", "EPIPE", "ECONNABORTED"].includes(err.code ?? "") ||
    /socket hang up|ECONNRESET|EPIPE/i.test(err.message)
  );
}

const POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [
    {
      Sid: "root",
      Effect: "Allow",
      Principal: { AWS: "arn:aws:iam::123456789012:root" },
      Action: "kms:*",
      Resource: "*",
    },
  ],
});

describe("KmsProxy in front of moto (testing/kms)", function () {
  this.timeout(60_000);

  let env: Env;
  let proxy: KmsProxy;
  /** Through the proxy, no retries: sees raw faults. */
  let kms: KMSClient;
  /** Straight to moto: ground truth. */
  let direct: KMSClient;

  before(async () => {
    env = await startKmsServerWithProxy();
    proxy = env.proxy;
    kms = client(env.endpoint, 1);
    direct = client(env.server.endpoint, 1);
  });

  after(async () => {
    kms?.destroy();
    direct?.destroy();
    await env?.stop();
  });

  afterEach(() => {
    proxy.clearFaults();
    proxy.setQuota(undefined);
  });

  async function newKey(c: KMSClient = kms): Promise<KeyMetadata> {
    const out = await c.send(new CreateKeyCommand({ Description: "kms-proxy test" }));
    return out.KeyMetadata!;
  }

  async function stateOf(keyId: string, c: KMSClient = direct): Promise<string | undefined> {
    return (await c.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState;
  }

  async function countKeys(): Promise<number> {
    let n = 0;
    let marker: string | undefined;
    do {
      const out = await direct.send(new ListKeysCommand({ Limit: 1000, Marker: marker }));
      n += out.Keys?.length ?? 0;
      marker = out.Truncated ? out.NextMarker : undefined;
    } while (marker);
    return n;
  }

  async function pendingDeletionKey(): Promise<KeyMetadata> {
    const key = await newKey();
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
    expect(await stateOf(key.KeyId!)).to.equal("PendingDeletion");
    return key;
  }

  async function disabledKey(): Promise<KeyMetadata> {
    const key = await newKey();
    await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    expect(await stateOf(key.KeyId!)).to.equal("Disabled");
    return key;
  }

  /** The words of the key state table's footnotes for each refused state. */
  const TABLE_WORDS: Record<string, string> = {
    Disabled: "is disabled",
    PendingDeletion: "is pending deletion",
    PendingReplicaDeletion: "is pending deletion",
    PendingImport: "is pending import",
    Unavailable: "is unavailable",
    Creating: "is creating",
    Updating: "is updating",
  };

  async function expectInvalidState(p: Promise<unknown>, state?: string): Promise<void> {
    const err = await rejects(p);
    expect(err.name).to.equal("KMSInvalidStateException");
    expect(err.$metadata?.httpStatusCode).to.equal(400);
    if (state) expect(err.message).to.contain(TABLE_WORDS[state] ?? "is not pending deletion");
  }

  async function expectDisabled(p: Promise<unknown>): Promise<void> {
    const err = await rejects(p);
    expect(err.name, err.message).to.equal("DisabledException");
    expect(err.$metadata?.httpStatusCode).to.equal(400);
    expect(err.message).to.match(/ is disabled\.$/);
  }

  describe("forwarding and counting", () => {
    it("forwards CreateKey and DescribeKey to moto", async () => {
      const key = await newKey();
      expect(key.KeyId).to.match(/^[0-9a-f-]{36}$/);
      expect(key.KeyState).to.equal("Enabled");
      const viaProxy = await kms.send(new DescribeKeyCommand({ KeyId: key.Arn }));
      expect(viaProxy.KeyMetadata?.KeyId).to.equal(key.KeyId);
      expect(await stateOf(key.KeyId!)).to.equal("Enabled"); // moto really has it
    });

    it("passes moto's errors through", async () => {
      const err = await rejects(kms.send(new DescribeKeyCommand({ KeyId: "11111111-2222-3333-4444-555555555555" })));
      expect(err.name).to.equal("NotFoundException");
      expect(proxy.callLog.at(-1)).to.include({ operation: "DescribeKey", status: 400, error: "NotFoundException" });
    });

    it("counts every request per operation, and resetCounts() clears", async () => {
      proxy.resetCounts();
      const key = await newKey();
      await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
      await kms.send(new DescribeKeyCommand({ KeyId: key.Arn }));
      expect(proxy.calls()).to.equal(3);
      expect(proxy.calls("CreateKey")).to.equal(1);
      expect(proxy.calls("DescribeKey")).to.equal(2);
      expect(proxy.calls("EnableKey")).to.equal(0);
      expect(proxy.callLog.map((e) => e.operation)).to.deep.equal(["CreateKey", "DescribeKey", "DescribeKey"]);
      expect(proxy.callLog[1]).to.include({ keyId: key.KeyId, status: 200 });
      expect(proxy.callLog[2]).to.include({ keyId: key.Arn, status: 200 });
      expect(proxy.callLog[1].at)
        .to.be.a("number")
        .within(Date.now() - 10_000, Date.now());
      proxy.resetCounts();
      expect(proxy.calls()).to.equal(0);
      expect(proxy.callLog).to.have.length(0);
    });

    it("does not count its own DescribeKey lookups", async () => {
      const key = await newKey();
      proxy.resetCounts();
      await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
      await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
      expect(proxy.calls()).to.equal(2);
      expect(proxy.calls("DescribeKey")).to.equal(0);
    });
  });

  describe("key-state rules", () => {
    it("refuses EnableKey and DisableKey on a key pending deletion (moto would allow them)", async () => {
      const key = await pendingDeletionKey();
      await expectInvalidState(kms.send(new EnableKeyCommand({ KeyId: key.KeyId })), "PendingDeletion");
      await expectInvalidState(kms.send(new DisableKeyCommand({ KeyId: key.KeyId })), "PendingDeletion");
      expect(await stateOf(key.KeyId!)).to.equal("PendingDeletion");
      const last = proxy.callLog.at(-1)!;
      expect(last).to.include({ operation: "DisableKey", status: 400, error: "KMSInvalidStateException" });
    });

    it("allows EnableKey and DisableKey on Enabled and Disabled keys", async () => {
      const key = await newKey();
      await kms.send(new EnableKeyCommand({ KeyId: key.KeyId })); // Enabled -> Enabled
      await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
      expect(await stateOf(key.KeyId!)).to.equal("Disabled");
      await kms.send(new DisableKeyCommand({ KeyId: key.KeyId })); // Disabled -> Disabled
      await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
      expect(await stateOf(key.KeyId!)).to.equal("Enabled");
    });

    it("refuses CancelKeyDeletion unless the key is pending deletion", async () => {
      const key = await newKey();
      await expectInvalidState(kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId })), "Enabled");
      await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
      await kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId }));
      expect(await stateOf(key.KeyId!)).to.equal("Disabled");
    });

    it("refuses ScheduleKeyDeletion on a key already pending deletion", async () => {
      const key = await newKey();
      await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
      await expectInvalidState(
        kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 })),
        "PendingDeletion",
      );
    });

    it("allows ScheduleKeyDeletion on a Disabled key", async () => {
      const key = await disabledKey();
      await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
      expect(await stateOf(key.KeyId!)).to.equal("PendingDeletion");
    });

    it("refuses rotation changes on a Disabled key with DisabledException (table rows Enable/DisableKeyRotation, [1])", async () => {
      const key = await disabledKey();
      await expectDisabled(kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId })));
      await expectDisabled(kms.send(new DisableKeyRotationCommand({ KeyId: key.KeyId })));
      expect(proxy.callLog.at(-1)).to.include({ operation: "DisableKeyRotation", error: "DisabledException" });
      await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
      await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId }));
      const status = await direct.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
      expect(status.KeyRotationEnabled).to.equal(true);
    });

    it("refuses tag and description changes on a key pending deletion, allows PutKeyPolicy (row PutKeyPolicy: ✓ in every state)", async () => {
      const pending = await pendingDeletionKey();
      const id = pending.KeyId!;
      await kms.send(new PutKeyPolicyCommand({ KeyId: id, PolicyName: "default", Policy: POLICY }));
      const policy = (await direct.send(new GetKeyPolicyCommand({ KeyId: id, PolicyName: "default" }))).Policy!;
      expect(JSON.parse(policy)).to.deep.equal(JSON.parse(POLICY));
      await expectInvalidState(kms.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: "a", TagValue: "b" }] })));
      await expectInvalidState(kms.send(new UntagResourceCommand({ KeyId: id, TagKeys: ["a"] })));
      await expectInvalidState(kms.send(new UpdateKeyDescriptionCommand({ KeyId: id, Description: "x" })));

      const disabled = await disabledKey();
      const d = disabled.KeyId!;
      await kms.send(new PutKeyPolicyCommand({ KeyId: d, PolicyName: "default", Policy: POLICY }));
      await kms.send(new TagResourceCommand({ KeyId: d, Tags: [{ TagKey: "a", TagValue: "b" }] }));
      await kms.send(new UpdateKeyDescriptionCommand({ KeyId: d, Description: "changed" }));
      const tags = await direct.send(new ListResourceTagsCommand({ KeyId: d }));
      expect(tags.Tags).to.deep.include({ TagKey: "a", TagValue: "b" });
      await kms.send(new UntagResourceCommand({ KeyId: d, TagKeys: ["a"] }));
      expect((await direct.send(new DescribeKeyCommand({ KeyId: d }))).KeyMetadata?.Description).to.equal("changed");
    });

    it("refuses cryptographic operations on a Disabled key with DisabledException, on a pending one with KMSInvalidStateException", async () => {
      const key = await disabledKey();
      const plaintext = Buffer.from("hello");
      await expectDisabled(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: plaintext })));
      await expectDisabled(kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: "AES_256" })));
      const pending = await pendingDeletionKey();
      await expectInvalidState(
        kms.send(new EncryptCommand({ KeyId: pending.KeyId, Plaintext: plaintext })),
        "PendingDeletion",
      );
      await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
      const out = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: plaintext }));
      expect(out.CiphertextBlob?.length).to.be.greaterThan(0);
    });

    it("always allows the read operations, even on a key pending deletion", async () => {
      const key = await pendingDeletionKey();
      const id = key.KeyId!;
      expect((await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata?.KeyState).to.equal("PendingDeletion");
      expect((await kms.send(new GetKeyPolicyCommand({ KeyId: id, PolicyName: "default" }))).Policy).to.be.a("string");
      const rotation = await kms.send(new GetKeyRotationStatusCommand({ KeyId: id }));
      expect(rotation.KeyRotationEnabled, "GetKeyRotationStatus answers").to.be.a("boolean");
      expect((await kms.send(new ListResourceTagsCommand({ KeyId: id }))).Tags).to.be.an("array");
      expect((await kms.send(new ListKeyPoliciesCommand({ KeyId: id }))).PolicyNames).to.include("default");
    });

    it("resolves the key from an ARN of any service name or from an alias", async () => {
      const key = await newKey();
      const alias = `alias/kms-proxy-${key.KeyId}`;
      // Before the deletion is scheduled: KMS makes no alias for a key pending deletion.
      await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.KeyId }));
      await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
      // The seed's form (service verenc, no Region), in the key's own account: KMS finds keys only there.
      const oddArn = `arn:aws:verenc:${key.Arn!.split(":")[4]}:key/${key.KeyId}`;
      await expectInvalidState(kms.send(new EnableKeyCommand({ KeyId: oddArn })), "PendingDeletion");
      await expectInvalidState(kms.send(new EnableKeyCommand({ KeyId: key.Arn })), "PendingDeletion");
      await expectInvalidState(kms.send(new DisableKeyCommand({ KeyId: alias })), "PendingDeletion");
      const err = await rejects(kms.send(new EnableKeyCommand({ KeyId: key.KeyId })));
      expect(err.message).to.equal(`${key.Arn} is pending deletion.`);
    });

    it("forwards requests for unknown keys so moto answers NotFoundException", async () => {
      const err = await rejects(kms.send(new EnableKeyCommand({ KeyId: "99999999-2222-3333-4444-555555555555" })));
      expect(err.name).to.equal("NotFoundException");
      expect(proxy.callLog.at(-1)).to.include({ operation: "EnableKey", status: 400, error: "NotFoundException" });
    });

    it("does not enforce key states with enforceKeyStates: false (moto's own lax behaviour)", async () => {
      const lax = await KmsProxy.start({ target: env.server.endpoint, enforceKeyStates: false });
      const laxKms = client(lax.endpoint, 1);
      try {
        const key = await pendingDeletionKey();
        await laxKms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
        expect(await stateOf(key.KeyId!)).to.equal("Enabled");
        expect(lax.calls("EnableKey")).to.equal(1);
      } finally {
        laxKms.destroy();
        await lax.stop();
      }
    });
  });

  describe("aliases", () => {
    const targetOf = async (name: string, c: KMSClient = direct) => {
      for (let marker: string | undefined, first = true; first || marker; first = false) {
        const page = await c.send(new ListAliasesCommand({ Limit: 100, Marker: marker }));
        const found = page.Aliases?.find((alias) => alias.AliasName === name);
        if (found) return found.TargetKeyId;
        marker = page.Truncated ? page.NextMarker : undefined;
      }
      return undefined;
    };

    it("refuses CreateAlias and UpdateAlias to a key pending deletion; moves an alias off one, and deletes one on it", async () => {
      const [live, pending] = [await newKey(), await pendingDeletionKey()];
      const name = `alias/states-${live.KeyId}`;
      await expectInvalidState(
        kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: pending.Arn })),
        "PendingDeletion",
      );
      expect(await targetOf(name), "moto made no alias").to.equal(undefined);
      await direct.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: pending.KeyId }));
      // Only the state of the key an alias is pointed at counts: it leaves a key pending deletion freely.
      await kms.send(new UpdateAliasCommand({ AliasName: name, TargetKeyId: live.KeyId }));
      expect(await targetOf(name)).to.equal(live.KeyId);
      await expectInvalidState(
        kms.send(new UpdateAliasCommand({ AliasName: name, TargetKeyId: pending.KeyId })),
        "PendingDeletion",
      );
      await direct.send(new UpdateAliasCommand({ AliasName: name, TargetKeyId: pending.KeyId }));
      await kms.send(new DeleteAliasCommand({ AliasName: name }));
      expect(await targetOf(name)).to.equal(undefined);
    });

    it("answers ListAliases in pages of Limit (default 50) with NextMarker, as KMS does, and refuses a Limit over 100", async () => {
      const key = await newKey();
      for (let i = 0; i < 60; i++) {
        await direct.send(
          new CreateAliasCommand({ AliasName: `alias/page-${String(i).padStart(2, "0")}`, TargetKeyId: key.KeyId }),
        );
      }
      const all = (await direct.send(new ListAliasesCommand({}))).Aliases!.map((alias) => alias.AliasName!);
      const first = await kms.send(new ListAliasesCommand({}));
      expect(first.Aliases).to.have.length(50);
      expect(first.Truncated).to.equal(true);
      const names = first.Aliases!.map((alias) => alias.AliasName!);
      for (let marker = first.NextMarker; marker;) {
        const page = await kms.send(new ListAliasesCommand({ Limit: 7, Marker: marker }));
        expect(page.Aliases!.length).to.be.at.most(7);
        names.push(...page.Aliases!.map((alias) => alias.AliasName!));
        marker = page.Truncated ? page.NextMarker : undefined;
      }
      expect(names).to.have.members(all);
      expect(new Set(names).size).to.equal(names.length);
      const err = await rejects(kms.send(new ListAliasesCommand({ Limit: 101 })));
      expect(err.name).to.equal("ValidationException");
      for (let i = 0; i < 60; i++) {
        await direct.send(new DeleteAliasCommand({ AliasName: `alias/page-${String(i).padStart(2, "0")}` }));
      }
    });

    it("deletes a key's aliases with it when its waiting period ends (deleteKeyAfter)", async () => {
      const key = await pendingDeletionKey();
      const name = `alias/goes-with-${key.KeyId}`;
      await direct.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: key.KeyId }));
      proxy.deleteKeyAfter(key.KeyId!, 0);
      expect(await targetOf(name, kms)).to.equal(undefined);
      expect((await rejects(kms.send(new DescribeKeyCommand({ KeyId: name })))).name).to.equal("NotFoundException");
      const other = await newKey();
      await kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: other.KeyId }));
      expect(await targetOf(name)).to.equal(other.KeyId);
    });
  });

  describe("deleteKeyAfter", () => {
    it("answers DescribeKey that many more times, then NotFoundException to every call naming the key", async () => {
      const key = await newKey();
      proxy.deleteKeyAfter(key.Arn!, 1);
      expect(await stateOf(key.KeyId!, kms)).to.equal("Enabled");
      // The other reads of that last answered round still find the key.
      expect((await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags).to.be.an("array");
      // One after another: the next DescribeKey ends the waiting period, then nothing finds the key.
      for (const call of [
        () => kms.send(new DescribeKeyCommand({ KeyId: key.KeyId })),
        () => kms.send(new GetKeyPolicyCommand({ KeyId: key.Arn, PolicyName: "default" })),
        () => kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId })),
      ]) {
        expect((await rejects(call())).name).to.equal("NotFoundException");
      }
      expect(await stateOf(key.KeyId!, direct), "moto itself").to.equal("Enabled");
    });
  });

  describe("overrideKeyState", () => {
    it("changes DescribeKey's KeyState and Enabled, and the rules follow it", async () => {
      const key = await newKey();
      const id = key.KeyId!;
      proxy.overrideKeyState(id, "PendingImport");
      try {
        const meta = (await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
        expect(meta.KeyState).to.equal("PendingImport");
        expect(meta.Enabled).to.equal(false);
        expect(await stateOf(id, direct)).to.equal("Enabled"); // moto itself is untouched
        await expectInvalidState(kms.send(new EnableKeyCommand({ KeyId: id })), "PendingImport");
        // Row EnableKeyRotation, PendingImport: [6] UnsupportedOperationException (the key has imported material).
        expect((await rejects(kms.send(new EnableKeyRotationCommand({ KeyId: id })))).name).to.equal(
          "UnsupportedOperationException",
        );
        await kms.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: "k", TagValue: "v" }] })); // allowed
      } finally {
        proxy.overrideKeyState(id, undefined);
      }
      const meta = (await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
      expect(meta.KeyState).to.equal("Enabled");
      expect(meta.Enabled).to.equal(true);
      await kms.send(new EnableKeyCommand({ KeyId: id }));
    });

    it("matches the key whether set and requested by ID, ARN or alias", async () => {
      const key = await newKey();
      const alias = `alias/override-${key.KeyId}`;
      await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.KeyId }));
      proxy.overrideKeyState(key.Arn!, "Unavailable");
      try {
        expect(await stateOf(key.KeyId!, kms)).to.equal("Unavailable");
        expect(await stateOf(`arn:aws:verenc:${key.Arn!.split(":")[4]}:key/${key.KeyId}`, kms)).to.equal("Unavailable");
        expect(await stateOf(alias, kms)).to.equal("Unavailable");
        await expectInvalidState(
          kms.send(new EncryptCommand({ KeyId: alias, Plaintext: Buffer.from("x") })),
          "Unavailable",
        );
      } finally {
        proxy.overrideKeyState(key.KeyId!, undefined); // cleared by ID though set by ARN
      }
      expect(await stateOf(alias, kms)).to.equal("Enabled");
    });

    it("lets an Unavailable key be managed as the table allows: policy, tags, description, enable, disable, schedule", async () => {
      const key = await newKey();
      const id = key.KeyId!;
      proxy.overrideKeyState(id, "Unavailable");
      try {
        await kms.send(new PutKeyPolicyCommand({ KeyId: id, PolicyName: "default", Policy: POLICY }));
        await kms.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: "a", TagValue: "b" }] }));
        await kms.send(new UntagResourceCommand({ KeyId: id, TagKeys: ["a"] }));
        await kms.send(new UpdateKeyDescriptionCommand({ KeyId: id, Description: "while unavailable" }));
        // [12]: EnableKey and DisableKey succeed, the key state changes only once the key store is back.
        await kms.send(new DisableKeyCommand({ KeyId: id }));
        await kms.send(new EnableKeyCommand({ KeyId: id }));
        expect(await stateOf(id, kms)).to.equal("Unavailable");
        // [7]: rotation is not supported for a key in a custom key store.
        expect((await rejects(kms.send(new EnableKeyRotationCommand({ KeyId: id })))).name).to.equal(
          "UnsupportedOperationException",
        );
        expect((await rejects(kms.send(new GetKeyRotationStatusCommand({ KeyId: id })))).name).to.equal(
          "UnsupportedOperationException",
        );
        // [13]: scheduled for deletion, the key is PendingDeletion even while its key store is disconnected.
        await kms.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
        expect(await stateOf(id, kms)).to.equal("PendingDeletion");
      } finally {
        proxy.overrideKeyState(id, undefined);
      }
      expect((await direct.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata?.Description).to.equal(
        "while unavailable",
      );
    });

    it("shows a PendingReplicaDeletion key without DeletionDate, lets CancelKeyDeletion through, then the key is Disabled", async () => {
      const key = await pendingDeletionKey();
      expect((await direct.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata?.DeletionDate).to.be.a(
        "date",
      );
      proxy.overrideKeyState(key.KeyId!, "PendingReplicaDeletion");
      try {
        const meta = (await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!;
        expect(meta.KeyState).to.equal("PendingReplicaDeletion");
        expect(meta.DeletionDate, "KMS gives no DeletionDate while replicas are deleted").to.equal(undefined);
        await kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId }));
        expect(proxy.callLog.at(-1)).to.include({ operation: "CancelKeyDeletion", status: 200 });
        expect(await stateOf(key.KeyId!, kms)).to.equal("Disabled");
      } finally {
        proxy.overrideKeyState(key.KeyId!, undefined);
      }
    });
  });

  describe("fault injection", () => {
    let key: KeyMetadata;
    before(async () => {
      key = await newKey();
    });

    it("throttle -> ThrottlingException without reaching moto", async () => {
      const before = await countKeys();
      proxy.resetCounts();
      proxy.addFault({ operation: "CreateKey", kind: "throttle" });
      const err = await rejects(kms.send(new CreateKeyCommand({})));
      expect(err.name).to.equal("ThrottlingException");
      expect(err.message).to.equal("Rate exceeded");
      expect(err.$metadata?.httpStatusCode).to.equal(400);
      expect(await countKeys()).to.equal(before);
      expect(proxy.callLog).to.have.length(1);
      expect(proxy.callLog[0]).to.include({ operation: "CreateKey", status: 400, fault: "throttle" });
      expect(proxy.faultsApplied()).to.deep.equal({ throttle: 1 });
    });

    it("internal -> KMSInternalException (500)", async () => {
      proxy.addFault({ operation: "DescribeKey", kind: "internal" });
      const err = await rejects(kms.send(new DescribeKeyCommand({ KeyId: key.KeyId })));
      expect(err.name).to.equal("KMSInternalException");
      expect(err.$metadata?.httpStatusCode).to.equal(500);
    });

    it("dependencyTimeout -> DependencyTimeoutException (500)", async () => {
      proxy.addFault({ operation: "DescribeKey", kind: "dependencyTimeout" });
      const err = await rejects(kms.send(new DescribeKeyCommand({ KeyId: key.KeyId })));
      expect(err.name).to.equal("DependencyTimeoutException");
      expect(err.$metadata?.httpStatusCode).to.equal(500);
    });

    it("unavailable -> HTTP 503", async () => {
      proxy.addFault({ operation: "DescribeKey", kind: "unavailable" });
      const err = await rejects(kms.send(new DescribeKeyCommand({ KeyId: key.KeyId })));
      expect(err.$metadata?.httpStatusCode).to.equal(503);
    });

    it("accessDenied -> AccessDeniedException naming the action and the key", async () => {
      proxy.addFault({ operation: "DescribeKey", kind: "accessDenied" });
      const err = await rejects(kms.send(new DescribeKeyCommand({ KeyId: key.KeyId })));
      expect(err.name).to.equal("AccessDeniedException");
      expect(err.message).to.equal(
        `User: arn:aws:iam::111122223333:user/test is not authorized to perform: kms:DescribeKey on resource: ${key.KeyId} because no identity-based policy allows the kms:DescribeKey action`,
      );
    });

    it("resetBefore -> network error, and the operation did not happen", async () => {
      const before = await countKeys();
      proxy.resetCounts();
      proxy.addFault({ operation: "CreateKey", kind: "resetBefore", times: 1 });
      const err = await rejects(kms.send(new CreateKeyCommand({})));
      expect(isNetworkError(err), `${err.name}: ${err.message} (${err.code})`).to.equal(true);
      expect(await countKeys()).to.equal(before);
      expect(proxy.callLog[0]).to.include({ operation: "CreateKey", status: "reset", fault: "resetBefore" });
      // the same client (keep-alive agent) keeps working afterwards
      await kms.send(new CreateKeyCommand({}));
      expect(await countKeys()).to.equal(before + 1);
    });

    it("resetAfter -> network error, but the operation really happened", async () => {
      const before = await countKeys();
      proxy.resetCounts();
      proxy.addFault({ operation: "CreateKey", kind: "resetAfter" });
      const err = await rejects(kms.send(new CreateKeyCommand({})));
      expect(isNetworkError(err), `${err.name}: ${err.message} (${err.code})`).to.equal(true);
      expect(await countKeys()).to.equal(before + 1);
      expect(proxy.callLog[0]).to.include({ operation: "CreateKey", status: "reset", fault: "resetAfter" });
    });

    it("internalAfter -> KMSInternalException (500), but the operation really happened", async () => {
      const before = await countKeys();
      proxy.resetCounts();
      proxy.addFault({ operation: "CreateKey", kind: "internalAfter", times: 1 });
      const err = await rejects(kms.send(new CreateKeyCommand({})));
      expect(err.name).to.equal("KMSInternalException");
      expect(err.$metadata?.httpStatusCode).to.equal(500);
      expect(await countKeys()).to.equal(before + 1);
      expect(proxy.callLog[0]).to.include({ operation: "CreateKey", status: 500, fault: "internalAfter" });
    });

    it("every answer has KMS's Date header, moto's and the proxy's own 500 alike, by one clock", async () => {
      const dates: (string | undefined)[] = [];
      const dated = client(env.endpoint, 1);
      dated.middlewareStack.add(
        (next) => async (args) => {
          const result = await next(args);
          dates.push((result.response as { headers?: Record<string, string> }).headers?.date);
          return result;
        },
        { step: "deserialize", priority: "low", name: "recordDate" },
      );
      const t0 = Math.floor(Date.now() / 1000) * 1000;
      await dated.send(new ListKeysCommand({}));
      proxy.addFault({ operation: "CreateKey", kind: "internal", times: 1 });
      const err = await rejects(dated.send(new CreateKeyCommand({})));
      dated.destroy();
      expect(err.$metadata?.httpStatusCode).to.equal(500);
      const t1 = Date.now();
      expect(dates).to.have.length(2);
      for (const date of dates) {
        expect(date, "a Date header").to.be.a("string");
        expect(Date.parse(date!)).to.be.within(t0, t1);
      }
    });

    it("resetAfter on a state change: the client hears nothing, the key changed", async () => {
      const k = await newKey();
      proxy.addFault({ operation: "DisableKey", kind: "resetAfter", keyId: k.KeyId });
      const err = await rejects(kms.send(new DisableKeyCommand({ KeyId: k.KeyId })));
      expect(isNetworkError(err)).to.equal(true);
      expect(await stateOf(k.KeyId!)).to.equal("Disabled");
    });

    it("delay -> waits delayMs, then forwards", async () => {
      proxy.addFault({ operation: "DescribeKey", kind: "delay", delayMs: 400 });
      const t0 = Date.now();
      const out = await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
      expect(Date.now() - t0).to.be.at.least(390);
      expect(out.KeyMetadata?.KeyId).to.equal(key.KeyId);
      expect(proxy.callLog.at(-1)).to.include({ status: 200, fault: "delay" });
    });

    it("keyId-scoped rules only hit that key (ID and ARN compared by the part after key/)", async () => {
      const other = await newKey();
      proxy.addFault({ kind: "throttle", keyId: key.Arn });
      const err = await rejects(kms.send(new DescribeKeyCommand({ KeyId: key.KeyId })));
      expect(err.name).to.equal("ThrottlingException");
      await kms.send(new DescribeKeyCommand({ KeyId: other.KeyId }));
      await kms.send(new ListKeysCommand({})); // no KeyId: not matched
    });

    it("operation-scoped rules leave other operations alone; undefined operation hits all", async () => {
      proxy.addFault({ operation: "DescribeKey", kind: "internal" });
      await kms.send(new ListKeysCommand({}));
      proxy.clearFaults();
      proxy.addFault({ kind: "internal" });
      expect((await rejects(kms.send(new ListKeysCommand({})))).name).to.equal("KMSInternalException");
      expect((await rejects(kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId })))).name).to.equal(
        "KMSInternalException",
      );
      proxy.clearFaults();
      await kms.send(new ListKeysCommand({}));
    });

    it("times: applies to the next N matching calls only", async () => {
      proxy.resetCounts();
      proxy.addFault({ operation: "DescribeKey", kind: "throttle", times: 2 });
      await rejects(kms.send(new DescribeKeyCommand({ KeyId: key.KeyId })));
      await kms.send(new ListKeysCommand({})); // does not use up the rule
      await rejects(kms.send(new DescribeKeyCommand({ KeyId: key.KeyId })));
      await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
      await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
      expect(proxy.callLog.map((e) => e.fault ?? "-")).to.deep.equal(["throttle", "-", "throttle", "-", "-"]);
      expect(proxy.faultsApplied().throttle).to.equal(2);
    });

    it("rules apply in order: the first match wins, an exhausted rule passes to the next", async () => {
      proxy.resetCounts();
      proxy.addFault({ operation: "DescribeKey", kind: "throttle", times: 1 });
      proxy.addFault({ operation: "DescribeKey", kind: "internal", times: 1 });
      const names: string[] = [];
      for (let i = 0; i < 3; i++) {
        try {
          await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
          names.push("ok");
        } catch (err) {
          names.push((err as Error).name);
        }
      }
      expect(names).to.deep.equal(["ThrottlingException", "KMSInternalException", "ok"]);
    });

    it("times with the SDK's default retries: one reset, then the retry succeeds", async () => {
      const retrying = client(env.endpoint); // default: 3 attempts
      try {
        const before = await countKeys();
        proxy.resetCounts();
        proxy.addFault({ operation: "CreateKey", kind: "resetBefore", times: 1 });
        const out = await retrying.send(new CreateKeyCommand({}));
        expect(out.KeyMetadata?.KeyId).to.be.a("string");
        expect(proxy.calls("CreateKey")).to.equal(2);
        expect(proxy.callLog.map((e) => e.status)).to.deep.equal(["reset", 200]);
        expect(await countKeys()).to.equal(before + 1);
      } finally {
        retrying.destroy();
      }
    });

    it("probability: 0 never applies; 0.5 applies about half the time, reproducibly for a seed", async () => {
      proxy.addFault({ operation: "ListKeys", kind: "throttle", probability: 0 });
      for (let i = 0; i < 5; i++) await kms.send(new ListKeysCommand({}));
      proxy.clearFaults();

      const pattern = async (p: KmsProxy): Promise<string> => {
        const c = client(p.endpoint, 1);
        let s = "";
        try {
          for (let i = 0; i < 40; i++) {
            try {
              await c.send(new ListKeysCommand({ Limit: 1 }));
              s += ".";
            } catch (err) {
              expect((err as Error).name).to.equal("ThrottlingException");
              s += "x";
            }
          }
        } finally {
          c.destroy();
        }
        return s;
      };
      const runs: string[] = [];
      for (let run = 0; run < 2; run++) {
        const p = await KmsProxy.start({ target: env.server.endpoint, seed: 42 });
        try {
          p.addFault({ operation: "ListKeys", kind: "throttle", probability: 0.5 });
          runs.push(await pattern(p));
          expect(p.faultsApplied().throttle ?? 0).to.equal(runs[run].split("x").length - 1);
        } finally {
          await p.stop();
        }
      }
      const faulted = runs[0].split("x").length - 1;
      expect(faulted).to.be.within(8, 32);
      expect(runs[1]).to.equal(runs[0]);
    });

    it("clearFaults() removes all rules", async () => {
      proxy.addFault({ kind: "throttle" });
      await rejects(kms.send(new ListKeysCommand({})));
      proxy.clearFaults();
      await kms.send(new ListKeysCommand({}));
    });
  });

  describe("request-rate quota", () => {
    it("throttles requests beyond N per second for that operation, and recovers after the window", async () => {
      const key = await newKey();
      proxy.resetCounts();
      proxy.setQuota(5, "DescribeKey");
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))),
      );
      const ok = results.filter((r) => r.status === "fulfilled").length;
      const throttled = results.filter(
        (r) => r.status === "rejected" && (r.reason as Error).name === "ThrottlingException",
      ).length;
      expect(ok).to.equal(5);
      expect(throttled).to.equal(5);
      expect(proxy.callLog.filter((e) => e.fault === "quota")).to.have.length(5);
      expect(proxy.faultsApplied().quota).to.equal(5);

      // another operation has no quota
      const others = await Promise.allSettled(Array.from({ length: 10 }, () => kms.send(new ListKeysCommand({}))));
      expect(others.every((r) => r.status === "fulfilled")).to.equal(true);

      await new Promise((r) => setTimeout(r, 1100));
      await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
      proxy.setQuota(undefined, "DescribeKey");
      const after = await Promise.allSettled(
        Array.from({ length: 10 }, () => kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))),
      );
      expect(after.every((r) => r.status === "fulfilled")).to.equal(true);
    });

    it("quotaPerSecond sets a default quota for every operation", async () => {
      const p = await KmsProxy.start({ target: env.server.endpoint, quotaPerSecond: 3 });
      const c = client(p.endpoint, 1);
      try {
        const results = await Promise.allSettled(Array.from({ length: 6 }, () => c.send(new ListKeysCommand({}))));
        expect(results.filter((r) => r.status === "fulfilled")).to.have.length(3);
        expect(p.calls("ListKeys")).to.equal(6);
      } finally {
        c.destroy();
        await p.stop();
      }
    });
  });

  describe("lifecycle", () => {
    it("KmsProxy.stop() closes the endpoint", async () => {
      const p = await KmsProxy.start({ target: env.server.endpoint });
      const c = client(p.endpoint, 1);
      try {
        await c.send(new ListKeysCommand({})); // leaves a keep-alive socket open
        await p.stop();
        const err = await rejects(c.send(new ListKeysCommand({})));
        expect(err.code ?? err.message).to.match(/ECONNREFUSED|ECONNRESET|socket hang up/);
      } finally {
        c.destroy();
      }
    });

    it("KmsServer.stop() kills moto", async () => {
      const server = await startKmsServer();
      const c = client(server.endpoint, 1);
      try {
        expect((await c.send(new ListKeysCommand({}))).Keys).to.deep.equal([]); // a fresh moto
        await server.stop();
        const err = await rejects(c.send(new ListKeysCommand({})));
        expect(err.code ?? err.message).to.match(/ECONNREFUSED|ECONNRESET|socket hang up/);
        await server.stop(); // idempotent
      } finally {
        c.destroy();
      }
    });
  });
});
