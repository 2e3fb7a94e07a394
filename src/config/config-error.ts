/** A configuration that cannot be used; lists every problem found, so one run shows them all. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} configuration problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** One rejected entry of a config request, for per-key answers (CreateTopics, AlterConfigs). */
export interface ConfigProblem {
  name: string;
  message: string;
}
