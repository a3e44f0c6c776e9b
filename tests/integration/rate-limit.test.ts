// The provider under AWS KMS's request quotas: one rate limiter per operation keeps a burst of creates or recoveries
// within each quota, without errors, and without slowing the operations whose quotas are high.
import { expect } from "chai";
import { ScheduleKeyDeletionCommand } from "@aws-sdk/client-kms";
import { AWS_KMS_QUOTAS } from "../../provider/kms/quotas";
import { KmsKeyProvider } from "../../sdk";
import { useLocalKms } from "../../testing/kms/local-kms";

const KEYS = 30;

describe("provider under AWS KMS's request quotas (one rate limiter per operation)", function () {
  this.timeout(300_000);
  // The provider's own retry settings, not the lowered ones other suites use.
  const kms = useLocalKms({ AWS_MAX_ATTEMPTS: "10", AWS_RETRY_MODE: "standard" });
  let created: { id: string; outs: Record<string, unknown> }[] = [];

  beforeEach(() => kms.proxy.setQuotas(AWS_KMS_QUOTAS));
  afterEach(() => kms.proxy.setQuotas({}));

  it(`creates ${KEYS} keys asked for at once at CreateKey's 5 per second, with few throttles and no error`, async () => {
    const inputs = await kms.checked({ description: "rate limit" });
    const started = performance.now();
    created = await Promise.all(
      Array.from({ length: KEYS }, async () => {
        const key = await kms.provider.create(inputs);
        return { id: key.id, outs: key.outs as Record<string, unknown> };
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    expect(new Set(created.map((key) => key.id)).size).to.equal(KEYS);
    // Without a limiter all 30 go at once and 25 are throttled in the first second alone.
    expect(kms.proxy.faultsApplied().quota ?? 0, "throttled CreateKey requests").to.be.at.most(5);
    expect(kms.proxy.calls("CreateKey")).to.be.at.most(KEYS + 5);
    // The server's bucket starts with 5; the rest come at 5 per second.
    expect(seconds).to.be.at.least((KEYS - 5) / 5 - 1);
  });

  it("keeps reading keys at full speed while CreateKey waits for its quota", async () => {
    const inputs = await kms.checked({ description: "rate limit" });
    const creating = Promise.all(Array.from({ length: 20 }, () => kms.provider.create(inputs)));
    // The creates queue behind CreateKey's limiter for about 4 s; reads go through their own limiter meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await Promise.all(created.slice(0, 20).map((key) => kms.provider.read(key.id, key.outs)));
    // Reads behind CreateKey's limiter would end after the last create: the order says it, not a timing.
    const createdNow = kms.proxy.callLog.filter((c) => c.operation === "CreateKey" && c.status === 200).length;
    await creating;
    expect(createdNow, "the creates were still queued when the 20 reads (80 requests) ended").to.be.lessThan(20);
  });

  it(`recovers ${KEYS} keys pending deletion at once: every key Enabled, no error`, async () => {
    // Behind the program's back, and outside the quotas: only the recovery is measured.
    kms.proxy.setQuotas({});
    for (const key of created) {
      await kms.raw.send(new ScheduleKeyDeletionCommand({ KeyId: key.id, PendingWindowInDays: 7 }));
    }
    kms.proxy.setQuotas(AWS_KMS_QUOTAS);
    kms.proxy.resetCounts();
    const inputs = await kms.checked({ description: "rate limit" });
    const results = await Promise.all(
      created.map(async (key) => {
        const read = await kms.provider.read(key.id, key.outs);
        return kms.provider.update(key.id, read.props as Record<string, unknown>, inputs);
      }),
    );
    expect(results.map((r) => (r.outs as { keyState: string }).keyState)).to.deep.equal(created.map(() => "Enabled"));
    expect(kms.proxy.calls("CancelKeyDeletion")).to.be.at.most(KEYS + 5);
    expect(kms.proxy.calls("EnableKey")).to.be.at.most(KEYS + 5);
  });

  it("uses a raised quota: CreateKey raised to 20 per second goes past the default 5, with no error", async () => {
    kms.proxy.setQuotas({ ...AWS_KMS_QUOTAS, CreateKey: 20 });
    // A new provider process: its CreateKey limiter starts at the default quota and has seen no throttle yet.
    const provider = new KmsKeyProvider();
    const inputs = await kms.checked({ description: "raised quota" });
    const keys = await Promise.all(Array.from({ length: 60 }, () => provider.create(inputs)));
    expect(new Set(keys.map((key) => key.id)).size).to.equal(60);
    const made = kms.proxy.callLog.filter((c) => c.operation === "CreateKey" && c.status === 200).map((c) => c.at);
    // After the first second (KMS's burst and the limiter's), a limiter held at 5 per second makes 5 in any second.
    const start = Math.min(...made) + 1500;
    const perSecond = made
      .filter((at) => at >= start)
      .map((from) => made.filter((at) => at >= from && at < from + 1000).length);
    expect(Math.max(...perSecond), "the most CreateKey answered in one second after the first").to.be.at.least(8);
  });
});
