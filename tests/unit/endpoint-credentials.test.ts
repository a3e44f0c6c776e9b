// Credentials written into an endpoint URL (user:password@) are refused and never repeated: not by check(), not when
// the endpoint comes from the environment, not in an explained SDK error. None of these makes a network call.
import { expect } from "chai";
import { KmsKeyProvider } from "../../sdk";
import { explain, redactUserinfo } from "../../provider/kms/errors";

const ACCESS_KEY = "AKIAENDPOINTUSERINFO1";
const SECRET = "endpoint-secret-9b3e";

/** Endpoints with credentials, most of which `new URL` can't parse: a bad port, a "/" or "@" in the secret, no scheme. */
const WITH_CREDENTIALS = [
  `https://${ACCESS_KEY}:${SECRET}@kms.example.com:99999`,
  `https://${ACCESS_KEY}:${SECRET}/x+y@kms.example.com`,
  `https://${ACCESS_KEY}:${SECRET}@x@kms.example.com`,
  `https://${ACCESS_KEY}:${SECRET}@kms.example.com`,
  `${ACCESS_KEY}:${SECRET}@kms.example.com`,
];

function expectNoCredentials(text: string, where: string): void {
  // In any case: a URL's scheme comes out lower-cased, and an access key that is the scheme would too.
  expect(text.toLowerCase(), where).to.not.include(SECRET.toLowerCase()).and.not.include(ACCESS_KEY.toLowerCase());
}

describe("credentials in an endpoint", () => {
  const provider = new KmsKeyProvider();

  for (const endpoint of WITH_CREDENTIALS) {
    it(`check() refuses ${endpoint.replace(SECRET, "SECRET")}, naming the property and what is allowed, echoing neither part`, async () => {
      const result = await provider.check({}, { endpoint });
      expect(result.inputs, "nothing to store in the state").to.equal(undefined);
      expectNoCredentials(JSON.stringify(result.failures), "the check failure");
      expect(result.failures).to.have.length(1);
      const [failure] = result.failures!;
      // The engine prints the value of a named property, so the failure names it only in its reason.
      expect(failure.property).to.equal("");
      expect(failure.reason).to.include("endpoint must not carry credentials").and.include("https://kms.");
    });
  }

  describe("from the environment", () => {
    const saved: Record<string, string | undefined> = {};
    const names = ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL", "AWS_REGION"];
    before(() => names.forEach((name) => (saved[name] = process.env[name])));
    afterEach(() => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });

    for (const variable of ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"]) {
      it(`${variable} with credentials and a bad port: every operation refuses it before any call, echoing neither part`, async () => {
        delete process.env.AWS_ENDPOINT_URL_KMS;
        delete process.env.AWS_ENDPOINT_URL;
        process.env[variable] = WITH_CREDENTIALS[0];
        process.env.AWS_REGION = "us-east-1";
        const id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        const inputs = (await provider.check({}, { description: "endpoint from the environment" })).inputs!;
        const outcomes = await Promise.allSettled([
          provider.create(inputs),
          provider.read(id, { keyId: id }),
          provider.update(id, { keyId: id, keyState: "Enabled" }, inputs),
          provider.delete(id, { keyId: id }),
        ]);
        for (const outcome of outcomes) {
          expect(outcome.status).to.equal("rejected");
          const err = (outcome as PromiseRejectedResult).reason as Error;
          expect(err.message).to.include("endpoint must not carry credentials").and.include(variable);
          expectNoCredentials(`${err.message}\n${err.stack ?? ""}`, "the error");
        }
      });
    }
  });

  it("explain() of an SDK error whose message quotes the endpoint shows the URL without its credentials", () => {
    const sdkError = Object.assign(new Error(`Invalid URL: ${WITH_CREDENTIALS[1]}/`), { name: "TypeError" });
    const message = explain(sdkError, { operation: "DescribeKey", keyId: "1234" }).message;
    expect(message).to.include("https://***@kms.example.com");
    expectNoCredentials(message, "the explained error");
  });

  it("redactUserinfo() hides user:password@ of every URL in a text, and nothing else", () => {
    const text = `first ${WITH_CREDENTIALS[0]} then "${WITH_CREDENTIALS[2]}" and http://kms.example.com:8080/path`;
    expect(redactUserinfo(text)).to.equal(
      'first https://***@kms.example.com:99999 then "https://***@kms.example.com" and http://kms.example.com:8080/path',
    );
  });
});
