// The examples as project folders in the oldest leg (see LEGS in tests/support/project.ts); runs on its own too.
import { LEGS } from "../support/project";
import { describeProjects } from "./projects";

describeProjects(LEGS.oldest);
