// Checked by the compiler, never run: the SDK's Args and outputs are typed from each resource's schema. A wrong type
// here fails `npm run build` (an @ts-expect-error that meets no error is itself an error).
import type * as pulumi from "@pulumi/pulumi";
import { KmsKey } from "../../sdk";

export function typedFromTheSchema(): unknown[] {
  const key = new KmsKey("typed", { description: "d", tags: { team: "a" }, enabled: true, rotationPeriodInDays: 90 });
  const arn: pulumi.Output<string> = key.arn;
  const deletionDate: pulumi.Output<string | undefined> = key.deletionDate;
  const enabled: pulumi.Output<boolean> = key.enabled;
  const tags: pulumi.Output<Record<string, string>> = key.tags;
  const unreadable: pulumi.Output<string[] | undefined> = key.unreadable;
  // @ts-expect-error the owner tag is kept in state for the provider, never a typed output
  void key.ownerTag;
  // @ts-expect-error importKeyId is set by the import resource option, not by the program
  void new KmsKey("imported", { importKeyId: "1234abcd-12ab-34cd-56ef-1234567890ab" });
  // @ts-expect-error enabled is a boolean
  void new KmsKey("wrong", { enabled: "yes" });
  return [arn, deletionDate, enabled, tags, unreadable];
}
