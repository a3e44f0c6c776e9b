// Every error the provider meets, produced by a real server where one can be made to, and explained in plain words.
import { expect } from "chai";
import { mockClient } from "aws-sdk-client-mock";
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  InvalidArnException,
  KMSClient,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import { ProviderSession } from "../../provider/session";
import { addressOf } from "../../provider/keyAddress";
import { describeKey, runAction } from "../../provider/kms/gateway";
import { FaultKind } from "../../testing/kms/faults";
// The module object itself (not a namespace copy), so that replacing its lookup reaches net.connect.
import dns = require("node:dns");
import { Props, useLocalKms } from "../../testing/kms/local-kms";

describe("errors", function () {
  this.timeout(180_000);
  const kms = useLocalKms({
    AWS_MAX_ATTEMPTS: "4",
    AWS_RETRY_MODE: "standard",
    PULUMI_KMS_KEY_CREATE_LOOKUP_SECONDS: "2",
  });
  const { provider } = kms;
  const newKey = (news: Props = {}) => kms.newKey(news);

  describe("retried with backoff, bounded", () => {
    const transient: [FaultKind, string][] = [
      ["dependencyTimeout", "DependencyTimeoutException"],
      ["internal", "KMSInternalException"],
      ["throttle", "ThrottlingException"],
      ["unavailable", "HTTP 503"],
      ["resetBefore", "dropped connection"],
    ];
    for (const [kind, what] of transient) {
      it(`${what}: a read and an update succeed after two faults`, async () => {
        const { id, inputs, outs } = await newKey({ description: "before" });
        kms.proxy.addFault({ operation: "DescribeKey", kind, times: 2 });
        const read = await provider.read(id, outs);
        expect(read.props).to.include({ keyId: id });
        expect(kms.proxy.calls("DescribeKey")).to.be.at.least(3);
        kms.proxy.addFault({ operation: "UpdateKeyDescription", kind, times: 2 });
        const updated = await provider.update(id, outs, { ...inputs, description: "after" });
        expect(updated.outs).to.include({ description: "after" });
        expect(kms.proxy.faultsApplied()[kind]).to.equal(4);
      });

      it(`${what}: gives up after the configured attempts with a message naming the key`, async () => {
        const { id, outs } = await newKey();
        kms.proxy.resetCounts();
        kms.proxy.addFault({ operation: "DescribeKey", kind });
        let error: Error | undefined;
        await provider.read(id, outs).catch((err: Error) => (error = err));
        expect(error?.message).to.include(id).and.include("DescribeKey");
        expect(kms.proxy.calls("DescribeKey")).to.equal(4);
      });
    }
  });

  it("a CreateKey whose answer is lost after KMS made the key leaves exactly one key", async () => {
    const before = (await kms.raw.send(new ListKeysCommand({}))).Keys!.length;
    kms.proxy.addFault({ operation: "CreateKey", kind: "resetAfter", times: 1 });
    const { id } = await newKey({ description: "exactly once" });
    const keys = (await kms.raw.send(new ListKeysCommand({}))).Keys!;
    expect(keys.length).to.equal(before + 1);
    expect(keys.map((k) => k.KeyId)).to.include(id);
    expect(kms.proxy.calls("CreateKey")).to.equal(1);
  });

  it("a CreateKey throttled or failing with 5xx is retried and makes one key", async () => {
    const before = (await kms.raw.send(new ListKeysCommand({}))).Keys!.length;
    kms.proxy.addFault({ operation: "CreateKey", kind: "throttle", times: 1 });
    kms.proxy.addFault({ operation: "CreateKey", kind: "internal", times: 1 });
    await newKey();
    expect((await kms.raw.send(new ListKeysCommand({}))).Keys!.length).to.equal(before + 1);
    expect(kms.proxy.calls("CreateKey")).to.equal(3);
  });

  it("a failure after CreateKey keeps the new key tracked (id and properties on the error)", async () => {
    kms.proxy.addFault({ operation: "DisableKey", kind: "accessDenied" });
    let error: (Error & { id?: string; properties?: Props }) | undefined;
    await newKey({ enabled: false }).catch((err) => (error = err));
    expect(error?.message).to.include("kms:DisableKey");
    expect(error?.id).to.be.a("string");
    expect(error?.properties).to.include({ keyId: error?.id, keyState: "Enabled" });
    expect(error?.properties).to.have.property("__provider");
  });

  it("NotFoundException outside read: a message naming the key", async () => {
    const missing = "0b5e8f5a-0000-4000-8000-00000000beef";
    const inputs = (await provider.check({}, { endpoint: kms.endpoint })).inputs as Props;
    let error: Error | undefined;
    await provider.update(missing, inputs, inputs).catch((err: Error) => (error = err));
    expect(error?.message).to.include(missing).and.include("not found").and.include("pulumi refresh");
    let enableError: Error | undefined;
    await runAction(new ProviderSession(), addressOf(missing, { endpoint: kms.endpoint }), { kind: "enable" }).catch(
      (err: Error) => (enableError = err),
    );
    expect(enableError?.message).to.include(missing).and.include("EnableKey");
  });

  it("KMSInvalidStateException: names the key, its current state and the state needed", async () => {
    const { id } = await newKey();
    await kms.raw.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    let error: Error | undefined;
    await runAction(new ProviderSession(), addressOf(id, { endpoint: kms.endpoint }), { kind: "enable" }).catch(
      (err: Error) => (error = err),
    );
    expect(error?.message).to.equal(
      `EnableKey needs KMS key ${id} to be Enabled, Disabled or Unavailable; it is PendingDeletion`,
    );
  });

  it("DisabledException (rotation on a Disabled key, as KMS answers it): names the key, its state and the state needed", async () => {
    const { id } = await newKey({ enabled: false });
    let error: Error | undefined;
    await runAction(new ProviderSession(), addressOf(id, { endpoint: kms.endpoint }), { kind: "enableRotation" }).catch(
      (err: Error) => (error = err),
    );
    expect(kms.proxy.callLog.find((c) => c.operation === "EnableKeyRotation")?.error).to.equal("DisabledException");
    expect(error?.message).to.equal(`EnableKeyRotation needs KMS key ${id} to be Enabled; it is Disabled`);
  });

  it("a cancel that finds the key no longer pending deletion is a success", async () => {
    const { id } = await newKey();
    const state = await runAction(new ProviderSession(), addressOf(id, { endpoint: kms.endpoint }), {
      kind: "cancelDeletion",
    });
    expect(state).to.equal("Enabled");
    expect(kms.proxy.callLog.find((c) => c.operation === "CancelKeyDeletion")?.error).to.equal(
      "KMSInvalidStateException",
    );
  });

  it("access denied: a message naming the missing permission", async () => {
    const { id, inputs, outs } = await newKey();
    await kms.raw.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    kms.proxy.addFault({ operation: "CancelKeyDeletion", kind: "accessDenied" });
    const read = await provider.read(id, outs);
    let error: Error | undefined;
    await provider.update(id, read.props, inputs).catch((err: Error) => (error = err));
    expect(error?.message)
      .to.include("kms:CancelKeyDeletion")
      .and.include(id)
      .and.match(/access denied/i);
  });

  it("read succeeds when the policy, rotation or tags may not be read, and says which", async () => {
    const { id, outs } = await newKey({ tags: { team: "a" } });
    kms.proxy.addFault({ operation: "GetKeyPolicy", kind: "accessDenied" });
    kms.proxy.addFault({ operation: "ListResourceTags", kind: "accessDenied" });
    kms.proxy.addFault({ operation: "GetKeyRotationStatus", kind: "accessDenied" });
    const read = await provider.read(id, outs);
    expect(read.props).to.include({ keyId: id, keyState: "Enabled" });
    expect(read.props.unreadable).to.have.members(["policy", "rotation", "tags"]);
    expect(read.props.tags, "the declared tags stand in for unreadable ones").to.deep.equal({ team: "a" });
  });

  it("InvalidArnException (no server returns it for a well-formed ARN): a message naming the value given", async () => {
    // Every client the session makes: the gateway takes a key's address, never a client.
    const mock = mockClient(KMSClient);
    const arn = "arn:aws:verenc:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    mock.on(DescribeKeyCommand).rejects(new InvalidArnException({ message: "Invalid arn", $metadata: {} }));
    let error: Error | undefined;
    await describeKey(new ProviderSession(), addressOf(arn, { region: "us-east-1" })).catch(
      (err: Error) => (error = err),
    );
    expect(error?.message).to.include(JSON.stringify(arn)).and.include("not valid");
    mock.restore();
  });

  it("a key made outside the provider by CreateKey is never adopted by accident", async () => {
    const before = (await kms.raw.send(new ListKeysCommand({}))).Keys!.length;
    await kms.raw.send(new CreateKeyCommand({ Description: "someone else's" }));
    kms.proxy.addFault({ operation: "CreateKey", kind: "resetBefore", times: 1 });
    const { id } = await newKey({ description: "mine" });
    const metadata = (await kms.raw.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    expect(metadata.Description).to.equal("mine");
    expect((await kms.raw.send(new ListKeysCommand({}))).Keys!.length).to.equal(before + 2);
  });

  describe("a request that never left this machine", () => {
    const saved: Record<string, string | undefined> = {};
    const names = ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"];
    beforeEach(() => {
      for (const name of names) {
        saved[name] = process.env[name];
        delete process.env[name];
      }
    });
    afterEach(() => {
      for (const name of names) if (saved[name] !== undefined) process.env[name] = saved[name];
    });

    /** The create's error, which must say nothing was sent rather than that KMS may have made a key. */
    async function failedCreate(news: Props): Promise<string> {
      const checked = await provider.check({}, news);
      expect(checked.failures, JSON.stringify(checked.failures)).to.equal(undefined);
      const error = await provider.create(checked.inputs!).then(
        () => undefined,
        (err: Error) => err,
      );
      expect(error, "the create failed").to.be.instanceOf(Error);
      const message = error!.message;
      expect(message).to.include("was not sent, so no key was made").and.include("never sent and KMS did nothing");
      expect(message).to.not.include("may have made").and.not.include("look for a key made after");
      return message;
    }

    it("a misspelt Region (us-esat-1) without an endpoint: create says nothing was sent and the Region may be misspelt", async () => {
      // Any machine fails to resolve kms.us-esat-1.amazonaws.com: AWS has no such Region.
      const message = await failedCreate({ region: "us-esat-1", description: "typo" });
      expect(message)
        .to.match(/ENOTFOUND|EAI_AGAIN/)
        .and.include("kms.us-esat-1.amazonaws.com");
      expect(message).to.include('the Region "us-esat-1"').and.include("spelled right");
    });

    it("an endpoint whose host does not resolve: create says nothing was sent and points at the endpoint", async () => {
      const message = await failedCreate({ endpoint: "https://kms.example.invalid", description: "no such host" });
      expect(message).to.include("kms.example.invalid").and.include("check the endpoint");
      expect(message).to.not.include("spelled right");
    });

    it("a DNS failure (EAI_AGAIN) on CreateKey is retried by the SDK's strategy, with no lookup for a key KMS never saw", async () => {
      // This machine's resolver can't be made to fail on demand: only the lookup of this one name is replaced.
      const host = "kms-flaky-dns.test";
      const lookup = dns.lookup;
      let failed = 0;
      const replaced = ((name: string, options: unknown, callback: unknown) => {
        const done = (typeof options === "function" ? options : callback) as (...args: unknown[]) => void;
        const opts = typeof options === "function" ? {} : options;
        if (name !== host) return (lookup as (...args: unknown[]) => void)(name, options, callback);
        // The CreateKey's connection: the listing before it has reached KMS.
        if (failed === 0 && kms.proxy.calls("ListKeys") > 0) {
          failed++;
          const err = Object.assign(new Error(`getaddrinfo EAI_AGAIN ${host}`), {
            code: "EAI_AGAIN",
            syscall: "getaddrinfo",
            hostname: host,
          });
          return process.nextTick(done, err);
        }
        return (lookup as (...args: unknown[]) => void)("127.0.0.1", opts, done);
      }) as typeof dns.lookup;
      (dns as { lookup: typeof dns.lookup }).lookup = replaced;
      try {
        const endpoint = `http://${host}:${new URL(kms.endpoint).port}`;
        const { id } = await newKey({ endpoint, allowInsecureEndpoint: true, description: "after a DNS hiccup" });
        expect(id).to.be.a("string");
      } finally {
        (dns as { lookup: typeof dns.lookup }).lookup = lookup;
      }
      expect(failed, "lookups failed").to.equal(1);
      expect(kms.proxy.calls("CreateKey")).to.equal(1);
      // Only the listing before CreateKey: nothing was sent, so there is no key to look for.
      expect(kms.proxy.calls("ListKeys")).to.equal(1);
    });
  });
});
