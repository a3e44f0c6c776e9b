// The per-operation rate limiters a KMS client's requests wait for: KMS's one second of burst, then the quota's pace.
import { expect } from "chai";
import { newLimiter } from "../../provider/kms/client";
import { AWS_KMS_QUOTAS } from "../../provider/kms/quotas";

/** True if `sent` settles before any timer could fire: the limiter let it through without waiting. */
async function sentAtOnce(sent: Promise<unknown>): Promise<boolean> {
  return Promise.race([sent.then(() => true), new Promise<boolean>((resolve) => setImmediate(() => resolve(false)))]);
}

describe("rate limiters per operation", () => {
  const quota = AWS_KMS_QUOTAS.CancelKeyDeletion;

  it(`lets a paced operation's first ${quota} requests go at once, as KMS's bucket starts with a second's worth`, async () => {
    const limiter = newLimiter("CancelKeyDeletion");
    const burst = Array.from({ length: quota }, () => limiter.getSendToken());
    expect(await sentAtOnce(Promise.all(burst))).to.equal(true);
  });

  it("makes the next request wait for the quota's pace: a fifth of a second at 5 per second", async () => {
    const limiter = newLimiter("CancelKeyDeletion");
    await Promise.all(Array.from({ length: quota }, () => limiter.getSendToken()));
    const started = performance.now();
    const next = limiter.getSendToken();
    expect(await sentAtOnce(next)).to.equal(false);
    await next;
    // A lower bound only: a loaded machine can make the wait longer, never shorter.
    expect(performance.now() - started).to.be.at.least((1000 / quota) * 0.75);
  });

  it("keeps the operations whose quotas no burst of the engine's reaches unpaced (DescribeKey, 2000 per second)", async () => {
    const limiter = newLimiter("DescribeKey");
    const reads = Array.from({ length: 200 }, () => limiter.getSendToken());
    expect(await sentAtOnce(Promise.all(reads))).to.equal(true);
  });
});
