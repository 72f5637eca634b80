/**
 * The inbound authentication step of DATA (policy `inboundAuth`): the message's bytes go to
 * the spool file and, on the way, through mailauth's DKIM verifier, which hashes the body as it
 * streams; SPF and DMARC follow once DATA has ended. The result is AuthFindings, turned into a
 * header and a verdict by pipeline/authentication-results.ts. Only sessions with the policy
 * on and a stranger as client pass this way; others write to the spool file directly.
 */
import { PassThrough, Writable } from 'node:stream';
import { authenticate, type AuthenticateResult, type DNSResolver } from 'mailauth';
import { dkimVerdict } from '../dkim/verdict.js';
import {
  authenticationResultsHeader,
  claimsOurAuthservId,
  inboundAuthVerdict,
  type AuthFindings,
  type AuthResult,
  type DmarcAction,
} from '../pipeline/authentication-results.js';
import type { Verdict } from '../pipeline/verdict.js';

export interface InboundAuthFacts {
  readonly clientAddress: string;
  readonly helo: string;
  /** Empty for the null sender. */
  readonly mailFrom: string;
  /** Our authserv-id (RFC 8601 §2.5): the server's hostname. */
  readonly hostname: string;
}

/** A header section longer than this is passed on unfiltered (and logged): memory stays bounded. */
const HEADER_SECTION_LIMIT = 256 * 1024;
const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Removes incoming Authentication-Results fields that claim our authserv-id (RFC 8601 §5: a
 * receiver MUST remove or rename them, or a sender could forge our verdict). Holds the header
 * section until its end, then passes every byte straight through.
 */
export class ForgedResultsFilter {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private passing = false;
  removed = 0;
  /** The header section outgrew HEADER_SECTION_LIMIT and went on unfiltered. */
  overflowed = false;

  constructor(private readonly hostname: string) {}

  /** The bytes to write now for `chunk` (none while the header section is still arriving). */
  feed(chunk: Buffer): Buffer {
    if (this.passing) return chunk;
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    const section = Buffer.concat(this.held, this.heldBytes);
    // A message that starts with its blank line has an empty header section.
    if (section.length >= 2 && section[0] === 0x0d && section[1] === 0x0a) return this.release(section, 0);
    // Searched from just before the new chunk, so a long section is not scanned again and again.
    const end = section.indexOf(HEADER_END, Math.max(0, this.heldBytes - chunk.length - 3));
    if (end >= 0) return this.release(section, end + 2);
    if (this.heldBytes > HEADER_SECTION_LIMIT) {
      this.overflowed = true;
      return this.release(section, 0);
    }
    this.held = [section];
    return Buffer.alloc(0);
  }

  /** At the end of the message: what is still held (a message with no body). */
  flush(): Buffer {
    if (this.passing) return Buffer.alloc(0);
    return this.release(Buffer.concat(this.held, this.heldBytes), this.heldBytes);
  }

  /** Filters the fields in section[0, headerEnd) and passes the rest as it is. */
  private release(section: Buffer, headerEnd: number): Buffer {
    this.passing = true;
    this.held = [];
    const fields = section.toString('latin1', 0, headerEnd).split(/\r\n(?![ \t])/);
    const kept = fields.filter((field) => {
      const forged = field !== '' && claimsOurAuthservId(field, this.hostname);
      if (forged) this.removed++;
      return !forged;
    });
    if (this.removed === 0) return section;
    return Buffer.concat([Buffer.from(kept.join('\r\n'), 'latin1'), section.subarray(headerEnd)]);
  }
}

/**
 * The stream receiveMessage writes to: every byte to the spool file (forged results removed)
 * and to mailauth's input, each with its own back-pressure, so a slow verifier or a slow disk
 * pauses the client and memory stays at a few buffers whatever the size.
 */
class AuthTee extends Writable {
  private verifierGone = false;

  constructor(
    private readonly file: Writable,
    private readonly verifier: PassThrough,
    private readonly filter: ForgedResultsFilter,
  ) {
    super();
    file.on('error', (error: Error) => this.destroy(error));
  }

