// CreateKey is the hard case: when its reply is lost, KMS may or may not have made the key. The provider lists the
// account's key IDs before the first attempt and, after an attempt whose outcome is unknown, looks among the new
// ones (polling ListKeys: KMS is eventually consistent) for the key it declared. These cases push that lookup.
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  KeyMetadata,
  KMSClient,
  ListResourceTagsCommand,
} from "@aws-sdk/client-kms";
import { KmsKeyProvider } from "../../sdk";
import { figures, scanForSecrets } from "./figures";
import { useFakeCredentials } from "../../testing/credentials";
import { listKeyIds, outOfBand } from "../../testing/kms/out-of-band";
import { CallLogEntry, KmsProxy } from "../../testing/kms/proxy";
import { KmsServer, startKmsServer } from "../../testing/kms/server";

type Props = Record<string, unknown>;
const ATTEMPTS = 4;
const LOOKUP_SECONDS = 3;

interface Attempt {
  /** Ids the creates returned. */
  ids: string[];
  errors: (Error & { id?: string })[];
  /** Keys in the case's region after the creates (only these creates made keys there, but for `others`). */
  keys: string[];
  /** Every request the proxy saw during the creates. */
  log: CallLogEntry[];
  createKeyCalls: number;
}

interface Case {
  region: string;
  faults?: (proxy: KmsProxy) => void;
  /** Keys someone else made in the region before the create. */
  others?: number;
  /** Declared inputs, besides the endpoint and region. */
  declared?: Props;
  /** Identical creates run in parallel by this one provider. */
  parallel?: number;
  /** Runs once the first CreateKey request has been answered (or reset) at the proxy. */
  afterFirstCreateKey?: (proxy: KmsProxy) => Promise<unknown>;
}

