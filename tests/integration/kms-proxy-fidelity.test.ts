// The local KMS behaves as KMS documents where moto does not: eventual consistency of ListKeys after CreateKey,
// the permission tags on CreateKey need, and the 50-tag quota.
import { expect } from "chai";
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  EnableKeyRotationCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  ListKeysCommand,
} from "@aws-sdk/client-kms";
import { KmsProxy } from "../../testing/kms/proxy";
import { startKmsServerWithProxy } from "../../testing/kms/server";

type Env = Awaited<ReturnType<typeof startKmsServerWithProxy>>;

function client(endpoint: string): KMSClient {
  return new KMSClient({
    region: "us-east-1",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    endpoint,
    maxAttempts: 1,
  });
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

describe("KmsProxy: what KMS documents and moto does not do", function () {
  this.timeout(60_000);
  let env: Env;
  let proxy: KmsProxy;
  let kms: KMSClient;

  before(async () => {
    env = await startKmsServerWithProxy();
    proxy = env.proxy;
    kms = client(env.endpoint);
  });
  after(async () => {
    kms?.destroy();
    await env?.stop();
  });
  afterEach(() => {
    proxy.clearFaults();
    proxy.setListKeysLag(0);
  });

  async function listed(): Promise<string[]> {
    return ((await kms.send(new ListKeysCommand({ Limit: 1000 }))).Keys ?? []).map((k) => k.KeyId ?? "");
  }

  it("leaves a new key out of ListKeys for the configured while, then lists it; DescribeKey finds it at once", async () => {
    proxy.setListKeysLag(1500);
    const id = (await kms.send(new CreateKeyCommand({ Description: "late" }))).KeyMetadata!.KeyId!;
    // The proxy starts the while when it answers, before this client has the answer.
    const answered = Date.now();
    expect(await listed(), "missing right after CreateKey").to.not.include(id);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata?.KeyId).to.equal(id);
    while (Date.now() - answered < 1600) await new Promise((r) => setTimeout(r, 100));
    expect(await listed(), "listed once the while is over").to.include(id);
  });

  it("lists a new key at once with no lag (moto's own behaviour)", async () => {
    const id = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    expect(await listed()).to.include(id);
  });

  it("refuses CreateKey with tags when kms:TagResource is denied, allows it without tags", async () => {
    proxy.addFault({ operation: "TagResource", kind: "accessDenied" });
    const denied = await failure(kms.send(new CreateKeyCommand({ Tags: [{ TagKey: "team", TagValue: "a" }] })));
    expect(denied.name).to.equal("AccessDeniedException");
    expect(denied.message).to.include("kms:TagResource");
    expect(proxy.callLog.at(-1)).to.include({ operation: "CreateKey", error: "AccessDeniedException" });
    expect(proxy.callLog.at(-1)?.tagKeys).to.deep.equal(["team"]);
    const made = await kms.send(new CreateKeyCommand({ Description: "no tags" }));
    expect(made.KeyMetadata?.KeyState).to.equal("Enabled");
  });

  it("refuses CreateKey with more than 50 tags (TagException), takes 50", async () => {
    const tags = (n: number) => Array.from({ length: n }, (_, i) => ({ TagKey: `k${i}`, TagValue: "v" }));
    const before = (await listed()).length;
    const refused = await failure(kms.send(new CreateKeyCommand({ Tags: tags(51) })));
    expect(refused.name).to.equal("TagException");
    expect((await listed()).length, "no key made").to.equal(before);
    await kms.send(new CreateKeyCommand({ Tags: tags(50) }));
    expect((await listed()).length).to.equal(before + 1);
  });

  it("answers GetKeyRotationStatus with RotationPeriodInDays while rotating: as set, else KMS's 365", async () => {
    const set = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await kms.send(new EnableKeyRotationCommand({ KeyId: set, RotationPeriodInDays: 120 }));
    expect((await kms.send(new GetKeyRotationStatusCommand({ KeyId: set }))).RotationPeriodInDays).to.equal(120);
    const byDefault = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await kms.send(new EnableKeyRotationCommand({ KeyId: byDefault }));
    expect((await kms.send(new GetKeyRotationStatusCommand({ KeyId: byDefault }))).RotationPeriodInDays).to.equal(365);
    const off = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: off }));
    expect(status).to.include({ KeyRotationEnabled: false });
    expect(status.RotationPeriodInDays).to.equal(undefined);
  });
});
