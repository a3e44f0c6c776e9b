// The provider against moto's KMS server, with KMS's key-state rules enforced by the proxy in front of it.
import { expect } from "chai";
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  GetKeyRotationStatusCommand,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UpdateKeyDescriptionCommand,
} from "@aws-sdk/client-kms";
import { OPEN_POLICY } from "../../testing/fixtures";
import { Props, useLocalKms } from "../../testing/kms/local-kms";

describe("provider against a KMS server", function () {
  this.timeout(120_000);
  const kms = useLocalKms();
  const { provider } = kms;
  const checked = (news: Props) => kms.checked(news);
  const createKey = (news: Props) => kms.newKey(news);

  /** Rotation as KMS has it, straight from the server; the period only when rotating. */
  async function expectRotation(id: string, enabled: boolean, periodInDays: number) {
    const status = await kms.raw.send(new GetKeyRotationStatusCommand({ KeyId: id }));
    expect(status.KeyRotationEnabled, "rotation as declared").to.equal(enabled);
    if (enabled) expect(status.RotationPeriodInDays).to.equal(periodInDays);
  }

  async function describe_(id: string) {
    return (await kms.raw.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
  }

  it("creates a key with every input, in one CreateKey", async () => {
    const { id, outs } = await createKey({
      description: "orders database",
      policy: OPEN_POLICY,
      tags: { team: "payments", env: "test" },
      enabled: false,
      enableKeyRotation: true,
      rotationPeriodInDays: 180,
      multiRegion: true,
      deletionWindowInDays: 7,
      bypassPolicyLockoutSafetyCheck: false,
      region: "us-east-1",
    });
    expect(kms.proxy.calls("CreateKey")).to.equal(1);
    // The account's keys are listed first (to find this key should CreateKey's answer be lost); rotation is set while
    // the key is enabled, then it is disabled last.
    const order = kms.proxy.callLog.map((c) => c.operation).filter((op) => op !== "DescribeKey");
    expect(order).to.deep.equal(["ListKeys", "CreateKey", "EnableKeyRotation", "DisableKey"]);
    expect(kms.proxy.callLog[1].tagKeys, "CreateKey sends exactly the declared tags").to.deep.equal(["team", "env"]);
    const metadata = await describe_(id);
    expect(metadata).to.include({ Description: "orders database", MultiRegion: true, KeyState: "Disabled" });
    expect(outs).to.include({
      keyId: id,
      keyState: "Disabled",
      enabled: false,
      enableKeyRotation: true,
      rotationPeriodInDays: 180,
    });
    expect(outs.arn).to.equal(metadata.Arn);
    const tags = (await kms.raw.send(new ListResourceTagsCommand({ KeyId: id }))).Tags ?? [];
    expect(tags.map((t) => t.TagKey)).to.include.members(["team", "env"]);
    expect(outs.tags).to.deep.equal({ team: "payments", env: "test" });
  });

  it("a fleet's creates share one listing of the account's keys: 12 keys at once, one ListKeys, 12 CreateKey", async () => {
    // A listing of this very client made by an earlier test would be reused too: wait out its reuse time.
    await new Promise((resolve) => setTimeout(resolve, 10_500));
    kms.proxy.resetCounts();
    const made = await Promise.all(Array.from({ length: 12 }, (_, i) => createKey({ description: `fleet ${i}` })));
    expect(new Set(made.map((key) => key.id)).size).to.equal(12);
    expect(kms.proxy.calls("CreateKey")).to.equal(12);
    expect(kms.proxy.calls("ListKeys")).to.equal(1);
    // The listing came before every CreateKey.
    const operations = kms.proxy.callLog.map((c) => c.operation).filter((op) => op !== "DescribeKey");
    expect(operations[0]).to.equal("ListKeys");
  });

  it("an update right after read() acts on what read found; a later one, or one on another state, reads the key", async () => {
    const { id, inputs } = await createKey({ description: "reuse" });
    await kms.raw.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    const read = await provider.read(id, { ...inputs, keyId: id });
    kms.proxy.resetCounts();
    await provider.update(id, read.props as Props, inputs);
    const operations = () => kms.proxy.callLog.map((c) => c.operation);
    // The refresh's read stands in for update's DescribeKey: only the cancel and the enable.
    expect(operations()).to.deep.equal(["CancelKeyDeletion", "EnableKey"]);
    expect((await describe_(id)).KeyState).to.equal("Enabled");

    // Used once: the same state handed in again is out of date (the key is Enabled now), so the key is read first.
    await kms.raw.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    kms.proxy.resetCounts();
    await provider.update(id, read.props as Props, inputs);
    expect(operations()).to.deep.equal(["DescribeKey", "CancelKeyDeletion", "EnableKey"]);

    // A state that is not the read's (someone else's change since) is not taken for it.
    await kms.raw.send(new DisableKeyCommand({ KeyId: id }));
    const disabled = await provider.read(id, { ...inputs, keyId: id });
    kms.proxy.resetCounts();
    await provider.update(
      id,
      { ...(disabled.props as Props), keyState: "Enabled", enabled: true },
      {
        ...inputs,
        description: "reuse, changed",
      },
    );
    expect(operations()[0]).to.equal("DescribeKey");
    expect(await describe_(id)).to.include({ Description: "reuse, changed", KeyState: "Disabled" });
  });

  it("reads a key: metadata, policy, rotation and tags", async () => {
    const { id, outs } = await createKey({
      description: "read me",
      policy: OPEN_POLICY,
      tags: { a: "1" },
      enableKeyRotation: true,
    });
    const read = await provider.read(id, outs);
    expect(read.id).to.equal(id);
    expect(read.props).to.include({
      keyState: "Enabled",
      description: "read me",
      enableKeyRotation: true,
      origin: "AWS_KMS",
      keyManager: "CUSTOMER",
    });
    expect(JSON.parse(read.props.policy)).to.deep.equal(JSON.parse(OPEN_POLICY));
    expect(read.props.tags).to.deep.equal({ a: "1" });
    expect(read.props.creationDate).to.match(/^\d{4}-\d\d-\d\dT/);
    expect(read.props).to.not.have.property("deletionDate");
  });

  for (const rotating of [false, true]) {
    const which = rotating ? "a rotating key" : "a key";
    it(`brings back ${which} scheduled for deletion out of band: same ID, Enabled${rotating ? ", still rotating" : ""}`, async () => {
      const { id, inputs, outs } = await createKey({
        description: "keep me",
        tags: { team: "payments" },
        ...(rotating ? { enableKeyRotation: true, rotationPeriodInDays: 120 } : {}),
      });
      await kms.raw.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));

      const read = await provider.read(id, outs);
      expect(read.id).to.equal(id);
      expect(read.props).to.include({ keyState: "PendingDeletion" });
      expect(Date.parse(read.props.deletionDate)).to.be.greaterThan(Date.now());
      expect(read.inputs).to.include({ keyState: "PendingDeletion" });

      const diff = await provider.diff(id, read.props, inputs);
      expect(diff).to.deep.include({ changes: true, replaces: [] });

      kms.proxy.resetCounts();
      const updated = await provider.update(id, read.props, inputs);
      expect(updated.outs).to.include({ keyId: id, keyState: "Enabled", enabled: true });
      expect(updated.outs).to.not.have.property("deletionDate");
      expect((await describe_(id)).KeyState).to.equal("Enabled");
      expect(kms.proxy.calls("CreateKey")).to.equal(0);
      const calls = kms.proxy.callLog.map((c) => c.operation).filter((op) => op !== "DescribeKey");
      expect(
        calls.filter((op) => op !== "GetKeyPolicy" && op !== "GetKeyRotationStatus" && op !== "ListResourceTags"),
      ).to.deep.equal(["CancelKeyDeletion", "EnableKey"]);
      await expectRotation(id, rotating, 120);
    });

    it(`brings back ${which} declared disabled: Disabled, EnableKey never called${rotating ? ", still rotating" : ""}`, async () => {
      const { id, inputs, outs } = await createKey({
        enabled: false,
        ...(rotating ? { enableKeyRotation: true, rotationPeriodInDays: 120 } : {}),
      });
      await kms.raw.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
      const read = await provider.read(id, outs);
      expect((await provider.diff(id, read.props, inputs)).replaces).to.deep.equal([]);
      kms.proxy.resetCounts();
      const updated = await provider.update(id, read.props, inputs);
      expect(updated.outs).to.include({ keyId: id, keyState: "Disabled", enabled: false });
      expect((await describe_(id)).KeyState).to.equal("Disabled");
      expect(kms.proxy.calls("CancelKeyDeletion")).to.equal(1);
      expect(kms.proxy.calls("EnableKey")).to.equal(0);
      expect(updated.outs).to.include({ enableKeyRotation: rotating });
      await expectRotation(id, rotating, 120);
    });
  }

  it("reverts out-of-band DisableKey, tag and description changes", async () => {
    const { id, inputs, outs } = await createKey({ description: "as declared", tags: { team: "payments" } });
    await kms.raw.send(new DisableKeyCommand({ KeyId: id }));
    await kms.raw.send(
      new TagResourceCommand({
        KeyId: id,
        Tags: [
          { TagKey: "team", TagValue: "someone-else" },
          { TagKey: "extra", TagValue: "x" },
        ],
      }),
    );
    await kms.raw.send(new UpdateKeyDescriptionCommand({ KeyId: id, Description: "changed by hand" }));

    const read = await provider.read(id, outs);
    expect(read.props).to.include({ keyState: "Disabled", description: "changed by hand" });
    expect(read.props.tags).to.deep.equal({ team: "someone-else", extra: "x" });
    expect((await provider.diff(id, read.props, inputs)).changes).to.equal(true);

    await provider.update(id, read.props, inputs);
    const metadata = await describe_(id);
    expect(metadata).to.include({ KeyState: "Enabled", Description: "as declared" });
    const after = await provider.read(id, outs);
    expect(after.props.tags).to.deep.equal({ team: "payments" });
    expect((await provider.diff(id, after.props, inputs)).changes).to.equal(false);
  });

  it("deletes by scheduling deletion with the declared window; twice is fine; a read then shows it pending", async () => {
    const { id, outs } = await createKey({ deletionWindowInDays: 7 });
    await provider.delete(id, outs);
    const metadata = await describe_(id);
    expect(metadata.KeyState).to.equal("PendingDeletion");
    const days = (metadata.DeletionDate!.getTime() - Date.now()) / 86_400_000;
    expect(days).to.be.within(6.9, 7.1);
    kms.proxy.resetCounts();
    await provider.delete(id, outs);
    expect(kms.proxy.calls("ScheduleKeyDeletion")).to.equal(0);
    expect((await provider.read(id, outs)).props).to.include({ keyState: "PendingDeletion" });
  });

  it("reads a key that does not exist as gone", async () => {
    // A state from before ARNs were recorded: its key ID, read in the run's Region.
    const state = { endpoint: kms.endpoint, keyId: "0b5e8f5a-0000-4000-8000-000000000000" };
    const read = await provider.read("0b5e8f5a-0000-4000-8000-000000000000", state);
    expect(read.id ?? "").to.equal("");
    expect(read.props).to.equal(undefined);
    await provider.delete("0b5e8f5a-0000-4000-8000-000000000000", { endpoint: kms.endpoint });
  });

  it("imports a key pending deletion by ID or ARN, then an update recovers it", async () => {
    const made = await kms.raw.send(
      new CreateKeyCommand({ Description: "made elsewhere", Tags: [{ TagKey: "team", TagValue: "ops" }] }),
    );
    const id = made.KeyMetadata!.KeyId!;
    await kms.raw.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 30 }));

    const byArn = await provider.read(made.KeyMetadata!.Arn!, { endpoint: kms.endpoint });
    expect(byArn.id).to.equal(id);
    const imported = await provider.read(id, { endpoint: kms.endpoint });
    expect(imported.id).to.equal(id);
    expect(imported.props).to.include({ keyState: "PendingDeletion", description: "made elsewhere" });
    expect(imported.props.policy, "an import shows the key's policy").to.be.a("string");

    const inputs = await checked({ description: "made elsewhere", tags: { team: "ops" } });
    expect((await provider.diff(id, imported.props, inputs)).replaces).to.deep.equal([]);
    const updated = await provider.update(id, imported.props, inputs);
    expect(updated.outs).to.include({ keyId: id, keyState: "Enabled" });
    expect((await describe_(id)).KeyState).to.equal("Enabled");
  });

  it("adopts an existing key pending deletion for the import option (importKeyId), by ARN: same key, Enabled", async () => {
    const made = await kms.raw.send(new CreateKeyCommand({ Description: "made elsewhere" }));
    const id = made.KeyMetadata!.KeyId!;
    await kms.raw.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 30 }));
    kms.proxy.resetCounts();
    const { id: adopted, outs } = await createKey({ description: "adopted", importKeyId: made.KeyMetadata!.Arn! });
    expect(adopted).to.equal(id);
    expect(outs).to.include({ keyId: id, keyState: "Enabled", description: "adopted" });
    expect(kms.proxy.calls("CreateKey")).to.equal(0);
    expect((await describe_(id)).KeyState).to.equal("Enabled");
  });

  it("refuses to import a key that does not exist, or one whose spec differs from the declaration", async () => {
    let error: Error | undefined;
    await createKey({ importKeyId: "0b5e8f5a-0000-4000-8000-00000000cafe" }).catch((err: Error) => (error = err));
    expect(error?.message).to.include("0b5e8f5a-0000-4000-8000-00000000cafe").and.include("Remove the import option");
    const made = await kms.raw.send(new CreateKeyCommand({ KeySpec: "RSA_2048", KeyUsage: "SIGN_VERIFY" }));
    let mismatch: Error | undefined;
    await createKey({ importKeyId: made.KeyMetadata!.KeyId! }).catch((err: Error) => (mismatch = err));
    expect(mismatch?.message).to.include('keySpec is "RSA_2048" but the program declares "SYMMETRIC_DEFAULT"');
    expect(kms.proxy.calls("CreateKey"), "only the out-of-band CreateKey").to.equal(1);
  });

  it("says in plain words when a cancelled key is left PendingImport, after doing what it can", async () => {
    const { id, inputs, outs } = await createKey({ description: "imported material" });
    await kms.raw.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    const read = await provider.read(id, outs);
    // KMS leaves a key whose imported material is gone in PendingImport after a cancel; moto can't, the proxy can.
    // The proxy logs a call before answering it, so the key is PendingImport before the provider hears of the cancel.
    const log = kms.proxy.callLog;
    log.push = (...entries) => {
      if (entries.some((c) => c.operation === "CancelKeyDeletion" && c.status === 200)) {
        kms.proxy.overrideKeyState(id, "PendingImport");
      }
      return Array.prototype.push.apply(log, entries);
    };
    let error: (Error & { id?: string; properties?: Props }) | undefined;
    try {
      await provider.update(id, read.props, { ...inputs, description: "still updated" }).catch((err) => (error = err));
    } finally {
      delete (log as { push?: unknown }).push;
      kms.proxy.overrideKeyState(id, undefined);
    }
    expect(error?.message)
      .to.match(/PendingImport/)
      .and.match(/ImportKeyMaterial/)
      .and.include(id);
    expect(error?.id, "the key stays tracked").to.equal(id);
    expect(error?.properties).to.include({ keyState: "PendingImport", description: "still updated" });
    // EnableKey is tried (no DescribeKey after the cancel) and refused; then the state is read and the rest planned.
    const enables = kms.proxy.callLog.filter((c) => c.operation === "EnableKey");
    expect(enables.map((c) => c.error)).to.deep.equal(["KMSInvalidStateException"]);
    expect((await describe_(id)).Description).to.equal("still updated");
  });
});

