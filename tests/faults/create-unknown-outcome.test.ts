// CreateKey is the hard case: when its reply is lost, KMS may or may not have made the key. The provider tags each
// new key with a creation token and looks for it before sending CreateKey again. These cases push that lookup.
import { expect } from "chai";
import { CreateKeyCommand, ListResourceTagsCommand } from "@aws-sdk/client-kms";
import { KmsKeyProvider } from "../../sdk";
import { KmsProxy } from "../support/kms-proxy";
import { KmsServer, startKmsServer } from "../support/kms-server";
import { useFakeCredentials } from "../support/fixtures";
import { figures, listKeyIds, motoClient, scanForSecrets } from "./support";

type Props = Record<string, unknown>;
const TOKEN_TAG = "pulumi-kms-key:creation-token";
const ATTEMPTS = 4;

interface Attempt {
  id?: string;
  error?: Error & { id?: string };
  /** Keys in the case's region after the create (and only this create made keys there, but for `others`). */
  keys: string[];
  /** Creation tokens on those keys. */
  tokens: string[];
  createKeyCalls: number;
}

describe("faults: a CreateKey whose outcome is unknown makes at most one key", function () {
  this.timeout(300_000);
  let moto: KmsServer;
  const provider = new KmsKeyProvider();
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    for (const name of ["AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_ENDPOINT_URL_STS"]) saved[name] = process.env[name];
    useFakeCredentials();
    process.env.AWS_MAX_ATTEMPTS = String(ATTEMPTS);
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

  /** One provider create in its own region, through a new proxy (new SDK client) with these faults. */
  async function createWith(region: string, faults: (proxy: KmsProxy) => void, others = 0): Promise<Attempt> {
    const raw = motoClient(moto.endpoint, region);
    for (let i = 0; i < others; i++) await raw.send(new CreateKeyCommand({ Description: `someone else's ${i}` }));
    const before = new Set(await listKeyIds(moto.endpoint, [region]));
    const proxy = await KmsProxy.start({ target: moto.endpoint });
    const attempt: Attempt = { keys: [], tokens: [], createKeyCalls: 0 };
    try {
      const checked = await provider.check({}, { endpoint: proxy.endpoint, region, description: "mine" });
      faults(proxy);
      try {
        attempt.id = (await provider.create(checked.inputs as Props)).id;
      } catch (err) {
        attempt.error = err as Error & { id?: string };
        scanForSecrets("CreateKey error messages", attempt.error.message);
      }
      attempt.createKeyCalls = proxy.calls("CreateKey");
    } finally {
      await proxy.stop();
    }
    attempt.keys = (await listKeyIds(moto.endpoint, [region])).filter((id) => !before.has(id));
    for (const id of attempt.keys) {
      const tags = (await raw.send(new ListResourceTagsCommand({ KeyId: id }))).Tags ?? [];
      const token = tags.find((t) => t.TagKey === TOKEN_TAG)?.TagValue;
      if (token) attempt.tokens.push(token);
    }
    raw.destroy();
    return attempt;
  }

  function record(name: string, a: Attempt): void {
    const tracked = [a.id, a.error?.id].filter((id): id is string => id !== undefined);
    const orphans = a.keys.filter((id) => !tracked.includes(id)).length;
    const outcome = a.error ? `error: ${a.error.message.slice(0, 160)}` : "created, tracked";
    figures.createCases.push({ name, keys: a.keys.length, orphans, outcome });
  }

  it("reply lost after KMS made the key, among 20 other keys: the token finds it; one key, tracked", async () => {
    const a = await createWith(
      "eu-west-1",
      (proxy) => proxy.addFault({ operation: "CreateKey", kind: "resetAfter", times: 1 }),
      20,
    );
    record("reply lost (20 other keys in the region)", a);
    expect(a.error?.message).to.equal(undefined);
    expect(a.keys).to.deep.equal([a.id]);
    expect(a.createKeyCalls, "CreateKey sent once").to.equal(1);
  });

  it("reply lost, then the lookup's tag reads throttled past the SDK's attempts: no second key made blindly", async () => {
    const a = await createWith("eu-west-2", (proxy) => {
      proxy.addFault({ operation: "CreateKey", kind: "resetAfter", times: 1 });
      proxy.addFault({ operation: "ListResourceTags", kind: "throttle", times: ATTEMPTS });
    });
    record("reply lost, lookup throttled", a);
    {
      expect(
        a.keys.length,
        `${a.keys.length} keys made by one create (CreateKey sent ${a.createKeyCalls} times)`,
      ).to.equal(1);
      if (a.id) expect(a.keys).to.deep.equal([a.id]);
      else expect(a.error?.message, "the error names the key's creation token").to.include(a.tokens[0]);
    }
  });

  it("reply lost, then the network stays down: the error names CreateKey and the creation token of the key KMS made", async () => {
    const a = await createWith("eu-west-3", (proxy) => {
      proxy.addFault({ operation: "CreateKey", kind: "resetAfter", times: 1 });
      proxy.addFault({ kind: "resetBefore" });
    });
    record("reply lost, network down after", a);
    expect(a.id, "nothing can be created while KMS can't be reached").to.equal(undefined);
    expect(a.keys.length, "KMS made exactly one key").to.equal(1);
    {
      const message = a.error?.message ?? "";
      expect(message, `the error names CreateKey: ${JSON.stringify(message)}`).to.include("CreateKey");
      expect(message, "the error names the creation token").to.include(`${TOKEN_TAG}=${a.tokens[0]}`);
    }
  });

  it("no answer at all (reset before KMS saw it), every attempt: no key, and the error says what to look for", async () => {
    const a = await createWith("eu-central-1", (proxy) =>
      proxy.addFault({ operation: "CreateKey", kind: "resetBefore" }),
    );
    record("no answer, every attempt", a);
    expect(a.keys).to.deep.equal([]);
    expect(a.createKeyCalls).to.equal(ATTEMPTS);
    expect(a.error?.message).to.include("CreateKey").and.include(`${TOKEN_TAG}=`);
  });
});
