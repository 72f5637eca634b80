/** A configuration problem, said once, naming the source (file, variable or flag) and the field. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
