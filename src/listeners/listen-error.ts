/**
 * A port that could not be bound (in use, no permission): the operator's to fix, reported in
 * one line. Its own file so the CLI can recognise it without loading the SMTP stack.
 */
export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}