  /** mailauth stopped reading (it failed): bytes go on to the file alone. */
  dropVerifier(): void {
    this.verifierGone = true;
    // Flowing with no reader discards what is buffered, so a write waiting for 'drain' gets it.
    this.verifier.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.forward(chunk, this.filter.feed(chunk), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.verifier.end();
    this.forward(Buffer.alloc(0), this.filter.flush(), callback);
  }

  private forward(toVerifier: Buffer, toFile: Buffer, callback: (error?: Error | null) => void): void {
    let waiting = 1;
    const done = (): void => {
      if (--waiting === 0) callback();
    };
    if (toFile.length > 0 && !this.file.write(toFile)) {
      waiting++;
      this.file.once('drain', done);
    }
    if (toVerifier.length > 0 && !this.verifierGone && !this.verifier.write(toVerifier)) {
      waiting++;
      this.verifier.once('drain', done);
    }
    done();
  }
}

function authResult(value: string | undefined): AuthResult {
  switch (value) {
    case 'pass':
    case 'fail':
    case 'softfail':
    case 'neutral':
    case 'none':
    case 'temperror':
    case 'permerror':
    case 'policy':
      return value;
    case 'temperr':
      return 'temperror';
    default:
      return 'none';
  }
}

/** mailauth's answer as AuthFindings; a signature line without a selector is "not signed". */
export function findingsOf(result: AuthenticateResult, facts: InboundAuthFacts): AuthFindings {
  const spf = result.spf === false ? undefined : result.spf;
  const dmarc = result.dmarc === false ? undefined : result.dmarc;
  const fromDomain = result.dkim.headerFrom[0]?.split('@').pop()?.toLowerCase() ?? '';
  return {
    spf: { result: authResult(spf?.status.result), mailFrom: facts.mailFrom, helo: facts.helo },
    dkim: result.dkim.results
      .filter((signature) => signature.selector !== undefined)
      .map((signature) => ({
        result: authResult(dkimVerdict(signature.status).Result),
        domain: signature.signingDomain,
        selector: signature.selector ?? '',
      })),
    dmarc: {
      result: authResult(dmarc?.status.result),
      fromDomain,
      policy: dmarc?.rr === undefined ? undefined : dmarc.policy,
      pct: dmarc?.pct,
    },
  };
}

/** Findings when mailauth itself failed: nothing could be decided, as after a DNS failure. */
function undecided(facts: InboundAuthFacts): AuthFindings {
  return {
    spf: { result: 'temperror', mailFrom: facts.mailFrom, helo: facts.helo },
    dkim: [],
    dmarc: { result: 'temperror', fromDomain: '', policy: undefined, pct: undefined },
  };
}

/** One message's evaluation: write DATA into `stream`, then ask `findings()`. */
export class InboundAuthCheck {
  readonly stream: Writable;
  readonly filter: ForgedResultsFilter;
  private readonly evaluation: Promise<AuthFindings>;
  private readonly tee: AuthTee;
  private readonly verifierInput = new PassThrough();

  constructor(
    file: Writable,
    private readonly facts: InboundAuthFacts,
    resolver: DNSResolver,
  ) {
    const verifierInput = this.verifierInput;
    this.filter = new ForgedResultsFilter(facts.hostname);
    this.tee = new AuthTee(file, verifierInput, this.filter);
    this.stream = this.tee;
    this.evaluation = authenticate(verifierInput, {
      ip: facts.clientAddress,
      helo: facts.helo,
      sender: facts.mailFrom,
      mta: facts.hostname,
      resolver,
      disableArc: true,
      disableBimi: true,
    }).then(
      (result) => findingsOf(result, facts),
      () => {
        this.tee.dropVerifier();
        return undecided(facts);
      },
    );
  }

  /** After DATA was stored: the last bytes reach the file, then the evaluation's findings. */
  async findings(): Promise<AuthFindings> {
    await new Promise<void>((resolve, reject) => {
      this.tee.end((error?: Error | null) => {
        if (error) reject(error);
        else resolve();
      });
    });
    return this.evaluation;
  }

  /** After DATA was stored: the verdict under `action`, and the header to put on top of the message. */
  async conclude(action: DmarcAction): Promise<{ verdict: Verdict; header: Buffer; findings: AuthFindings }> {
    const findings = await this.findings();
    return {
      verdict: inboundAuthVerdict(action, findings),
      header: Buffer.from(authenticationResultsHeader(this.facts.hostname, findings), 'latin1'),
      findings,
    };
  }

  /** DATA was refused or the client left: stop, and let the evaluation end unheard. */
  cancel(): void {
    this.tee.destroy();
    this.verifierInput.destroy(new Error('message refused'));
  }
}

export type InboundAuthStart = (file: Writable, facts: InboundAuthFacts) => InboundAuthCheck;

/** What the session calls per message; the resolver is the configured one (delivery.dns). */
export function inboundAuthStarter(resolver: DNSResolver): InboundAuthStart {
  return (file, facts) => new InboundAuthCheck(file, facts, resolver);
}
