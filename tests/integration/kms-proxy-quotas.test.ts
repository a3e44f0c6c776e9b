// The proxy's model of AWS KMS's request quotas: a token bucket per operation, each independent of the others.
import * as http from "node:http";
import { expect } from "chai";
import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  EnableKeyCommand,
  KMSClient,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
} from "@aws-sdk/client-kms";
import { AWS_KMS_QUOTAS } from "../../provider/kms/quotas";
import { useFakeCredentials } from "../../testing/credentials";
import { outOfBand } from "../../testing/kms/out-of-band";
import { startKmsServerWithProxy } from "../../testing/kms/server";

type Env = Awaited<ReturnType<typeof startKmsServerWithProxy>>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sends every request at once; how many were answered, and how many refused with ThrottlingException. */
async function burst(requests: (() => Promise<unknown>)[]): Promise<{ ok: number; throttled: number }> {
  const results = await Promise.allSettled(requests.map((send) => send()));
  const throttled = results.filter(
    (r) => r.status === "rejected" && (r.reason as Error).name === "ThrottlingException",
  ).length;
  return { ok: results.filter((r) => r.status === "fulfilled").length, throttled };
}

/** One raw request through the proxy: the HTTP status and body exactly as a client receives them. */
function rawRequest(endpoint: string, operation: string, body: object): Promise<{ status: number; body: string }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${endpoint}/`,
      {
        method: "POST",
        agent: false,
        headers: {
          "x-amz-target": `TrentService.${operation}`,
          "content-type": "application/x-amz-json-1.1",
          "content-length": Buffer.byteLength(payload),
          authorization:
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0",
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

describe("KmsProxy: AWS KMS's request quotas (testing/kms)", function () {
  this.timeout(120_000);
  let env: Env;
  let kms: KMSClient;
  /** Straight to moto, under no quota: sets keys up without spending the proxy's tokens. */
  let direct: KMSClient;

  before(async () => {
    useFakeCredentials();
    env = await startKmsServerWithProxy();
    kms = outOfBand(env.endpoint);
    direct = outOfBand(env.server.endpoint);
  });
  after(async () => {
    kms?.destroy();
    direct?.destroy();
    await env?.stop();
  });
  beforeEach(async () => {
    env.proxy.setQuotas(AWS_KMS_QUOTAS);
    env.proxy.resetCounts();
  });
  afterEach(() => env.proxy.setQuotas({}));

  async function keysPendingDeletion(count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = (await direct.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      await direct.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
      ids.push(id);
    }
    return ids;
  }

  it("holds AWS's default quotas for every operation the provider calls", () => {
    expect(AWS_KMS_QUOTAS).to.deep.equal({
      CancelKeyDeletion: 5,
      CreateAlias: 5,
      CreateKey: 5,
      DeleteAlias: 5,
      EnableKey: 5,
      DisableKey: 5,
      DisableKeyRotation: 5,
      UntagResource: 5,
      UpdateAlias: 5,
      UpdateKeyDescription: 5,
      ReplicateKey: 5,
      TagResource: 10,
      EnableKeyRotation: 15,
      PutKeyPolicy: 15,
      ScheduleKeyDeletion: 15,
      ListAliases: 100,
      ListKeys: 500,
      GetKeyPolicy: 1000,
      GetKeyRotationStatus: 1000,
      DescribeKey: 2000,
      ListResourceTags: 2000,
    });
  });

  it("answers a burst beyond CreateKey's 5 per second with ThrottlingException, HTTP 400, as KMS does", async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => rawRequest(env.endpoint, "CreateKey", { Description: "quota" })),
    );
    const refused = results.filter((r) => r.status !== 200);
    expect(results.filter((r) => r.status === 200)).to.have.length(5);
    expect(refused).to.have.length(3);
    for (const r of refused) {
      expect(r.status).to.equal(400);
      expect((JSON.parse(r.body) as { __type: string }).__type).to.equal("ThrottlingException");
    }
    expect(env.proxy.faultsApplied().quota).to.equal(3);
    expect(env.proxy.callLog.filter((c) => c.fault === "quota" && c.error === "ThrottlingException")).to.have.length(3);
  });

  it("keeps each operation's quota apart: CancelKeyDeletion spent leaves EnableKey and TagResource whole", async () => {
    const ids = await keysPendingDeletion(10);
    const cancels = await burst(ids.map((id) => () => kms.send(new CancelKeyDeletionCommand({ KeyId: id }))));
    expect(cancels).to.deep.equal({ ok: 5, throttled: 5 });
    // Only the cancelled keys may be enabled (the proxy applies KMS's key-state rules): enable those.
    const states = await Promise.all(
      ids.map(async (id) => (await direct.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.KeyState),
    );
    const disabled = ids.filter((_, i) => states[i] === "Disabled");
    expect(disabled).to.have.length(5);
    const enables = await burst(disabled.map((id) => () => kms.send(new EnableKeyCommand({ KeyId: id }))));
    expect(enables).to.deep.equal({ ok: 5, throttled: 0 });
    const tags = await burst(
      Array.from(
        { length: 12 },
        (_, i) => () =>
          kms.send(new TagResourceCommand({ KeyId: disabled[i % 5], Tags: [{ TagKey: `t${i}`, TagValue: "v" }] })),
      ),
    );
    expect(tags).to.deep.equal({ ok: 10, throttled: 2 });
    const describes = await burst(
      Array.from({ length: 200 }, (_, i) => () => kms.send(new DescribeKeyCommand({ KeyId: ids[i % 10] }))),
    );
    expect(describes).to.deep.equal({ ok: 200, throttled: 0 });
  });

  it("refills continuously at the quota's rate: one more request every 200 ms at 5 per second, 5 a second sustained", async () => {
    const [id] = await keysPendingDeletion(1);
    const describe = () => kms.send(new DescribeKeyCommand({ KeyId: id }));
    // setQuota still sets one operation's quota (the fault suite uses it); a cheap call keeps moto's latency out.
    env.proxy.setQuota(5, "DescribeKey");
    expect(await burst(Array.from({ length: 6 }, () => describe))).to.deep.equal({ ok: 5, throttled: 1 });
    await sleep(230);
    expect(await burst([describe, describe])).to.deep.equal({ ok: 1, throttled: 1 });
    // Asking as fast as answers come for 2 s: the bucket lets through its rate, no more.
    env.proxy.resetCounts();
    const started = performance.now();
    while (performance.now() - started < 2000) await describe().catch(() => undefined);
    const seconds = (performance.now() - started) / 1000;
    const admitted = env.proxy.callLog.filter((c) => c.status === 200).length;
    expect(admitted).to.be.within(Math.floor(seconds * 5) - 1, Math.ceil(seconds * 5) + 1);
    expect(env.proxy.faultsApplied().quota ?? 0).to.be.greaterThan(admitted);
  });

  it("setQuotas({}) lifts every per-operation quota", async () => {
    env.proxy.setQuotas({});
    expect(await burst(Array.from({ length: 12 }, () => () => kms.send(new CreateKeyCommand({}))))).to.deep.equal({
      ok: 12,
      throttled: 0,
    });
  });
});
