// Prints the faults suite's figures once every test has run (a root-level hook: it runs after all files).
import { summaryLines } from "./figures";

after(function () {
  // Printed, not asserted: each figure's own test asserts it.
  console.log(`\n${summaryLines().join("\n")}\n`);
});