describe("connection from the environment", function () {
  this.timeout(120_000);
  const kms = useLocalKms();

  it("uses AWS_ENDPOINT_URL_KMS, else AWS_ENDPOINT_URL, when no endpoint is declared", async () => {
    for (const variable of ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"]) {
      process.env[variable] = kms.endpoint;
      try {
        const inputs = (await kms.provider.check({}, { description: variable })).inputs;
        const created = await kms.provider.create(inputs);
        expect(created.outs).to.include({ description: variable, keyState: "Enabled" });
        expect(created.outs).to.not.have.property("endpoint");
        expect(kms.proxy.callLog.at(-1)?.operation, "the last call reached the local KMS").to.equal("CreateKey");
      } finally {
        delete process.env[variable];
      }
    }
    expect(kms.proxy.calls("CreateKey")).to.equal(2);
  });

  it("refuses a plain-http endpoint from the environment that is not loopback, saying how to allow it", async () => {
    process.env.AWS_ENDPOINT_URL_KMS = "http://kms.example.internal:8080";
    try {
      const inputs = (await kms.provider.check({}, {})).inputs;
      let error: Error | undefined;
      await kms.provider.create(inputs).catch((err: Error) => (error = err));
      expect(error?.message)
        .to.include("PULUMI_KMS_KEY_ALLOW_INSECURE_ENDPOINT=true")
        .and.include("AWS_ENDPOINT_URL_KMS");
    } finally {
      delete process.env.AWS_ENDPOINT_URL_KMS;
    }
  });
});