describe("faults: a CreateKey whose outcome is unknown makes at most one key", function () {
  this.timeout(300_000);
  let moto: KmsServer;
  const provider = new KmsKeyProvider();
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    for (const name of [
      "AWS_MAX_ATTEMPTS",
      "AWS_RETRY_MODE",
      "AWS_ENDPOINT_URL_STS",
      "PULUMI_KMS_KEY_CREATE_LOOKUP_SECONDS",
    ]) {
      saved[name] = process.env[name];
    }
    useFakeCredentials();
    process.env.AWS_MAX_ATTEMPTS = String(ATTEMPTS);
    process.env.PULUMI_KMS_KEY_CREATE_LOOKUP_SECONDS = String(LOOKUP_SECONDS);
    delete process.env.AWS_RETRY_MODE;
    moto = await startKmsServer();
    // The run's account, asked when a key can't be seen, comes from moto's STS.
    process.env.AWS_ENDPOINT_URL_STS = moto.endpoint;
  });
  after(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await moto?.stop();
  });

  /** Provider creates in the case's own region, through a new proxy (new SDK client) with these faults. */
  async function createWith(c: Case): Promise<Attempt> {
    const raw = outOfBand(moto.endpoint, c.region);
    for (let i = 0; i < (c.others ?? 0); i++) {
      await raw.send(new CreateKeyCommand({ Description: `someone else's ${i}` }));
    }
    const before = new Set(await listKeyIds(moto.endpoint, [c.region]));
    const proxy = await KmsProxy.start({ target: moto.endpoint });
    const attempt: Attempt = { ids: [], errors: [], keys: [], log: [], createKeyCalls: 0 };
    const sideEffects: Promise<unknown>[] = [];
    if (c.afterFirstCreateKey) {
      const hook = c.afterFirstCreateKey;
      const log = proxy.callLog;
      log.push = (...entries) => {
        if (entries.some((e) => e.operation === "CreateKey") && sideEffects.length === 0) sideEffects.push(hook(proxy));
        return Array.prototype.push.apply(log, entries);
      };
    }
    try {
      const checked = await provider.check({}, { endpoint: proxy.endpoint, region: c.region, ...(c.declared ?? {}) });
      expect(checked.failures, JSON.stringify(checked.failures)).to.equal(undefined);
      c.faults?.(proxy);
      const runs = Array.from({ length: c.parallel ?? 1 }, () => provider.create(checked.inputs as Props));
      for (const result of await Promise.allSettled(runs)) {
        if (result.status === "fulfilled") attempt.ids.push(result.value.id);
        else {
          const error = result.reason as Error & { id?: string };
          attempt.errors.push(error);
          scanForSecrets("CreateKey error messages", error.message);
        }
      }
      await Promise.all(sideEffects);
      attempt.createKeyCalls = proxy.calls("CreateKey");
      attempt.log = [...proxy.callLog];
    } finally {
      await proxy.stop();
    }
    attempt.keys = (await listKeyIds(moto.endpoint, [c.region])).filter((id) => !before.has(id));
    raw.destroy();
    return attempt;
  }

  /** Records the case's figures for the summary, and asserts the untracked keys it prints: only those an error names. */
  function record(name: string, a: Attempt, untrackedNamedByError = 0): void {
    const tracked = [...a.ids, ...a.errors.map((e) => e.id)].filter((id): id is string => id !== undefined);
    const orphans = a.keys.filter((id) => !tracked.includes(id)).length;
    const outcome = a.errors.length > 0 ? `error: ${a.errors[0].message.slice(0, 160)}` : "created, tracked";
    figures.createCases.push({ name, keys: a.keys.length, orphans, outcome });
    expect(orphans, `${name}: keys in KMS that nothing tracks`).to.equal(untrackedNamedByError);
    if (untrackedNamedByError > 0)
      expect(a.errors, "an error says how to find the untracked key").to.have.length.above(0);
  }

  const count = (a: Attempt, operation: string) => a.log.filter((e) => e.operation === operation).length;

  /** What the other tool's key is now, and the provider's calls that named it other than to read it. */
  async function untouched(raw: KMSClient, a: Attempt, theirs: KeyMetadata) {
    const now = (await raw.send(new DescribeKeyCommand({ KeyId: theirs.KeyId }))).KeyMetadata;
    const reads = ["DescribeKey", "ListResourceTags", "GetKeyPolicy", "GetKeyRotationStatus"];
    const writes = a.log.filter(
      (e) => e.keyId !== undefined && e.keyId.endsWith(theirs.KeyId!) && !reads.includes(e.operation),
    );
    return { keyState: now?.KeyState, deletionDate: now?.DeletionDate, writes: writes.map((e) => e.operation) };
  }

  /** Everything the attempt tracks: the ids its creates returned and the ids its errors carry into the state. */
  const trackedBy = (a: Attempt) => [...a.ids, ...a.errors.map((e) => e.id)].filter((id) => id !== undefined);

  it("reply lost after KMS made the key, among 20 other keys: found among the new IDs only; one key, tracked", async () => {
    const a = await createWith({
      region: "eu-west-1",
      declared: { description: "mine", tags: { team: "payments" } },
      faults: (proxy) => proxy.addFault({ operation: "CreateKey", kind: "resetAfter", times: 1 }),
      others: 20,
    });
    record("reply lost (20 other keys in the region)", a);
    expect(a.errors.map((e) => e.message)).to.deep.equal([]);
    expect(a.keys).to.deep.equal(a.ids);
    expect(a.createKeyCalls, "CreateKey sent once").to.equal(1);
    expect(count(a, "DescribeKey"), "only the new key is described, not the 20 others").to.equal(1);
    expect(count(a, "ListResourceTags"), "tags read only of the key that matched").to.equal(1);
    expect(a.log[0].operation, "the account's keys are listed before CreateKey").to.equal("ListKeys");
  });

  it("reply lost while ListKeys does not show the new key yet (eventual consistency): the lookup waits; one key", async () => {
    const a = await createWith({
      region: "us-west-1",
      declared: { description: "eventually listed" },
      faults: (proxy) => {
        proxy.setListKeysLag(1500);
        proxy.addFault({ operation: "CreateKey", kind: "resetAfter", times: 1 });
      },
    });
    record("reply lost, ListKeys 1.5 s behind", a);
    expect(a.errors.map((e) => e.message)).to.deep.equal([]);
    expect(a.keys, "no second key").to.deep.equal(a.ids);
    expect(a.createKeyCalls, "CreateKey sent once").to.equal(1);
    expect(count(a, "ListKeys"), "one listing before CreateKey, one after the consistency window").to.equal(2);
  });

  it("reply lost, then the lookup's DescribeKey throttled past the SDK's attempts: no second key made blindly", async () => {
    const a = await createWith({
      region: "eu-west-2",
      declared: { description: "lookup throttled" },
      faults: (proxy) => {
        proxy.addFault({ operation: "CreateKey", kind: "resetAfter", times: 1 });
        proxy.addFault({ operation: "DescribeKey", kind: "throttle", times: ATTEMPTS });
      },
    });
    record("reply lost, lookup throttled", a, 1);
    expect(a.keys.length, `keys made by one create (CreateKey sent ${a.createKeyCalls} times)`).to.equal(1);
    expect(a.createKeyCalls).to.equal(1);
    const message = a.errors[0]?.message ?? "";
    expect(message, "says how to find the key").to.include("looking for it failed").and.include("lookup throttled");
    expect(message).to.include("Not sending CreateKey again");
  });

  it("reply lost, then the network stays down: the error names CreateKey and how to find the key KMS made", async () => {
    const a = await createWith({
      region: "eu-west-3",
      declared: { description: "network down" },
      faults: (proxy) => proxy.addFault({ operation: "CreateKey", kind: "resetAfter", times: 1 }),
      afterFirstCreateKey: async (proxy) => proxy.addFault({ kind: "resetBefore" }),
    });
    record("reply lost, network down after", a, 1);
    expect(a.ids, "nothing can be created while KMS can't be reached").to.deep.equal([]);
    expect(a.keys.length, "KMS made exactly one key").to.equal(1);
    const message = a.errors[0]?.message ?? "";
    expect(message, `the error names CreateKey: ${JSON.stringify(message)}`).to.include("CreateKey");
    expect(message, "the error says what to look for").to.match(/a key made after \d{4}-\d\d-\d\dT.* "network down"/);
    expect(message).to.include("looking for it failed too").and.include("Not sending CreateKey again");
  });

  it("ListKeys denied to the role: the key is still created; a lost reply is not resent, and the error says why", async () => {
    const listed = await createWith({
      region: "us-west-2",
      declared: { description: "no ListKeys" },
      faults: (proxy) => proxy.addFault({ operation: "ListKeys", kind: "accessDenied" }),
    });
    expect(listed.errors.map((e) => e.message)).to.deep.equal([]);
    expect(listed.keys).to.deep.equal(listed.ids);
    const lost = await createWith({
      region: "us-west-2",
      declared: { description: "no ListKeys, reply lost" },
      faults: (proxy) => {
        proxy.addFault({ operation: "ListKeys", kind: "accessDenied" });
        proxy.addFault({ operation: "CreateKey", kind: "resetAfter", times: 1 });
      },
    });
    record("reply lost, ListKeys denied", lost, 1);
    expect(lost.keys.length, "one key, none resent").to.equal(1);
    expect(lost.createKeyCalls).to.equal(1);
    expect(lost.errors[0]?.message)
      .to.include("kms:ListKeys")
      .and.include("can't be looked for")
      .and.include('"no ListKeys, reply lost"');
  });

  it("no answer at all (reset before KMS saw it), every attempt: no key, and the error says so", async () => {
    const a = await createWith({
      region: "eu-central-1",
      declared: { description: "never reached" },
      faults: (proxy) => proxy.addFault({ operation: "CreateKey", kind: "resetBefore" }),
    });
    record("no answer, every attempt", a);
    expect(a.keys).to.deep.equal([]);
    expect(a.createKeyCalls).to.equal(ATTEMPTS);
    expect(a.errors[0]?.message)
      .to.include("CreateKey")
      .and.include(`within ${LOOKUP_SECONDS} s`)
      .and.include("most likely made none");
  });

  it("a fleet of identical keys created in parallel, one reply lost: each create tracks its own key", async () => {
    const a = await createWith({
      region: "ap-southeast-1",
      declared: { description: "fleet", tags: { fleet: "a" } },
      parallel: 3,
      faults: (proxy) => proxy.addFault({ operation: "CreateKey", kind: "resetAfter", times: 1 }),
    });
    record("fleet of 3 identical keys, one reply lost", a);
    expect(a.errors.map((e) => e.message)).to.deep.equal([]);
    expect(new Set(a.ids).size, "three different keys").to.equal(3);
    expect([...a.keys].sort()).to.deep.equal([...a.ids].sort());
    expect(a.createKeyCalls).to.equal(3);
  });

  it("reply lost while someone else makes an identical key that ListKeys shows first: adopts neither, resends nothing, names both", async () => {
    const raw = outOfBand(moto.endpoint, "ap-northeast-1");
    let theirs: string | undefined;
    const a = await createWith({
      region: "ap-northeast-1",
      declared: { description: "twin" },
      faults: (proxy) => {
        // Ours shows in ListKeys 1.5 s late; theirs, made straight at the server, at once.
        proxy.setListKeysLag(1500);
        proxy.addFault({ operation: "CreateKey", kind: "resetAfter", times: 1 });
      },
      afterFirstCreateKey: async () => {
        theirs = (await raw.send(new CreateKeyCommand({ Description: "twin" }))).KeyMetadata?.Arn;
      },
    });
    raw.destroy();
    record("reply lost, an identical key made elsewhere meanwhile", a, 2);
    expect(a.ids, "no key adopted").to.deep.equal([]);
    expect(a.keys.length, "ours and theirs").to.equal(2);
    expect(a.createKeyCalls, "CreateKey not sent again").to.equal(1);
    const message = a.errors[0]?.message ?? "";
    expect(theirs).to.be.a("string");
    expect(message).to.include(theirs!).and.include("adopting none");
    for (const id of a.keys) expect(message).to.include(id);
  });

  it("CreateKey answers 500 and makes nothing, then another tool makes a key as declared: not adopted, left as it is; CreateKey sent again makes this one's own", async () => {
    const raw = outOfBand(moto.endpoint, "us-east-2");
    let theirs: KeyMetadata | undefined;
    const a = await createWith({
      region: "us-east-2",
      // The default declaration: what another tool's plain CreateKey makes too.
      declared: {},
      faults: (proxy) => proxy.addFault({ operation: "CreateKey", kind: "internal", times: 1 }),
      afterFirstCreateKey: async () => {
        // Past the second of KMS's 500 (its Date header) and the provider's allowance, while the lookup waits.
        await sleep(1500);
        theirs = (await raw.send(new CreateKeyCommand({}))).KeyMetadata;
      },
    });
    expect(theirs?.KeyId).to.be.a("string");
    const other = theirs!;
    expect(trackedBy(a), "the other tool's key is tracked by nothing of this program").not.to.include(other.KeyId);
    record("500, nothing made, an identical key made elsewhere after", {
      ...a,
      keys: a.keys.filter((id) => id !== other.KeyId),
    });
    expect(a.errors.map((e) => e.message)).to.deep.equal([]);
    expect(a.ids).to.have.length(1);
    expect([...a.keys].sort(), "this one's key and the other tool's").to.deep.equal([a.ids[0], other.KeyId].sort());
    expect(a.createKeyCalls, "CreateKey sent again once nothing of this program's was found").to.equal(2);
    expect(await untouched(raw, a, other)).to.deep.equal({ keyState: "Enabled", deletionDate: undefined, writes: [] });
    raw.destroy();
  });

  it("CreateKey answers 500 every time and makes nothing while another tool makes a key as declared: fails without adopting it, and names it as someone else's", async () => {
    const raw = outOfBand(moto.endpoint, "eu-north-1");
    let theirs: KeyMetadata | undefined;
    const a = await createWith({
      region: "eu-north-1",
      declared: {},
      faults: (proxy) => proxy.addFault({ operation: "CreateKey", kind: "internal" }),
      afterFirstCreateKey: async () => {
        await sleep(1500);
        theirs = (await raw.send(new CreateKeyCommand({}))).KeyMetadata;
      },
    });
    expect(theirs?.Arn).to.be.a("string");
    const other = theirs!;
    expect(a.ids, "no key adopted").to.deep.equal([]);
    expect(trackedBy(a), "no state tracks the other tool's key").to.deep.equal([]);
    expect(a.keys, "only the other tool's key was made").to.deep.equal([other.KeyId]);
    expect(a.createKeyCalls).to.equal(ATTEMPTS);
    const message = a.errors[0]?.message ?? "";
    expect(message).to.include("CreateKey").and.include("most likely made none").and.include(other.Arn!);
    expect(message).to.include("someone else's").and.include("left alone");
    expect(await untouched(raw, a, other)).to.deep.equal({ keyState: "Enabled", deletionDate: undefined, writes: [] });
    raw.destroy();
  });

  it("CreateKey answers 500 after KMS made the key: the lookup adopts it; one key, tracked, CreateKey sent once", async () => {
    const a = await createWith({
      region: "ap-south-1",
      declared: { description: "made, then 500", tags: { team: "ledger" } },
      faults: (proxy) => proxy.addFault({ operation: "CreateKey", kind: "internalAfter", times: 1 }),
    });
    record("500 after the key was made", a);
    expect(a.errors.map((e) => e.message)).to.deep.equal([]);
    expect(a.ids).to.have.length(1);
    expect(a.keys, "exactly the one key, tracked").to.deep.equal(a.ids);
    expect(a.createKeyCalls, "CreateKey sent once").to.equal(1);
  });

  it("CreateKey answers 500 after KMS made the key, and another tool made a key as declared before that answer: adopts neither, resends nothing, names both", async () => {
    const raw = outOfBand(moto.endpoint, "ap-northeast-2");
    let theirs: KeyMetadata | undefined;
    const a = await createWith({
      region: "ap-northeast-2",
      declared: {},
      faults: (proxy) =>
        proxy.addFault({
          operation: "CreateKey",
          kind: "internalAfter",
          times: 1,
          // Between KMS making this one's key and its answer: both keys could be this one's.
          whileHeld: async () => (theirs = (await raw.send(new CreateKeyCommand({}))).KeyMetadata),
        }),
    });
    const other = theirs!;
    expect(other?.Arn).to.be.a("string");
    record("500 after the key was made, an identical key made elsewhere before the answer", a, 2);
    expect(a.ids, "no key adopted").to.deep.equal([]);
    expect(trackedBy(a)).to.deep.equal([]);
    expect(a.keys.length, "this one's and the other tool's").to.equal(2);
    expect(a.createKeyCalls, "CreateKey not sent again").to.equal(1);
    const message = a.errors[0]?.message ?? "";
    expect(message)
      .to.include("can't tell")
      .and.include("adopting none")
      .and.include("import the one that is this key");
    for (const id of a.keys) expect(message).to.include(id);
    expect(await untouched(raw, a, other)).to.deep.equal({ keyState: "Enabled", deletionDate: undefined, writes: [] });
    raw.destroy();
  });

  it("CreateKey answers 500 after KMS made the key, then another tool makes a key as declared: someone else makes such keys now, so adopts neither and says which could be this one's", async () => {
    const raw = outOfBand(moto.endpoint, "ap-southeast-2");
    let theirs: KeyMetadata | undefined;
    const a = await createWith({
      region: "ap-southeast-2",
      declared: {},
      faults: (proxy) => proxy.addFault({ operation: "CreateKey", kind: "internalAfter", times: 1 }),
      afterFirstCreateKey: async () => {
        await sleep(1500);
        theirs = (await raw.send(new CreateKeyCommand({}))).KeyMetadata;
      },
    });
    const other = theirs!;
    expect(other?.Arn).to.be.a("string");
    const mine = a.keys.filter((id) => id !== other.KeyId);
    expect(mine, "the key KMS made for this create").to.have.length(1);
    record("500 after the key was made, an identical key made elsewhere after", { ...a, keys: mine }, 1);
    expect(a.ids, "no key adopted").to.deep.equal([]);
    expect(a.createKeyCalls, "CreateKey not sent again").to.equal(1);
    const message = a.errors[0]?.message ?? "";
    expect(message, "this one's key is named as one to import").to.include(`key/${mine[0]} could be`);
    expect(message, "the other tool's key is named as someone else's").to.include(
      `key/${other.KeyId} match too but KMS made them when no CreateKey of this program was under way`,
    );
    expect(message).to.include("adopting none").and.include("import the one that is this key");
    expect(await untouched(raw, a, other)).to.deep.equal({ keyState: "Enabled", deletionDate: undefined, writes: [] });
    raw.destroy();
  });

  it("CreateKey carries exactly the declared tags: 50 declared, 50 sent, 50 on the key", async () => {
    const tags = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`tag${i}`, `value${i}`]));
    const a = await createWith({ region: "sa-east-1", declared: { description: "fifty tags", tags } });
    expect(a.errors.map((e) => e.message)).to.deep.equal([]);
    const sent = a.log.find((e) => e.operation === "CreateKey")?.tagKeys ?? [];
    expect([...sent].sort()).to.deep.equal(Object.keys(tags).sort());
    const raw = outOfBand(moto.endpoint, "sa-east-1");
    const onKey = (await raw.send(new ListResourceTagsCommand({ KeyId: a.ids[0], Limit: 100 }))).Tags ?? [];
    raw.destroy();
    expect(onKey.map((t) => t.TagKey).sort()).to.deep.equal(Object.keys(tags).sort());
  });

  it("a role without kms:TagResource creates a key that declares no tags; one with tags is refused naming kms:TagResource", async () => {
    const untagged = await createWith({
      region: "ca-central-1",
      declared: { description: "least privilege" },
      faults: (proxy) => proxy.addFault({ operation: "TagResource", kind: "accessDenied" }),
    });
    expect(untagged.errors.map((e) => e.message)).to.deep.equal([]);
    expect(untagged.keys).to.deep.equal(untagged.ids);
    expect(untagged.log.find((e) => e.operation === "CreateKey")?.tagKeys, "no Tags sent").to.equal(undefined);
    const tagged = await createWith({
      region: "ca-central-1",
      declared: { description: "tagged", tags: { team: "a" } },
      faults: (proxy) => proxy.addFault({ operation: "TagResource", kind: "accessDenied" }),
    });
    expect(tagged.keys).to.deep.equal([]);
    expect(tagged.errors[0]?.message).to.include("kms:TagResource");
  });
});
