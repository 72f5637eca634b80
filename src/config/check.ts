import { checkTlsFiles } from '../tls/check.js';
import { ConfigError } from './errors.js';
import { formatPath, type LoadedConfig } from './load.js';

/**
 * The checks that read the disk, run by check-config and serve alike before anything binds,
 * so both refuse the same config with the same lines.
 */
export async function checkConfigFiles(loaded: LoadedConfig): Promise<void> {
  const { config } = loaded;
  const problems = [
    ...(await checkTlsFiles(config.tls, config.hostname)),
    // The search parser lives with the sink, which the server loads only when it captures.
    ...(config.sink.tagRules.length > 0
      ? (await import('../sink/tag-rules.js')).tagRuleProblems(config.sink)
      : []),
  ];
  if (problems.length === 0) return;
  throw new ConfigError(
    problems
      .map((problem) => `${loaded.sourceOf(problem.path)}: ${formatPath(problem.path)}: ${problem.message}`)
      .join('\n'),
  );
}
